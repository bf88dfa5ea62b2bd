"""S3 and DynamoDB rules.

In pulumi-aws 7 a bucket's settings are separate resources (public access block, encryption,
versioning, policy), so the S3 rules are stack policies: they look at every bucket and find its
companion resources by the bucket name (the ``bucket`` prop of both; for S3 the id is the name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ollama_infra.policy.common import (
    Report,
    ResourceLike,
    as_list,
    flag,
    get,
    outside_dev,
    policy,
    policy_document,
    principals,
    statements,
    strings,
    truthy,
)

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_V2 = "aws:s3/bucketV2:BucketV2"
BUCKETS = (BUCKET, BUCKET_V2)
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
SSE_V2 = (
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
VERSIONING_V2 = "aws:s3/bucketVersioningV2:BucketVersioningV2"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_LOGGING = "aws:s3/bucketLogging:BucketLogging"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
TABLE = "aws:dynamodb/table:Table"

PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
SSE_ALGORITHMS = ("AES256", *KMS_ALGORITHMS)
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")
# The stack's access-log bucket: ollama-logs-<env>-<account> (naming.StackNames.log_bucket).
LOG_BUCKET_RE = re.compile(r"^ollama-logs-[a-z0-9]+(-\d{12})?$")


def _of(resources: Iterable[ResourceLike], *types: str) -> list[ResourceLike]:
    return [r for r in resources if r.resource_type in types]


def buckets(resources: Iterable[ResourceLike]) -> list[ResourceLike]:
    return _of(resources, *BUCKETS)


def bucket_name(bucket: ResourceLike) -> str | None:
    value = bucket.props.get("bucket") or bucket.props.get("id")
    return str(value) if value else None


def _bucket_ref(value: Any) -> str | None:
    """A bucket reference as name: plain names, ``arn:aws:s3:::name`` and ``name.s3...`` hosts."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("arn:"):
        value = value.split(":::", 1)[-1]
    return value.split(".s3", 1)[0].split("/", 1)[0]


def companions(
    resources: Iterable[ResourceLike], bucket: ResourceLike, *types: str
) -> list[ResourceLike]:
    """Resources of ``types`` whose ``bucket`` prop refers to ``bucket``."""
    name = bucket_name(bucket)
    return [
        r for r in _of(resources, *types) if name and _bucket_ref(r.props.get("bucket")) == name
    ]


def log_bucket_names(resources: list[ResourceLike]) -> set[str]:
    """Buckets that receive ALB/CloudFront/S3 access logs (SSE-KMS is unsupported there)."""
    names: set[str] = set()
    for lb in _of(resources, LOAD_BALANCER):
        ref = _bucket_ref(get(lb.props, "accessLogs", "bucket"))
        if ref:
            names.add(ref)
    for dist in _of(resources, DISTRIBUTION):
        ref = _bucket_ref(get(dist.props, "loggingConfig", "bucket"))
        if ref:
            names.add(ref)
    for logging in _of(resources, BUCKET_LOGGING):
        ref = _bucket_ref(logging.props.get("targetBucket"))
        if ref:
            names.add(ref)
    for bucket in buckets(resources):
        name = bucket_name(bucket)
        if name and LOG_BUCKET_RE.match(name):
            names.add(name)
    return names


# ---------------------------------------------------------------------------- S3 (stack)


@policy(
    "s3-public-access-block",
    "Every S3 bucket has a public access block with all four flags on and no public ACL.",
    *BUCKETS,
    stack=True,
    checkov=("CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56", "CKV2_AWS_6", "CKV_AWS_20"),
    trivy=(
        "AVD-AWS-0086",
        "AVD-AWS-0087",
        "AVD-AWS-0091",
        "AVD-AWS-0093",
        "AVD-AWS-0094",
        "AVD-AWS-0092",
    ),
)
def s3_public_access_block(args: Any, report: Report) -> None:
    resources = list(args.resources)
    for bucket in buckets(resources):
        blocks = companions(resources, bucket, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            flag(
                report,
                bucket,
                f"bucket {bucket_name(bucket)!r} has no aws.s3.BucketPublicAccessBlock",
                "add a BucketPublicAccessBlock for it with all four flags true",
            )
            continue
        for block in blocks:
            off = [f for f in PAB_FLAGS if not truthy(block.props.get(f))]
            if off:
                flag(
                    report,
                    block,
                    f"public access block of {bucket_name(bucket)!r} leaves {off} unset/false",
                    "set block_public_acls, block_public_policy, ignore_public_acls and "
                    "restrict_public_buckets to True",
                )
        acl = bucket.props.get("acl")
        if isinstance(acl, str) and acl in PUBLIC_ACLS:
            flag(report, bucket, f"canned ACL {acl!r} makes objects public", "remove the acl")


def _sse_algorithms(resources: list[ResourceLike], bucket: ResourceLike) -> list[str]:
    algos = []
    for sse in companions(resources, bucket, SSE, SSE_V2):
        for rule in as_list(sse.props.get("rules")):
            algo = get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm")
            if isinstance(algo, str):
                algos.append(algo)
    return algos


@policy(
    "s3-encryption-at-rest",
    "Every S3 bucket has default server-side encryption.",
    *BUCKETS,
    stack=True,
    checkov=("CKV_AWS_19",),
    trivy=("AVD-AWS-0088 (deprecated)",),
)
def s3_encryption_at_rest(args: Any, report: Report) -> None:
    resources = list(args.resources)
    for bucket in buckets(resources):
        algos = _sse_algorithms(resources, bucket)
        if not any(a in SSE_ALGORITHMS for a in algos):
            flag(
                report,
                bucket,
                f"bucket {bucket_name(bucket)!r} has no default server-side encryption "
                f"(found {algos or 'none'})",
                "add a BucketServerSideEncryptionConfiguration with sse_algorithm "
                "'aws:kms' (or 'AES256' for an access-log bucket)",
            )


@policy(
    "s3-kms-encryption",
    "S3 buckets use SSE-KMS, except the access-log bucket (ALB logs support SSE-S3 only).",
    *BUCKETS,
    stack=True,
    checkov=("CKV_AWS_145",),
    trivy=("AVD-AWS-0132",),
)
def s3_kms_encryption(args: Any, report: Report) -> None:
    resources = list(args.resources)
    log_buckets = log_bucket_names(resources)
    for bucket in buckets(resources):
        name = bucket_name(bucket)
        algos = _sse_algorithms(resources, bucket)
        if not algos or name in log_buckets:
            continue  # no SSE at all is s3-encryption-at-rest's finding; log buckets: SSE-S3
        if not all(a in KMS_ALGORITHMS for a in algos):
            flag(
                report,
                bucket,
                f"bucket {name!r} uses {algos} instead of SSE-KMS",
                "set sse_algorithm='aws:kms' (with data.kms_key_arn for a customer key); "
                "only the access-log bucket may use AES256",
            )


@policy(
    "s3-versioning",
    "Every S3 bucket has versioning enabled.",
    *BUCKETS,
    stack=True,
    checkov=("CKV_AWS_21",),
    trivy=("AVD-AWS-0090",),
)
def s3_versioning(args: Any, report: Report) -> None:
    resources = list(args.resources)
    for bucket in buckets(resources):
        statuses = [
            get(v.props, "versioningConfiguration", "status")
            for v in companions(resources, bucket, VERSIONING, VERSIONING_V2)
        ]
        if "Enabled" not in statuses:
            flag(
                report,
                bucket,
                f"bucket {bucket_name(bucket)!r} is not versioned ({statuses or 'none'})",
                "add a BucketVersioning with versioning_configuration.status='Enabled'",
            )


def _denies_insecure_transport(doc: Mapping[str, Any] | None) -> bool:
    for st in statements(doc):
        if st.get("Effect") != "Deny" or "*" not in principals(st):
            continue
        cond = st.get("Condition")
        if not isinstance(cond, Mapping):
            continue
        for op in ("Bool", "BoolIfExists"):
            value = get(cond, op, "aws:SecureTransport")
            if value is not None and str(value).lower() == "false":
                actions = strings(st.get("Action"))
                if any(a in ("s3:*", "*") for a in actions):
                    return True
    return False


@policy(
    "s3-tls-only",
    "Every S3 bucket policy denies requests made without TLS (aws:SecureTransport).",
    *BUCKETS,
    stack=True,
    checkov=("CKV_AWS_379",),
)
def s3_tls_only(args: Any, report: Report) -> None:
    resources = list(args.resources)
    for bucket in buckets(resources):
        policies = companions(resources, bucket, BUCKET_POLICY)
        docs = [policy_document(p.props.get("policy")) for p in policies]
        if not any(_denies_insecure_transport(d) for d in docs):
            flag(
                report,
                bucket,
                f"bucket {bucket_name(bucket)!r} does not deny requests without TLS",
                "add a BucketPolicy statement: Effect Deny, Principal '*', Action 's3:*', "
                "Condition Bool aws:SecureTransport 'false' on the bucket and its objects",
            )


@policy(
    "s3-bucket-policy-not-public",
    "Bucket policies do not allow Principal '*' without a condition.",
    BUCKET_POLICY,
    stack=True,
    checkov=("CKV_AWS_70",),
)
def s3_policy_not_public(args: Any, report: Report) -> None:
    for pol in _of(args.resources, BUCKET_POLICY):
        for st in statements(policy_document(pol.props.get("policy"))):
            if st.get("Effect") == "Allow" and "*" in principals(st) and not st.get("Condition"):
                flag(
                    report,
                    pol,
                    "bucket policy allows Principal '*' without a condition",
                    "grant named principals (service or account) or add a condition "
                    "such as aws:SourceAccount",
                )


# ---------------------------------------------------------------------------- DynamoDB


@policy(
    "dynamodb-encryption",
    "DynamoDB tables use KMS server-side encryption (at least the AWS managed key).",
    TABLE,
)
def dynamodb_encryption(args: Any, report: Report) -> None:
    if not truthy(get(args.props, "serverSideEncryption", "enabled")):
        flag(
            report,
            args,
            "table is not encrypted with KMS (server_side_encryption.enabled is not true)",
            "set server_side_encryption={'enabled': True} (kms_key_arn for a customer key)",
        )


@policy(
    "dynamodb-pitr",
    "DynamoDB tables have point-in-time recovery.",
    TABLE,
    checkov=("CKV_AWS_28",),
    trivy=("AVD-AWS-0024",),
)
def dynamodb_pitr(args: Any, report: Report) -> None:
    if not truthy(get(args.props, "pointInTimeRecovery", "enabled")):
        flag(
            report,
            args,
            "point-in-time recovery is off",
            "set point_in_time_recovery={'enabled': True}",
        )


@policy(
    "dynamodb-deletion-protection",
    "DynamoDB tables outside dev have deletion protection.",
    TABLE,
)
def dynamodb_deletion_protection(args: Any, report: Report) -> None:
    if not outside_dev(args):
        return
    if not truthy(args.props.get("deletionProtectionEnabled")):
        flag(
            report,
            args,
            "deletion protection is off outside dev",
            "set deletion_protection_enabled=True (data.deletion_protection)",
        )


@policy(
    "s3-access-logging",
    "Every S3 bucket except the log buckets writes server access logs to a log bucket.",
    *BUCKETS,
    stack=True,
    checkov=("CKV_AWS_18",),
)
def s3_access_logging(args: Any, report: Report) -> None:
    resources = list(args.resources)
    log_buckets = log_bucket_names(resources)
    for bucket in buckets(resources):
        name = bucket_name(bucket)
        if name in log_buckets or bucket.props.get("loggings"):
            continue
        if not companions(resources, bucket, BUCKET_LOGGING):
            flag(
                report,
                bucket,
                f"bucket {name!r} writes no server access logs",
                "add aws.s3.BucketLogging targeting a log bucket in the bucket's own region "
                "(the DR replica logs to ollama-logs-dr-<env>-<account>)",
            )
