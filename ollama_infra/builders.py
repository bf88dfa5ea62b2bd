"""Shared builders: private S3 buckets, stored secrets, service roles and KMS keys, one way each.

Every bucket is versioned, encrypted, closed to the public and reachable over TLS only;
what differs between buckets (encryption, ACLs, lifecycle, the bucket policy) is an
argument. Every generated secret lives in Secrets Manager under ``ollama/<env>/<role>``.
Every role an AWS service assumes trusts that one service principal. Every customer
managed key rotates, waits 30 days before deletion and has an explicit key policy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from ollama_infra import naming
from ollama_infra.context import StackContext


@dataclass(frozen=True)
class PrivateBucket:
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    """Replication and lifecycle rules need versioning in place first."""
    ownership: aws.s3.BucketOwnershipControls
    public_access_block: aws.s3.BucketPublicAccessBlock
    policy: aws.s3.BucketPolicy


def tls_only_statement(bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Refuse every request to the bucket that is not made over TLS."""
    objects = (
        f"{bucket_arn}/*" if isinstance(bucket_arn, str) else pulumi.Output.concat(bucket_arn, "/*")
    )
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, objects],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def private_bucket(
    name: str,
    *,
    ctx: StackContext,
    service: str,
    bucket_name: str,
    force_destroy: bool,
    lifecycle_rules: Sequence[Any],
    parent: pulumi.Resource,
    kms_key_arn: pulumi.Input[str] | None = None,
    sse_algorithm: Literal["aws:kms", "AES256"] = "aws:kms",
    object_ownership: str = "BucketOwnerEnforced",
    policy: pulumi.Input[str] | None = None,
    provider: aws.Provider | None = None,
    bucket_resource_name: str | None = None,
    public_access_block_part: str = "public-access-block",
) -> PrivateBucket:
    """A bucket and its settings, children named ``<name>-<part>``.

    ``aws:kms`` without a key uses the AWS managed key aws/s3. ``policy`` replaces the
    TLS-only bucket policy (it must keep ``tls_only_statement``). ``bucket_resource_name`` and
    ``public_access_block_part`` keep the logical names of the first release where they
    differ (a new logical name would give a deployed resource a new URN).
    """
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    bucket = aws.s3.Bucket(
        bucket_resource_name or name,
        bucket=bucket_name,
        force_destroy=force_destroy,
        tags=ctx.tags(service, bucket_name),
        opts=opts,
    )
    kms = sse_algorithm == "aws:kms"
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-sse",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm=sse_algorithm, kms_master_key_id=kms_key_arn if kms else None
                ),
                bucket_key_enabled=True if kms else None,
            )
        ],
        opts=opts,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=opts,
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": object_ownership},
        opts=opts,
    )
    access_block = aws.s3.BucketPublicAccessBlock(
        f"{name}-{public_access_block_part}",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    bucket_policy = aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=policy
        or pulumi.Output.json_dumps(
            {"Version": "2012-10-17", "Statement": [tls_only_statement(bucket.arn)]}
        ),
        opts=opts.merge(pulumi.ResourceOptions(depends_on=[access_block])),
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        rules=list(lifecycle_rules),
        opts=opts.merge(pulumi.ResourceOptions(depends_on=[versioning])),
    )
    return PrivateBucket(bucket, versioning, ownership, access_block, bucket_policy)


@dataclass(frozen=True)
class StoredSecret:
    arn: pulumi.Output[str]
    value: pulumi.Output[str]


def stored_secret(
    name: str,
    *,
    ctx: StackContext,
    service: str,
    role: str,
    description: str,
    value: pulumi.Input[str],
    kms_key_arn: str | None,
    parent: pulumi.Resource,
    version_name: str,
    initial_only: bool = False,
) -> StoredSecret:
    """``ollama/<env>/<role>`` in Secrets Manager holding ``value``.

    ``version_name`` is the logical name of the secret version (the first release named it
    differently per component; a new one would give deployed versions a new URN).
    ``initial_only``: ``value`` is the first version only; a rotation function owns the
    later ones, so Pulumi never moves AWSCURRENT back to it.
    """
    child = pulumi.ResourceOptions(parent=parent)
    secret = aws.secretsmanager.Secret(
        name,
        name=ctx.names.secret(role),
        description=description,
        kms_key_id=kms_key_arn,
        # dev is torn down and rebuilt under the same names; elsewhere keep a window to undo
        # an accidental deletion.
        recovery_window_in_days=0 if ctx.env == "dev" else 30,
        tags=ctx.tags(service, ctx.name(role)),
        opts=child,
    )
    version_opts = child
    if initial_only:
        version_opts = pulumi.ResourceOptions(
            parent=parent, ignore_changes=["secretString", "versionStages"]
        )
    aws.secretsmanager.SecretVersion(
        version_name, secret_id=secret.id, secret_string=value, opts=version_opts
    )
    return StoredSecret(arn=secret.arn, value=pulumi.Output.secret(value))


def service_role(
    name: str,
    *,
    ctx: StackContext,
    service: str,
    role: str,
    principal: str,
    description: str,
    parent: pulumi.Resource,
    same_account: bool = True,
) -> aws.iam.Role:
    """IAM role ``ollama-<role>-<env>-<suffix>`` that only the AWS service ``principal`` may assume.

    ``same_account`` adds the ``aws:SourceAccount`` condition, so the service assumes it only
    on behalf of this account's resources (the confused-deputy guard).
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": "sts:AssumeRole",
    }
    if same_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": ctx.account_id}}
    role_name = ctx.name(role, "iam")
    return aws.iam.Role(
        name,
        # see ollama_infra/lifecycle.py
        name_prefix=naming.prefix(role, ctx.name_suffix, "iam_prefix"),
        description=description,
        assume_role_policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        tags=ctx.tags(service, role_name),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def key_policy(ctx: StackContext, *statements: dict[str, Any]) -> str:
    """An explicit KMS key policy: the account administers the key, the rest is named.

    The administration statement keeps the account able to manage the key (without it a key
    can become unmanageable); every other use is a statement of its own, scoped to one
    service and this account, so a reviewer sees exactly who may encrypt with the key.
    """
    admin = {
        "Sid": "AccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [admin, *statements]})


def customer_key(
    name: str,
    *,
    ctx: StackContext,
    service: str,
    key_name: str,
    description: str,
    statements: Sequence[dict[str, Any]],
    opts: pulumi.ResourceOptions,
) -> aws.kms.Key:
    """A customer managed KMS key tagged ``key_name``, whose policy is ``key_policy`` with
    ``statements`` (each use of the key its own statement).

    Automatic yearly rotation, and the longest deletion window (30 days) so a key scheduled
    for deletion by mistake can be recovered before the data it encrypts becomes unreadable.
    """
    return aws.kms.Key(
        name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=key_policy(ctx, *statements),
        tags=ctx.tags(service, key_name),
        opts=opts,
    )


def via_service_statement(
    ctx: StackContext, sid: str, services: Sequence[str], region: str, actions: Sequence[str]
) -> dict[str, Any]:
    """Principals of this account may use the key, but only through ``services`` in ``region``.

    ``kms:ViaService`` limits the key to requests those services make on a caller's behalf
    and ``kms:CallerAccount`` to callers of this account (docs/UPSTREAM.md).
    """
    via = [f"{service}.{region}.amazonaws.com" for service in services]
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account_id}:root"},
        "Action": list(actions),
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "kms:ViaService": via[0] if len(via) == 1 else via,
                "kms:CallerAccount": ctx.account_id,
            }
        },
    }
