"""The access-log bucket ``ollama-logs-<env>-<account>``: ALB, S3 server access and CloudFront logs.

Why it looks the way it does:
- SSE-S3 (AES256) only: ALB access-log delivery does not support SSE-KMS buckets, so the
  scanner rules that demand KMS (CKV_AWS_145, AVD-AWS-0132) are suppressed for this bucket.
- The ALB principal depends on the region (``regions.alb_log_principal``); the load balancer
  must depend on the policy, or enabling access logs fails with "Access Denied for bucket".
- CloudFront standard logging (legacy) writes through bucket ACLs, so where CloudFront can
  log here the bucket keeps ACLs enabled (BucketOwnerPreferred: objects still end up owned
  by this account) and grants CloudFront's log-delivery canonical user FULL_CONTROL
  explicitly, so the grant is declared rather than added behind Pulumi's back. Standard
  logging v2 would avoid ACLs but needs CloudWatch Logs delivery resources in us-east-1;
  the legacy mechanism is the one the distribution resource configures directly. In
  opt-in regions CloudFront cannot log to the bucket at all, so ACLs stay disabled there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ollama_infra.builders import private_bucket, tls_only_statement
from ollama_infra.context import StackContext
from ollama_infra.edge import regions

SERVICE = "edge"
ALB_PREFIX = "alb"
S3_ACCESS_PREFIX = "s3-access/"
CLOUDFRONT_PREFIX = "cloudfront/"


@dataclass(frozen=True)
class LogBucketArgs:
    ctx: StackContext
    """The stack: bucket name, tags, region (which log principals may write)."""
    retention_days: int
    """Days before log objects expire."""
    force_destroy: bool
    """Let `pulumi destroy` empty the bucket (dev only)."""


def bucket_policy(ctx: StackContext) -> dict[str, Any]:
    """The log bucket's policy: TLS only, plus the log writers of this region."""
    bucket_arn = f"arn:{ctx.partition}:s3:::{ctx.names.log_bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            tls_only_statement(bucket_arn),
            {
                "Sid": "AlbAccessLogs",
                "Effect": "Allow",
                "Principal": regions.alb_log_principal(ctx.region, ctx.partition),
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{ALB_PREFIX}/AWSLogs/{ctx.account_id}/*",
            },
            {
                "Sid": "S3ServerAccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{S3_ACCESS_PREFIX}*",
                "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
            },
        ],
    }


class LogBucketComponent(pulumi.ComponentResource):
    """The stack's access-log bucket and its policy."""

    bucket: aws.s3.Bucket
    policy: aws.s3.BucketPolicy

    def __init__(
        self, name: str, args: LogBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:edge:LogBucket", name, None, opts)
        ctx = args.ctx
        bucket_name = ctx.names.log_bucket
        self.cloudfront_logging = regions.cloudfront_can_log_to(ctx.region)

        logs = private_bucket(
            name,
            ctx=ctx,
            service=SERVICE,
            bucket_name=bucket_name,
            force_destroy=args.force_destroy,
            parent=self,
            # AES256 only: ALB access logs cannot be delivered to SSE-KMS buckets.
            sse_algorithm="AES256",
            object_ownership="BucketOwnerPreferred"
            if self.cloudfront_logging
            else "BucketOwnerEnforced",
            lifecycle_rules=[
                {
                    "id": "expire-logs",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": args.retention_days},
                    "noncurrent_version_expiration": {"noncurrent_days": 7},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            policy=json.dumps(bucket_policy(ctx)),
            bucket_resource_name=f"{name}-bucket",
            public_access_block_part="public-access",
        )
        self.bucket, self.policy = logs.bucket, logs.policy
        ownership, public_access = logs.ownership, logs.public_access_block
        # CloudFront refuses a logging bucket whose ACLs are disabled, so the distribution
        # waits for these (``cloudfront_log_delivery_ready``).
        self.cloudfront_log_delivery_ready: list[pulumi.Resource] = [ownership]
        if self.cloudfront_logging:
            owner = aws.s3.get_canonical_user_id()
            cloudfront = aws.cloudfront.get_log_delivery_canonical_user_id()
            acl = aws.s3.BucketAcl(
                f"{name}-acl",
                bucket=self.bucket.id,
                access_control_policy={
                    "owner": {"id": owner.id},
                    "grants": [
                        {
                            "grantee": {"type": "CanonicalUser", "id": owner.id},
                            "permission": "FULL_CONTROL",
                        },
                        {
                            "grantee": {"type": "CanonicalUser", "id": cloudfront.id},
                            "permission": "FULL_CONTROL",
                        },
                    ],
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[ownership, public_access]),
            )
            self.cloudfront_log_delivery_ready.append(acl)

        self.bucket_name = self.bucket.bucket
        self.bucket_id = self.bucket.id
        self.bucket_arn = self.bucket.arn
        # CloudFront standard logging takes the bucket's global domain name.
        self.bucket_domain_name = self.bucket.bucket_domain_name
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "bucket_domain_name": self.bucket_domain_name,
            }
        )
