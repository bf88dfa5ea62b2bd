"""Cross-cutting security properties 26, 27, 28, 32 and 35.

Each property runs over the three stack files and over hypothesis-generated valid configs,
and each has a deliberately broken input that makes it fail. Properties 26-32 combine the
policy pack's mandatory rules for the property (run through the offline evaluator, exactly
as ``ollama-ops plan`` runs them) with a property-specific invariant over the records of
the real program under the offline mocks (a test double for AWS). Property 35 drives
``ollama-ops state bootstrap`` against moto (a test double for S3, KMS and STS).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from harness import (
    GENERATED_EXAMPLES,
    GENERATED_GROUP,
    STACKS,
    evaluated,
    replace_record,
    run_generated,
    shared_examples,
    stack_values,
)
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from test_config import valid_configs

from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.offline.evaluate import unwrap_secrets as plain
from ollama_infra.policy.common import (
    decode_user_data,
    find_secrets,
    policy_document,
    secret_matches,
    statements,
    strings,
)
from ollama_infra.policy.evaluate import evaluate_policies
from ollama_infra.policy.pack import rule

ROOT = Path(__file__).resolve().parents[1]
PROGRAM_EXAMPLES = settings(
    # Each example runs the whole program (about a second, shared with the other
    # generated-config properties): few examples, no shrinking (a failing config is printed
    # as is; shrinking one would take minutes).
    max_examples=GENERATED_EXAMPLES,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)

PROPERTY_RULES: dict[int, tuple[str, ...]] = {
    26: (
        "iam-no-wildcard-actions",
        "iam-wildcard-resources-need-conditions",
        "iam-no-admin-policies",
        "iam-trust-policy",
    ),
    27: (
        "s3-encryption-at-rest",
        "s3-kms-encryption",
        "dynamodb-encryption",
        "launch-template-encrypted-volumes",
        "rds-encryption",
        "elasticache-encryption-at-rest",
        "sns-encryption",
    ),
    28: (
        "s3-tls-only",
        "alb-listener-tls",
        "alb-https-redirect",
        "cloudfront-viewer-https",
        "cloudfront-tls-version",
        "cloudfront-origin-https",
        "elasticache-encryption-in-transit",
    ),
    32: ("no-plaintext-secrets", "secrets-not-exposed"),
}


def rule_violations(ev: Evaluation, values: dict[str, Any], prop: int) -> list[str]:
    rules = [rule(name) for name in PROPERTY_RULES[prop]]
    report = evaluate_policies(ev, values, rules=rules)
    return [v.message for v in report.mandatory_violations]


def _of(ev: Evaluation, *types: str) -> list[ResourceRecord]:
    return [r for r in ev.resources if r.type in types]


# ------------------------------------------------------------------ Property 26

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
# AWS managed policies the stack may attach: Session Manager and AWS Backup. (The CloudWatch
# agent gets scoped inline statements: its managed policy writes metrics and logs on "*".)
ALLOWED_MANAGED = {
    "AmazonSSMManagedInstanceCore",
    "AWSBackupServiceRolePolicyForBackup",
    "AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
    # RDS enhanced monitoring: writes only to RDS* log groups (docs/UPSTREAM.md).
    "AmazonRDSEnhancedMonitoringRole",
}


def iam_scope_violations(ev: Evaluation) -> list[str]:
    """Every Allow names this stack's own resources (its environment appears in each ARN, or
    the ARN is one of the resources the stack declares, such as a KMS key), unless a
    Condition scopes it; managed policies come from a short allow-list; roles trust AWS
    services only."""
    env_re = re.compile(rf"(^|[-/:]){re.escape(ev.stack)}([-/:*]|$)")
    own = {str(r.state.get("arn")) for r in ev.resources if r.state.get("arn")}
    out = []
    for r in _of(ev, ROLE_POLICY, POLICY, ROLE):
        docs = [plain(r.inputs.get("policy"))] if r.type != ROLE else []
        docs += [plain(p.get("policy")) for p in r.inputs.get("inlinePolicies") or []]
        for doc in docs:
            for s in statements(policy_document(doc)):
                if s.get("Effect") != "Allow" or s.get("Condition"):
                    continue
                for arn in strings(s.get("Resource")):
                    if arn != "*" and not env_re.search(arn) and arn not in own:
                        out.append(f"{r.name}: {arn} is not a resource of stack {ev.stack}")
    for r in _of(ev, ATTACHMENT, ROLE):
        arns = strings(r.inputs.get("policyArn")) + strings(r.inputs.get("managedPolicyArns"))
        for arn in arns:
            if ":aws:policy/" in arn and arn.rsplit("/", 1)[-1] not in ALLOWED_MANAGED:
                out.append(f"{r.name}: attaches {arn}, not in the allowed managed policies")
    for r in _of(ev, ROLE):
        for s in statements(policy_document(plain(r.inputs.get("assumeRolePolicy")))):
            principal = s.get("Principal")
            if not (isinstance(principal, dict) and set(principal) == {"Service"}):
                out.append(f"{r.name}: trusts {principal!r}, not an AWS service")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_26_iam_minimum_permissions(stack: str) -> None:
    """Property 26 (IAM minimum permissions): no wildcard actions, no unconditioned '*'
    resources, no administrator policies, service-only trust, and every permission scoped to
    the stack's own ARNs (its environment), for every stack."""
    ev = evaluated(stack)
    assert _of(ev, ROLE), "the stack declares no IAM role: the property would be vacuous"
    assert rule_violations(ev, stack_values(stack), 26) == []
    assert iam_scope_violations(ev) == []


def test_property_26_catches_broad_permissions() -> None:
    ev = evaluated("staging")
    grant = next(r for r in _of(ev, ROLE_POLICY) if r.name.startswith("ollama-identity"))
    foreign = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["ssm:GetParameter"],
                    "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/ollama/production/*",
                },
                {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            ],
        }
    )
    broken = replace_record(ev, grant.name, policy=foreign)
    assert any("parameter/ollama/production" in v for v in iam_scope_violations(broken))
    assert any(grant.name in v for v in rule_violations(broken, stack_values("staging"), 26))
    attachment = _of(ev, ATTACHMENT)[0]
    admin = replace_record(
        ev, attachment.name, policyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert any("AdministratorAccess" in v for v in iam_scope_violations(admin))
    assert rule_violations(admin, stack_values("staging"), 26)


# ------------------------------------------------------------------ Property 27

BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TABLE = "aws:dynamodb/table:Table"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
RDS = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
TOPIC = "aws:sns/topic:Topic"


def at_rest_coverage_violations(ev: Evaluation, values: dict[str, Any]) -> list[str]:
    """The data stores the config asks for are in the plan (so the rules had them to check)."""
    data = values.get("ollama:data") or {}
    wanted = [BUCKET, TABLE, LAUNCH_TEMPLATE, TOPIC]
    if data.get("database_enabled"):
        wanted.append(RDS)
    if data.get("cache_enabled"):
        wanted.append(CACHE)
    return [f"no {t} in the plan" for t in wanted if not ev.of_type(t)]


@pytest.mark.parametrize("stack", STACKS)
def test_property_27_encryption_at_rest(stack: str) -> None:
    """Property 27 (encryption at rest): buckets (SSE-KMS, SSE-S3 only for the access-log
    bucket), the table, instance volumes, database, cache and topics are encrypted."""
    ev = evaluated(stack)
    values = stack_values(stack)
    assert at_rest_coverage_violations(ev, values) == []
    assert rule_violations(ev, values, 27) == []


def test_property_27_catches_unencrypted_stores() -> None:
    ev = evaluated("production")
    sse = _of(ev, SSE)[0]
    broken = replace_record(ev, sse.name, rules=[])
    assert rule_violations(broken, stack_values("production"), 27)
    db = _of(ev, RDS)[0]
    broken = replace_record(ev, db.name, storageEncrypted=False)
    assert any(db.name in v for v in rule_violations(broken, stack_values("production"), 27))


# ------------------------------------------------------------------ Property 28

LISTENER = "aws:lb/listener:Listener"
PARAMETER = "aws:ssm/parameter:Parameter"
DIST = "aws:cloudfront/distribution:Distribution"


def in_transit_violations(ev: Evaluation) -> list[str]:
    """Outside dev the ALB terminates TLS; the app reaches the cache over TLS (rediss)."""
    out = []
    if ev.stack != "dev" and not any(
        r.inputs.get("protocol") == "HTTPS" for r in ev.of_type(LISTENER)
    ):
        out.append(f"stack {ev.stack} has no HTTPS listener on the ALB")
    for r in ev.of_type(PARAMETER):
        redis = str(r.inputs.get("name", "")).endswith("/webui/redis")
        if redis and json.loads(plain(r.inputs["value"])).get("tls") is not True:
            out.append(f"{r.name}: Open WebUI is told to reach Redis without TLS")
    if not ev.of_type(DIST):
        out.append("no CloudFront distribution: viewers would reach the ALB directly")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_28_encryption_in_transit(stack: str) -> None:
    """Property 28 (encryption in transit): viewers are redirected to HTTPS, CloudFront uses
    TLS 1.2+ (to the origin too outside dev), ALB listeners use a TLS 1.2+ policy and HTTP
    only redirects, buckets deny non-TLS requests, the cache requires TLS."""
    ev = evaluated(stack)
    assert rule_violations(ev, stack_values(stack), 28) == []
    assert in_transit_violations(ev) == []


def test_property_28_catches_plain_transport() -> None:
    ev = evaluated("production")
    https = next(r for r in ev.of_type(LISTENER) if r.inputs.get("protocol") == "HTTPS")
    weak = replace_record(ev, https.name, sslPolicy="ELBSecurityPolicy-2016-08")
    assert any(https.name in v for v in rule_violations(weak, stack_values("production"), 28))
    http_only = replace_record(ev, https.name, protocol="HTTP")
    assert in_transit_violations(http_only)
    dist = ev.of_type(DIST)[0]
    behavior = {**dist.inputs["defaultCacheBehavior"], "viewerProtocolPolicy": "allow-all"}
    allow_all = replace_record(ev, dist.name, defaultCacheBehavior=behavior)
    assert rule_violations(allow_all, stack_values("production"), 28)


# ------------------------------------------------------------------ Property 32

PASSWORD = "random:index/randomPassword:RandomPassword"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"


def generated_secrets(ev: Evaluation) -> set[str]:
    """The secret values the stack generates or stores (mock values stand in for them)."""
    out = {str(r.state.get("result")) for r in _of(ev, PASSWORD) if r.state.get("result")}
    for r in _of(ev, SECRET_VERSION):
        text = plain(r.inputs.get("secretString"))
        if isinstance(text, str):
            out.add(text)
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                out.update(str(v) for k, v in parsed.items() if "password" in k.lower())
    return {s for s in out if len(s) >= 8}


def user_data(ev: Evaluation) -> list[tuple[str, str]]:
    return [
        (r.name, decode_user_data(plain(r.inputs.get("userData"))))
        for r in _of(ev, LAUNCH_TEMPLATE)
    ]


def hardcoded_secret_violations(ev: Evaluation) -> list[str]:
    """Rendered user data and stack outputs carry no secret value and nothing that looks
    like a credential."""
    secrets = generated_secrets(ev)
    out = []
    texts = [(f"{name} user data", text) for name, text in user_data(ev)]
    texts += [(f"output {k}", json.dumps(v, default=str)) for k, v in ev.outputs.items()]
    for where, text in texts:
        out += [f"{where}: looks like a {what}" for what in find_secrets(text)]
        out += [f"{where}: contains a generated secret value" for s in secrets if s in text]
    if not user_data(ev):
        out.append("no launch template: the user-data check would be vacuous")
    return out


# Files under tests/ that deliberately carry fake credentials, with the label that says so.
FAKE_LABELS = re.compile(r"(?i)#.*\b(fake|sentinel|deliberately|leak)")
FAKE_VALUES = re.compile(r"(?i)(fake|sentinel|mock|example|testing|dummy|placeholder)")
# A literal that is one lowercase word ("rotated", "changeme") is a placeholder in a test.
PLACEHOLDER = re.compile(r"""[=:]\s*['"]?[a-z]+['"]?$""")


def repo_secret_violations(root: Path = ROOT) -> list[str]:
    """Tracked text files carry no credentials. Exempt: lines ruff was told are not
    passwords (``noqa: S105``/``S106``), values that say they are fake, and under tests/
    one-word placeholders and files that label their fake fixtures in a comment."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    out = []
    for rel in files:
        path = root / rel
        if not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        labelled_fixture = rel.startswith("tests/") and FAKE_LABELS.search(text)
        for number, line in enumerate(text.splitlines(), 1):
            if labelled_fixture or re.search(r"noqa: .*S10[56]", line):
                continue
            if rel.endswith(".py") and not re.search(r"['\"]", line.split("=", 1)[-1]):
                line = re.sub(r"\w+=[\w.()\[\]]+[,)]", "", line)  # keyword args: code
            hits = [
                name
                for name, match in secret_matches(line)
                if not FAKE_VALUES.search(line)
                and not (rel.startswith("tests/") and PLACEHOLDER.search(match))
            ]
            out += [f"{rel}:{number}: {h}" for h in hits]
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_32_no_hardcoded_secrets(stack: str) -> None:
    """Property 32 (no hardcoded secrets): the rendered user data, String parameters and
    stack outputs carry neither credentials nor the stack's generated secret values."""
    ev = evaluated(stack)
    assert generated_secrets(ev), "the stack generates no secret: the check would be vacuous"
    assert rule_violations(ev, stack_values(stack), 32) == []
    assert hardcoded_secret_violations(ev) == []


def test_property_32_no_secrets_in_the_repository() -> None:
    """Property 32 (no hardcoded secrets) over the repository's tracked text files."""
    assert repo_secret_violations() == []


def test_property_32_catches_leaks(tmp_path: Path) -> None:
    ev = evaluated("staging")
    lt = _of(ev, LAUNCH_TEMPLATE)[0]
    secret = sorted(generated_secrets(ev))[0]
    leaked = "#!/bin/bash\n" + f"export WEBUI_SECRET_KEY={secret}\n"
    broken = replace_record(ev, lt.name, userData=base64.b64encode(leaked.encode()).decode())
    found = hardcoded_secret_violations(broken)
    assert any("generated secret" in v for v in found)
    assert any("literal secret assignment" in v for v in found)
    assert any(lt.name in v for v in rule_violations(broken, stack_values("staging"), 32))
    exported = copy.copy(ev)
    exported.outputs = {**ev.outputs, "ollama_admin_password": secret}
    assert any("output ollama_admin_password" in v for v in hardcoded_secret_violations(exported))
    assert rule_violations(exported, stack_values("staging"), 32)
    # A credential committed to a tracked file is found (fake key, built at run time).
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "deploy.sh").write_text("aws_access_key_id=" + "AKIA" + "Q" * 16 + "\n")
    assert any("deploy.sh:1" in v for v in repo_secret_violations(tmp_path))


# ------------------------------------------------------------------ generated configs


@GENERATED_GROUP
@shared_examples
@PROGRAM_EXAMPLES
@given(valid_configs())
def test_generated_configs_pass_every_mandatory_rule_and_properties(
    case: tuple[str, dict[str, Any]],
) -> None:
    """For hypothesis-generated valid configs: every mandatory rule of the policy pack holds,
    and so do Properties 26 (IAM minimum permissions), 27 (encryption at rest), 28
    (encryption in transit) and 32 (no hardcoded secrets). One program run per example
    serves all of them (a run costs about a second)."""
    env, values = case
    ev = run_generated(env, values)
    report = evaluate_policies(ev, values)
    found = {
        "mandatory rules": [v.message for v in report.mandatory_violations],
        "property 26": iam_scope_violations(ev),
        "property 27": at_rest_coverage_violations(ev, values),
        "property 28": in_transit_violations(ev),
        "property 32": hardcoded_secret_violations(ev),
    }
    assert {k: v for k, v in found.items() if v} == {}


# ------------------------------------------------------------------ Property 35

STATE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def state_versioning_violations(bucket: str, region: str) -> list[str]:
    import boto3

    s3 = boto3.client("s3", region_name=region)
    status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    return [] if status == "Enabled" else [f"state bucket {bucket} versioning is {status}"]


def bootstrap_state(region: str, suspend_after: bool = False) -> list[str]:
    """Run ``ollama-ops state bootstrap`` against moto and read back the bucket's versioning."""
    from moto import mock_aws

    from ollama_infra.ops import aws
    from ollama_infra.ops.cli import main
    from ollama_infra.ops.state import KEY_ALIAS  # noqa: F401 (the module must exist)

    env = {**STATE_ENV, "AWS_DEFAULT_REGION": region}
    with mock.patch.dict(os.environ, env), mock_aws():
        previous = aws.set_client_factory(None)
        try:
            assert main(["state", "bootstrap", "--region", region, "--yes"]) == 0
            account = aws.account_id(region)
            bucket = f"ollama-pulumi-state-{account}-{region}"
            if suspend_after:
                import boto3

                boto3.client("s3", region_name=region).put_bucket_versioning(
                    Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
                )
            return state_versioning_violations(bucket, region)
        finally:
            aws.set_client_factory(previous)


def _stack_region(stack: str) -> str:
    return str(stack_values(stack).get("aws:region", "us-east-1"))


@pytest.mark.parametrize("stack", STACKS)
def test_property_35_state_versioning(stack: str) -> None:
    """Property 35 (state versioning): the Pulumi state bucket that `ollama-ops state
    bootstrap` creates in the stack's region is versioned."""
    assert bootstrap_state(_stack_region(stack)) == []


@settings(max_examples=3, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(valid_configs().map(lambda case: str(case[1]["aws:region"])) | st.just("eu-central-1"))
def test_property_35_holds_for_generated_regions(region: str) -> None:
    """Property 35 (state versioning) for the regions of hypothesis-generated configs."""
    assert bootstrap_state(region) == []


def test_property_35_catches_unversioned_state() -> None:
    found = bootstrap_state("us-east-1", suspend_after=True)
    assert found and "Suspended" in found[0]
