"""Property 26 (IAM minimum permissions) on the instance role of every stack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from harness import STACKS, evaluated, override, replace_record, run_program, stack_values

from ollama_infra.offline.evaluate import Evaluation

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
PROFILE = "aws:iam/instanceProfile:InstanceProfile"
# CloudWatchAgentServerPolicy is not here: it allows cloudwatch:PutMetricData and log writes
# on "*", which would undo the namespace and log-group scoping of the inline statements.
ALLOWED_MANAGED = {
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
}
# What the CloudWatch agent calls with this stack's config (agent v1.300071.0, see
# docs/UPSTREAM.md): log streams and events, metrics, and the instance's tags for the
# AutoScalingGroupName dimension. The config parameter is covered by ReadStackParameters.
AGENT_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "cloudwatch:PutMetricData",
    "ec2:DescribeTags",
}
ACCOUNT = "123456789012"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _names_env(text: str, env: str) -> bool:
    return f"-{env}" in text or f"/{env}" in text


def _instance_role(ev: Evaluation) -> str:
    """The role's physical name (its Name tag plus the unique suffix AWS adds to the prefix)."""
    (role,) = [
        r for r in ev.of_type(ROLE) if r.tags and r.tags["Name"] == f"ollama-ec2-role-{ev.stack}"
    ]
    return str(role.state["name"])


def statements(ev: Evaluation) -> list[tuple[str, dict[str, Any]]]:
    role = _instance_role(ev)
    out = []
    for policy in ev.of_type(ROLE_POLICY):
        if policy.inputs.get("role") == role:
            for statement in json.loads(policy.inputs["policy"])["Statement"]:
                out.append((policy.name, statement))
    return out


def iam_violations(ev: Evaluation) -> list[str]:
    """Everything that makes the instance role broader than it needs to be."""
    env, out = ev.stack, []
    role = _instance_role(ev)
    (role_record,) = [r for r in ev.of_type(ROLE) if r.state["name"] == role]
    trust = json.loads(role_record.inputs["assumeRolePolicy"])["Statement"]
    principals = [s.get("Principal") for s in trust]
    if principals != [{"Service": "ec2.amazonaws.com"}]:
        out.append(f"trust policy principals {principals}: only EC2 may assume the role")
    for attachment in ev.of_type(ATTACHMENT):
        if (
            attachment.inputs.get("role") == role
            and attachment.inputs["policyArn"] not in ALLOWED_MANAGED
        ):
            out.append(f"managed policy {attachment.inputs['policyArn']} is not allowed")
    found = statements(ev)
    if not found:
        out.append("the instance role has no inline policy")
    for policy, s in found:
        where = f"{policy}/{s.get('Sid')}"
        if s.get("Effect") != "Allow" or "NotAction" in s or "NotResource" in s:
            out.append(f"{where}: only plain Allow statements are expected")
        if not s.get("Sid"):
            out.append(f"{where}: statements carry a Sid naming their purpose")
        for action in _as_list(s.get("Action")):
            if "*" in action:
                out.append(f"{where}: wildcard action {action!r}")
        for resource in _as_list(s.get("Resource")):
            if ":secret:rds!" in resource:
                # The master login is for administrators and the rotation function only.
                out.append(f"{where}: reads the database master secret {resource}")
            if resource == "*":
                if not s.get("Condition"):
                    out.append(f"{where}: resource '*' without a condition")
            elif not (f":{ACCOUNT}:" in resource or resource.startswith("arn:aws:s3:::")):
                out.append(f"{where}: {resource} is outside the stack's account")
            elif resource.startswith("arn:aws:kms:"):
                if "kms:ViaService" not in json.dumps(s.get("Condition") or {}):
                    out.append(f"{where}: key {resource} usable outside the stack's services")
            elif not (_names_env(resource, env) or _names_env(json.dumps(s.get("Condition")), env)):
                # Names AWS picks (the RDS-managed secret) are tied to the stack by a condition.
                out.append(f"{where}: {resource} is not scoped to the {env} stack")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_26_iam_minimum_permissions(stack: str) -> None:
    """Property 26 (IAM minimum permissions): the instance role has only the AWS managed
    policy the design allows (Session Manager) and inline statements scoped to this stack's
    own ARNs; no '*' action anywhere, and every '*' resource carries a condition."""
    ev = evaluated(stack)
    assert iam_violations(ev) == []
    sids = {s["Sid"] for _, s in statements(ev)}
    assert {
        "ReadStackParameters",
        "ReadStackSecrets",
        "QueryModelCatalog",
        "PutStackMetrics",
    } <= sids
    profile = [
        p for p in ev.of_type(PROFILE) if p.tags and p.tags["Name"] == f"ollama-ec2-profile-{stack}"
    ]
    assert len(profile) == 1 and profile[0].inputs["role"] == _instance_role(ev)


def _break_policy(ev: Evaluation, sid: str, **changes: Any) -> Evaluation:
    for policy, statement in statements(ev):
        if statement.get("Sid") == sid:
            record = ev.named(policy)
            document = json.loads(record.inputs["policy"])
            for s in document["Statement"]:
                if s["Sid"] == sid:
                    s.update(changes)
                    for key, value in changes.items():
                        if value is None:
                            del s[key]
            return replace_record(ev, policy, policy=json.dumps(document))
    raise KeyError(sid)


@pytest.mark.parametrize(
    ("sid", "changes", "words"),
    [
        ("ReadStackSecrets", {"Action": ["secretsmanager:*"]}, "wildcard action"),
        ("QueryModelCatalog", {"Action": "*"}, "wildcard action"),
        ("PutStackMetrics", {"Condition": None}, "without a condition"),
        ("ReadStackSecrets", {"Resource": "*"}, "without a condition"),
        (
            "ReadStackParameters",
            {"Resource": ["arn:aws:ssm:us-east-1:123456789012:parameter/*"]},
            "not scoped",
        ),
        (
            "WriteStackLogs",
            {"Resource": ["arn:aws:logs:us-east-1:999999999999:log-group:x-dev:*"]},
            "outside",
        ),
        ("ReadWriteWebuiUploads", {"Effect": "Deny", "NotAction": ["s3:GetObject"]}, "plain Allow"),
    ],
)
def test_property_26_catches_broad_statements(
    sid: str, changes: dict[str, Any], words: str
) -> None:
    broken = _break_policy(evaluated("dev"), sid, **changes)
    assert any(words in v for v in iam_violations(broken)), iam_violations(broken)


def test_property_26_catches_extra_managed_policies_and_trust() -> None:
    ev = evaluated("dev")
    attachment = next(
        a for a in ev.of_type(ATTACHMENT) if a.inputs.get("role") == _instance_role(ev)
    )
    broken = replace_record(
        ev, attachment.name, policyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert any("AdministratorAccess" in v for v in iam_violations(broken))
    role = next(r for r in ev.of_type(ROLE) if r.state["name"] == _instance_role(ev))
    trust = json.loads(role.inputs["assumeRolePolicy"])
    trust["Statement"][0]["Principal"] = {"AWS": "*"}
    broken = replace_record(ev, role.name, assumeRolePolicy=json.dumps(trust))
    assert any("only EC2" in v for v in iam_violations(broken))


@pytest.mark.parametrize("stack", STACKS)
def test_the_agent_gets_exactly_its_calls_scoped(stack: str) -> None:
    """Finding: with CloudWatchAgentServerPolicy attached, the namespace and log-group
    scoping below was ineffective. The agent's calls are granted inline, scoped, and no
    more: no CreateLogGroup/PutRetentionPolicy (the stack creates the groups with their
    retention) and no DescribeVolumes (no VolumeId dimension in the agent config)."""
    ev = evaluated(stack)
    by_sid = {s["Sid"]: s for _, s in statements(ev)}
    telemetry = {
        a
        for sid in ("WriteStackLogs", "PutStackMetrics", "ReadInstanceTags")
        for a in _as_list(by_sid[sid]["Action"])
    }
    assert telemetry == AGENT_ACTIONS
    assert by_sid["ReadInstanceTags"]["Resource"] == ["*"]
    assert by_sid["ReadInstanceTags"]["Condition"] == {
        "StringEquals": {"aws:RequestedRegion": ["us-east-1"]}
    }
    assert by_sid["WriteStackLogs"]["Resource"] == [
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/ec2/ollama-*-{stack}:*"
    ]
    attached = {
        a.inputs["policyArn"]
        for a in ev.of_type(ATTACHMENT)
        if a.inputs.get("role") == _instance_role(ev)
    }
    assert attached == ALLOWED_MANAGED


def test_property_26_catches_the_agent_managed_policy() -> None:
    ev = evaluated("dev")
    attachment = next(
        a for a in ev.of_type(ATTACHMENT) if a.inputs.get("role") == _instance_role(ev)
    )
    broken = replace_record(
        ev, attachment.name, policyArn="arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
    )
    assert any("CloudWatchAgentServerPolicy is not allowed" in v for v in iam_violations(broken))


def test_scopes_follow_the_contract_names() -> None:
    by_sid = {s["Sid"]: s for _, s in statements(evaluated("staging"))}
    assert by_sid["ReadStackSecrets"]["Resource"] == [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:ollama/staging/*"
    ]
    assert by_sid["QueryModelCatalog"]["Resource"] == [
        "arn:aws:dynamodb:us-east-1:123456789012:table/ollama-data-table-staging",
        "arn:aws:dynamodb:us-east-1:123456789012:table/ollama-data-table-restored-*-staging",
    ]
    assert by_sid["QueryModelCatalog"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["staging"]}
    }
    assert by_sid["ReadWriteWebuiUploads"]["Resource"] == [
        "arn:aws:s3:::ollama-storage-staging-123456789012/open-webui/*"
    ]
    assert by_sid["PutStackMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": ["Ollama/staging"]}
    }
    # staging has a database, but its master secret (rds!db-...) is for administrators and
    # the rotation function: the instances read their own login under ollama/staging/ only.
    assert not any("rds!db" in json.dumps(st) for _, st in statements(evaluated("staging")))


def test_database_and_kms_statements_follow_the_config() -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    ev = run_program("dev", override(stack_values("dev"), "data", kms_key_arn=key))
    assert iam_violations(ev) == []
    (kms,) = [s for _, s in statements(ev) if s["Sid"] == "UseDataKeyViaServices"]
    assert kms["Resource"] == [key]
    assert "kms:ViaService" in kms["Condition"]["StringEquals"]


def test_property_26_catches_unscoped_database_and_key_statements() -> None:
    master = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-*"
    broken = _break_policy(evaluated("staging"), "ReadStackSecrets", Resource=[master])
    found = iam_violations(broken)
    assert any("not scoped to the staging stack" in v for v in found)
    assert any("reads the database master secret" in v for v in found)
    key = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    broken = _break_policy(evaluated("dev"), "QueryModelCatalog", Resource=[key], Condition=None)
    assert any("usable outside the stack's services" in v for v in iam_violations(broken))
