"""CloudWatch Logs, SNS, RDS, ElastiCache and Secrets Manager."""

from __future__ import annotations

from typing import Any

from ollama_infra.policy.common import (
    Report,
    as_list,
    by_prop,
    environment,
    flag,
    get,
    number,
    of_type,
    outside_dev,
    policy,
    strings,
    truthy,
)

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
DB_INSTANCE = "aws:rds/instance:Instance"
DB_CLUSTER = "aws:rds/cluster:Cluster"
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 (a type token)
TABLE = "aws:dynamodb/table:Table"
# Environments with documented exceptions (docs/SECURITY.md, accepted findings): shorter log
# retention and AWS managed data keys. A resource without an Environment tag is held to the
# production bar.
RELAXED_ENVIRONMENTS = ("dev", "staging")


def production_bar(args: Any) -> bool:
    return environment(args) not in RELAXED_ENVIRONMENTS


@policy(
    "log-group-retention",
    "CloudWatch log groups have a retention period.",
    LOG_GROUP,
    checkov=("CKV_AWS_66",),
)
def log_group_retention(args: Any, report: Report) -> None:
    days = number(args.props.get("retentionInDays"))
    if not days or days <= 0:
        flag(
            report,
            args,
            "log group keeps logs forever (retention_in_days unset or 0)",
            "set retention_in_days=observability.log_retention_days",
        )


# checkov CKV_AWS_338 asks for a year everywhere; dev and staging keep less on purpose.
ONE_YEAR_DAYS = 365


@policy(
    "log-group-retention-one-year",
    "Production log groups keep their logs for at least a year.",
    LOG_GROUP,
    checkov=("CKV_AWS_338",),
)
def log_group_retention_one_year(args: Any, report: Report) -> None:
    if not production_bar(args):
        return
    days = number(args.props.get("retentionInDays"))
    if days and days < ONE_YEAR_DAYS:
        flag(
            report,
            args,
            f"production log group keeps logs for only {days:g} days",
            f"set observability.log_retention_days to at least {ONE_YEAR_DAYS}",
        )


@policy(
    "log-group-kms",
    "CloudWatch log groups are encrypted with a customer managed KMS key.",
    LOG_GROUP,
    checkov=("CKV_AWS_158",),
    trivy=("AVD-AWS-0017",),
    advisory_reason=(
        "CloudWatch Logs already encrypts with a service key; a customer key "
        "(observability.log_kms_key_arn) is optional and costs a key per stack"
    ),
)
def log_group_kms(args: Any, report: Report) -> None:
    if not args.props.get("kmsKeyId"):
        flag(
            report,
            args,
            "log group is encrypted with the CloudWatch Logs service key, not a KMS key",
            "set observability.log_kms_key_arn to encrypt log groups with a customer key",
        )


@policy(
    "sns-encryption",
    "SNS topics are encrypted with KMS.",
    TOPIC,
    checkov=("CKV_AWS_26",),
    trivy=("AVD-AWS-0095",),
)
def sns_encryption(args: Any, report: Report) -> None:
    if not args.props.get("kmsMasterKeyId"):
        flag(
            report,
            args,
            "topic is not encrypted at rest",
            "set kms_master_key_id to a customer managed key whose policy lets "
            "cloudwatch.amazonaws.com use it (alarms cannot publish with alias/aws/sns)",
        )


@policy(
    "rds-encryption",
    "RDS storage is encrypted.",
    DB_INSTANCE,
    DB_CLUSTER,
    checkov=("CKV_AWS_16",),
    trivy=("AVD-AWS-0080",),
)
def rds_encryption(args: Any, report: Report) -> None:
    if not truthy(args.props.get("storageEncrypted")):
        flag(report, args, "database storage is not encrypted", "set storage_encrypted=True")


@policy(
    "rds-not-public",
    "RDS instances are not publicly accessible.",
    DB_INSTANCE,
    checkov=("CKV_AWS_17",),
    trivy=("AVD-AWS-0082",),
)
def rds_not_public(args: Any, report: Report) -> None:
    if truthy(args.props.get("publiclyAccessible")):
        flag(
            report,
            args,
            "database is publicly accessible",
            "set publicly_accessible=False and use the private subnets' subnet group",
        )


@policy(
    "rds-backups",
    "RDS keeps automated backups (retention of at least one day).",
    DB_INSTANCE,
    DB_CLUSTER,
    checkov=("CKV_AWS_133",),
    trivy=("AVD-AWS-0077",),
)
def rds_backups(args: Any, report: Report) -> None:
    days = number(args.props.get("backupRetentionPeriod"))
    if not days or days < 1:
        flag(
            report,
            args,
            f"automated backups are off (backup_retention_period={days})",
            "set backup_retention_period to 1-35 days (7 or more outside dev)",
        )


@policy(
    "rds-deletion-protection",
    "RDS outside dev has deletion protection.",
    DB_INSTANCE,
    DB_CLUSTER,
    checkov=("CKV_AWS_293",),
)
def rds_deletion_protection(args: Any, report: Report) -> None:
    if outside_dev(args) and not truthy(args.props.get("deletionProtection")):
        flag(
            report,
            args,
            "deletion protection is off outside dev",
            "set deletion_protection=True (data.deletion_protection)",
        )


@policy(
    "elasticache-encryption-at-rest",
    "ElastiCache replication groups encrypt data at rest.",
    REPLICATION_GROUP,
    checkov=("CKV_AWS_29",),
    trivy=("AVD-AWS-0045",),
)
def elasticache_encryption_at_rest(args: Any, report: Report) -> None:
    if not truthy(args.props.get("atRestEncryptionEnabled")):
        flag(
            report,
            args,
            "cache data is not encrypted at rest",
            "set at_rest_encryption_enabled=True",
        )


@policy(
    "elasticache-encryption-in-transit",
    "ElastiCache replication groups use TLS.",
    REPLICATION_GROUP,
    checkov=("CKV_AWS_30",),
    trivy=("AVD-AWS-0051",),
)
def elasticache_encryption_in_transit(args: Any, report: Report) -> None:
    if not truthy(args.props.get("transitEncryptionEnabled")):
        flag(
            report,
            args,
            "cache connections are not encrypted (TLS off)",
            "set transit_encryption_enabled=True and connect with rediss://",
        )


@policy(
    "elasticache-not-public",
    "ElastiCache replication groups are pinned to a subnet group and security groups.",
    REPLICATION_GROUP,
)
def elasticache_not_public(args: Any, report: Report) -> None:
    missing = [k for k in ("subnetGroupName", "securityGroupIds") if not args.props.get(k)]
    if missing:
        flag(
            report,
            args,
            f"cache placement is not pinned to the private network ({missing} unset, so "
            "the default VPC subnets and security group apply)",
            "set subnet_group_name to the private subnets' group and security_group_ids "
            "to the cache security group",
        )


@policy(
    "elasticache-backups",
    "ElastiCache replication groups keep automatic snapshots.",
    REPLICATION_GROUP,
    checkov=("CKV_AWS_134",),
    trivy=("AVD-AWS-0050",),
    advisory_reason=(
        "the cache holds Open WebUI sessions and websocket state that are rebuilt after "
        "a restart; the durable data lives in RDS and S3, which are backed up"
    ),
)
def elasticache_backups(args: Any, report: Report) -> None:
    days = number(args.props.get("snapshotRetentionLimit"))
    if not days or days < 1:
        flag(
            report,
            args,
            "no automatic snapshots (snapshot_retention_limit unset or 0)",
            "set snapshot_retention_limit >= 1 if the cache holds state worth restoring",
        )


@policy(
    "secretsmanager-cmk",
    "Secrets Manager secrets use a customer managed KMS key.",
    SECRET,
    checkov=("CKV_AWS_149",),
    trivy=("AVD-AWS-0098",),
    advisory_reason=(
        "the AWS managed key aws/secretsmanager still encrypts the secret; a customer "
        "key (rules_data.kms_key_arn) is optional"
    ),
)
def secret_cmk(args: Any, report: Report) -> None:
    if not args.props.get("kmsKeyId"):
        flag(
            report,
            args,
            "secret is encrypted with the AWS managed key aws/secretsmanager",
            "set data.kms_key_arn to encrypt secrets with a customer managed key",
        )


# ---------------------------------------------------------------- the stack data key
# Production encrypts the table, the cache at rest and Performance Insights with a customer
# managed key (data.kms_key_arn, else the stack data key ollama-data-key-<env>).
DATA_KEY_FIX = "set data.kms_key_arn, or leave data.data_key on (the production default)"


@policy(
    "dynamodb-cmk",
    "Production DynamoDB tables are encrypted with a customer managed KMS key.",
    TABLE,
    checkov=("CKV_AWS_119",),
    trivy=("AVD-AWS-0025",),
)
def dynamodb_cmk(args: Any, report: Report) -> None:
    if production_bar(args) and not get(args.props, "serverSideEncryption", "kmsKeyArn"):
        flag(
            report,
            args,
            "table is encrypted with an AWS owned or managed key, not a customer managed key",
            f"set server_side_encryption.kms_key_arn: {DATA_KEY_FIX}",
        )


@policy(
    "elasticache-cmk",
    "Production ElastiCache replication groups encrypt at rest with a customer managed key.",
    REPLICATION_GROUP,
    checkov=("CKV_AWS_191",),
)
def elasticache_cmk(args: Any, report: Report) -> None:
    if production_bar(args) and not args.props.get("kmsKeyId"):
        flag(
            report,
            args,
            "cache is encrypted at rest with the ElastiCache service key",
            f"set kms_key_id: {DATA_KEY_FIX}",
        )


@policy(
    "rds-performance-insights-cmk",
    "Performance Insights of production databases is encrypted with a customer managed key.",
    DB_INSTANCE,
    checkov=("CKV_AWS_354",),
)
def rds_performance_insights_cmk(args: Any, report: Report) -> None:
    enabled = truthy(args.props.get("performanceInsightsEnabled"))
    if production_bar(args) and enabled and not args.props.get("performanceInsightsKmsKeyId"):
        flag(
            report,
            args,
            "Performance Insights data is encrypted with the AWS managed aws/rds key",
            f"set performance_insights_kms_key_id: {DATA_KEY_FIX}",
        )


# ---------------------------------------------------------------- database monitoring and logs
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
# Enhanced monitoring intervals RDS accepts (0 turns it off).
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)
# PostgreSQL settings that make query logging useful (checkov CKV2_AWS_30 reads the first two).
QUERY_LOGGING_PARAMETERS = ("log_statement", "log_min_duration_statement")


@policy(
    "rds-enhanced-monitoring",
    "RDS databases outside dev have enhanced monitoring with its role.",
    DB_INSTANCE,
    checkov=("CKV_AWS_118",),
)
def rds_enhanced_monitoring(args: Any, report: Report) -> None:
    if not outside_dev(args):
        return
    interval = number(args.props.get("monitoringInterval"))
    if interval not in MONITORING_INTERVALS or not args.props.get("monitoringRoleArn"):
        flag(
            report,
            args,
            f"enhanced monitoring is off (monitoring_interval={interval}) or has no role",
            "set data.database_monitoring_interval_seconds to 1-60 (the data component "
            "creates the monitoring role)",
        )


@policy(
    "rds-query-logging",
    "PostgreSQL databases log connections and slow statements to CloudWatch Logs.",
    DB_INSTANCE,
    stack=True,
    checkov=("CKV2_AWS_30",),
)
def rds_query_logging(args: Any, report: Report) -> None:
    groups = by_prop(args, PARAMETER_GROUP, "name")
    for db in of_type(args, DB_INSTANCE):
        if db.props.get("engine") != "postgres":
            continue
        group = groups.get(str(db.props.get("parameterGroupName")))
        names = (
            {str(get(p, "name")) for p in as_list(group.props.get("parameters"))}
            if group
            else set()
        )
        missing = [p for p in QUERY_LOGGING_PARAMETERS if p not in names]
        exports = strings(db.props.get("enabledCloudwatchLogsExports"))
        if missing or "postgresql" not in exports:
            flag(
                report,
                db,
                "query logging is incomplete: "
                + (f"no parameter group setting {', '.join(missing)}" if missing else "")
                + ("; " if missing and "postgresql" not in exports else "")
                + ("postgresql logs are not exported" if "postgresql" not in exports else ""),
                "use the data component's parameter group (log_statement, "
                "log_min_duration_statement) and enabled_cloudwatch_logs_exports=['postgresql']",
            )
