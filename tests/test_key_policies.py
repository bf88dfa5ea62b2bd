"""KMS key policies (CKV2_AWS_64): every key the stacks create has an explicit policy whose
service statements point at the key's own region, rotates and waits 30 days before deletion.

Checked on the resource records of every real stack file (offline Pulumi mocks, a test double
for AWS); the check is shown failing on deliberately broken records.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import STACKS, evaluated, override, replace_record, run_program, stack_values
from test_data import provider_region

from ollama_infra.offline.evaluate import Evaluation

KEY = "aws:kms/key:Key"


def key_policy_violations(ev: Evaluation) -> list[str]:
    out = []
    for key in ev.of_type(KEY):
        raw = key.inputs.get("policy")
        if not raw:
            out.append(f"{key.name}: no key policy")
            continue
        region = provider_region(ev, key)
        for statement in json.loads(raw)["Statement"]:
            via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            for endpoint in [via] if isinstance(via, str) else via or []:
                if not endpoint.endswith(f".{region}.amazonaws.com"):
                    out.append(f"{key.name}: {statement['Sid']} names {endpoint} (key in {region})")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_every_key_rotates_and_has_a_policy_scoped_to_its_region(stack: str) -> None:
    ev = evaluated(stack)
    assert ev.of_type(KEY), "the stack creates keys"
    assert key_policy_violations(ev) == []
    assert key_shape_violations(ev) == []


def test_backup_and_dr_keys_name_their_service() -> None:
    ev = evaluated("production")
    expected = {
        "ollama-backup-vault-key": "backup.us-east-1.amazonaws.com",
        "ollama-backup-copy-vault-key": "backup.us-west-2.amazonaws.com",
        "ollama-data-storage-dr-key": "s3.us-west-2.amazonaws.com",
    }
    for name, endpoint in expected.items():
        statements = json.loads(ev.named(name).inputs["policy"])["Statement"]
        assert statements[0]["Sid"] == "AccountAdministration"
        vias = [s["Condition"]["StringEquals"]["kms:ViaService"] for s in statements[1:]]
        assert vias == [endpoint], (name, vias)


def test_key_policy_check_catches_broken_records() -> None:
    ev = evaluated("production")
    unset = replace_record(ev, "ollama-backup-vault-key", policy=None)
    assert key_policy_violations(unset) == ["ollama-backup-vault-key: no key policy"]
    dr = ev.named("ollama-data-storage-dr-key").inputs["policy"]
    wrong_region = replace_record(
        ev, "ollama-data-storage-dr-key", policy=dr.replace("us-west-2", "us-east-1")
    )
    assert key_policy_violations(wrong_region) == [
        "ollama-data-storage-dr-key: ReplicaThroughS3 names s3.us-east-1.amazonaws.com "
        "(key in us-west-2)"
    ]


def key_shape_violations(ev: Evaluation) -> list[str]:
    """Every customer managed key has the shape builders.customer_key gives it: rotation on,
    the 30-day deletion window, and a policy whose first statement keeps the account
    administering the key."""
    return [f"{key.name}: {problem}" for key in ev.of_type(KEY) for problem in _shape(key.inputs)]


def _shape(inputs: dict[str, Any]) -> list[str]:
    policy = json.loads(inputs.get("policy") or '{"Statement": [{}]}')
    checks = {
        "rotation off": inputs.get("enableKeyRotation") is not True,
        f"deletion window {inputs.get('deletionWindowInDays')}": (
            inputs.get("deletionWindowInDays") != 30
        ),
        "policy without account administration first": (
            policy["Statement"][0].get("Sid") != "AccountAdministration"
        ),
    }
    return [problem for problem, failed in checks.items() if failed]


def test_key_shape_check_catches_broken_records() -> None:
    ev = evaluated("production")
    broken = replace_record(ev, "ollama-data-key", enableKeyRotation=False)
    broken = replace_record(broken, "ollama-observability-alerts-key", deletionWindowInDays=7.0)
    broken = replace_record(broken, "ollama-backup-vault-key", policy=None)
    assert sorted(key_shape_violations(broken)) == [
        "ollama-backup-vault-key: policy without account administration first",
        "ollama-data-key: rotation off",
        "ollama-observability-alerts-key: deletion window 7.0",
    ]


# ------------------------------------------------------------------ the stack data key


def data_key_violations(ev: Evaluation) -> list[str]:
    """Table, cache and Performance Insights must use one customer managed key (production)."""
    keys = {k.state["arn"] for k in ev.of_type(KEY)}
    used = {
        "table": ev.named("ollama-data-table").inputs["serverSideEncryption"].get("kmsKeyArn"),
        "cache": ev.named("ollama-data-cache").inputs.get("kmsKeyId"),
        "performance insights": ev.named("ollama-data-database").inputs.get(
            "performanceInsightsKmsKeyId"
        ),
    }
    out = [f"{what} does not use a key of this stack" for what, k in used.items() if k not in keys]
    if len(set(used.values())) != 1:
        out.append(f"more than one data key: {used}")
    return out


def test_production_uses_one_stack_data_key() -> None:
    ev = evaluated("production")
    assert data_key_violations(ev) == []
    key = ev.named("ollama-data-key")
    assert key.inputs["tags"]["Name"] == "ollama-data-key-production"
    vias = json.loads(key.inputs["policy"])["Statement"][1]["Condition"]["StringEquals"]
    assert sorted(vias["kms:ViaService"]) == [
        f"{s}.us-east-1.amazonaws.com" for s in ("dynamodb", "elasticache", "rds")
    ]
    storage = json.loads(ev.named("ollama-identity-storage").inputs["policy"])["Statement"]
    (read,) = [s for s in storage if s["Sid"] == "ReadTableThroughDataKey"]
    assert read["Condition"]["StringEquals"]["aws:ResourceTag/Name"] == "ollama-data-key-production"


def test_data_key_check_catches_broken_records() -> None:
    ev = evaluated("production")
    aws_key = replace_record(ev, "ollama-data-table", serverSideEncryption={"enabled": True})
    assert data_key_violations(aws_key)[0] == "table does not use a key of this stack"
    no_pi_key = replace_record(ev, "ollama-data-database", performanceInsightsKmsKeyId=None)
    assert "performance insights does not use a key of this stack" in data_key_violations(no_pi_key)


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_dev_and_staging_keep_aws_managed_data_keys(stack: str) -> None:
    """An accepted finding (docs/SECURITY.md); data.data_key: true lifts it."""
    ev = evaluated(stack)
    assert not [k for k in ev.of_type(KEY) if k.name == "ollama-data-key"]
    assert "kmsKeyArn" not in ev.named("ollama-data-table").inputs["serverSideEncryption"]


def test_a_configured_key_replaces_the_stack_data_key() -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    ev = run_program("production", override(stack_values("production"), "data", kms_key_arn=arn))
    assert not [k for k in ev.of_type(KEY) if k.name == "ollama-data-key"]
    assert ev.named("ollama-data-table").inputs["serverSideEncryption"]["kmsKeyArn"] == arn
    assert ev.named("ollama-data-cache").inputs["kmsKeyId"] == arn
    staging = run_program("staging", override(stack_values("staging"), "data", data_key=True))
    assert (
        staging.named("ollama-data-cache").inputs["kmsKeyId"]
        == (staging.named("ollama-data-key").state["arn"])
    )
