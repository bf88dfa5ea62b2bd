"""AWS Backup: one vault, a daily and a weekly rule, and a selection of the stack's data.

The vault encrypts recovery points with a customer managed key created here (rotation on)
rather than the AWS managed ``aws/backup`` key: a CMK's policy can be read and tightened,
and it keeps recovery points usable if they ever need to be shared with a recovery
account, which the AWS managed key does not allow. Copies to ``backup.copy_region`` go
to a second vault with its own key there, because KMS keys are regional.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ollama_infra.builders import customer_key, service_role, via_service_statement
from ollama_infra.config import BackupConfig
from ollama_infra.context import StackContext

SERVICE = "backup"
DAILY_SCHEDULE = "cron(0 3 * * ? *)"  # 03:00 UTC every day
WEEKLY_SCHEDULE = "cron(0 4 ? * SUN *)"  # 04:00 UTC on Sundays
# AWS managed policies for the service role: the generic pair covers DynamoDB and RDS,
# S3 needs its own pair.
BACKUP_ROLE_POLICIES: dict[str, str] = {
    "backup": "service-role/AWSBackupServiceRolePolicyForBackup",
    "restores": "service-role/AWSBackupServiceRolePolicyForRestores",
    "s3-backup": "AWSBackupServiceRolePolicyForS3Backup",
    "s3-restore": "AWSBackupServiceRolePolicyForS3Restore",
}


# What AWS Backup needs on a vault key (AWS Backup developer guide, "Backup vault creation").
BACKUP_KEY_ACTIONS = (
    "kms:CreateGrant",
    "kms:RetireGrant",
    "kms:DescribeKey",
    "kms:Decrypt",
    "kms:GenerateDataKey",
)


@dataclass(frozen=True)
class BackupArgs:
    ctx: StackContext
    """The stack: names, tags, region and account of the vault, plan and roles."""
    config: BackupConfig
    """Retention per rule and the optional copy region (ollama:backup)."""
    resource_arns: Sequence[pulumi.Input[str]]
    """ARNs of what the plan protects: the catalog table, the storage bucket, the database."""


class BackupComponent(pulumi.ComponentResource):
    """``ollama-backup-vault-<env>``, its plan and the selection of the stack's data."""

    vault: aws.backup.Vault
    copy_vault: aws.backup.Vault | None
    plan: aws.backup.Plan
    selection: aws.backup.Selection

    def __init__(
        self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:backup:Backup", name, None, opts)
        self._name = name
        self._args = args
        ctx, cfg = args.ctx, args.config
        child = pulumi.ResourceOptions(parent=self)
        if not args.resource_arns:
            raise ValueError("BackupArgs.resource_arns is empty: nothing to back up")

        self.vault = self._vault("vault", ctx.names.backup_vault, ctx.region, None)
        self.copy_vault = None
        if cfg.copy_region:
            provider = aws.Provider(f"{name}-copy-region", region=cfg.copy_region, opts=child)
            self.copy_vault = self._vault(
                "copy-vault", ctx.name("backup-copy-vault"), cfg.copy_region, provider
            )

        plan_name = ctx.name("backup-plan")
        self.plan = aws.backup.Plan(
            f"{name}-plan",
            name=plan_name,
            rules=[
                self._rule("daily", DAILY_SCHEDULE, cfg.daily_retention_days),
                self._rule("weekly", WEEKLY_SCHEDULE, cfg.weekly_retention_days),
            ],
            tags=ctx.tags(SERVICE, plan_name),
            opts=child,
        )

        role = service_role(
            f"{name}-role",
            ctx=ctx,
            service=SERVICE,
            role="backup-role",
            principal="backup.amazonaws.com",
            description="AWS Backup creates and restores recovery points of the Ollama stack",
            parent=self,
            same_account=False,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-role-{key}",
                role=role.name,
                policy_arn=f"arn:{ctx.partition}:iam::aws:policy/{path}",
                opts=child,
            )
            for key, path in BACKUP_ROLE_POLICIES.items()
        ]
        self.selection = aws.backup.Selection(
            f"{name}-selection",
            name=ctx.name("backup-selection"),
            plan_id=self.plan.id,
            iam_role_arn=role.arn,
            resources=list(args.resource_arns),
            opts=pulumi.ResourceOptions(parent=self, depends_on=attachments),
        )

        self.vault_name: pulumi.Output[str] = self.vault.name
        self.vault_arn: pulumi.Output[str] = self.vault.arn
        self.register_outputs({"vault_name": self.vault_name, "plan_id": self.plan.id})

    def _vault(
        self, role: str, vault_name: str, region: str, provider: aws.Provider | None
    ) -> aws.backup.Vault:
        ctx = self._args.ctx
        opts = pulumi.ResourceOptions(parent=self, provider=provider)
        key = customer_key(
            f"{self._name}-{role}-key",
            ctx=ctx,
            service=SERVICE,
            key_name=ctx.name(f"backup-{role}-key"),
            description=f"Encrypts AWS Backup recovery points in {vault_name}",
            # AWS Backup encrypts and reads recovery points through grants it creates for
            # the backup role, in the vault's region only.
            statements=[
                via_service_statement(
                    ctx, "RecoveryPointsThroughBackup", ["backup"], region, BACKUP_KEY_ACTIONS
                )
            ],
            opts=opts,
        )
        return aws.backup.Vault(
            f"{self._name}-{role}",
            name=vault_name,
            kms_key_arn=key.arn,
            # A vault holding recovery points cannot be deleted; dev may discard them.
            force_destroy=ctx.env == "dev",
            tags=ctx.tags(SERVICE, vault_name),
            opts=opts,
        )

    def _rule(self, rule_name: str, schedule: str, retention_days: int) -> aws.backup.PlanRuleArgs:
        lifecycle = aws.backup.PlanRuleLifecycleArgs(delete_after=retention_days)
        copies = (
            [
                aws.backup.PlanRuleCopyActionArgs(
                    destination_vault_arn=self.copy_vault.arn,
                    lifecycle=aws.backup.PlanRuleCopyActionLifecycleArgs(
                        delete_after=retention_days
                    ),
                )
            ]
            if self.copy_vault is not None
            else None
        )
        return aws.backup.PlanRuleArgs(
            rule_name=rule_name,
            target_vault_name=self.vault.name,
            schedule=schedule,
            start_window=60,
            completion_window=360,
            lifecycle=lifecycle,
            copy_actions=copies,
            recovery_point_tags=self._args.ctx.tags(SERVICE),
        )
