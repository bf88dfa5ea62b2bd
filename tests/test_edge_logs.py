"""The access-log bucket: encryption, ownership, lifecycle, and a policy right for the region.

The region cases run the real program with ``aws:region`` changed (the ALB certificate
moves with it, as config requires), so the policy checked is the one `pulumi up` would put.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

import pulumi
import pulumi_aws as aws
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
from test_edge import inputs

from ollama_infra.context import StackContext
from ollama_infra.edge import regions
from ollama_infra.edge.log_bucket import bucket_policy
from ollama_infra.offline.evaluate import Evaluation

POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
ACCOUNT = "123456789012"


def log_bucket_name(ev: Evaluation) -> str:
    return f"ollama-logs-{ev.stack}-{ACCOUNT}"


def _of_bucket(ev: Evaluation, type_token: str) -> list[dict[str, Any]]:
    """Inputs of the ``type_token`` resources that configure the log bucket."""
    bucket = next(
        r for r in ev.of_type("aws:s3/bucket:Bucket") if r.inputs["bucket"] == log_bucket_name(ev)
    )
    return [inputs(r) for r in ev.of_type(type_token) if r.inputs.get("bucket") == bucket.id]


def log_bucket_violations(ev: Evaluation) -> list[str]:
    """SSE-S3 only, versioned, public access blocked, expiring, TLS-only, right ALB principal."""
    out = []
    sse = _of_bucket(ev, SSE)
    algorithms = [
        rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        for c in sse
        for rule in c["rules"]
    ]
    if algorithms != ["AES256"]:
        out.append(f"encryption is {algorithms}; ALB access logs need SSE-S3 (AES256) only")
    versioning = _of_bucket(ev, "aws:s3/bucketVersioning:BucketVersioning")
    if [v["versioningConfiguration"]["status"] for v in versioning] != ["Enabled"]:
        out.append("versioning is not enabled")
    blocks = _of_bucket(ev, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    if len(blocks) != 1 or not all(blocks[0].get(f) is True for f in flags):
        out.append("public access is not fully blocked")
    lifecycle = _of_bucket(ev, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    if not any(r.get("expiration", {}).get("days") for c in lifecycle for r in c["rules"]):
        out.append("log objects never expire")
    policies = _of_bucket(ev, POLICY)
    if len(policies) != 1:
        return [*out, f"expected one bucket policy, found {len(policies)}"]
    out += policy_violations(json.loads(policies[0]["policy"]), ev.region, log_bucket_name(ev))
    return out


def policy_violations(policy: dict[str, Any], region: str, bucket: str) -> list[str]:
    out = []
    statements = policy["Statement"]
    arn = f"arn:aws:s3:::{bucket}"
    tls = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    if not tls or set(tls[0]["Resource"]) != {arn, f"{arn}/*"}:
        out.append("no statement denies non-TLS access to the bucket and its objects")
    writers = [s for s in statements if s["Effect"] == "Allow" and "/alb/AWSLogs/" in str(s)]
    if len(writers) != 1:
        return [*out, f"expected one ALB log-delivery statement, found {len(writers)}"]
    alb = writers[0]
    account = regions.ELB_LOG_DELIVERY_ACCOUNTS.get(region)
    expected = (
        {"AWS": f"arn:aws:iam::{account}:root"}
        if account
        else {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    )
    if alb["Principal"] != expected:
        out.append(f"ALB principal in {region} is {alb['Principal']}, expected {expected}")
    if alb["Action"] != "s3:PutObject" or alb["Resource"] != f"{arn}/alb/AWSLogs/{ACCOUNT}/*":
        out.append(f"ALB statement grants {alb['Action']} on {alb['Resource']}")
    for s in statements:
        if s["Effect"] == "Allow" and s.get("Principal") == "*":
            out.append(f"statement {s.get('Sid')} allows everyone")
    return out


@functools.cache
def in_region(stack: str, region: str) -> Evaluation:
    if region == "us-east-1" and stack_values(stack)["aws:region"] == region:
        return evaluated(stack)
    values = stack_values(stack)
    values["aws:region"] = region
    edge = values.get("ollama:edge") or {}
    if edge.get("certificate_arn"):
        values = override(
            values, "edge", certificate_arn=edge["certificate_arn"].replace("us-east-1", region)
        )
    return run_program(stack, values)


@pytest.mark.parametrize("stack", STACKS)
def test_log_bucket_is_sse_s3_versioned_private_and_expiring(stack: str) -> None:
    ev = evaluated(stack)
    assert ev.outputs["ollama_log_bucket_name"] == log_bucket_name(ev)
    assert log_bucket_violations(ev) == []


def test_log_bucket_check_catches_kms_and_a_missing_tls_deny() -> None:
    ev = evaluated("staging")
    sse = next(r for r in ev.of_type(SSE) if r.name == "ollama-edge-logs-sse")
    kms = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]
    assert any(
        "SSE-S3" in p for p in log_bucket_violations(replace_record(ev, sse.name, rules=kms))
    )
    policy_record = next(r for r in ev.of_type(POLICY) if r.name == "ollama-edge-logs-policy")
    policy = json.loads(policy_record.inputs["policy"])
    policy["Statement"] = [s for s in policy["Statement"] if s["Effect"] != "Deny"]
    broken = replace_record(ev, policy_record.name, policy=json.dumps(policy))
    assert any("non-TLS" in p for p in log_bucket_violations(broken))


def test_older_region_us_east_1_grants_the_regional_elb_account() -> None:
    ev = in_region("staging", "us-east-1")
    assert ev.region == "us-east-1"
    assert log_bucket_violations(ev) == []
    policy = json.loads(_of_bucket(ev, POLICY)[0]["policy"])
    alb = next(s for s in policy["Statement"] if s.get("Sid") == "AlbAccessLogs")
    assert alb["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}


def test_newer_region_me_central_1_grants_the_log_delivery_service_principal() -> None:
    """The whole program run in the UAE (opened August 2022: no ELB account there), certificate
    moved along."""
    ev = in_region("staging", "me-central-1")
    assert ev.region == "me-central-1"
    assert log_bucket_violations(ev) == []
    policy = json.loads(_of_bucket(ev, POLICY)[0]["policy"])
    alb = next(s for s in policy["Statement"] if s.get("Sid") == "AlbAccessLogs")
    assert alb["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}
    assert "127311923021" not in json.dumps(policy)


@pytest.mark.parametrize(
    ("region", "principal"),
    [
        ("eu-west-1", {"AWS": "arn:aws:iam::156460612806:root"}),
        ("ap-northeast-1", {"AWS": "arn:aws:iam::582318560864:root"}),
        # Jakarta opened in December 2021, before the August 2022 cut-over: it has an account.
        ("ap-southeast-3", {"AWS": "arn:aws:iam::589379963580:root"}),
        ("me-central-1", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
        ("eu-south-2", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    ],
)
def test_policy_for_other_regions(region: str, principal: dict[str, str]) -> None:
    """The same policy builder the program uses, for more regions without a program run each."""
    ctx = StackContext.from_config(config_for("staging"), account_id=ACCOUNT)
    ctx = dataclasses.replace(ctx, region=region)
    policy = bucket_policy(ctx)
    assert policy_violations(policy, region, "ollama-logs-staging-123456789012") == []
    alb = next(s for s in policy["Statement"] if s.get("Sid") == "AlbAccessLogs")
    assert alb["Principal"] == principal


def test_region_check_catches_the_wrong_principal() -> None:
    """The us-east-1 policy is wrong in the UAE and in Jakarta, and the service principal is
    wrong in us-east-1."""
    east = json.loads(_of_bucket(evaluated("staging"), POLICY)[0]["policy"])
    for region in ("me-central-1", "ap-southeast-3"):
        problems = policy_violations(east, region, "ollama-logs-staging-123456789012")
        assert any(f"ALB principal in {region}" in p for p in problems), problems
    uae = json.loads(_of_bucket(in_region("staging", "me-central-1"), POLICY)[0]["policy"])
    problems = policy_violations(uae, "us-east-1", "ollama-logs-staging-123456789012")
    assert any("ALB principal in us-east-1" in p for p in problems), problems


def test_cloudfront_logging_follows_what_the_region_supports() -> None:
    """CloudFront legacy logging writes through ACLs and not into opt-in regions."""
    east = evaluated("staging")
    ownership = _of_bucket(east, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership[0]["rule"]["objectOwnership"] == "BucketOwnerPreferred"
    acl = _of_bucket(east, "aws:s3/bucketAcl:BucketAcl")
    grantees = {g["grantee"]["id"] for g in acl[0]["accessControlPolicy"]["grants"]}
    assert "c4c1ede66af53448b93c283ce9448c4ba468c9432aa01d700d3878632f77d2d0" in grantees
    assert not any("opt-in region" in w for w in east.warnings)

    jakarta = in_region("staging", "ap-southeast-3")
    ownership = _of_bucket(jakarta, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership[0]["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert _of_bucket(jakarta, "aws:s3/bucketAcl:BucketAcl") == []
    assert any("opt-in region" in w for w in jakarta.warnings)


def test_regions_table_answers_for_both_kinds() -> None:
    assert regions.alb_log_principal("us-west-2") == {"AWS": "arn:aws:iam::797873946194:root"}
    assert regions.alb_log_principal("us-gov-west-1", "aws-us-gov") == {
        "AWS": "arn:aws-us-gov:iam::048591011584:root"
    }
    assert regions.alb_log_principal("il-central-1") == {
        "Service": "logdelivery.elasticloadbalancing.amazonaws.com"
    }
    assert regions.cloudfront_can_log_to("eu-west-1")
    assert not regions.cloudfront_can_log_to("me-central-1")


# ---------------------------------------------------------------- ALB depends on the policy


def dependency_violations(
    options: list[pulumi.ResourceOptions], what: str, needs: tuple[type, ...]
) -> list[str]:
    """``what`` (one resource, created with ``options``) depends on a resource of each type."""
    if len(options) != 1:
        return [f"expected one {what}, found {len(options)}"]
    deps = options[0].depends_on or []
    deps = deps if isinstance(deps, list) else [deps]
    return [
        f"the {what} does not depend on the log bucket's {kind.__name__}"
        for kind in needs
        if not any(isinstance(d, kind) for d in deps)
    ]


def _recording(cls: type, captured: list[pulumi.ResourceOptions]) -> type:
    class Recording(cls):  # type: ignore[valid-type, misc]
        def __init__(self, resource_name: str, *args: Any, opts: Any = None, **kw: Any) -> None:
            captured.append(opts)
            super().__init__(resource_name, *args, opts=opts, **kw)

    return Recording


def test_alb_and_cloudfront_wait_for_the_log_bucket_permissions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS checks the bucket when logging is turned on: the ALB needs the policy ("Access
    Denied for bucket" otherwise), CloudFront needs ACLs enabled and its grant."""
    lb: list[pulumi.ResourceOptions] = []
    dist: list[pulumi.ResourceOptions] = []
    monkeypatch.setattr(aws.lb, "LoadBalancer", _recording(aws.lb.LoadBalancer, lb))
    monkeypatch.setattr(
        aws.cloudfront, "Distribution", _recording(aws.cloudfront.Distribution, dist)
    )
    run_program("dev")
    assert dependency_violations(lb, "load balancer", (aws.s3.BucketPolicy,)) == []
    cloudfront_needs = (aws.s3.BucketOwnershipControls, aws.s3.BucketAcl)
    assert dependency_violations(dist, "distribution", cloudfront_needs) == []
    unordered = [pulumi.ResourceOptions()]
    assert dependency_violations(unordered, "load balancer", (aws.s3.BucketPolicy,)) != []
    assert len(dependency_violations(unordered, "distribution", cloudfront_needs)) == 2
