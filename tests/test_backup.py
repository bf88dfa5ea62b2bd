"""AWS Backup: vault (CMK with rotation), daily and weekly rules, copies, selection, role.

Checked on the resource records of every real stack file (offline Pulumi mocks, a test
double for AWS); each check is also shown failing on a deliberately broken record.
"""

from __future__ import annotations

from typing import Any

import pytest
from harness import (
    STACKS,
    config_for,
    evaluated,
    override,
    replace_record,
    run_program,
    stack_values,
)
from test_data import provider_region

from ollama_infra.config import BackupConfig
from ollama_infra.offline.evaluate import Evaluation

VAULT = "aws:backup/vault:Vault"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
KEY = "aws:kms/key:Key"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
}


def protected_arns(ev: Evaluation) -> set[str]:
    """ARNs the plan must cover: the catalog table, the storage bucket, the database."""
    data = ("aws:dynamodb/table:Table", "aws:rds/instance:Instance")
    return {
        r.state["arn"] for r in ev.resources if r.type in data or r.name == "ollama-data-storage"
    }


def backup_violations(ev: Evaluation, cfg: BackupConfig) -> list[str]:
    out = []
    vaults = {v.name: v for v in ev.of_type(VAULT)}
    keys = {k.state["arn"]: k for k in ev.of_type(KEY)}
    vault = vaults.get("ollama-backup-vault")
    if vault is None:
        return ["no backup vault"]
    for v in vaults.values():
        key = keys.get(v.inputs.get("kmsKeyArn", ""))
        if key is None:
            out.append(f"vault {v.inputs['name']} is not encrypted with a key of this stack")
        elif key.inputs.get("enableKeyRotation") is not True:
            out.append(f"key of vault {v.inputs['name']} does not rotate")
        elif provider_region(ev, key) != provider_region(ev, v):
            out.append(f"key of vault {v.inputs['name']} is in another region")
    (plan,) = ev.of_type(PLAN)
    rules = {r["ruleName"]: r for r in plan.inputs["rules"]}
    for name, days in (
        ("daily", cfg.daily_retention_days),
        ("weekly", cfg.weekly_retention_days),
    ):
        rule = rules.get(name)
        if rule is None:
            out.append(f"no {name} rule")
            continue
        if rule["targetVaultName"] != vault.inputs["name"]:
            out.append(f"{name} rule targets {rule['targetVaultName']}")
        if rule["lifecycle"].get("deleteAfter") != days:
            out.append(f"{name} rule keeps recovery points {rule['lifecycle']} not {days} days")
        copies = rule.get("copyActions") or []
        if cfg.copy_region:
            copy_vault = vaults.get("ollama-backup-copy-vault")
            if copy_vault is None or provider_region(ev, copy_vault) != cfg.copy_region:
                out.append(f"no copy vault in {cfg.copy_region}")
            elif [c["destinationVaultArn"] for c in copies] != [copy_vault.state["arn"]]:
                out.append(f"{name} rule does not copy to the {cfg.copy_region} vault")
        elif copies:
            out.append(f"{name} rule copies although backup.copy_region is unset")
    (selection,) = ev.of_type(SELECTION)
    missing = protected_arns(ev) - set(selection.inputs["resources"])
    if missing:
        out.append(f"selection misses {sorted(missing)}")
    role = next(r for r in ev.of_type("aws:iam/role:Role") if r.name == "ollama-backup-role")
    if selection.inputs["iamRoleArn"] != role.state["arn"]:
        out.append("selection does not use the backup role")
    attached = {
        a.inputs["policyArn"] for a in ev.of_type(ATTACHMENT) if a.inputs["role"] == role.id
    }
    if attached != MANAGED:
        out.append(f"backup role policies {sorted(attached)} are not the AWS Backup pairs")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_backup_plan_covers_the_stack_data(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    assert cfg.backup.enabled
    arns = protected_arns(ev)
    assert len(arns) == 2 + int(cfg.data.database_enabled)
    assert backup_violations(ev, cfg.backup) == []
    assert ev.outputs["ollama_backup_vault_name"] == f"ollama-backup-vault-{stack}"


def test_production_copies_to_another_region() -> None:
    ev, cfg = evaluated("production"), config_for("production")
    assert cfg.backup.copy_region == "us-west-2"
    copy_vault = ev.named("ollama-backup-copy-vault")
    assert provider_region(ev, copy_vault) == "us-west-2"
    assert ":us-west-2:" in copy_vault.state["arn"]
    assert provider_region(ev, ev.named("ollama-backup-copy-vault-key")) == "us-west-2"
    assert not evaluated("staging").of_type(VAULT)[1:], "staging keeps one vault"


def _plan_rules(ev: Evaluation) -> list[dict[str, Any]]:
    return [dict(r) for r in ev.named("ollama-backup-plan").inputs["rules"]]


def test_backup_check_catches_broken_records() -> None:
    ev, cfg = evaluated("production"), config_for("production").backup
    selection = ev.named("ollama-backup-selection")
    broken = replace_record(
        ev, "ollama-backup-selection", resources=selection.inputs["resources"][:2]
    )
    assert any("selection misses" in v and ":rds:" in v for v in backup_violations(broken, cfg))

    rules = _plan_rules(ev)
    rules[0] = {**rules[0], "lifecycle": {"deleteAfter": 1}}
    broken = replace_record(ev, "ollama-backup-plan", rules=rules)
    assert any("daily rule keeps" in v for v in backup_violations(broken, cfg))

    rules = _plan_rules(ev)
    rules[1] = {**rules[1], "copyActions": []}
    broken = replace_record(ev, "ollama-backup-plan", rules=rules)
    assert any("weekly rule does not copy" in v for v in backup_violations(broken, cfg))

    broken = replace_record(ev, "ollama-backup-vault-key", enableKeyRotation=False)
    assert any("does not rotate" in v for v in backup_violations(broken, cfg))

    broken = replace_record(ev, "ollama-backup-vault", kmsKeyArn=None)
    assert any("not encrypted" in v for v in backup_violations(broken, cfg))

    broken = replace_record(
        ev, "ollama-backup-role-s3-backup", policyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert any("AWS Backup pairs" in v for v in backup_violations(broken, cfg))


def test_copy_without_copy_region_is_flagged() -> None:
    ev = evaluated("staging")
    cfg = config_for("staging").backup
    rules = _plan_rules(ev)
    rules[0] = {**rules[0], "copyActions": [{"destinationVaultArn": "arn:aws:backup:x"}]}
    broken = replace_record(ev, "ollama-backup-plan", rules=rules)
    assert "daily rule copies although backup.copy_region is unset" in backup_violations(
        broken, cfg
    )


def test_retention_follows_the_stack_file() -> None:
    values = override(
        stack_values("dev"), "backup", daily_retention_days=3, weekly_retention_days=21
    )
    ev = run_program("dev", values)
    retention = {r["ruleName"]: r["lifecycle"]["deleteAfter"] for r in _plan_rules(ev)}
    assert retention == {"daily": 3, "weekly": 21}
    assert backup_violations(ev, config_for("dev", values).backup) == []


def test_backup_can_be_disabled() -> None:
    ev = run_program("dev", override(stack_values("dev"), "backup", enabled=False))
    assert not ev.of_type(VAULT) and not ev.of_type(PLAN) and not ev.of_type(SELECTION)
    assert "ollama_backup_vault_name" not in ev.outputs
