"""The instances' IAM role and instance profile.

Every inline statement is scoped to ARNs derived from the stack's shared names (parameter
path, secret prefix, table, storage prefix, log groups), so this component depends on no
other component's Outputs and the policy is readable in the plan as plain JSON. No statement
uses a ``*`` action; the two ``*`` resources (CloudWatch PutMetricData and EC2 DescribeTags,
which accept no resource ARNs) are bound by conditions.

The CloudWatch agent gets exactly the calls it makes with this stack's agent config
(cwagent.py), checked in the agent's source at the pinned version (docs/UPSTREAM.md), instead
of the managed CloudWatchAgentServerPolicy, which allows metrics and log writes on ``*``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ollama_infra import naming
from ollama_infra.context import StackContext

SERVICE = "identity"
# Session Manager and Run Command (instead of SSH); nothing narrower covers the SSM agent.
MANAGED_POLICIES: dict[str, str] = {
    "ssm-core": "AmazonSSMManagedInstanceCore",
}


@dataclass(frozen=True)
class IdentityArgs:
    ctx: StackContext
    """The stack: the role's name, and the ARNs its statements are scoped to."""
    data_kms_key_arn: str | None = None
    """Customer managed key of the table, bucket and secrets, if any (data.kms_key_arn)."""
    data_key_name: str | None = None
    """Name tag of the stack data key that encrypts the table, when the stack creates it."""
    oidc_client_secret_arn: str | None = None
    """An external OIDC provider's client secret (auth.client_secret_arn), read at boot."""


def _statement(
    sid: str,
    actions: list[str],
    resources: list[str],
    condition: dict[str, Any] | None = None,
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _document(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def _oidc_secret_statement(args: IdentityArgs) -> list[dict[str, Any]]:
    """The external provider's client secret lives outside ollama/<env>/: that ARN only."""
    if args.oidc_client_secret_arn is None:
        return []
    return [
        _statement(
            "ReadOidcClientSecret",
            ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            [args.oidc_client_secret_arn],
        )
    ]


def inline_policies(args: IdentityArgs) -> dict[str, list[dict[str, Any]]]:
    """Inline policy role -> statements; each statement says why it exists."""
    ctx, names = args.ctx, args.ctx.names
    bucket_arn = ctx.arn("s3", names.storage_bucket, region="")
    policies: dict[str, list[dict[str, Any]]] = {
        "config": [
            # The boot script reads its settings (model fallback list, Open WebUI database,
            # cache, storage and public URL) and the CloudWatch agent its config from the
            # stack's own parameter path; nothing outside /ollama/<env>.
            _statement(
                "ReadStackParameters",
                ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
                [
                    ctx.arn("ssm", f"parameter{names.parameter_path}"),
                    ctx.arn("ssm", f"parameter{names.parameter_path}/*"),
                ],
            ),
            # Open WebUI's secret key, the initial admin, the Redis AUTH token and its own
            # database login (ollama/<env>/webui-db, rotated): read at boot and by the hourly
            # follow-secrets check, written only to a 0600 env file, never into user data.
            # The RDS-managed master secret is not readable: it is for administrators and
            # the login rotation function only.
            _statement(
                "ReadStackSecrets",
                ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                [ctx.arn("secretsmanager", f"secret:{names.secret_prefix}*")],
            ),
            *_oidc_secret_statement(args),
        ],
        "catalog": [
            # Boot queries the model catalog for its own environment's partition only.
            _statement(
                "QueryModelCatalog",
                ["dynamodb:Query", "dynamodb:GetItem"],
                # The stack's table, or a restored copy that `ollama-ops restore switch` made
                # active (ollama-data-table-restored-<time>-<env>).
                [
                    ctx.arn("dynamodb", f"table/{names.table}"),
                    ctx.arn("dynamodb", f"table/{names.restored_table_pattern}"),
                ],
                {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [ctx.env]}},
            ),
            # The first-start lock (ollama-boot.sh first_start_lock_acquire): a conditional
            # write with a lease, so two instances never initialize Open WebUI's empty
            # database at once. Only the lock item's partition of the stack's own table.
            _statement(
                "FirstStartLock",
                ["dynamodb:PutItem", "dynamodb:DeleteItem"],
                [ctx.arn("dynamodb", f"table/{names.table}")],
                {
                    "ForAllValues:StringEquals": {
                        "dynamodb:LeadingKeys": [names.first_start_lock_key]
                    }
                },
            ),
        ],
        "storage": [
            # Open WebUI lists its uploads under its prefix (STORAGE_PROVIDER=s3).
            _statement(
                "ListWebuiUploads",
                ["s3:ListBucket"],
                [bucket_arn],
                {"StringLike": {"s3:prefix": [f"{naming.STORAGE_PREFIX}*"]}},
            ),
            # ... and reads, writes and deletes the uploaded files, nothing else in the bucket.
            _statement(
                "ReadWriteWebuiUploads",
                ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                [f"{bucket_arn}/{naming.STORAGE_PREFIX}*"],
            ),
        ],
        "telemetry": [
            # The CloudWatch agent ships the bootstrap log, Ollama's journal and the Open WebUI
            # container's journal to the stack's log groups. Observability creates the groups
            # with their retention, so the agent needs neither CreateLogGroup nor
            # PutRetentionPolicy (it calls them only for a missing group or a configured
            # retention_in_days).
            _statement(
                "WriteStackLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents"],
                [ctx.arn("logs", f"log-group:/aws/ec2/ollama-*-{ctx.name_suffix}:*")],
            ),
            # The agent resolves ${aws:AutoScalingGroupName} (the ASG dimension of the memory
            # and disk metrics) from the instance's aws:autoscaling:groupName tag.
            # DescribeTags accepts no resource ARNs, so the region condition bounds it.
            _statement(
                "ReadInstanceTags",
                ["ec2:DescribeTags"],
                ["*"],
                {"StringEquals": {"aws:RequestedRegion": [ctx.region]}},
            ),
            # PutMetricData has no resource ARNs, hence "*": the condition limits it to the
            # stack's own namespace, where the agent (cwagent.py) and Ollama metrics go.
            _statement(
                "PutStackMetrics",
                ["cloudwatch:PutMetricData"],
                ["*"],
                {"StringEquals": {"cloudwatch:namespace": [names.metric_namespace]}},
            ),
        ],
    }
    if args.data_kms_key_arn:
        # The table, bucket and secrets use a customer managed key: decrypt/encrypt through
        # those three services only.
        policies["storage"].append(
            _statement(
                "UseDataKeyViaServices",
                ["kms:Decrypt", "kms:GenerateDataKey"],
                [args.data_kms_key_arn],
                {
                    "StringEquals": {
                        "kms:ViaService": [
                            f"s3.{ctx.region}.amazonaws.com",
                            f"dynamodb.{ctx.region}.amazonaws.com",
                            f"secretsmanager.{ctx.region}.amazonaws.com",
                        ]
                    }
                },
            )
        )
    if args.data_key_name:
        # The catalog table uses the stack data key, whose ARN is only known after it
        # exists: match it by its Name tag, and only through DynamoDB.
        policies["storage"].append(
            _statement(
                "ReadTableThroughDataKey",
                ["kms:Decrypt"],
                [ctx.arn("kms", "key/*")],
                {
                    "StringEquals": {
                        "kms:ViaService": f"dynamodb.{ctx.region}.amazonaws.com",
                        "aws:ResourceTag/Name": args.data_key_name,
                    }
                },
            )
        )
    return policies


def trust_policy() -> str:
    """Only EC2 may assume the role."""
    return _document(
        [
            {
                "Sid": "Ec2AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    )


class IdentityComponent(pulumi.ComponentResource):
    """``ollama-ec2-role-<env>`` and ``ollama-ec2-profile-<env>``."""

    role: aws.iam.Role
    instance_profile: aws.iam.InstanceProfile

    def __init__(
        self, name: str, args: IdentityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:identity:Identity", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        role_name = ctx.names.instance_role
        self.role = aws.iam.Role(
            f"{name}-role",
            name_prefix=f"{role_name}-",  # replacement strategy: ollama_infra/lifecycle.py
            description=f"Ollama instances of {ctx.env}: SSM, CloudWatch agent, stack config",
            assume_role_policy=trust_policy(),
            tags=ctx.tags(SERVICE, role_name),
            opts=child,
        )
        # Everything an instance needs to boot; the Auto Scaling group waits for all of it.
        self.grants: list[pulumi.Resource] = []
        for role, policy in MANAGED_POLICIES.items():
            attachment = aws.iam.RolePolicyAttachment(
                f"{name}-{role}",
                role=self.role.name,
                policy_arn=f"arn:{ctx.partition}:iam::aws:policy/{policy}",
                opts=child,
            )
            self.grants.append(attachment)
        for role, statements in inline_policies(args).items():
            policy_resource = aws.iam.RolePolicy(
                f"{name}-{role}",
                name=ctx.name(f"ec2-{role}"),
                role=self.role.name,
                policy=_document(statements),
                opts=child,
            )
            self.grants.append(policy_resource)
        profile_name = ctx.names.instance_profile
        self.instance_profile = aws.iam.InstanceProfile(
            f"{name}-profile",
            name_prefix=f"{profile_name}-",
            role=self.role.name,
            tags=ctx.tags(SERVICE, profile_name),
            opts=child,
        )
        self.role_arn = self.role.arn
        self.instance_profile_arn = self.instance_profile.arn
        self.register_outputs(
            {"role_arn": self.role_arn, "instance_profile_arn": self.instance_profile_arn}
        )
