"""Typed stack configuration.

Data flows one way: the stack file's ``ollama:`` namespace -> these models -> components.
Everything is validated here, once, before any resource is declared, so a bad stack
file stops the program with a message that names the key, the value, the rule and the
fix instead of failing halfway through a deployment.

Each concern is one frozen model under its own config key (``ollama:network``,
``ollama:compute``, ...). Every field has a default suited to ``dev`` and a description;
``docs/configuration.md`` is generated from these descriptions.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ollama_infra import naming

ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "production")
CONFIG_NAMESPACE = "ollama"
DOCS_HINT = "see docs/configuration.md"

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
# fmt: off
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)
# fmt: on

# <family><generation>[attributes].<size>, e.g. t3.large, m7i.2xlarge, g6e.xlarge, c7gn.metal-48xl
INSTANCE_TYPE_RE = re.compile(
    r"^[a-z]+[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal(-[0-9]+xl)?)$"
)
# Ollama model references: name[:tag] or namespace/name[:tag], optionally @sha256:<digest>.
MODEL_RE = re.compile(
    r"^[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63})?(:[a-zA-Z0-9][a-zA-Z0-9._-]{0,127})?"
    r"(@sha256:[a-f0-9]{64})?$"
)
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
ACM_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:acm:([a-z]{2}(-[a-z]+)+-\d):\d{12}:certificate/[0-9a-f-]{36}$"
)
KMS_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:(key|alias)/[A-Za-z0-9/_-]+$"
)
AMI_RE = re.compile(r"^ami-[0-9a-f]{8}([0-9a-f]{9})?$")
REGION_RE = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
IMAGE_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
CRON_RE = re.compile(r"^(\S+\s+){4}\S+$")
TAG_KEY_RE = re.compile(r"^[\w .:/=+\-@]{1,128}$")
DNS_NAME_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ConfigIssue(BaseModel):
    """One problem with the stack configuration."""

    model_config = ConfigDict(frozen=True)

    key: str
    value: Any
    rule: str
    fix: str

    def render(self) -> str:
        value = json.dumps(self.value, default=str)
        return f"{self.key} = {value}: {self.rule}. Fix: {self.fix}"


class ConfigError(Exception):
    """The stack configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, stack: str, issues: list[ConfigIssue]) -> None:
        self.stack = stack
        self.issues = issues
        lines = "\n".join(f"  - {issue.render()}" for issue in issues)
        super().__init__(
            f"invalid configuration for stack '{stack}' (Pulumi.{stack}.yaml), "
            f"{len(issues)} problem(s):\n{lines}\n({DOCS_HINT})"
        )


def _field(default: Any, description: str, **kwargs: Any) -> Any:
    return Field(default, description=description, **kwargs)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


def _check_cidr(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(
            f"must be an IPv4 network in CIDR notation with no host bits set ({exc}); "
            "use a value such as 10.20.0.0/16"
        ) from None
    if net.version != 4:
        raise ValueError("must be an IPv4 CIDR; use a value such as 10.20.0.0/16")
    return value


def _check_acm_arn(value: str | None) -> str | None:
    if value is not None and not ACM_ARN_RE.match(value):
        raise ValueError(
            "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>); "
            "copy it from `aws acm list-certificates`"
        )
    return value


def _check_kms_arn(value: str | None) -> str | None:
    if value is not None and not KMS_ARN_RE.match(value):
        raise ValueError(
            "must be a KMS key or alias ARN (arn:aws:kms:<region>:<account>:key/<id>); "
            "leave it unset to use the AWS managed key"
        )
    return value


class EnvironmentConfig(_Model):
    """Which environment this stack is, and who owns it (tags)."""

    name: Literal["dev", "staging", "production"] = _field(
        "dev", "Environment name; must match the stack name (dev, staging or production)."
    )
    owner: str | None = _field(None, "Owner tag value (team or person) added to every resource.")
    cost_center: str | None = _field(None, "CostCenter tag value added to every resource.")
    extra_tags: dict[str, str] = _field(
        {}, "Additional tags for every resource; may not override the required tags."
    )

    @field_validator("owner", "cost_center")
    @classmethod
    def _tag_value(cls, value: str | None) -> str | None:
        if value is not None and not (1 <= len(value) <= 256):
            raise ValueError("tag values must be 1-256 characters")
        return value

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


class NetworkConfig(_Model):
    """VPC, subnets, NAT and endpoints."""

    vpc_cidr: str = _field("10.10.0.0/16", "VPC IPv4 CIDR, /16 to /24; distinct per stack.")
    az_count: int = _field(2, "Number of Availability Zones to spread subnets over (2 or 3).")
    public_subnet_cidrs: list[str] | None = _field(
        None, "One CIDR per AZ for the public subnets (ALB, NAT); derived from vpc_cidr if unset."
    )
    private_subnet_cidrs: list[str] | None = _field(
        None,
        "One CIDR per AZ for the private subnets (instances, database, cache); "
        "derived from vpc_cidr if unset.",
    )
    nat_gateway_mode: Literal["single", "per_az"] = _field(
        "single", "One shared NAT gateway (cheaper) or one per AZ (no cross-AZ dependency)."
    )
    interface_endpoints: list[
        Literal["ssm", "ssmmessages", "ec2messages", "logs", "monitoring", "secretsmanager"]
    ] = _field([], "Interface VPC endpoints to create (each costs per AZ-hour).")
    flow_logs_traffic_type: Literal["ALL", "ACCEPT", "REJECT"] = _field(
        "ALL", "Which traffic the VPC flow log records."
    )

    @field_validator("vpc_cidr")
    @classmethod
    def _vpc_cidr(cls, value: str) -> str:
        _check_cidr(value)
        prefix = ipaddress.ip_network(value).prefixlen
        if not 16 <= prefix <= 24:
            raise ValueError(
                "VPC prefix must be between /16 and /24 (AWS allows /16-/28, and each subnet "
                "is carved as a /prefix+4); use e.g. 10.20.0.0/16"
            )
        return value

    @field_validator("public_subnet_cidrs", "private_subnet_cidrs")
    @classmethod
    def _subnets(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for cidr in value:
                _check_cidr(cidr)
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _unique_endpoints(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("list each endpoint once")
        return value

    def subnet_plan(self) -> tuple[list[str], list[str]]:
        """(public, private) CIDRs, one per AZ: configured, or carved from the VPC as /prefix+4."""
        blocks = list(ipaddress.ip_network(self.vpc_cidr).subnets(prefixlen_diff=4))
        public = self.public_subnet_cidrs or [str(b) for b in blocks[: self.az_count]]
        private = self.private_subnet_cidrs or [str(b) for b in blocks[8 : 8 + self.az_count]]
        return public, private


class EdgeConfig(_Model):
    """ALB, CloudFront and WAF."""

    certificate_arn: str | None = _field(
        None,
        "ACM certificate ARN in the stack's region for the ALB HTTPS listener. "
        "Required in staging and production; without it (dev only) the ALB serves HTTP.",
    )
    cloudfront_certificate_arn: str | None = _field(
        None, "ACM certificate ARN in us-east-1 for CloudFront aliases (needs domain_aliases)."
    )
    domain_aliases: list[str] = _field([], "Alternate domain names (CNAMEs) for CloudFront.")
    alb_idle_timeout_seconds: int = _field(
        900, "ALB idle timeout; generation streams are long, so at least 600 s is recommended."
    )
    deletion_protection: bool | None = _field(
        None, "ALB deletion protection; defaults to on outside dev."
    )
    deregistration_delay_seconds: int = _field(
        120, "Time the ALB lets in-flight requests finish before deregistering a target."
    )
    cloudfront_price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = _field(
        "PriceClass_100", "CloudFront price class (edge locations used)."
    )
    waf_enabled: bool | None = _field(
        None, "Attach a CLOUDFRONT-scope WAF web ACL; defaults to on in production."
    )
    waf_rate_limit_per_5min: int = _field(2000, "WAF per-IP request limit over a 5-minute window.")
    origin_domain_name: str | None = _field(
        None,
        "DNS name CloudFront uses to reach the ALB over HTTPS: a record you point at the ALB "
        "(output ollama_alb_dns_name) that edge.certificate_arn covers. Required with "
        "certificate_arn.",
    )
    access_log_retention_days: int = _field(
        90, "Days the log bucket keeps ALB, CloudFront and S3 access logs before expiry."
    )

    _acm = field_validator("certificate_arn", "cloudfront_certificate_arn")(
        classmethod(lambda cls, v: _check_acm_arn(v))
    )

    @field_validator("alb_idle_timeout_seconds")
    @classmethod
    def _idle(cls, value: int) -> int:
        if not 60 <= value <= 4000:
            raise ValueError("ALB idle timeout must be 60-4000 s; use 900 for long generations")
        return value

    @field_validator("deregistration_delay_seconds")
    @classmethod
    def _dereg(cls, value: int) -> int:
        if not 0 <= value <= 3600:
            raise ValueError("deregistration delay must be 0-3600 s")
        return value

    @field_validator("waf_rate_limit_per_5min")
    @classmethod
    def _rate(cls, value: int) -> int:
        if not 10 <= value <= 2_000_000_000:
            raise ValueError("WAF rate limits must be 10-2,000,000,000 requests per 5 minutes")
        return value

    @field_validator("origin_domain_name")
    @classmethod
    def _origin_domain(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not DNS_NAME_RE.match(value):
            raise ValueError(
                "must be a lowercase DNS name such as origin.ollama.example.com; "
                "use the record you point at the ALB"
            )
        if value.endswith(".elb.amazonaws.com"):
            raise ValueError(
                "the ALB's own DNS name cannot be covered by your certificate, so CloudFront "
                "would refuse the HTTPS origin; create a record in your domain (covered by "
                "edge.certificate_arn) that points at the ALB and use that"
            )
        return value

    @field_validator("domain_aliases")
    @classmethod
    def _aliases(cls, value: list[str]) -> list[str]:
        for alias in value:
            if not DNS_NAME_RE.match(alias.removeprefix("*.")):
                raise ValueError(
                    f"'{alias}' is not a lowercase DNS name; use e.g. chat.example.com"
                )
        return value

    @field_validator("access_log_retention_days")
    @classmethod
    def _log_days(cls, value: int) -> int:
        if not 1 <= value <= 3650:
            raise ValueError("must be 1-3650 days; 90 keeps a quarter of access logs")
        return value


class OllamaApiConfig(_Model):
    """The optional dedicated HTTPS listener for programmatic Ollama API clients."""

    enabled: bool = _field(False, "Create the dedicated API listener on the ALB.")
    port: int = _field(8443, "ALB port of the API listener.")
    allowed_cidrs: list[str] = _field([], "Client CIDRs allowed to reach the API listener.")
    acknowledge_public_access: bool = _field(
        False, "Must be true to allow 0.0.0.0/0 in allowed_cidrs (the shared secret still applies)."
    )

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 1 <= value <= 65535:
            raise ValueError("port must be 1-65535")
        return value

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            _check_cidr(cidr)
        return value


class ComputeConfig(_Model):
    """Launch template, Auto Scaling group and scaling."""

    instance_type: str = _field("t3.xlarge", "EC2 instance type; T-family is allowed in dev only.")
    min_size: int = _field(1, "Auto Scaling group minimum size.")
    max_size: int = _field(1, "Auto Scaling group maximum size (above 1 needs shared state).")
    desired_capacity: int = _field(1, "Auto Scaling group desired capacity at deploy time.")
    root_volume_size_gb: int = _field(60, "Encrypted gp3 root volume size in GiB (OS + models).")
    ami_id: str | None = _field(
        None,
        "Baked AMI id (see ami/); unset uses the Ubuntu LTS AMI from the public SSM parameter.",
    )
    ubuntu_ami_parameter: str = _field(
        "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id",
        "Public SSM parameter holding the Ubuntu LTS AMI id.",
    )
    ssh_enabled: bool = _field(
        False, "Create key pair ollama-key-<env> and allow SSH from ssh_admin_cidrs (off: use SSM)."
    )
    ssh_admin_cidrs: list[str] = _field([], "CIDRs allowed to SSH when ssh_enabled.")
    ssh_public_key: str | None = _field(None, "OpenSSH public key for ollama-key-<env>.")
    health_check_grace_period_seconds: int = _field(
        1200, "ASG grace period; must cover boot, installs and the model pull."
    )
    scale_out_cpu_percent: float = _field(40.0, "Scale out when average CPU is above this.")
    scale_in_cpu_percent: float = _field(30.0, "Scale in when average CPU is below this.")
    scaling_cooldown_seconds: int = _field(
        300,
        "Seconds a new instance's CPU is left out of the step-scaling aggregate (estimated "
        "instance warmup; step policies have no cooldown). Keep it near the time a booted "
        "instance needs to serve.",
    )
    requests_per_target: int | None = _field(
        None, "Enable target tracking on ALB requests per target with this target value."
    )
    schedule_scale_down_cron: str | None = _field(
        None,
        "Cron (UTC unless schedule_timezone) that scales the group to zero, e.g. 0 19 * * 1-5.",
    )
    schedule_scale_up_cron: str | None = _field(
        None, "Cron that restores min/desired capacity, e.g. 0 7 * * 1-5."
    )
    schedule_timezone: str = _field("UTC", "IANA time zone of the scheduled actions.")
    spot_enabled: bool = _field(False, "Use Spot capacity (mixed instances policy); dev only.")
    spot_instance_types: list[str] = _field(
        [],
        "Extra instance types Spot may use besides instance_type (more capacity pools, fewer "
        "interruptions); only with spot_enabled.",
    )
    gpu_enabled: bool = _field(
        False, "GPU profile: g5/g6 instance, NVIDIA drivers, script install."
    )

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not INSTANCE_TYPE_RE.match(value):
            raise ValueError(
                "must be an EC2 instance type such as t3.xlarge, m7i.2xlarge or g6.xlarge"
            )
        return value

    @field_validator("min_size", "max_size", "desired_capacity")
    @classmethod
    def _capacity(cls, value: int) -> int:
        if not 0 <= value <= 100:
            raise ValueError("capacity must be 0-100")
        return value

    @field_validator("root_volume_size_gb")
    @classmethod
    def _volume(cls, value: int) -> int:
        if not 20 <= value <= 16384:
            raise ValueError("root volume must be 20-16384 GiB; models need room, use 60+")
        return value

    @field_validator("ami_id")
    @classmethod
    def _ami(cls, value: str | None) -> str | None:
        if value is not None and not AMI_RE.match(value):
            raise ValueError("must be an AMI id such as ami-0123456789abcdef0")
        return value

    @field_validator("ssh_admin_cidrs")
    @classmethod
    def _admin(cls, value: list[str]) -> list[str]:
        for cidr in value:
            _check_cidr(cidr)
            if ipaddress.ip_network(cidr).prefixlen == 0:
                raise ValueError("SSH from the whole internet is not allowed; use your admin CIDR")
        return value

    @field_validator("health_check_grace_period_seconds")
    @classmethod
    def _grace(cls, value: int) -> int:
        if not 300 <= value <= 7200:
            raise ValueError("grace period must be 300-7200 s: boot plus model pull takes minutes")
        return value

    @field_validator("scale_out_cpu_percent", "scale_in_cpu_percent")
    @classmethod
    def _percent(cls, value: float) -> float:
        if not 1 <= value <= 99:
            raise ValueError("CPU thresholds must be 1-99 percent")
        return value

    @field_validator("scaling_cooldown_seconds")
    @classmethod
    def _warmup(cls, value: int) -> int:
        if not 0 <= value <= 3600:
            raise ValueError("must be 0-3600 s; 300 suits a booted instance")
        return value

    @field_validator("requests_per_target")
    @classmethod
    def _requests(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 100_000:
            raise ValueError(
                "must be 1-100000 requests per target per minute, or unset to disable; "
                "measure it with the load test"
            )
        return value

    @field_validator("spot_instance_types")
    @classmethod
    def _spot_types(cls, value: list[str]) -> list[str]:
        for instance_type in value:
            if not INSTANCE_TYPE_RE.match(instance_type):
                raise ValueError(
                    f"'{instance_type}' is not an EC2 instance type; use e.g. t3a.xlarge"
                )
        return value

    @field_validator("schedule_scale_down_cron", "schedule_scale_up_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and not CRON_RE.match(value.strip()):
            raise ValueError("must be a 5-field cron expression such as '0 19 * * 1-5'")
        return value


class OllamaConfig(_Model):
    """The Ollama server: version, install method, models and runtime settings."""

    version: str = _field("0.33.3", "Pinned Ollama version (install script OLLAMA_VERSION).")
    install_method: Literal["snap", "script"] = _field(
        "script",
        "snap (community snap, pinned channel, refresh held) or script (official "
        "install script with OLLAMA_VERSION; required for GPU).",
    )
    snap_channel: str = _field("latest/stable", "Snap channel when install_method is snap.")
    models: list[str] = _field(
        ["llama3.2:1b"], "Models served when the catalog table is empty (pulled at boot)."
    )
    num_parallel: int = _field(2, "OLLAMA_NUM_PARALLEL: concurrent requests per loaded model.")
    max_queue: int = _field(512, "OLLAMA_MAX_QUEUE: queued requests before HTTP 503.")
    keep_alive: str = _field("30m", "OLLAMA_KEEP_ALIVE: how long a model stays loaded.")
    models_dir: str = _field("/var/lib/ollama/models", "OLLAMA_MODELS directory on the instance.")

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not VERSION_RE.match(value):
            raise ValueError("must be an exact version such as 0.33.3 (never 'latest')")
        return value

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one model, e.g. llama3.2:1b")
        for model in value:
            check_model_name(model)
        return value

    @field_validator("num_parallel")
    @classmethod
    def _parallel(cls, value: int) -> int:
        if not 1 <= value <= 64:
            raise ValueError("num_parallel must be 1-64")
        return value

    @field_validator("max_queue")
    @classmethod
    def _queue(cls, value: int) -> int:
        if not 1 <= value <= 100_000:
            raise ValueError("max_queue must be 1-100000")
        return value

    @field_validator("keep_alive")
    @classmethod
    def _keep_alive(cls, value: str) -> str:
        if not re.match(r"^(-1|0|\d+(ms|s|m|h))$", value):
            raise ValueError("must be a duration such as 30m, 1h, 0 or -1 (forever)")
        return value

    @field_validator("models_dir")
    @classmethod
    def _models_dir(cls, value: str) -> str:
        if not re.match(r"^/[A-Za-z0-9._/-]+$", value):
            raise ValueError("must be an absolute path without spaces or shell characters")
        return value


class WebUIConfig(_Model):
    """Open WebUI container and its behaviour."""

    image: str = _field("ghcr.io/open-webui/open-webui", "Open WebUI container image repository.")
    version: str = _field("v0.9.6", "Pinned image tag (never main or latest).")
    digest: str | None = _field(None, "Optional image digest (sha256:...) pinned with the tag.")
    enable_signup: bool = _field(False, "Allow self-service sign-up (ENABLE_SIGNUP).")
    admin_email: str = _field(
        "admin@example.com", "Initial admin account email (WEBUI_ADMIN_EMAIL)."
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        if not re.match(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+$", value):
            raise ValueError("must be an image repository such as ghcr.io/open-webui/open-webui")
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not IMAGE_TAG_RE.match(value) or value in ("latest", "main", "dev"):
            raise ValueError("must be a pinned release tag such as v0.9.6 (not latest/main/dev)")
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not DIGEST_RE.match(value):
            raise ValueError("must be sha256:<64 hex characters>")
        return value

    @field_validator("admin_email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)


class DataConfig(_Model):
    """DynamoDB model catalog, S3 storage and Open WebUI shared state."""

    deletion_protection: bool | None = _field(
        None, "Deletion protection on the table and database; defaults to on outside dev."
    )
    kms_key_arn: str | None = _field(
        None, "Customer managed KMS key for the table and bucket; unset uses AWS managed keys."
    )
    storage_ia_after_days: int = _field(30, "Move storage objects to Standard-IA after N days.")
    storage_glacier_after_days: int = _field(90, "Move storage objects to Glacier after N days.")
    noncurrent_version_expiry_days: int = _field(30, "Expire noncurrent object versions after N.")
    replication_region: str | None = _field(
        None, "Replicate the storage bucket to a DR bucket in this region (production)."
    )
    database_enabled: bool = _field(
        False, "PostgreSQL (RDS) for Open WebUI; required when the ASG can exceed 1 instance."
    )
    cache_enabled: bool = _field(
        False, "Redis (ElastiCache) for Open WebUI websockets; required above 1 instance."
    )
    database_instance_class: str = _field(
        "db.t4g.micro", "RDS instance class of the Open WebUI PostgreSQL database."
    )
    database_engine_version: str = _field(
        "16",
        "PostgreSQL major (or major.minor) version; 15-17 ship pgvector on RDS. A major alone "
        "lets RDS apply minor upgrades in the maintenance window.",
    )
    database_storage_gb: int = _field(20, "Allocated gp3 storage of the database in GiB.")
    database_max_storage_gb: int = _field(
        100, "Storage autoscaling ceiling in GiB (at least database_storage_gb)."
    )
    database_backup_retention_days: int = _field(
        7, "Days RDS keeps automated backups (point-in-time restore window), 1-35."
    )
    database_iam_auth: bool = _field(False, "Enable IAM database authentication on the database.")
    database_performance_insights: bool = _field(
        False, "Enable Performance Insights (7-day free tier) on the database."
    )
    cache_node_type: str = _field("cache.t4g.micro", "ElastiCache node type of the Valkey cache.")
    cache_engine_version: str = _field("8.0", "Valkey engine version of the cache (7.2 or 8.x).")

    _kms = field_validator("kms_key_arn")(classmethod(lambda cls, v: _check_kms_arn(v)))

    @field_validator("database_instance_class")
    @classmethod
    def _db_class(cls, value: str) -> str:
        if not re.match(r"^db\.[a-z0-9]+\.[a-z0-9]+$", value):
            raise ValueError("must be an RDS instance class such as db.t4g.micro or db.m7g.large")
        return value

    @field_validator("database_engine_version")
    @classmethod
    def _db_version(cls, value: str) -> str:
        m = re.match(r"^(\d+)(\.\d+)?$", value)
        if not m or not 15 <= int(m.group(1)) <= 17:
            raise ValueError(
                "must be PostgreSQL 15, 16 or 17 (optionally major.minor), the versions whose "
                "RDS builds include pgvector for VECTOR_DB; use 16"
            )
        return value

    @field_validator("database_storage_gb", "database_max_storage_gb")
    @classmethod
    def _db_storage(cls, value: int) -> int:
        if not 20 <= value <= 65536:
            raise ValueError("RDS gp3 storage must be 20-65536 GiB")
        return value

    @field_validator("database_backup_retention_days")
    @classmethod
    def _db_backups(cls, value: int) -> int:
        if not 1 <= value <= 35:
            raise ValueError("RDS keeps automated backups for 1-35 days; use 7")
        return value

    @field_validator("cache_node_type")
    @classmethod
    def _cache_node(cls, value: str) -> str:
        if not re.match(r"^cache\.[a-z0-9]+\.[a-z0-9]+$", value):
            raise ValueError("must be an ElastiCache node type such as cache.t4g.micro")
        return value

    @field_validator("cache_engine_version")
    @classmethod
    def _cache_version(cls, value: str) -> str:
        if not re.match(r"^(7\.2|8\.\d+)$", value):
            raise ValueError("must be a Valkey version: 7.2 or 8.x; use 8.0")
        return value

    @field_validator("storage_ia_after_days")
    @classmethod
    def _ia_days(cls, value: int) -> int:
        if value < 30:
            raise ValueError(
                "S3 moves objects to STANDARD_IA only after at least 30 days; use 30 or more"
            )
        return value

    @field_validator("replication_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not REGION_RE.match(value):
            raise ValueError("must be an AWS region such as us-west-2")
        return value

    @field_validator(
        "storage_ia_after_days", "storage_glacier_after_days", "noncurrent_version_expiry_days"
    )
    @classmethod
    def _days(cls, value: int) -> int:
        if not 1 <= value <= 3650:
            raise ValueError("must be 1-3650 days")
        return value


class ObservabilityConfig(_Model):
    """Logs, alarms and notifications."""

    log_retention_days: int = _field(30, "Retention of every log group (a CloudWatch value).")
    log_kms_key_arn: str | None = _field(None, "Optional KMS key ARN for the log groups.")
    alarm_emails: list[str] = _field([], "Emails subscribed to ollama-alerts-<env>.")
    billing_alarm_threshold_usd: float = _field(
        200.0, "Estimated monthly charges (USD) that trigger the billing alarm."
    )
    alerts_kms_key_arn: str | None = _field(
        None,
        "Customer managed KMS key (stack region) for the alerts topic; its policy must let "
        "cloudwatch.amazonaws.com use it. Unset creates a dedicated key (the AWS managed "
        "aws/sns key cannot be used by CloudWatch alarms).",
    )
    memory_alarm_percent: float = _field(80.0, "High-memory alarm: ASG average mem_used_percent.")
    alb_5xx_alarm_percent: float = _field(
        5.0, "ALB 5xx alarm: percent of requests answered with a 5xx (target or ALB)."
    )
    target_response_time_alarm_seconds: float = _field(
        30.0, "Target response time alarm: p90 of the ALB TargetResponseTime (time to headers)."
    )
    inference_latency_p90_alarm_seconds: int = _field(
        60,
        "Inference latency alarm: p90 of /api/generate and /api/chat durations; 1-59 s or a "
        "whole number of minutes (the metric filter matches Ollama's duration text).",
    )
    ollama_503_alarm_percent: float = _field(
        1.0, "Ollama 503 alarm: percent of inference requests rejected because the queue is full."
    )
    cloudfront_cache_hit_alarm_percent: float = _field(
        5.0, "CloudFront low cache hit alarm: CacheHitRate below this percent."
    )
    cloudfront_5xx_alarm_percent: float = _field(
        5.0, "CloudFront 5xx alarm: 5xxErrorRate above this percent."
    )
    rds_cpu_alarm_percent: float = _field(80.0, "Database CPU alarm (when the database exists).")
    rds_free_storage_alarm_gb: int = _field(
        2, "Database low storage alarm: FreeStorageSpace below this many GiB."
    )
    rds_connections_alarm: int = _field(
        80, "Database connections alarm: DatabaseConnections above this count."
    )

    _kms = field_validator("log_kms_key_arn", "alerts_kms_key_arn")(
        classmethod(lambda cls, v: _check_kms_arn(v))
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
    def _emails(cls, value: list[str]) -> list[str]:
        for email in value:
            check_email(email)
        if len({e.lower() for e in value}) != len(value):
            raise ValueError("list each address once (addresses are not case-sensitive)")
        return value

    @field_validator("billing_alarm_threshold_usd")
    @classmethod
    def _billing(cls, value: float) -> float:
        if not 1 <= value <= 1_000_000:
            raise ValueError("billing threshold must be 1-1,000,000 USD")
        return value

    @field_validator(
        "memory_alarm_percent",
        "alb_5xx_alarm_percent",
        "ollama_503_alarm_percent",
        "cloudfront_cache_hit_alarm_percent",
        "cloudfront_5xx_alarm_percent",
        "rds_cpu_alarm_percent",
    )
    @classmethod
    def _alarm_percent(cls, value: float) -> float:
        if not 0 < value < 100:
            raise ValueError("alarm percentages must be above 0 and below 100")
        return value

    @field_validator("target_response_time_alarm_seconds")
    @classmethod
    def _response_time(cls, value: float) -> float:
        if not 0 < value <= 4000:
            raise ValueError(
                "must be above 0 and at most 4000 s (the ALB idle timeout ceiling); use 30"
            )
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

    @field_validator("rds_free_storage_alarm_gb", "rds_connections_alarm")
    @classmethod
    def _rds_counts(cls, value: int) -> int:
        if not 1 <= value <= 65536:
            raise ValueError("must be 1-65536")
        return value


class BackupConfig(_Model):
    """AWS Backup plan for the table, the bucket and the database."""

    enabled: bool = _field(True, "Create the AWS Backup vault, plan and selection.")
    daily_retention_days: int = _field(7, "Retention of daily recovery points.")
    weekly_retention_days: int = _field(35, "Retention of weekly recovery points.")
    copy_region: str | None = _field(
        None, "Copy recovery points to a vault in this region (production DR)."
    )

    @field_validator("daily_retention_days", "weekly_retention_days")
    @classmethod
    def _days(cls, value: int) -> int:
        if not 1 <= value <= 36500:
            raise ValueError("retention must be 1-36500 days")
        return value

    @field_validator("copy_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not REGION_RE.match(value):
            raise ValueError("must be an AWS region such as us-west-2")
        return value


def check_model_name(model: str) -> str:
    """Reject model references that are not plain Ollama names (they end up in shell and URLs)."""
    if not MODEL_RE.match(model):
        raise ValueError(
            f"model '{model}' is not a valid Ollama model reference (name[:tag][@sha256:digest], "
            "lowercase, no spaces or shell characters); e.g. llama3.2:1b"
        )
    return model


def check_email(email: str) -> str:
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise ValueError(f"'{email}' is not a valid email address; use name@example.com")
    return email


# Config key (under the ollama: namespace) -> model. The order is the documentation order.
SECTIONS: dict[str, type[_Model]] = {
    "environment": EnvironmentConfig,
    "network": NetworkConfig,
    "edge": EdgeConfig,
    "ollama_api": OllamaApiConfig,
    "compute": ComputeConfig,
    "ollama": OllamaConfig,
    "webui": WebUIConfig,
    "data": DataConfig,
    "observability": ObservabilityConfig,
    "backup": BackupConfig,
}


@dataclass(frozen=True)
class StackConfig:
    """The whole validated configuration of one stack."""

    stack: str
    region: str
    environment: EnvironmentConfig
    network: NetworkConfig
    edge: EdgeConfig
    ollama_api: OllamaApiConfig
    compute: ComputeConfig
    ollama: OllamaConfig
    webui: WebUIConfig
    data: DataConfig
    observability: ObservabilityConfig
    backup: BackupConfig

    @property
    def env(self) -> str:
        return self.environment.name

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def deletion_protection(self) -> bool:
        """Table/database protection: explicit setting, else on outside dev."""
        flag = self.data.deletion_protection
        return self.env != "dev" if flag is None else flag

    @property
    def alb_deletion_protection(self) -> bool:
        flag = self.edge.deletion_protection
        return self.env != "dev" if flag is None else flag

    @property
    def waf_enabled(self) -> bool:
        flag = self.edge.waf_enabled
        return self.is_production if flag is None else flag


def _pydantic_issues(
    section: str, raw: Mapping[str, Any], exc: ValidationError
) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        key = f"{CONFIG_NAMESPACE}:{section}" + (f".{loc}" if loc else "")
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            known = ", ".join(SECTIONS[section].model_fields)
            rule, fix = "unknown key", f"remove it or use one of: {known}"
        elif "; " in msg and err["type"] == "value_error":
            rule, fix = msg.rsplit("; ", 1)
        else:
            rule, fix = msg, f"set a valid value ({DOCS_HINT})"
        issues.append(ConfigIssue(key=key, value=err.get("input"), rule=rule, fix=fix))
    return issues


def parse_config(stack: str, values: Mapping[str, Any]) -> StackConfig:
    """Build a validated StackConfig from a stack's config map.

    ``values`` maps full config keys (``ollama:network``, ``aws:region``) to values,
    structured values either as objects or as JSON strings (as the Pulumi runtime holds them).
    Raises ConfigError listing every problem.
    """
    issues: list[ConfigIssue] = []
    sections: dict[str, Any] = {}
    for key, value in values.items():
        namespace, _, name = key.partition(":")
        if namespace != CONFIG_NAMESPACE:
            continue
        if name not in SECTIONS:
            issues.append(
                ConfigIssue(
                    key=key,
                    value=value,
                    rule="unknown config key",
                    fix=f"use one of: {', '.join(f'{CONFIG_NAMESPACE}:{s}' for s in SECTIONS)}",
                )
            )
    region = values.get("aws:region")
    if not isinstance(region, str) or not REGION_RE.match(region):
        issues.append(
            ConfigIssue(
                key="aws:region",
                value=region,
                rule="the AWS region must be set",
                fix=f"run `pulumi config set aws:region us-east-1 --stack {stack}`",
            )
        )
        region = "us-east-1"
    for section, model in SECTIONS.items():
        raw = values.get(f"{CONFIG_NAMESPACE}:{section}", {})
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raw = None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            issues.append(
                ConfigIssue(
                    key=f"{CONFIG_NAMESPACE}:{section}",
                    value=raw,
                    rule="must be a mapping of keys to values",
                    fix="write it as a YAML mapping in the stack file",
                )
            )
            raw = {}
        if section == "environment":
            raw = {"name": stack, **raw}
        try:
            sections[section] = model.model_validate(raw)
        except ValidationError as exc:
            issues.extend(_pydantic_issues(section, raw, exc))
    if issues:
        raise ConfigError(stack, issues)
    cfg = StackConfig(stack=stack, region=region, **sections)
    issues = cross_checks(cfg)
    if issues:
        raise ConfigError(stack, issues)
    return cfg


def _issue(key: str, value: Any, rule: str, fix: str) -> ConfigIssue:
    return ConfigIssue(key=f"{CONFIG_NAMESPACE}:{key}", value=value, rule=rule, fix=fix)


def _network_checks(cfg: StackConfig) -> list[ConfigIssue]:
    net = cfg.network
    issues = []
    if not 2 <= net.az_count <= 3:
        return [_issue("network.az_count", net.az_count, "must be 2 or 3", "set az_count: 2")]
    vpc = ipaddress.ip_network(net.vpc_cidr)
    for field in ("public_subnet_cidrs", "private_subnet_cidrs"):
        given = getattr(net, field)
        if given is not None and len(given) != net.az_count:
            issues.append(
                _issue(
                    f"network.{field}",
                    given,
                    f"needs exactly one CIDR per AZ ({net.az_count})",
                    "list one CIDR per AZ or remove the key to derive them from vpc_cidr",
                )
            )
    if issues:
        return issues
    public, private = net.subnet_plan()
    seen: list[tuple[str, ipaddress.IPv4Network | ipaddress.IPv6Network]] = []
    for field, cidrs in (("public_subnet_cidrs", public), ("private_subnet_cidrs", private)):
        for cidr in cidrs:
            sub = ipaddress.ip_network(cidr)
            if not sub.subnet_of(vpc):  # type: ignore[arg-type]
                issues.append(
                    _issue(
                        f"network.{field}",
                        cidr,
                        f"subnet is not inside the VPC {net.vpc_cidr}",
                        "pick subnet CIDRs carved from vpc_cidr",
                    )
                )
            elif sub.prefixlen > 28:
                issues.append(
                    _issue(
                        f"network.{field}", cidr, "AWS subnets are /16 to /28", "use /28 or larger"
                    )
                )
            for other_field, other in seen:
                if sub.overlaps(other):
                    issues.append(
                        _issue(
                            f"network.{field}",
                            cidr,
                            f"overlaps {other} from network.{other_field}",
                            "give every subnet its own non-overlapping CIDR",
                        )
                    )
            seen.append((field, sub))
    return issues


def _compute_checks(cfg: StackConfig) -> list[ConfigIssue]:
    c = cfg.compute
    issues = []
    if not c.min_size <= c.desired_capacity <= c.max_size:
        issues.append(
            _issue(
                "compute.min_size",
                {
                    "min_size": c.min_size,
                    "desired_capacity": c.desired_capacity,
                    "max_size": c.max_size,
                },
                "must satisfy min_size <= desired_capacity <= max_size",
                "adjust the three capacity values",
            )
        )
    if c.max_size < 1:
        issues.append(
            _issue("compute.max_size", c.max_size, "must be at least 1", "set max_size: 1")
        )
    if c.scale_in_cpu_percent >= c.scale_out_cpu_percent:
        issues.append(
            _issue(
                "compute.scale_in_cpu_percent",
                c.scale_in_cpu_percent,
                f"must be below scale_out_cpu_percent ({c.scale_out_cpu_percent}) "
                "or the group flaps",
                "keep a gap, e.g. 30 and 40",
            )
        )
    family = c.instance_type.split(".")[0]
    if cfg.env != "dev" and family.startswith("t"):
        issues.append(
            _issue(
                "compute.instance_type",
                c.instance_type,
                "burstable T-family instances run out of CPU credits under sustained inference",
                "use a fixed-performance type such as m7i.2xlarge outside dev (see docs/SIZING.md)",
            )
        )
    if c.gpu_enabled and not re.match(r"^g[4-6][a-z]*\.", c.instance_type):
        issues.append(
            _issue(
                "compute.instance_type",
                c.instance_type,
                "gpu_enabled needs an NVIDIA GPU instance",
                "use a g5/g6 type such as g6.xlarge, or set gpu_enabled: false",
            )
        )
    if c.gpu_enabled and cfg.ollama.install_method != "script":
        issues.append(
            _issue(
                "ollama.install_method",
                cfg.ollama.install_method,
                "the GPU profile installs Ollama with the official script "
                "(the snap lacks CUDA libraries)",
                "set install_method: script",
            )
        )
    arm = re.match(r"^[a-z]+[0-9]+[a-z]*g[a-z]*\.", c.instance_type) is not None
    if c.ami_id is None and arm != ("/arm64/" in c.ubuntu_ami_parameter):
        issues.append(
            _issue(
                "compute.ubuntu_ami_parameter",
                c.ubuntu_ami_parameter,
                f"the AMI architecture does not match instance type {c.instance_type} "
                f"({'arm64' if arm else 'amd64'})",
                "use the Ubuntu parameter with /arm64/ for Graviton types and /amd64/ otherwise",
            )
        )
    if c.spot_instance_types and not c.spot_enabled:
        issues.append(
            _issue(
                "compute.spot_instance_types",
                c.spot_instance_types,
                "only used with Spot capacity",
                "set spot_enabled: true (dev) or remove spot_instance_types",
            )
        )
    models_dir = cfg.ollama.models_dir
    if cfg.ollama.install_method == "snap" and not models_dir.startswith("/var/snap/ollama/"):
        issues.append(
            _issue(
                "ollama.models_dir",
                models_dir,
                "the ollama snap is strictly confined and cannot write outside /var/snap/ollama",
                "set models_dir: /var/snap/ollama/common/models, or install_method: script",
            )
        )
    if c.spot_enabled and cfg.env != "dev":
        issues.append(
            _issue(
                "compute.spot_enabled",
                True,
                "Spot capacity can be reclaimed at two minutes' notice; allowed in dev only",
                "set spot_enabled: false",
            )
        )
    if (c.schedule_scale_down_cron is None) != (c.schedule_scale_up_cron is None):
        issues.append(
            _issue(
                "compute.schedule_scale_up_cron",
                c.schedule_scale_up_cron,
                "scale-down and scale-up schedules go together",
                "set both schedule_scale_down_cron and schedule_scale_up_cron, or neither",
            )
        )
    if c.ssh_enabled and (not c.ssh_admin_cidrs or not c.ssh_public_key):
        issues.append(
            _issue(
                "compute.ssh_enabled",
                True,
                "SSH needs ssh_admin_cidrs and ssh_public_key",
                "set both, or leave ssh_enabled false and use Session Manager",
            )
        )
    if c.max_size > 1 and not (cfg.data.database_enabled and cfg.data.cache_enabled):
        issues.append(
            _issue(
                "compute.max_size",
                c.max_size,
                "Open WebUI keeps users, chats and websocket sessions per instance unless it "
                "shares PostgreSQL and Redis; more than one instance without them breaks logins "
                "and live chats",
                "set data.database_enabled and data.cache_enabled to true, or max_size: 1",
            )
        )
    return issues


def _edge_checks(cfg: StackConfig) -> list[ConfigIssue]:
    e, api = cfg.edge, cfg.ollama_api
    issues = []
    if cfg.env != "dev" and e.certificate_arn is None:
        issues.append(
            _issue(
                "edge.certificate_arn",
                None,
                f"the {cfg.env} stack requires HTTPS at the ALB (only dev may reach its "
                "origin over plain HTTP)",
                "request an ACM certificate in the stack's region and set edge.certificate_arn; "
                "see docs/runbooks/deployment.md",
            )
        )
    if e.certificate_arn:
        cert_region = ACM_ARN_RE.match(e.certificate_arn).group(1)  # type: ignore[union-attr]
        if cert_region != cfg.region:
            issues.append(
                _issue(
                    "edge.certificate_arn",
                    e.certificate_arn,
                    f"ALB certificates must be in the stack's region ({cfg.region}), "
                    f"not {cert_region}",
                    f"request or import the certificate in {cfg.region}",
                )
            )
        if e.origin_domain_name is None:
            issues.append(
                _issue(
                    "edge.origin_domain_name",
                    None,
                    "with an ALB certificate CloudFront reaches the ALB over HTTPS and checks "
                    "the certificate against the origin's DNS name",
                    "create a DNS record the certificate covers (e.g. origin.ollama.example.com) "
                    "pointing at the ALB and set edge.origin_domain_name to it",
                )
            )
    elif e.origin_domain_name is not None:
        issues.append(
            _issue(
                "edge.origin_domain_name",
                e.origin_domain_name,
                "is only used for the HTTPS origin, which needs edge.certificate_arn",
                "set edge.certificate_arn, or remove edge.origin_domain_name",
            )
        )
    if e.cloudfront_certificate_arn:
        cert_region = ACM_ARN_RE.match(e.cloudfront_certificate_arn).group(1)  # type: ignore[union-attr]
        if cert_region != "us-east-1":
            issues.append(
                _issue(
                    "edge.cloudfront_certificate_arn",
                    e.cloudfront_certificate_arn,
                    "CloudFront only uses certificates from us-east-1",
                    "request the certificate in us-east-1",
                )
            )
        if not e.domain_aliases:
            issues.append(
                _issue(
                    "edge.domain_aliases",
                    [],
                    "a CloudFront certificate is only used with alternate domain names",
                    "list the domain names the certificate covers",
                )
            )
    elif e.domain_aliases:
        issues.append(
            _issue(
                "edge.cloudfront_certificate_arn",
                None,
                "CloudFront aliases need a certificate covering them",
                "set edge.cloudfront_certificate_arn (us-east-1)",
            )
        )
    if api.enabled:
        if not api.allowed_cidrs:
            issues.append(
                _issue(
                    "ollama_api.allowed_cidrs",
                    [],
                    "the API listener needs the client CIDRs it serves",
                    "list your clients' CIDRs",
                )
            )
        world = [c for c in api.allowed_cidrs if ipaddress.ip_network(c).prefixlen == 0]
        if world and not api.acknowledge_public_access:
            issues.append(
                _issue(
                    "ollama_api.allowed_cidrs",
                    api.allowed_cidrs,
                    "opens the Ollama API listener to the whole internet",
                    "list your clients' CIDRs, or set ollama_api.acknowledge_public_access: true",
                )
            )
        if api.port in (80, 443):
            issues.append(
                _issue(
                    "ollama_api.port",
                    api.port,
                    "collides with the ALB's HTTP/HTTPS listener",
                    "use another port such as 8443",
                )
            )
        if e.certificate_arn is None:
            issues.append(
                _issue(
                    "ollama_api.enabled",
                    True,
                    "the API listener is HTTPS-only and needs edge.certificate_arn",
                    "set edge.certificate_arn or disable the API listener",
                )
            )
    return issues


def _environment_checks(cfg: StackConfig) -> list[ConfigIssue]:
    issues = []
    if cfg.stack in ENVIRONMENTS and cfg.stack != cfg.env:
        issues.append(
            _issue(
                "environment.name",
                cfg.env,
                f"does not match the stack name '{cfg.stack}'",
                f"set environment.name: {cfg.stack} or remove the key",
            )
        )
    if cfg.is_production and cfg.network.nat_gateway_mode != "per_az":
        issues.append(
            _issue(
                "network.nat_gateway_mode",
                cfg.network.nat_gateway_mode,
                "a single NAT gateway makes one AZ a single point of failure for production",
                "set nat_gateway_mode: per_az",
            )
        )
    for role, name, kind in naming.all_names(cfg.env, "123456789012"):
        limit = naming.NAME_LIMITS[kind]
        if len(name) > limit:
            issues.append(
                _issue(
                    "environment.name",
                    cfg.env,
                    f"the {role} name '{name}' exceeds the AWS limit of {limit} characters",
                    "use a shorter environment name",
                )
            )
    if cfg.data.replication_region == cfg.region:
        issues.append(
            _issue(
                "data.replication_region",
                cfg.region,
                "replication to the same region gives no regional DR",
                "pick another region",
            )
        )
    if cfg.data.storage_glacier_after_days <= cfg.data.storage_ia_after_days:
        issues.append(
            _issue(
                "data.storage_glacier_after_days",
                cfg.data.storage_glacier_after_days,
                "Glacier transition must come after the Standard-IA transition",
                "set it above storage_ia_after_days",
            )
        )
    return issues


def _data_checks(cfg: StackConfig) -> list[ConfigIssue]:
    d = cfg.data
    issues = []
    if d.database_max_storage_gb < d.database_storage_gb:
        issues.append(
            _issue(
                "data.database_max_storage_gb",
                d.database_max_storage_gb,
                f"the autoscaling ceiling is below the allocated storage ({d.database_storage_gb})",
                "set it to at least database_storage_gb",
            )
        )
    if d.kms_key_arn and d.kms_key_arn.split(":")[3] != cfg.region:
        issues.append(
            _issue(
                "data.kms_key_arn",
                d.kms_key_arn,
                f"the table, bucket, secrets, database and cache need a key in the stack's "
                f"region ({cfg.region}); KMS keys are regional",
                f"create or pick a key in {cfg.region}, or remove kms_key_arn for AWS managed keys",
            )
        )
    return issues


def _observability_checks(cfg: StackConfig) -> list[ConfigIssue]:
    obs = cfg.observability
    issues = []
    # Log groups and the alerts topic are regional: their keys must be in the stack's region.
    for field in ("log_kms_key_arn", "alerts_kms_key_arn"):
        arn = getattr(obs, field)
        if arn is not None and arn.split(":")[3] != cfg.region:
            issues.append(
                _issue(
                    f"observability.{field}",
                    arn,
                    f"the key must be in the stack's region ({cfg.region})",
                    f"create or pick a KMS key in {cfg.region}, or remove the key",
                )
            )
    return issues


def cross_checks(cfg: StackConfig) -> list[ConfigIssue]:
    """Rules that involve more than one key or depend on the environment."""
    return (
        _environment_checks(cfg)
        + _network_checks(cfg)
        + _compute_checks(cfg)
        + _edge_checks(cfg)
        + _data_checks(cfg)
        + _observability_checks(cfg)
    )


def config_from_pulumi() -> StackConfig:
    """Read the running stack's config through the Pulumi runtime and validate it."""
    import pulumi

    from ollama_infra.pulumi_sdk import stack_config

    return parse_config(pulumi.get_stack(), stack_config())
