"""The stack's data: model catalog table, storage bucket, and Open WebUI's shared state.

Open WebUI behaves as one service across instances only when every instance shares the
same secret key, database, Redis and upload storage. This component owns all of it and
publishes where to find it as SSM parameters (plain names and endpoints, never secret
values); instances read those and the secrets at boot through their role.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ollama_infra import naming
from ollama_infra.builders import (
    customer_key,
    private_bucket,
    service_role,
    stored_secret,
    tls_only_statement,
    via_service_statement,
)
from ollama_infra.config import DataConfig
from ollama_infra.context import StackContext
from ollama_infra.rotation import VENDOR_DIR, db_users

SERVICE = "data"
ACCESS_LOG_PREFIX = "s3-access/"
# The S3 4xx/5xx alarm reads request metrics published under this filter id.
REQUEST_METRICS_FILTER = "EntireBucket"
DATABASE_NAME = "openwebui"
DATABASE_USER = "openwebui"
# The services that encrypt with the stack data key, and what they call on it for their
# callers (grants for the table and cache; data keys for Performance Insights).
DATA_KEY_SERVICES = ("dynamodb", "elasticache", "rds")
DATA_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
    "kms:CreateGrant",
)
POSTGRES_PORT = 5432
# What RDS exports to CloudWatch Logs, each to /aws/rds/instance/<id>/<export>.
DATABASE_LOG_EXPORTS = ("postgresql", "upgrade")
# The managed policy of the enhanced monitoring role: log writes to RDS* groups only.
MONITORING_POLICY = "service-role/AmazonRDSEnhancedMonitoringRole"
REDIS_PORT = 6379
# The application's database login (alternating users, ollama_infra/rotation/db_users.py):
# the secret ollama/<env>/webui-db, rotated by a function; the master login is for admins.
APP_LOGIN_SECRET = "webui-db"  # noqa: S105 (a secret name)
ROTATION_SOURCE = Path(__file__).resolve().parent / "rotation" / "db_users.py"
ROTATION_RUNTIME = "python3.12"


@dataclass(frozen=True)
class DataArgs:
    ctx: StackContext
    """The stack: names and tags of the table, buckets, secrets, database and cache."""
    config: DataConfig
    """Catalog, storage, database and cache settings (ollama:data)."""
    admin_email: str
    """Open WebUI's initial admin account, stored with its generated password."""
    deletion_protection: bool
    """Table and database deletion protection (StackConfig.deletion_protection)."""
    multi_az: bool
    """Standby database and a cache replica in another AZ, with automatic failover."""
    private_subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Subnets of the database and cache subnet groups."""
    log_bucket: pulumi.Input[str]
    """Name of the access-log bucket; server access logs go under ``s3-access/``."""
    database_security_group_id: pulumi.Input[str] | None = None
    """Required when config.database_enabled (ingress from the app SG only)."""
    cache_security_group_id: pulumi.Input[str] | None = None
    """Required when config.cache_enabled (ingress from the app SG only)."""
    access_log_retention_days: int = 90
    """Days the DR log bucket keeps the replica's access logs (edge.access_log_retention_days)."""
    log_retention_days: int = 30
    """Retention of the database's log groups (observability.log_retention_days)."""
    log_kms_key_arn: str | None = None
    """Key of the database's log groups (observability.log_kms_key_arn)."""
    create_data_key: bool = False
    """Create the stack data key (StackConfig.creates_data_key) for the table, the cache at
    rest and Performance Insights."""
    rotation_security_group_id: pulumi.Input[str] | None = None
    """Required when config.database_enabled: the database login rotation function's group."""


class DataComponent(pulumi.ComponentResource):
    """``ollama-data-table-<env>``, ``ollama-storage-<env>-<account>``, secrets, RDS, Valkey."""

    table: aws.dynamodb.Table
    storage_bucket: aws.s3.Bucket
    dr_bucket: aws.s3.Bucket | None
    database: aws.rds.Instance | None
    cache: aws.elasticache.ReplicationGroup | None
    secret_arns: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: DataArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:data:Data", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        cfg = args.config
        if cfg.database_enabled and (
            args.database_security_group_id is None or args.rotation_security_group_id is None
        ):
            raise ValueError(
                "DataArgs.database_security_group_id and rotation_security_group_id are "
                "required with a database"
            )
        if cfg.cache_enabled and args.cache_security_group_id is None:
            raise ValueError("DataArgs.cache_security_group_id is required with a cache")

        self.data_key_arn: pulumi.Input[str] | None = (
            self._data_key().arn if args.create_data_key else cfg.kms_key_arn
        )
        self.table = self._catalog_table()
        self.storage_bucket = self._storage()
        self.dr_bucket = self._replication() if cfg.replication_region else None
        self.secret_arns = self._app_secrets()
        self.database = self._database() if cfg.database_enabled else None
        # The first rotation creates Open WebUI's logins: the instances start after it.
        self.app_login_rotation: aws.secretsmanager.SecretRotation | None = None
        if self.database is not None:
            self._app_login_arn = self._app_login(self.database)
        self.cache = self._cache() if cfg.cache_enabled else None
        self._parameters()

        self.table_name: pulumi.Output[str] = self.table.name
        self.table_arn: pulumi.Output[str] = self.table.arn
        self.storage_bucket_name: pulumi.Output[str] = self.storage_bucket.bucket
        self.storage_bucket_arn: pulumi.Output[str] = self.storage_bucket.arn
        self.dr_bucket_name = self.dr_bucket.bucket if self.dr_bucket else None
        self.database_arn = self.database.arn if self.database else None
        self.database_endpoint = self.database.address if self.database else None
        self.cache_endpoint = self.cache.primary_endpoint_address if self.cache else None
        if self.database is not None:
            self.secret_arns["database"] = self._master_secret_arn(self.database)
            self.secret_arns["database_app"] = self._app_login_arn
        self.register_outputs(
            {
                "table_name": self.table_name,
                "storage_bucket_name": self.storage_bucket_name,
                "dr_bucket_name": self.dr_bucket_name,
                "database_endpoint": self.database_endpoint,
                "cache_endpoint": self.cache_endpoint,
                "secret_arns": self.secret_arns,
            }
        )

    def stack_outputs(self) -> dict[str, Any]:
        """The stack outputs of this component: names, endpoints and ARNs, never values."""
        out: dict[str, Any] = {
            "ollama_table_name": self.table_name,
            "ollama_storage_bucket_name": self.storage_bucket_name,
            "ollama_webui_secret_key_secret_arn": self.secret_arns["webui_secret_key"],
            "ollama_webui_admin_secret_arn": self.secret_arns["webui_admin"],
        }
        if self.dr_bucket_name is not None:
            out["ollama_storage_dr_bucket_name"] = self.dr_bucket_name
        if self.database_endpoint is not None:
            out["ollama_database_endpoint"] = self.database_endpoint
            out["ollama_database_secret_arn"] = self.secret_arns["database"]
            out["ollama_database_app_secret_arn"] = self.secret_arns["database_app"]
        if self.cache_endpoint is not None:
            out["ollama_cache_endpoint"] = self.cache_endpoint
            out["ollama_redis_auth_secret_arn"] = self.secret_arns["redis_auth"]
        return out

    def backup_arns(self) -> list[pulumi.Output[str]]:
        """What AWS Backup protects: the catalog table, the storage bucket, the database."""
        arns = [self.table_arn, self.storage_bucket_arn]
        if self.database_arn is not None:
            arns.append(self.database_arn)
        return arns

    # ------------------------------------------------------------------ model catalog

    def _catalog_table(self) -> aws.dynamodb.Table:
        ctx = self._args.ctx
        table_name = ctx.names.table
        # Items are written by `ollama-ops models`, never by Pulumi: items owned by the
        # program would be reverted on every `pulumi up`. An empty catalog falls back to
        # the /ollama/<env>/ollama/default-models parameter.
        return aws.dynamodb.Table(
            f"{self._name}-table",
            name=table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="environment",
            range_key="model",
            attributes=[
                {"name": "environment", "type": "S"},
                {"name": "model", "type": "S"},
            ],
            point_in_time_recovery={"enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": self.data_key_arn},
            deletion_protection_enabled=self._args.deletion_protection,
            tags=ctx.tags(SERVICE, table_name),
            opts=self._child,
        )

    def _data_key(self) -> aws.kms.Key:
        """``ollama-data-key-<env>``: one customer managed key for the table, cache and PI.

        The database storage, bucket and secrets keep ``data.kms_key_arn`` (or AWS managed
        keys): RDS storage cannot change its key in place, and the bucket and secrets are
        covered by their own rules (docs/SECURITY.md).
        """
        ctx = self._args.ctx
        return customer_key(
            f"{self._name}-key",
            ctx=ctx,
            service=SERVICE,
            key_name=ctx.names.data_key,
            description=f"Encrypts {ctx.names.table}, the Open WebUI cache at rest and "
            "Performance Insights of the Open WebUI database",
            statements=[
                via_service_statement(
                    ctx,
                    "DataThroughTheirServices",
                    DATA_KEY_SERVICES,
                    ctx.region,
                    DATA_KEY_ACTIONS,
                )
            ],
            opts=self._child,
        )

    # ------------------------------------------------------------------ buckets

    def _bucket(
        self,
        role: str,
        bucket_name: str,
        *,
        kms_key_arn: pulumi.Input[str] | None,
        noncurrent_days: int,
        transitions: list[aws.s3.BucketLifecycleConfigurationRuleTransitionArgs],
        provider: aws.Provider | None = None,
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketVersioning]:
        """A private, versioned, encrypted (SSE-KMS), TLS-only bucket with a lifecycle."""
        ctx = self._args.ctx
        rule = aws.s3.BucketLifecycleConfigurationRuleArgs(
            id="tiering-and-cleanup",
            status="Enabled",
            filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
            transitions=transitions or None,
            noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                noncurrent_days=noncurrent_days
            ),
            abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                days_after_initiation=7
            ),
        )
        built = private_bucket(
            f"{self._name}-{role}",
            ctx=ctx,
            service=SERVICE,
            bucket_name=bucket_name,
            force_destroy=ctx.env == "dev",
            lifecycle_rules=[rule],
            parent=self,
            kms_key_arn=kms_key_arn,
            provider=provider,
        )
        return built.bucket, built.versioning

    def _storage(self) -> aws.s3.Bucket:
        ctx, cfg = self._args.ctx, self._args.config
        bucket, self._storage_versioning = self._bucket(
            "storage",
            ctx.names.storage_bucket,
            kms_key_arn=cfg.kms_key_arn,
            noncurrent_days=cfg.noncurrent_version_expiry_days,
            transitions=[
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=cfg.storage_ia_after_days, storage_class="STANDARD_IA"
                ),
                aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                    days=cfg.storage_glacier_after_days, storage_class="GLACIER"
                ),
            ],
        )
        aws.s3.BucketLogging(
            f"{self._name}-storage-logging",
            bucket=bucket.id,
            target_bucket=self._args.log_bucket,
            target_prefix=ACCESS_LOG_PREFIX,
            opts=self._child,
        )
        aws.s3.BucketMetric(
            f"{self._name}-storage-request-metrics",
            bucket=bucket.id,
            name=REQUEST_METRICS_FILTER,
            opts=self._child,
        )
        return bucket

    def _replication(self) -> aws.s3.Bucket:
        """A versioned replica in data.replication_region, written by S3 through its own role."""
        ctx, cfg = self._args.ctx, self._args.config
        region = str(cfg.replication_region)
        provider = aws.Provider(f"{self._name}-dr-region", region=region, opts=self._child)
        # KMS keys are regional, and S3 replicates SSE-KMS objects only into a key named in
        # the rule, so the replica gets its own key in the DR region.
        dr_key = customer_key(
            f"{self._name}-storage-dr-key",
            ctx=ctx,
            service=SERVICE,
            key_name=ctx.name("storage-dr-key"),
            description=f"Encrypts the DR replica {ctx.names.storage_dr_bucket}",
            # Replication writes the replica through S3 in the DR region only.
            statements=[
                via_service_statement(
                    ctx,
                    "ReplicaThroughS3",
                    ["s3"],
                    region,
                    ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                )
            ],
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        replica, replica_versioning = self._bucket(
            "storage-dr",
            ctx.names.storage_dr_bucket,
            kms_key_arn=dr_key.arn,
            noncurrent_days=cfg.noncurrent_version_expiry_days,
            transitions=[],
            provider=provider,
        )
        # Server access logs go to a bucket in the same region: the DR log bucket.
        aws.s3.BucketLogging(
            f"{self._name}-storage-dr-access-logs",
            bucket=replica.id,
            target_bucket=self._dr_log_bucket(provider).id,
            target_prefix=ACCESS_LOG_PREFIX,
            opts=pulumi.ResourceOptions(parent=self, provider=provider),
        )
        role = service_role(
            f"{self._name}-replication-role",
            ctx=ctx,
            service=SERVICE,
            role="storage-replication",
            principal="s3.amazonaws.com",
            description="S3 replicates the Open WebUI storage bucket to its DR replica",
            parent=self,
        )
        source = self.storage_bucket
        aws.iam.RolePolicy(
            f"{self._name}-replication-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "ReadSourceConfiguration",
                            "Effect": "Allow",
                            "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                            "Resource": source.arn,
                        },
                        {
                            "Sid": "ReadSourceVersions",
                            "Effect": "Allow",
                            "Action": [
                                "s3:GetObjectVersionForReplication",
                                "s3:GetObjectVersionAcl",
                                "s3:GetObjectVersionTagging",
                            ],
                            "Resource": pulumi.Output.concat(source.arn, "/*"),
                        },
                        {
                            "Sid": "WriteReplica",
                            "Effect": "Allow",
                            "Action": [
                                "s3:ReplicateObject",
                                "s3:ReplicateDelete",
                                "s3:ReplicateTags",
                            ],
                            "Resource": pulumi.Output.concat(replica.arn, "/*"),
                        },
                        self._source_key_statement(),
                        {
                            "Sid": "EncryptReplica",
                            "Effect": "Allow",
                            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                            "Resource": dr_key.arn,
                        },
                    ],
                }
            ),
            opts=self._child,
        )
        aws.s3.BucketReplicationConfig(
            f"{self._name}-storage-replication",
            bucket=source.id,
            role=role.arn,
            rules=[
                {
                    "id": "dr-replica",
                    "status": "Enabled",
                    "priority": 1,
                    "filter": {"prefix": ""},
                    "delete_marker_replication": {"status": "Enabled"},
                    "source_selection_criteria": {
                        "sse_kms_encrypted_objects": {"status": "Enabled"}
                    },
                    "destination": {
                        "bucket": replica.arn,
                        "storage_class": "STANDARD",
                        "encryption_configuration": {"replica_kms_key_id": dr_key.arn},
                    },
                }
            ],
            # Both sides must be versioned before S3 accepts a replication configuration.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self._storage_versioning, replica_versioning]
            ),
        )
        return replica

    def _dr_log_bucket(self, provider: aws.Provider) -> aws.s3.Bucket:
        """``ollama-logs-dr-<env>-<account>``: SSE-S3 (S3 server access logging cannot write
        to SSE-KMS targets), written only by S3 logging for this account, expiring like the
        main log bucket."""
        ctx = self._args.ctx
        name = ctx.names.dr_log_bucket
        arn = f"arn:{ctx.partition}:s3:::{name}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                tls_only_statement(arn),
                {
                    "Sid": "S3ServerAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/{ACCESS_LOG_PREFIX}*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                },
            ],
        }
        return private_bucket(
            f"{self._name}-dr-logs",
            ctx=ctx,
            service=SERVICE,
            bucket_name=name,
            force_destroy=ctx.env == "dev",
            parent=self,
            sse_algorithm="AES256",
            lifecycle_rules=[
                {
                    "id": "expire-logs",
                    "status": "Enabled",
                    "filter": {},
                    "expiration": {"days": self._args.access_log_retention_days},
                    "noncurrent_version_expiration": {"noncurrent_days": 7},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            policy=json.dumps(policy),
            provider=provider,
        ).bucket

    def _source_key_statement(self) -> dict[str, Any]:
        """Decrypt the source objects: the configured key, or aws/s3 used through S3 only."""
        ctx, cfg = self._args.ctx, self._args.config
        statement: dict[str, Any] = {
            "Sid": "DecryptSource",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": cfg.kms_key_arn or "*",
        }
        if cfg.kms_key_arn is None:
            # The AWS managed key's ARN is not known in advance; scope by use instead.
            statement["Condition"] = {
                "StringEquals": {"kms:ViaService": f"s3.{ctx.region}.amazonaws.com"},
                "StringLike": {
                    "kms:EncryptionContext:aws:s3:arn": f"arn:{ctx.partition}:s3:::"
                    f"{ctx.names.storage_bucket}/*"
                },
            }
        return statement

    # ------------------------------------------------------------------ secrets

    def _secret(self, role: str, description: str, value: pulumi.Input[str]) -> pulumi.Output[str]:
        """``ollama/<env>/<role>`` holding ``value``; returns its ARN."""
        return stored_secret(
            f"{self._name}-{role}",
            ctx=self._args.ctx,
            service=SERVICE,
            role=role,
            description=description,
            value=value,
            kms_key_arn=self._args.config.kms_key_arn,
            parent=self,
            version_name=f"{self._name}-{role}-value",
        ).arn

    def _password(self, role: str, length: int, special: bool) -> random.RandomPassword:
        # Generated once and kept (encrypted) in the Pulumi state, so every instance and
        # every later `pulumi up` sees the same value.
        return random.RandomPassword(
            f"{self._name}-{role}-password",
            length=length,
            special=special,
            override_special="!#%+-=_~" if special else None,
            opts=self._child,
        )

    def _app_secrets(self) -> dict[str, pulumi.Output[str]]:
        arns: dict[str, pulumi.Output[str]] = {}
        key = self._password("webui-secret-key", 64, special=False)
        arns["webui_secret_key"] = self._secret(
            "webui-secret-key",
            "Open WebUI WEBUI_SECRET_KEY (JWT signing), shared by every instance",
            key.result,
        )
        admin = self._password("webui-admin", 32, special=True)
        arns["webui_admin"] = self._secret(
            "webui-admin",
            "Open WebUI initial admin account (JSON: email, password)",
            pulumi.Output.json_dumps({"email": self._args.admin_email, "password": admin.result}),
        )
        if self._args.config.cache_enabled:
            # ElastiCache AUTH tokens: 16-128 printable characters whose only allowed
            # non-alphanumerics are ! & # $ ^ < > - (docs/UPSTREAM.md); alphanumeric only
            # also keeps the token safe inside REDIS_URL without escaping.
            self._redis_token = self._password("redis-auth", 64, special=False)
            arns["redis_auth"] = self._secret(
                "redis-auth",
                "AUTH token of the Open WebUI Valkey cache (REDIS_URL)",
                self._redis_token.result,
            )
        return arns

    # ------------------------------------------------------------------ database and cache

    def _database(self) -> aws.rds.Instance:
        ctx, cfg, args = self._args.ctx, self._args.config, self._args
        db_name = ctx.names.database
        subnet_group = self._subnet_group(aws.rds.SubnetGroup, "db", "database")
        protected = args.deletion_protection
        # Once set, the Performance Insights key can never change (docs/UPSTREAM.md).
        pi_key: Any = self.data_key_arn if cfg.database_performance_insights else None
        interval: int = cfg.database_monitoring_interval_seconds
        monitoring_role_arn: Any = self._monitoring_role().arn if interval else None
        log_groups = self._database_log_groups(db_name)
        return aws.rds.Instance(
            f"{self._name}-database",
            identifier=db_name,
            engine="postgres",
            engine_version=cfg.database_engine_version,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=False,
            instance_class=cfg.database_instance_class,
            storage_type="gp3",
            allocated_storage=cfg.database_storage_gb,
            max_allocated_storage=cfg.database_max_storage_gb,
            storage_encrypted=True,
            kms_key_id=cfg.kms_key_arn,
            db_name=DATABASE_NAME,
            username=DATABASE_USER,
            # RDS generates the master password and keeps it in Secrets Manager; it never
            # passes through the program or its state.
            manage_master_user_password=True,
            master_user_secret_kms_key_id=cfg.kms_key_arn,
            iam_database_authentication_enabled=cfg.database_iam_auth,
            port=POSTGRES_PORT,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[args.database_security_group_id],  # type: ignore[list-item]
            publicly_accessible=False,
            multi_az=args.multi_az,
            backup_retention_period=cfg.database_backup_retention_days,
            # Automated backups run before the AWS Backup window (03:00 UTC).
            backup_window="01:00-01:30",
            maintenance_window="sun:04:30-sun:05:30",
            copy_tags_to_snapshot=True,
            deletion_protection=protected,
            skip_final_snapshot=ctx.env == "dev",
            final_snapshot_identifier=None if ctx.env == "dev" else ctx.name("webui-db-final"),
            performance_insights_enabled=cfg.database_performance_insights,
            performance_insights_retention_period=(
                7 if cfg.database_performance_insights else None
            ),
            performance_insights_kms_key_id=pi_key,
            enabled_cloudwatch_logs_exports=list(DATABASE_LOG_EXPORTS),
            parameter_group_name=self._parameter_group().name,
            monitoring_interval=interval,
            monitoring_role_arn=monitoring_role_arn,
            tags=ctx.tags(SERVICE, db_name),
            # RDS would create the export groups itself, keeping logs forever.
            opts=pulumi.ResourceOptions(parent=self, depends_on=log_groups),
        )

    def _app_login(self, database: aws.rds.Instance) -> pulumi.Output[str]:
        """``ollama/<env>/webui-db``: Open WebUI's own login, rotated by alternating users.

        Its first version names ``webui_app`` with a generated password; the rotation
        function creates the logins with the master login and owns every later version
        (``initial_only``), so ``pulumi up`` never moves AWSCURRENT back.
        """
        ctx, cfg = self._args.ctx, self._args.config
        initial = self._password("webui-db", 40, special=False)
        master_arn = self._master_secret_arn(database)
        arn = stored_secret(
            f"{self._name}-{APP_LOGIN_SECRET}",
            ctx=ctx,
            service=SERVICE,
            role=APP_LOGIN_SECRET,
            description="Open WebUI database login (JSON: username, password, host, port, "
            "dbname); rotated by alternating users, so the previous login stays valid for one "
            "more interval",
            value=pulumi.Output.json_dumps(
                {
                    "engine": "postgres",
                    "host": database.address,
                    "port": POSTGRES_PORT,
                    "dbname": DATABASE_NAME,
                    "username": db_users.APP_USER,
                    "password": initial.result,
                    "masterarn": master_arn,
                }
            ),
            kms_key_arn=cfg.kms_key_arn,
            parent=self,
            version_name=f"{self._name}-{APP_LOGIN_SECRET}-value",
            initial_only=True,
        ).arn
        function = self._rotation_function(database, arn, master_arn)
        permission = aws.lambda_.Permission(
            f"{self._name}-db-rotation-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="secretsmanager.amazonaws.com",
            # Only this secret's rotation may invoke it (confused-deputy guard).
            source_arn=arn,
            opts=self._child,
        )
        self.app_login_rotation = aws.secretsmanager.SecretRotation(
            f"{self._name}-{APP_LOGIN_SECRET}-rotation",
            secret_id=arn,
            rotation_lambda_arn=function.arn,
            rotation_rules={"automatically_after_days": cfg.secret_rotation_days},
            # The first rotation creates the logins (db_users.set_secret) right away.
            rotate_immediately=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        return arn

    def _rotation_function(
        self, database: aws.rds.Instance, secret_arn: pulumi.Output[str], master_arn: Any
    ) -> aws.lambda_.Function:
        """``ollama-db-rotation-<env>`` in the private subnets, with its own role and group."""
        ctx, cfg, args = self._args.ctx, self._args.config, self._args
        rotation_sg = args.rotation_security_group_id
        if rotation_sg is None:  # checked in __init__; narrows the type
            raise ValueError("DataArgs.rotation_security_group_id is required with a database")
        function_name = ctx.name("db-rotation")
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-db-rotation-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=ctx.tags(SERVICE, ctx.name("db-rotation-logs")),
            opts=self._child,
        )
        role = service_role(
            f"{self._name}-db-rotation-role",
            ctx=ctx,
            service=SERVICE,
            role="db-rotation",
            principal="lambda.amazonaws.com",
            description="Rotates the Open WebUI database login (alternating users)",
            parent=self,
        )
        policy = aws.iam.RolePolicy(
            f"{self._name}-db-rotation-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": rotation_statements(
                        ctx, function_name, secret_arn, cfg.kms_key_arn
                    ),
                }
            ),
            opts=self._child,
        )
        return aws.lambda_.Function(
            f"{self._name}-db-rotation",
            name=function_name,
            description="Secrets Manager rotation of the Open WebUI database login",
            role=role.arn,
            runtime=ROTATION_RUNTIME,
            handler="db_users.lambda_handler",
            code=pulumi.AssetArchive(
                {
                    "db_users.py": pulumi.FileAsset(str(ROTATION_SOURCE)),
                    "vendor": pulumi.FileArchive(str(VENDOR_DIR)),
                }
            ),
            timeout=60,
            memory_size=128,
            vpc_config={
                "subnet_ids": args.private_subnet_ids,
                "security_group_ids": [rotation_sg],
            },
            environment={
                "variables": {
                    "DB_HOST": database.address,
                    "DB_PORT": str(POSTGRES_PORT),
                    "DB_NAME": DATABASE_NAME,
                    "MASTER_SECRET_ARN": master_arn,
                }
            },
            tags=ctx.tags(SERVICE, function_name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, policy]),
        )

    def _parameter_group(self) -> aws.rds.ParameterGroup:
        """TLS only, and query logging: connections, DDL and statements slower than the
        configured time."""
        ctx, cfg = self._args.ctx, self._args.config
        major = cfg.database_engine_version.split(".")[0]
        settings = {
            # Refuse connections without TLS, whatever sslmode the client asks for.
            "rds.force_ssl": "1",
            "log_connections": "1",
            "log_disconnections": "1",
            "log_statement": "ddl",
            "log_min_duration_statement": str(cfg.database_slow_statement_ms),
        }
        return aws.rds.ParameterGroup(
            f"{self._name}-database-params",
            # A new major version needs a new family: the new group must exist before the
            # database switches to it (ollama_infra/lifecycle.py).
            name_prefix=naming.prefix("webui-db-params", ctx.name_suffix),
            family=f"postgres{major}",
            description=f"Open WebUI PostgreSQL {major}: query logging to CloudWatch Logs",
            parameters=[
                {"name": name, "value": value, "apply_method": "immediate"}
                for name, value in settings.items()
            ],
            tags=ctx.tags(SERVICE, ctx.name("webui-db-params")),
            opts=self._child,
        )

    def _monitoring_role(self) -> aws.iam.Role:
        """The role RDS enhanced monitoring publishes OS metrics with (RDSOSMetrics)."""
        ctx = self._args.ctx
        role = service_role(
            f"{self._name}-db-monitoring-role",
            ctx=ctx,
            service=SERVICE,
            role="db-monitoring",
            principal="monitoring.rds.amazonaws.com",
            description="RDS enhanced monitoring of the Open WebUI database",
            parent=self,
        )
        aws.iam.RolePolicyAttachment(
            f"{self._name}-db-monitoring",
            role=role.name,
            policy_arn=f"arn:{ctx.partition}:iam::aws:policy/{MONITORING_POLICY}",
            opts=self._child,
        )
        return role

    def _database_log_groups(self, db_name: str) -> list[pulumi.Resource]:
        """The groups RDS exports to, created first so they have the stack's retention."""
        ctx, args = self._args.ctx, self._args
        return [
            aws.cloudwatch.LogGroup(
                f"{self._name}-database-{export}-logs",
                name=f"/aws/rds/instance/{db_name}/{export}",
                retention_in_days=args.log_retention_days,
                kms_key_id=args.log_kms_key_arn,
                tags=ctx.tags(SERVICE, ctx.name(f"webui-db-{export}-logs")),
                opts=self._child,
            )
            for export in DATABASE_LOG_EXPORTS
        ]

    def _subnet_group(self, kind: Any, role: str, what: str) -> Any:
        """``ollama-webui-<role>-subnets-<env>`` over the private subnets (RDS or ElastiCache)."""
        ctx = self._args.ctx
        group_name = ctx.name(f"webui-{role}-subnets")
        return kind(
            f"{self._name}-{role}-subnets",
            name=group_name,
            description=f"Private subnets of the Open WebUI {what}",
            subnet_ids=self._args.private_subnet_ids,
            tags=ctx.tags(SERVICE, group_name),
            opts=self._child,
        )

    @staticmethod
    def _master_secret_arn(database: aws.rds.Instance) -> pulumi.Output[str]:
        return database.master_user_secrets.apply(lambda s: (s[0].secret_arn or "") if s else "")

    def _cache(self) -> aws.elasticache.ReplicationGroup:
        ctx, cfg, args = self._args.ctx, self._args.config, self._args
        cache_name = ctx.names.cache
        subnet_group = self._subnet_group(aws.elasticache.SubnetGroup, "cache", "cache")
        return aws.elasticache.ReplicationGroup(
            f"{self._name}-cache",
            replication_group_id=cache_name,
            description="Open WebUI websocket manager and shared state (REDIS_URL)",
            engine="valkey",
            engine_version=cfg.cache_engine_version,
            node_type=cfg.cache_node_type,
            port=REDIS_PORT,
            num_cache_clusters=2 if args.multi_az else 1,
            automatic_failover_enabled=args.multi_az,
            multi_az_enabled=args.multi_az,
            subnet_group_name=subnet_group.name,
            security_group_ids=[args.cache_security_group_id],  # type: ignore[list-item]
            at_rest_encryption_enabled=True,
            kms_key_id=self.data_key_arn,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            auth_token=self._redis_token.result,
            auth_token_update_strategy="ROTATE",  # noqa: S106 (a strategy name)
            snapshot_retention_limit=1 if ctx.env == "dev" else 7,
            snapshot_window="02:00-03:00",
            maintenance_window="sun:05:30-sun:06:30",
            auto_minor_version_upgrade=True,
            tags=ctx.tags(SERVICE, cache_name),
            # After creation `ollama-ops secrets rotate --secret redis-auth` owns the token
            # (ollama/<env>/redis-auth holds the current one). The provider sends the token
            # it has in the state whenever either property differs, which would put the
            # first token back and lock the instances out.
            opts=pulumi.ResourceOptions.merge(
                self._child,
                pulumi.ResourceOptions(ignore_changes=["authToken", "authTokenUpdateStrategy"]),
            ),
        )

    # ------------------------------------------------------------------ parameters

    def _parameter(self, role: str, description: str, value: pulumi.Input[str]) -> None:
        ctx = self._args.ctx
        aws.ssm.Parameter(
            f"{self._name}-param-{role.replace('/', '-')}",
            name=ctx.names.parameter(role),
            description=description,
            type="String",
            value=value,
            tags=ctx.tags(SERVICE, ctx.name(role.replace("/", "-"))),
            opts=self._child,
        )

    def _parameters(self) -> None:
        ctx = self._args.ctx
        self._parameter(
            "webui/storage",
            "Open WebUI uploads: STORAGE_PROVIDER=s3 bucket, key prefix and region",
            pulumi.Output.json_dumps(
                {
                    "bucket": self.storage_bucket.bucket,
                    "prefix": naming.STORAGE_PREFIX,
                    "region": ctx.region,
                }
            ),
        )
        if self.database is not None:
            self._parameter(
                "webui/database",
                "Open WebUI DATABASE_URL parts; the login (username and password, rotated) is "
                "in the secret at secret_arn",
                pulumi.Output.json_dumps(
                    {
                        "host": self.database.address,
                        "port": POSTGRES_PORT,
                        "dbname": DATABASE_NAME,
                        "secret_arn": self._app_login_arn,
                    }
                ),
            )
        if self.cache is not None:
            self._parameter(
                "webui/redis",
                "Open WebUI REDIS_URL parts (TLS; the AUTH token is in ollama/<env>/redis-auth)",
                pulumi.Output.json_dumps(
                    {"host": self.cache.primary_endpoint_address, "port": REDIS_PORT, "tls": True}
                ),
            )


def rotation_statements(
    ctx: StackContext, function_name: str, secret_arn: Any, kms_key_arn: str | None
) -> list[dict[str, Any]]:
    """The rotation function's permissions: its own secret's versions, the master login
    (read only), a random password, its network interfaces in the VPC and its log group."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RotateAppLogin",
            "Effect": "Allow",
            "Action": [
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            "Resource": secret_arn,
        },
        {
            # The master login creates and alters the application logins; RDS names the
            # secret itself (rds!db-...), and its tag ties it to this stack's database.
            "Sid": "ReadDatabaseMasterSecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": ctx.arn("secretsmanager", "secret:rds!db-*"),
            "Condition": {
                "StringEquals": {
                    "secretsmanager:ResourceTag/aws:rds:primaryDBInstanceArn": ctx.arn(
                        "rds", f"db:{ctx.names.database}"
                    )
                }
            },
        },
        {
            # GetRandomPassword acts on no resource.
            "Sid": "GeneratePassword",
            "Effect": "Allow",
            "Action": "secretsmanager:GetRandomPassword",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": ctx.region}},
        },
        {
            # Lambda attaches the function to the VPC through network interfaces; Describe
            # accepts no resource ARNs.
            "Sid": "DescribeNetworkInterfaces",
            "Effect": "Allow",
            "Action": "ec2:DescribeNetworkInterfaces",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": ctx.region}},
        },
        {
            "Sid": "ManageFunctionNetworkInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": [
                ctx.arn("ec2", "network-interface/*"),
                ctx.arn("ec2", "subnet/*"),
                ctx.arn("ec2", "security-group/*"),
            ],
            # Lambda names the interfaces itself: bound to the stack's account and region.
            "Condition": {"StringEquals": {"aws:RequestedRegion": ctx.region}},
        },
        {
            "Sid": "WriteFunctionLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": ctx.arn("logs", f"log-group:/aws/lambda/{function_name}:*"),
        },
    ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "UseSecretsKeyViaSecretsManager",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": kms_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"secretsmanager.{ctx.region}.amazonaws.com"}
                },
            }
        )
    return statements
