"""The database login rotation as the stacks declare it (issue 21 item 1, CKV2_AWS_57).

Stacks with a database get: the secret ``ollama/<env>/webui-db`` (Open WebUI's own login),
the rotation function ``ollama-db-rotation-<env>`` in the private subnets with its own
security group, a Secrets Manager rotation every ``data.secret_rotation_days``, and the
instances read that login, never the master secret. ``rotation_violations`` states the
invariants; each is shown to catch a broken record.
"""

from __future__ import annotations

import dataclasses
import json
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

from ollama_infra.config import ConfigError, parse_config
from ollama_infra.offline.evaluate import Evaluation
from ollama_infra.offline.evaluate import unwrap_secrets as plain
from ollama_infra.rotation import db_users

FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
ASG = "aws:autoscaling/group:Group"
SG = "aws:ec2/securityGroup:SecurityGroup"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _secret_arn(ev: Evaluation) -> str:
    return str(ev.outputs["ollama_database_app_secret_arn"])


def rotation_violations(ev: Evaluation, days: int) -> list[str]:
    out: list[str] = []
    functions = ev.of_type(FUNCTION)
    rotations = ev.of_type(ROTATION)
    if len(functions) != 1 or len(rotations) != 1:
        return [f"expected one rotation function and one rotation, got {functions} {rotations}"]
    (fn,), (rotation,) = functions, rotations
    app_arn, master_arn = _secret_arn(ev), ev.outputs["ollama_database_secret_arn"]
    i = fn.inputs
    if i["handler"] != "db_users.lambda_handler" or not callable(db_users.lambda_handler):
        out.append("the function's handler is not db_users.lambda_handler")
    code = i["code"]["archive"]
    if (
        code.get("db_users.py") != {"file": "ollama_infra/rotation/db_users.py"}
        or "vendor" not in code
    ):
        out.append("the function's code is not db_users.py with its vendor/ driver")
    env = i["environment"]["variables"]
    if env.get("DB_HOST") != ev.outputs["ollama_database_endpoint"]:
        out.append("the function does not follow the database endpoint")
    if env.get("MASTER_SECRET_ARN") != master_arn:
        out.append("the function does not sign in with the master secret")
    groups = {g.id: g.inputs["tags"]["Name"] for g in ev.of_type(SG)}
    own = f"ollama-db-rotation-sg-{ev.stack}"
    if [groups.get(g) for g in i["vpcConfig"]["securityGroupIds"]] != [own]:
        out.append(f"the function is not in exactly its own group {own}")
    private = set(ev.outputs["ollama_private_subnet_ids"])
    if not i["vpcConfig"]["subnetIds"] or not set(i["vpcConfig"]["subnetIds"]) <= private:
        out.append("the function is not in the private subnets")
    for rule in ev.of_type(EGRESS):
        if groups.get(rule.inputs["securityGroupId"]) != own:
            continue
        target = groups.get(rule.inputs.get("referencedSecurityGroupId") or "")
        allowed = (target == f"ollama-db-sg-{ev.stack}" and rule.inputs["fromPort"] == 5432) or (
            rule.inputs.get("cidrIpv4") == "0.0.0.0/0" and rule.inputs["fromPort"] == 443
        )
        if not allowed or rule.inputs["fromPort"] != rule.inputs["toPort"]:
            out.append(f"{rule.name}: the function reaches more than PostgreSQL and HTTPS")
    (permission,) = ev.of_type(PERMISSION)
    if permission.inputs.get("principal") != "secretsmanager.amazonaws.com":
        out.append("the function is invocable by something other than Secrets Manager")
    if permission.inputs.get("sourceArn") != app_arn:
        out.append("the invoke permission is not bound to the login secret (confused deputy)")
    r = rotation.inputs
    if r["secretId"] != app_arn or r["rotationLambdaArn"] != fn.state.get("arn"):
        out.append("the rotation does not connect the login secret to the function")
    if r["rotationRules"].get("automaticallyAfterDays") != days:
        out.append(f"the rotation interval is not data.secret_rotation_days ({days})")
    version = ev.named("ollama-data-webui-db-value")
    if set(version.options.get("ignoreChanges", [])) != {"secretString", "versionStages"}:
        out.append("pulumi up would move AWSCURRENT back to the first version of the login")
    for policy in ev.of_type(ROLE_POLICY):
        if policy.name != "ollama-data-db-rotation-policy":
            continue
        doc = json.loads(plain(policy.inputs["policy"]))
        by_sid = {s["Sid"]: s for s in doc["Statement"]}
        if by_sid["RotateAppLogin"]["Resource"] != app_arn:
            out.append("the function may change secrets other than the login")
        if "Condition" not in by_sid["ReadDatabaseMasterSecret"]:
            out.append("the function may read any RDS master secret")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_stacks_with_a_database_rotate_its_login(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    if not cfg.data.database_enabled:
        assert not ev.of_type(FUNCTION) and not ev.of_type(ROTATION)
        assert "ollama_database_app_secret_arn" not in ev.outputs
        return
    assert rotation_violations(ev, cfg.data.secret_rotation_days) == []


def instances_wait_for_the_first_rotation(ev: Evaluation) -> bool:
    """The first rotation creates Open WebUI's logins: an instance that booted before it
    would render a login that does not exist yet, so the group depends on the rotation."""
    rotations = {r.name for r in ev.of_type(ROTATION)}
    return all(rotations <= set(r.options.get("dependsOn") or []) for r in ev.of_type(ASG))


@pytest.mark.parametrize("stack", STACKS)
def test_instances_start_after_the_first_rotation(stack: str) -> None:
    assert instances_wait_for_the_first_rotation(evaluated(stack))


def test_first_rotation_order_check_catches_a_group_without_it() -> None:
    ev = evaluated("production")
    (group,) = ev.of_type(ASG)
    kept = [d for d in group.options["dependsOn"] if not d.endswith("-rotation")]
    broken = Evaluation(
        ev.stack,
        ev.region,
        [
            dataclasses.replace(r, options={**r.options, "dependsOn": kept}) if r is group else r
            for r in ev.resources
        ],
        ev.components,
        ev.outputs,
    )
    assert not instances_wait_for_the_first_rotation(broken)


@pytest.mark.parametrize(
    ("logical", "changes", "expected"),
    [
        ("ollama-data-db-rotation-invoke", {"sourceArn": None}, "confused deputy"),
        (
            "ollama-data-db-rotation-invoke",
            {"principal": "lambda.amazonaws.com"},
            "other than Secrets Manager",
        ),
        ("ollama-data-db-rotation", {"handler": "index.handler"}, "handler"),
        (
            "ollama-security-db-rotation-out-443",
            {"fromPort": 0, "toPort": 65535},
            "more than PostgreSQL and HTTPS",
        ),
    ],
)
def test_rotation_check_catches_broken_records(
    logical: str, changes: dict[str, Any], expected: str
) -> None:
    broken = replace_record(evaluated("staging"), logical, **changes)
    assert any(expected in v for v in rotation_violations(broken, 30))


def test_rotation_check_catches_a_wrong_interval_and_a_reverting_version() -> None:
    ev = evaluated("staging")
    assert any("secret_rotation_days" in v for v in rotation_violations(ev, 7))
    reverted = [
        dataclasses.replace(r, options={**r.options, "ignoreChanges": []})
        if r.name == "ollama-data-webui-db-value"
        else r
        for r in ev.resources
    ]
    broken = Evaluation(ev.stack, ev.region, reverted, ev.components, ev.outputs)
    assert any("AWSCURRENT back" in v for v in rotation_violations(broken, 30))


def test_the_interval_comes_from_config_and_is_validated() -> None:
    ev = run_program("staging", override(stack_values("staging"), "data", secret_rotation_days=7))
    assert rotation_violations(ev, 7) == []
    for bad in (1, 0, 366):
        with pytest.raises(ConfigError, match="secret_rotation_days"):
            parse_config(
                "staging", override(stack_values("staging"), "data", secret_rotation_days=bad)
            )


# The cache AUTH token: `ollama-ops secrets rotate --secret redis-auth` changes it after
# creation, so `pulumi up` must never send the first token again (the provider sends the
# token in its state whenever authToken or authTokenUpdateStrategy differs).
CACHE_OWNED_BY_ROTATION = {"authToken", "authTokenUpdateStrategy"}


def cache_token_violations(ev: Evaluation) -> list[str]:
    out = []
    for cache in ev.of_type("aws:elasticache/replicationGroup:ReplicationGroup"):
        if not set(cache.options.get("ignoreChanges", [])) >= CACHE_OWNED_BY_ROTATION:
            out.append(f"{cache.name}: pulumi up would set the first AUTH token back")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_pulumi_up_leaves_a_rotated_cache_token_alone(stack: str) -> None:
    ev = evaluated(stack)
    has_cache = bool(ev.of_type("aws:elasticache/replicationGroup:ReplicationGroup"))
    assert has_cache == config_for(stack).data.cache_enabled
    assert cache_token_violations(ev) == []


@pytest.mark.parametrize("kept", [[], ["authToken"], ["authTokenUpdateStrategy"]])
def test_cache_token_check_catches_a_reverting_cache(kept: list[str]) -> None:
    ev = evaluated("staging")
    reverted = [
        dataclasses.replace(r, options={**r.options, "ignoreChanges": kept})
        if r.name == "ollama-data-cache"
        else r
        for r in ev.resources
    ]
    broken = Evaluation(ev.stack, ev.region, reverted, ev.components, ev.outputs)
    assert any("first AUTH token back" in v for v in cache_token_violations(broken))
