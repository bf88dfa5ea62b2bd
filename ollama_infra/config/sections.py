"""One frozen model per config section (``ollama:<section>`` in the stack file).

Every key has a default suited to ``dev`` and a description; docs/configuration.md is
generated from them. Ranges and patterns are declared on the fields (their messages are in
``fields.MESSAGES``); validators remain only for rules a constraint cannot express.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import Field, field_validator

from ollama_infra import naming, versions
from ollama_infra.config.fields import (
    AMI_RE,
    DIGEST_RE,
    IMAGE_TAG_RE,
    LOG_RETENTION_DAYS,
    TAG_KEY_RE,
    VERSION_RE,
    AcmArn,
    AdminCidr,
    Cron,
    DnsName,
    Email,
    InstanceType,
    KmsArn,
    Model,
    Region,
    TimeZone,
    WildcardDnsName,
    check_model_name,
    field,
)

TagValue = Annotated[str, Field(min_length=1, max_length=256)]


class EnvironmentConfig(Model):
    """Which environment this stack is, and who owns it (tags)."""

    name: Literal["dev", "staging", "production"] = field(
        "dev",
        "Environment name; must match the stack name (dev, staging or production); a DR "
        "stack `<env>-<region>` has its primary's environment.",
    )
    primary: Literal["dev", "staging", "production"] | None = field(
        None,
        "DR stacks only (named `<env>-<region>`): the primary stack this stack copies; "
        "see docs/environments.md.",
    )
    owner: TagValue | None = field(
        None, "Owner tag value (team or person) added to every resource."
    )
    cost_center: TagValue | None = field(None, "CostCenter tag value added to every resource.")
    extra_tags: dict[str, str] = field(
        {}, "Additional tags for every resource; may not override the required tags."
    )

    @field_validator("extra_tags")
    @classmethod
    def _extra_tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, tag_value in value.items():
            if key in naming.REQUIRED_TAG_KEYS or key in ("Owner", "CostCenter"):
                raise ValueError(
                    f"tag '{key}' is set by the program; remove it from extra_tags "
                    "(use owner/cost_center for Owner/CostCenter)"
                )
            if not TAG_KEY_RE.match(key) or key.lower().startswith("aws:"):
                raise ValueError(f"tag key '{key}' is not a valid AWS tag key")
            if len(tag_value) > 256:
                raise ValueError(f"tag '{key}' value is longer than 256 characters")
        return value


class NetworkConfig(Model):
    """VPC, subnets, NAT and endpoints."""

    vpc_cidr: IPv4Network = field("10.10.0.0/16", "VPC IPv4 CIDR, /16 to /24; distinct per stack.")
    az_count: int = field(
        2, "Number of Availability Zones to spread subnets over (2 or 3).", ge=2, le=3
    )
    public_subnet_cidrs: list[IPv4Network] | None = field(
        None, "One CIDR per AZ for the public subnets (ALB, NAT); derived from vpc_cidr if unset."
    )
    private_subnet_cidrs: list[IPv4Network] | None = field(
        None,
        "One CIDR per AZ for the private subnets (instances, database, cache); "
        "derived from vpc_cidr if unset.",
    )
    nat_gateway_mode: Literal["single", "per_az"] = field(
        "single", "One shared NAT gateway (cheaper) or one per AZ (no cross-AZ dependency)."
    )
    interface_endpoints: list[
        Literal["ssm", "ssmmessages", "ec2messages", "logs", "monitoring", "secretsmanager"]
    ] = field([], "Interface VPC endpoints to create (each costs per AZ-hour).")
    flow_logs_traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = field(
        "ALL", "Which traffic the VPC flow log records."
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_prefix(cls, value: IPv4Network) -> IPv4Network:
        if not 16 <= value.prefixlen <= 24:
            raise ValueError(
                "VPC prefix must be between /16 and /24 (AWS allows /16-/28, and each subnet "
                "is carved as a /prefix+4); use e.g. 10.20.0.0/16"
            )
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _unique_endpoints(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("list each endpoint once")
        return value

    def subnet_plan(self) -> tuple[list[str], list[str]]:
        """(public, private) CIDRs, one per AZ: configured, or carved from the VPC as /prefix+4."""
        blocks = list(self.vpc_cidr.subnets(prefixlen_diff=4))
        public = self.public_subnet_cidrs or blocks[: self.az_count]
        private = self.private_subnet_cidrs or blocks[8 : 8 + self.az_count]
        return [str(b) for b in public], [str(b) for b in private]


class EdgeConfig(Model):
    """ALB, CloudFront and WAF."""

    certificate_arn: AcmArn | None = field(
        None,
        "ACM certificate ARN in the stack's region for the ALB HTTPS listener. "
        "Required in staging and production; without it (dev only) the ALB serves HTTP.",
    )
    cloudfront_certificate_arn: AcmArn | None = field(
        None, "ACM certificate ARN in us-east-1 for CloudFront aliases (needs domain_aliases)."
    )
    domain_aliases: list[WildcardDnsName] = field(
        [],
        "Alternate domain names (CNAMEs) for CloudFront. The first is the public URL "
        "(WEBUI_URL, the OIDC callback), so it must be a concrete hostname; a wildcard "
        "(*.example.com) may follow it. Every one without a wildcard is an origin Open WebUI "
        "accepts (CORS_ALLOW_ORIGIN, websockets).",
    )
    alb_idle_timeout_seconds: int = field(
        900,
        "ALB idle timeout; generation streams are long, so at least 600 s is recommended.",
        ge=60,
        le=4000,
    )
    deletion_protection: bool | None = field(
        None, "ALB deletion protection; defaults to on outside dev."
    )
    deregistration_delay_seconds: int = field(
        120,
        "Time the ALB lets in-flight requests finish before deregistering a target.",
        ge=0,
        le=3600,
    )
    cloudfront_price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = field(
        "PriceClass_100", "CloudFront price class (edge locations used)."
    )
    waf_enabled: bool | None = field(
        None, "Attach a CLOUDFRONT-scope WAF web ACL; defaults to on in production."
    )
    waf_rate_limit_per_5min: int = field(
        2000, "WAF per-IP request limit over a 5-minute window.", ge=10, le=2_000_000_000
    )
    origin_domain_name: DnsName | None = field(
        None,
        "DNS name CloudFront uses to reach the ALB over HTTPS: a record you point at the ALB "
        "(output ollama_alb_dns_name) that edge.certificate_arn covers. Required with "
        "certificate_arn.",
    )
    access_log_retention_days: int = field(
        90,
        "Days the log bucket keeps ALB, CloudFront and S3 access logs before expiry.",
        ge=1,
        le=3650,
    )
    backend_tls: bool | None = field(
        None,
        "TLS from the ALB to the instances: a local proxy on each instance terminates TLS with "
        "a self-signed certificate generated at boot, and the target groups and health checks "
        "use HTTPS. Defaults to on in production (where it must stay on), off elsewhere.",
    )

    @field_validator("domain_aliases")
    @classmethod
    def _concrete_first_alias(cls, value: list[str]) -> list[str]:
        if value and value[0].startswith("*."):
            raise ValueError(
                f"the first alias becomes the public URL (WEBUI_URL, the OIDC callback), and "
                f"the wildcard {value[0]} is not a hostname anyone can open; put a concrete "
                f"hostname the certificate covers first (e.g. chat.{value[0][2:]}) and the "
                f"wildcard after it"
            )
        return value

    @field_validator("origin_domain_name")
    @classmethod
    def _not_the_alb(cls, value: str | None) -> str | None:
        if value is not None and value.endswith(".elb.amazonaws.com"):
            raise ValueError(
                "the ALB's own DNS name cannot be covered by your certificate, so CloudFront "
                "would refuse the HTTPS origin; create a record in your domain (covered by "
                "edge.certificate_arn) that points at the ALB and use that"
            )
        return value


class OllamaApiConfig(Model):
    """The optional dedicated HTTPS listener for programmatic Ollama API clients."""

    enabled: bool = field(False, "Create the dedicated API listener on the ALB.")
    port: int = field(8443, "ALB port of the API listener.", ge=1, le=65535)
    allowed_cidrs: list[IPv4Network] = field([], "Client CIDRs allowed to reach the API listener.")
    acknowledge_public_access: bool = field(
        False, "Must be true to allow 0.0.0.0/0 in allowed_cidrs (the shared secret still applies)."
    )


class ComputeConfig(Model):
    """Launch template, Auto Scaling group and scaling."""

    instance_type: InstanceType = field(
        "t3.xlarge", "EC2 instance type; T-family is allowed in dev only."
    )
    min_size: int = field(1, "Auto Scaling group minimum size.", ge=0, le=100)
    max_size: int = field(
        1, "Auto Scaling group maximum size (above 1 needs shared state).", ge=0, le=100
    )
    desired_capacity: int = field(
        1, "Auto Scaling group desired capacity at deploy time.", ge=0, le=100
    )
    root_volume_size_gb: int = field(
        60, "Encrypted gp3 root volume size in GiB (OS + models).", ge=20, le=16384
    )
    ami_id: str | None = field(
        None,
        "Baked AMI id (see ami/); unset uses the Ubuntu LTS AMI from the public SSM parameter.",
        pattern=AMI_RE.pattern,
    )
    ubuntu_ami_parameter: str = field(
        "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
        "Public SSM parameter holding the Ubuntu LTS AMI id.",
    )
    ssh_enabled: bool = field(
        False, "Create key pair ollama-key-<env> and allow SSH from ssh_admin_cidrs (off: use SSM)."
    )
    ssh_admin_cidrs: list[AdminCidr] = field([], "CIDRs allowed to SSH when ssh_enabled.")
    ssh_public_key: str | None = field(None, "OpenSSH public key for ollama-key-<env>.")
    health_check_grace_period_seconds: int = field(
        1200, "ASG grace period; must cover boot, installs and the model pull.", ge=300, le=7200
    )
    scale_out_cpu_percent: float = field(
        40.0, "Scale out when average CPU is above this.", ge=1, le=99
    )
    scale_in_cpu_percent: float = field(
        30.0, "Scale in when average CPU is below this.", ge=1, le=99
    )
    scaling_cooldown_seconds: int = field(
        300,
        "Seconds a new instance's CPU is left out of the step-scaling aggregate (estimated "
        "instance warmup; step policies have no cooldown). Keep it near the time a booted "
        "instance needs to serve.",
        ge=0,
        le=3600,
    )
    requests_per_target: int | None = field(
        None,
        "Enable target tracking on ALB requests per target with this target value.",
        ge=1,
        le=100_000,
    )
    schedule_scale_down_cron: Cron | None = field(
        None,
        "Cron (UTC unless schedule_timezone) that scales the group to zero, e.g. 0 19 * * 1-5.",
    )
    schedule_scale_up_cron: Cron | None = field(
        None, "Cron that restores min/desired capacity, e.g. 0 7 * * 1-5."
    )
    schedule_timezone: TimeZone = field("UTC", "IANA time zone of the scheduled actions.")
    spot_enabled: bool = field(False, "Use Spot capacity (mixed instances policy); dev only.")
    spot_instance_types: list[InstanceType] = field(
        [],
        "Extra instance types Spot may use besides instance_type (more capacity pools, fewer "
        "interruptions); only with spot_enabled.",
    )
    gpu_enabled: bool = field(
        False,
        "GPU profile: g5/g6 instance and a working NVIDIA driver (installed by the script "
        "method; with the snap, bake it into compute.ami_id).",
    )
    scaling_metric: Literal["cpu", "gpu"] = field(
        "cpu",
        "What scales the group: cpu (step scaling on scale_out/scale_in_cpu_percent) or gpu "
        "(target tracking on the agent's GPU utilization; needs gpu_enabled). See docs/SIZING.md.",
    )
    gpu_target_utilization_percent: float = field(
        70.0,
        "Target average GPU utilization when scaling_metric is gpu.",
        ge=10,
        le=95,
    )
    refresh_auto_rollback: bool = field(
        True,
        "Instance refresh rolls the group back to the previous launch template version when "
        "it fails or one of the stack's health alarms fires. Exception, whatever this is set "
        "to: on a deployed stack with a shared database (data.database_enabled), a release "
        "change (the Open WebUI image or the Ollama release differs from the recorded one) "
        "replaces every instance in one batch without automatic rollback or checkpoints, as "
        "the previous Open WebUI must not start on a schema the new one migrated (see "
        "docs/runbooks/deployment.md, Release changes).",
    )
    refresh_checkpoint_percentages: list[int] | None = field(
        None,
        "Instance refresh pauses when this percent of the group is replaced (ascending, unique, "
        "ending with 100); unset: [50, 100] in production, none elsewhere.",
    )
    refresh_checkpoint_delay_seconds: int = field(
        900,
        "How long a refresh waits at each checkpoint (the alarms' time to notice a bad "
        "version) before it continues.",
        ge=0,
        le=172800,
    )

    def checkpoints(self, production: bool) -> list[int]:
        """The checkpoint percentages in effect (config, else the environment's default)."""
        if self.refresh_checkpoint_percentages is not None:
            return list(self.refresh_checkpoint_percentages)
        return [50, 100] if production else []


class OllamaConfig(Model):
    """The Ollama server: version, install method, models and runtime settings."""

    version: str = field(
        versions.OLLAMA_VERSION,
        f"Pinned Ollama version (install script OLLAMA_VERSION); at least "
        f"{versions.OLLAMA_MIN_VERSION}, whose log lines the metric filters parse.",
        pattern=VERSION_RE.pattern,
    )
    install_method: Literal["snap", "script"] = field(
        "script",
        "snap (community snap, pinned channel, refresh held; the channel decides the "
        "version) or script (official install script with OLLAMA_VERSION).",
    )
    snap_channel: str = field("latest/stable", "Snap channel when install_method is snap.")
    models: list[str] = field(
        ["llama3.2:1b"], "Models served when the catalog table is empty (pulled at boot)."
    )
    num_parallel: int = field(
        2, "OLLAMA_NUM_PARALLEL: concurrent requests per loaded model.", ge=1, le=64
    )
    max_queue: int = field(
        512, "OLLAMA_MAX_QUEUE: queued requests before HTTP 503.", ge=1, le=100_000
    )
    keep_alive: str = field(
        "30m",
        "OLLAMA_KEEP_ALIVE: how long a model stays loaded.",
        pattern=r"^(-1|0|\d+(ms|s|m|h))$",
    )
    models_dir: str = field(
        "/var/lib/ollama/models",
        "OLLAMA_MODELS directory on the instance.",
        pattern=r"^/[A-Za-z0-9._/-]+$",
    )

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one model, e.g. llama3.2:1b")
        for model in value:
            check_model_name(model)
        return value


class WebUIConfig(Model):
    """Open WebUI container and its behaviour."""

    image: str = field(
        versions.OPEN_WEBUI_IMAGE,
        "Open WebUI container image repository.",
        pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+$",
    )
    version: str = field(
        versions.OPEN_WEBUI_VERSION,
        "Pinned image tag (never main or latest).",
        pattern=r"^(?!(latest|main|dev)$)" + IMAGE_TAG_RE.pattern.lstrip("^"),
    )
    digest: str | None = field(
        None, "Optional image digest (sha256:...) pinned with the tag.", pattern=DIGEST_RE.pattern
    )
    enable_signup: bool = field(
        False,
        "Self-service sign-up (ENABLE_SIGNUP). Owned by the stack: every boot re-applies it "
        "through Open WebUI's admin API (see 'Settings the stack owns').",
    )
    enable_api_keys: bool = field(
        True,
        "Open WebUI API keys (ENABLE_API_KEYS) for the /ollama proxy, and the API-key "
        "permission of the model_access_group. Owned by the stack (re-applied at every boot).",
    )
    model_access: Literal["group", "public", "admin-only"] | None = field(
        None,
        "Who may use the catalog's models. group: every boot grants them to "
        "model_access_group and makes it the default group of new users; public: granted to "
        "every user; admin-only: the stack grants nothing (admins grant in Open WebUI). "
        "Unset: group with auth.mode local, admin-only with oidc (no headless admin).",
    )
    model_access_group: str = field(
        "users",
        "Open WebUI group the catalog's models are granted to (model_access group); the "
        "boot creates it when missing.",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}[A-Za-z0-9]$",
    )

    def access(self, oidc: bool) -> str:
        """model_access as the boot applies it: explicit, else by sign-in mode."""
        if self.model_access is not None:
            return self.model_access
        return "admin-only" if oidc else "group"

    admin_email: Email = field(
        "admin@example.com",
        "Initial admin account email (WEBUI_ADMIN_EMAIL); used only while the database "
        "has no user.",
    )


class DataConfig(Model):
    """DynamoDB model catalog, S3 storage and Open WebUI shared state."""

    deletion_protection: bool | None = field(
        None, "Deletion protection on the table and database; defaults to on outside dev."
    )
    kms_key_arn: KmsArn | None = field(
        None,
        "Customer managed KMS key for the table, bucket, secrets, database, cache and "
        "Performance Insights; unset uses the stack data key (data_key) or AWS managed keys.",
    )
    data_key: bool | None = field(
        None,
        "Without kms_key_arn: create the stack data key ollama-data-key-<env> for the table, "
        "the cache at rest and Performance Insights; defaults to on in production.",
    )
    storage_ia_after_days: int = field(
        30, "Move storage objects to Standard-IA after N days.", ge=30, le=3650
    )
    storage_glacier_after_days: int = field(
        90, "Move storage objects to Glacier after N days.", ge=1, le=3650
    )
    noncurrent_version_expiry_days: int = field(
        30, "Expire noncurrent object versions after N.", ge=1, le=3650
    )
    replication_region: Region | None = field(
        None, "Replicate the storage bucket to a DR bucket in this region (production)."
    )
    database_enabled: bool = field(
        False, "PostgreSQL (RDS) for Open WebUI; required when the ASG can exceed 1 instance."
    )
    cache_enabled: bool = field(
        False, "Redis (ElastiCache) for Open WebUI websockets; required above 1 instance."
    )
    database_instance_class: str = field(
        "db.t4g.micro",
        "RDS instance class of the Open WebUI PostgreSQL database.",
        pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$",
    )
    database_engine_version: str = field(
        "16",
        "PostgreSQL major (or major.minor) version; 15-17 ship pgvector on RDS. A major alone "
        "lets RDS apply minor upgrades in the maintenance window.",
        pattern=r"^(15|16|17)(\.\d+)?$",
    )
    database_storage_gb: int = field(
        20, "Allocated gp3 storage of the database in GiB.", ge=20, le=65536
    )
    database_max_storage_gb: int = field(
        100, "Storage autoscaling ceiling in GiB (at least database_storage_gb).", ge=20, le=65536
    )
    database_backup_retention_days: int = field(
        7, "Days RDS keeps automated backups (point-in-time restore window), 1-35.", ge=1, le=35
    )
    database_iam_auth: bool = field(False, "Enable IAM database authentication on the database.")
    database_performance_insights: bool = field(
        False, "Enable Performance Insights (7-day free tier) on the database."
    )
    database_monitoring_interval_seconds: Literal[0, 1, 5, 10, 15, 30, 60] = field(
        60,
        "RDS enhanced monitoring interval (OS metrics, through its own role); 0 turns it off.",
    )
    database_slow_statement_ms: int = field(
        1000,
        "PostgreSQL log_min_duration_statement: statements slower than this are logged "
        "(with connections, disconnections and DDL) to CloudWatch Logs.",
        ge=0,
        le=3_600_000,
    )
    secret_rotation_days: int = field(
        30,
        "Days between rotations of the Open WebUI database login (alternating users): the "
        "login the instances use stays valid for one more interval, so every instance has a "
        "whole interval to follow (ollama-boot.sh follow-secrets, hourly).",
        ge=2,
        le=365,
    )
    cache_node_type: str = field(
        "cache.t4g.micro",
        "ElastiCache node type of the Valkey cache.",
        pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$",
    )
    cache_engine_version: str = field(
        "8.0", "Valkey engine version of the cache (7.2 or 8.x).", pattern=r"^(7\.2|8\.\d+)$"
    )


AlarmPercent = Annotated[float, Field(gt=0, lt=100)]


class ObservabilityConfig(Model):
    """Logs, alarms and notifications."""

    log_retention_days: int = field(
        30,
        "Retention of every log group (a CloudWatch value); production requires at least 365.",
    )
    log_kms_key_arn: KmsArn | None = field(None, "Optional KMS key ARN for the log groups.")
    alarm_emails: list[Email] = field([], "Emails subscribed to ollama-alerts-<env>.")
    billing_alarm_threshold_usd: float = field(
        200.0, "Estimated monthly charges (USD) that trigger the billing alarm.", ge=1, le=1_000_000
    )
    alerts_kms_key_arn: KmsArn | None = field(
        None,
        "Customer managed KMS key (stack region) for the alerts topic; its policy must let "
        "cloudwatch.amazonaws.com and budgets.amazonaws.com use it. Unset creates a "
        "dedicated key (the AWS managed aws/sns key cannot be used by CloudWatch alarms).",
    )
    memory_alarm_percent: AlarmPercent = field(
        80.0, "High-memory alarm: ASG average mem_used_percent."
    )
    alb_5xx_alarm_percent: AlarmPercent = field(
        5.0, "ALB 5xx alarm: percent of requests answered with a 5xx (target or ALB)."
    )
    target_response_time_alarm_seconds: float = field(
        30.0,
        "Target response time alarm: p90 of the ALB TargetResponseTime (time to headers).",
        gt=0,
        le=4000,
    )
    inference_latency_p90_alarm_seconds: int = field(
        60,
        "Inference latency alarm: p90 of /api/generate and /api/chat durations; 1-59 s or a "
        "whole number of minutes (the metric filter matches Ollama's duration text).",
    )
    ollama_503_alarm_percent: AlarmPercent = field(
        1.0, "Ollama 503 alarm: percent of inference requests rejected because the queue is full."
    )
    cloudfront_cache_hit_alarm_percent: AlarmPercent = field(
        5.0, "CloudFront low cache hit alarm: CacheHitRate below this percent."
    )
    cloudfront_5xx_alarm_percent: AlarmPercent = field(
        5.0, "CloudFront 5xx alarm: 5xxErrorRate above this percent."
    )
    rds_cpu_alarm_percent: AlarmPercent = field(
        80.0, "Database CPU alarm (when the database exists)."
    )
    rds_free_storage_alarm_gb: int = field(
        2, "Database low storage alarm: FreeStorageSpace below this many GiB.", ge=1, le=65536
    )
    rds_connections_alarm: int = field(
        80, "Database connections alarm: DatabaseConnections above this count.", ge=1, le=65536
    )
    gpu_memory_alarm_percent: AlarmPercent = field(
        90.0,
        "GPU memory pressure alarm (gpu_enabled only): highest instance GPU memory used, as a "
        "percent of GPU memory, above this for 15 minutes.",
    )
    budget_limit_usd: float | None = field(
        None,
        "Monthly AWS Budgets limit (USD) for the stack's tagged costs; unset uses the stack's "
        "cost estimate at maximum scale (ollama-ops cost), rounded up to 10 USD.",
        ge=1,
        le=1_000_000,
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                "CloudWatch Logs accepts only "
                + ", ".join(str(d) for d in LOG_RETENTION_DAYS)
                + " days; pick the nearest, e.g. 30"
            )
        return value

    @field_validator("alarm_emails")
    @classmethod
    def _unique_emails(cls, value: list[str]) -> list[str]:
        if len({e.lower() for e in value}) != len(value):
            raise ValueError("list each address once (addresses are not case-sensitive)")
        return value

    @field_validator("inference_latency_p90_alarm_seconds")
    @classmethod
    def _latency(cls, value: int) -> int:
        if not (1 <= value <= 59 or (value % 60 == 0 and 60 <= value <= 3540)):
            raise ValueError(
                "must be 1-59 seconds or a whole number of minutes up to 59 (60, 120, ... 3540), "
                "the durations the latency filter can express; use 60"
            )
        return value


class BackupConfig(Model):
    """AWS Backup plan for the table, the bucket and the database."""

    enabled: bool = field(True, "Create the AWS Backup vault, plan and selection.")
    daily_retention_days: int = field(7, "Retention of daily recovery points.", ge=1, le=36500)
    weekly_retention_days: int = field(35, "Retention of weekly recovery points.", ge=1, le=36500)
    copy_region: Region | None = field(
        None, "Copy recovery points to a vault in this region (production DR)."
    )


class CostConfig(Model):
    """Usage the cost estimate assumes: amounts no plan can know (see docs/COSTS.md)."""

    data_out_gb: float = field(
        20.0, "Data CloudFront sends to viewers, GB per month.", ge=0, le=10_000_000
    )
    requests_millions: float = field(
        1.0,
        "Viewer requests per month, in millions (CloudFront, its function, WAF).",
        ge=0,
        le=1_000_000,
    )
    nat_processed_gb: float = field(
        30.0,
        "Data through the NAT gateways per month, GB in total (model pulls, packages, APIs "
        "without an endpoint).",
        ge=0,
        le=10_000_000,
    )
    endpoint_processed_gb: float = field(
        5.0, "Data through the interface VPC endpoints per month, GB in total.", ge=0, le=1_000_000
    )
    alb_lcu: float = field(
        1.0, "Average load balancer capacity units (LCU) used per hour.", ge=0, le=100_000
    )
    log_ingest_gb: float = field(
        5.0,
        "Log data ingested into CloudWatch Logs per month, GB across all log groups.",
        ge=0,
        le=1_000_000,
    )
    storage_gb: float = field(
        10.0, "Objects kept in the storage bucket (and its DR replica), GB.", ge=0, le=10_000_000
    )
    access_log_gb: float = field(
        5.0, "Access logs kept in the log bucket, GB.", ge=0, le=10_000_000
    )
    replication_gb: float = field(
        2.0, "New data replicated to the DR bucket per month, GB.", ge=0, le=10_000_000
    )
    table_gb: float = field(1.0, "Data in the model catalog table, GB.", ge=0, le=1_000_000)
    table_reads_millions: float = field(
        1.0, "Table read request units per month, in millions.", ge=0, le=1_000_000
    )
    table_writes_millions: float = field(
        0.1, "Table write request units per month, in millions.", ge=0, le=1_000_000
    )
    backup_gb: float = field(
        20.0,
        "Recovery points kept in the backup vault, GB (its copy vault keeps as much).",
        ge=0,
        le=10_000_000,
    )
    backup_copy_gb: float = field(
        5.0, "Backup data copied to the copy region per month, GB.", ge=0, le=10_000_000
    )
    spot_discount_percent: float = field(
        65.0,
        "Assumed Spot discount below the on-demand price when compute.spot_enabled (Spot "
        "prices move; this is an assumption, not a quote).",
        ge=0,
        le=95,
    )


SM_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$"
)
ClaimName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_:.-]{1,128}$")]
GroupName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]
IdpName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]


class AuthConfig(Model):
    """Who signs in to Open WebUI: its local accounts, or single sign-on through OIDC."""

    mode: Literal["local", "oidc"] = field(
        "local",
        "local: Open WebUI's own accounts and the headless admin (webui.admin_email). oidc: "
        "single sign-on; the login form and local passwords are off, and roles follow the "
        "admin_group/user_group membership (see docs/identity.md).",
    )
    provider: Literal["cognito", "external"] = field(
        "cognito",
        "With mode oidc: a Cognito user pool the stack creates (ollama-users-<env>), or an "
        "existing OIDC provider (issuer_url, client_id, client_secret_arn).",
    )
    issuer_url: str | None = field(
        None,
        "External provider only: the OIDC issuer URL (https; its "
        "/.well-known/openid-configuration must answer).",
        pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~/-]*)?$",
    )
    client_id: str | None = field(
        None,
        "External provider only: the OAuth client id registered for this stack.",
        pattern=r"^[A-Za-z0-9._:/-]{1,256}$",
    )
    client_secret_arn: str | None = field(
        None,
        "External provider only: ARN of the Secrets Manager secret (stack region) whose "
        "SecretString is the client secret; never the secret itself.",
        pattern=SM_ARN_PATTERN,
    )
    allowed_email_domains: list[DnsName] = field(
        [], "Email domains allowed to sign in (OAUTH_ALLOWED_DOMAINS); empty allows any."
    )
    groups_claim: ClaimName = field(
        "cognito:groups",
        "ID-token claim that carries the user's groups (Cognito: cognito:groups).",
    )
    admin_group: GroupName = field("ollama-admins", "Members of this group are Open WebUI admins.")
    user_group: GroupName = field("ollama-users", "Members of this group are Open WebUI users.")
    mfa: Literal["off", "optional", "required"] = field(
        "optional",
        "Cognito pool MFA (TOTP): off, optional or required. Production may not use off.",
    )
    self_signup: bool = field(
        False,
        "Cognito pool: let people create their own account (admin-create-only when false; "
        "allowed_email_domains still applies in Open WebUI).",
    )
    identity_providers: list[IdpName] = field(
        [],
        "Cognito pool: names of SAML or OIDC identity providers (Entra ID, Okta, Google) "
        "added to the pool outside the stack that the sign-in page offers besides Cognito "
        "accounts; see docs/identity.md.",
    )

    @field_validator("allowed_email_domains")
    @classmethod
    def _unique_domains(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("list each domain once")
        return value


# Config key (under the ollama: namespace) -> model. The order is the documentation order.
SECTIONS: dict[str, type[Model]] = {
    "environment": EnvironmentConfig,
    "network": NetworkConfig,
    "edge": EdgeConfig,
    "ollama_api": OllamaApiConfig,
    "compute": ComputeConfig,
    "ollama": OllamaConfig,
    "webui": WebUIConfig,
    "auth": AuthConfig,
    "data": DataConfig,
    "observability": ObservabilityConfig,
    "backup": BackupConfig,
    "cost": CostConfig,
}
