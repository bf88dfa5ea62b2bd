"""Field types, patterns and the friendly messages of the typed config.

Range and pattern rules are declared on the fields themselves (``Field(ge=, le=,
pattern=)``, ``IPv4Network``); what a user reads when one fails comes from ``MESSAGES``,
one table keyed by ``section.key``, so every message says the rule and the fix.
"""

from __future__ import annotations

import difflib
import functools
import re
import zoneinfo
from ipaddress import IPv4Network
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ollama_infra.versions import OLLAMA_VERSION, OPEN_WEBUI_VERSION

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


class Model(BaseModel):
    """A config section: frozen, no unknown keys, defaults validated too."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, regex_engine="python-re"
    )


def field(default: Any, description: str, **constraints: Any) -> Any:
    """A config key: its dev default, the description docs/configuration.md shows, its rules."""
    return Field(default, description=description, **constraints)


def check_model_name(model: str) -> str:
    """Reject model references that are not plain Ollama names (they end up in shell and URLs)."""
    if not MODEL_RE.match(model):
        raise ValueError(
            f"model '{model}' is not a valid Ollama model reference (name[:tag][@sha256:digest], "
            "lowercase, no spaces or shell characters); e.g. llama3.2:1b"
        )
    return model


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region in the endpoint data botocore ships (all partitions), read offline."""
    import boto3

    session = boto3.session.Session()
    return frozenset(
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    )


def closest(value: str, choices: Any, n: int = 3) -> str:
    """' (did you mean a, b?)' for the choices most like ``value``, or ''."""
    near = difflib.get_close_matches(value, sorted(choices), n=n, cutoff=0.6)
    return f" (did you mean {', '.join(near)}?)" if near else ""


def check_region(region: str) -> str:
    """A region name botocore knows; raises ValueError('rule; fix') otherwise."""
    if not REGION_RE.match(region) or region not in known_regions():
        raise ValueError(
            f"'{region}' is not an AWS region{closest(region, known_regions())}; "
            "use a region name such as us-east-1 or eu-west-1 (`aws ec2 describe-regions`)"
        )
    return region


MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# Unix cron fields as EC2 Auto Scaling reads Recurrence: (name, low, high, names for low..).
CRON_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 6, WEEKDAYS),  # 7 for Sunday is not in every cron dialect: use 0
)


def _cron_value(text: str, low: int, names: tuple[str, ...]) -> int:
    if text.upper() in names:
        return low + names.index(text.upper())
    if not text.isdigit():
        raise ValueError(text)
    return int(text)


def _cron_field_problem(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> str:
    for part in text.split(","):
        span, _, step = part.partition("/")
        try:
            if step and (not step.isdigit() or int(step) < 1):
                raise ValueError(step)
            if span != "*":
                first, _, last = span.partition("-")
                values = [_cron_value(v, low, names) for v in (first, last) if v]
                if any(not low <= v <= high for v in values) or values != sorted(values):
                    raise ValueError(span)
        except ValueError:
            return (
                f"the {name} field '{text}' is out of range or malformed: use {low}-{high}, "
                "'*', ranges a-b, lists a,b or steps */n"
            )
    return ""


def check_cron(expr: str) -> str:
    """A 5-field Unix cron expression with every field in range; ValueError('rule; fix')."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"'{expr}' has {len(fields)} field(s), not 5 (minute hour day-of-month month "
            "day-of-week); use e.g. '0 19 * * 1-5'"
        )
    for text, (name, low, high, names) in zip(fields, CRON_FIELDS, strict=True):
        problem = _cron_field_problem(text, name, low, high, names)
        if problem:
            raise ValueError(f"{problem}; use e.g. '0 19 * * 1-5'")
    return expr


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    """An IANA time zone name (e.g. Europe/Berlin); ValueError('rule; fix') otherwise.

    Without a time zone database on the machine nothing can be checked; then any name passes.
    """
    zones = _zones()
    if name != "UTC" and zones and name not in zones:
        raise ValueError(
            f"'{name}' is not an IANA time zone{closest(name, zones)}; "
            "use a name such as UTC, Europe/Berlin or America/New_York"
        )
    return name


def _pattern(regex: re.Pattern[str]) -> Any:
    return Field(pattern=regex.pattern)


def _not_world(cidr: IPv4Network) -> IPv4Network:
    if cidr.prefixlen == 0:
        raise ValueError("SSH from the whole internet is not allowed; use your admin CIDR")
    return cidr


# Reusable field types; their messages are in MESSAGES under each key that uses them.
AcmArn = Annotated[str, _pattern(ACM_ARN_RE)]
KmsArn = Annotated[str, _pattern(KMS_ARN_RE)]
Region = Annotated[str, AfterValidator(check_region)]
InstanceType = Annotated[str, _pattern(INSTANCE_TYPE_RE)]
Email = Annotated[str, _pattern(EMAIL_RE), Field(max_length=254)]
DnsName = Annotated[str, _pattern(DNS_NAME_RE)]
WildcardDnsName = Annotated[str, Field(pattern=r"^(\*\.)?" + DNS_NAME_RE.pattern.lstrip("^"))]
Cron = Annotated[
    str,
    Field(pattern=r"^\s*" + CRON_RE.pattern.strip("^$") + r"\s*$"),
    AfterValidator(check_cron),
]
TimeZone = Annotated[str, AfterValidator(check_timezone)]
AdminCidr = Annotated[IPv4Network, AfterValidator(_not_world)]

CIDR = "must be an IPv4 network in CIDR notation with no host bits set; use e.g. 10.20.0.0/16"
ACM_ARN = (
    "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>); "
    "copy it from `aws acm list-certificates`"
)
KMS_ARN = (
    "must be a KMS key or alias ARN (arn:aws:kms:<region>:<account>:key/<id>); "
    "leave it unset to use the AWS managed key"
)
EMAIL = "must be a valid email address; use name@example.com"
CAPACITY = "capacity must be 0-100"
ALARM_PERCENT = "alarm percentages must be above 0 and below 100"
DAYS = "must be 1-3650 days"

# section.key -> "rule; fix": what a user reads when a key breaks its declared rule.
MESSAGES: dict[str, str] = {
    "auth.issuer_url": "must be an https URL without query, e.g. https://login.example.com/realms/x",
    "auth.client_id": "must be 1-256 letters, digits or ._:/-; copy it from the provider",
    "auth.client_secret_arn": (
        "must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:"
        "secret:<name>); store the client secret there and give its ARN, never the secret"
    ),
    "auth.allowed_email_domains": "must be lowercase DNS names; use e.g. example.com",
    "auth.groups_claim": "must be a claim name such as cognito:groups or groups",
    "auth.admin_group": "group names are 1-128 letters, digits or ._-; use ollama-admins",
    "auth.user_group": "group names are 1-128 letters, digits or ._-; use ollama-users",
    "auth.identity_providers": (
        "provider names are 1-32 letters, digits or ._- (not COGNITO); use the name given "
        "to the provider in the pool, e.g. EntraID"
    ),
    "environment.owner": "tag values must be 1-256 characters",
    "environment.cost_center": "tag values must be 1-256 characters",
    "network.vpc_cidr": CIDR,
    "network.az_count": "must be 2 or 3; set az_count: 2",
    "network.public_subnet_cidrs": CIDR,
    "network.private_subnet_cidrs": CIDR,
    "edge.certificate_arn": ACM_ARN,
    "edge.cloudfront_certificate_arn": ACM_ARN,
    "edge.domain_aliases": "must be lowercase DNS names; use e.g. chat.example.com",
    "edge.alb_idle_timeout_seconds": (
        "ALB idle timeout must be 60-4000 s; use 900 for long generations"
    ),
    "edge.deregistration_delay_seconds": "deregistration delay must be 0-3600 s",
    "edge.waf_rate_limit_per_5min": (
        "WAF rate limits must be 10-2,000,000,000 requests per 5 minutes"
    ),
    "edge.origin_domain_name": (
        "must be a lowercase DNS name such as origin.ollama.example.com; "
        "use the record you point at the ALB"
    ),
    "edge.access_log_retention_days": ("must be 1-3650 days; 90 keeps a quarter of access logs"),
    "ollama_api.port": "port must be 1-65535",
    "ollama_api.allowed_cidrs": CIDR,
    "compute.instance_type": (
        "must be an EC2 instance type; use e.g. t3.xlarge, m7i.2xlarge or g6.xlarge"
    ),
    "compute.min_size": CAPACITY,
    "compute.max_size": CAPACITY,
    "compute.desired_capacity": CAPACITY,
    "compute.root_volume_size_gb": ("root volume must be 20-16384 GiB; models need room, use 60+"),
    "compute.ami_id": "must be an AMI id; use e.g. ami-0123456789abcdef0",
    "compute.ssh_admin_cidrs": CIDR,
    "compute.health_check_grace_period_seconds": (
        "grace period must be 300-7200 s: boot plus model pull takes minutes"
    ),
    "compute.scale_out_cpu_percent": "CPU thresholds must be 1-99 percent",
    "compute.scale_in_cpu_percent": "CPU thresholds must be 1-99 percent",
    "compute.scaling_cooldown_seconds": "must be 0-3600 s; 300 suits a booted instance",
    "compute.requests_per_target": (
        "must be 1-100000 requests per target per minute, or unset to disable; "
        "measure it with the load test"
    ),
    "compute.spot_instance_types": "is not an EC2 instance type; use e.g. t3a.xlarge",
    "compute.gpu_target_utilization_percent": (
        "GPU utilization target must be 10-95 percent; 70 leaves headroom for bursts"
    ),
    "compute.refresh_checkpoint_delay_seconds": (
        "checkpoint delay must be 0-172800 s (AWS's limit); 900 gives the alarms 15 minutes"
    ),
    "compute.schedule_scale_down_cron": (
        "must be a 5-field cron expression; use e.g. '0 19 * * 1-5'"
    ),
    "compute.schedule_scale_up_cron": "must be a 5-field cron expression; use e.g. '0 7 * * 1-5'",
    "ollama.version": f"must be an exact version; use e.g. {OLLAMA_VERSION} (never 'latest')",
    "ollama.num_parallel": "num_parallel must be 1-64",
    "ollama.max_queue": "max_queue must be 1-100000",
    "ollama.keep_alive": "must be a duration; use e.g. 30m, 1h, 0 or -1 (forever)",
    "ollama.models_dir": "must be an absolute path without spaces or shell characters",
    "webui.image": "must be an image repository; use e.g. ghcr.io/open-webui/open-webui",
    "webui.version": (
        f"must be a pinned release tag; use e.g. {OPEN_WEBUI_VERSION} (not latest/main/dev)"
    ),
    "webui.digest": "must be sha256:<64 hex characters>",
    "webui.admin_email": EMAIL,
    "webui.model_access_group": (
        "must be 2-64 letters, digits, spaces or ._- (starting and ending with a letter or "
        "digit), the name of an Open WebUI group, e.g. users"
    ),
    "data.kms_key_arn": KMS_ARN,
    "data.storage_ia_after_days": (
        "S3 moves objects to STANDARD_IA only after at least 30 days (and at most 3650); "
        "use 30 or more"
    ),
    "data.storage_glacier_after_days": DAYS,
    "data.noncurrent_version_expiry_days": DAYS,
    "data.database_instance_class": (
        "must be an RDS instance class; use e.g. db.t4g.micro or db.m7g.large"
    ),
    "data.database_engine_version": (
        "must be PostgreSQL 15, 16 or 17 (optionally major.minor), the versions whose "
        "RDS builds include pgvector for VECTOR_DB; use 16"
    ),
    "data.database_storage_gb": "RDS gp3 storage must be 20-65536 GiB",
    "data.database_max_storage_gb": "RDS gp3 storage must be 20-65536 GiB",
    "data.database_backup_retention_days": "RDS keeps automated backups for 1-35 days; use 7",
    "data.secret_rotation_days": (
        "the database login rotates every 2-365 days (Secrets Manager; the previous login stays "
        "valid one more interval while the instances follow); use 30"
    ),
    "data.database_slow_statement_ms": (
        "must be 0-3600000 ms; 1000 logs statements slower than a second (0 logs every one)"
    ),
    "data.cache_node_type": "must be an ElastiCache node type; use e.g. cache.t4g.micro",
    "data.cache_engine_version": "must be a Valkey version: 7.2 or 8.x; use 8.0",
    "observability.log_kms_key_arn": KMS_ARN,
    "observability.alerts_kms_key_arn": KMS_ARN,
    "observability.alarm_emails": EMAIL,
    "observability.billing_alarm_threshold_usd": "billing threshold must be 1-1,000,000 USD",
    "observability.memory_alarm_percent": ALARM_PERCENT,
    "observability.gpu_memory_alarm_percent": ALARM_PERCENT,
    "observability.budget_limit_usd": (
        "budget limit must be 1-1,000,000 USD per month, or unset for the cost estimate"
    ),
    "observability.alb_5xx_alarm_percent": ALARM_PERCENT,
    "observability.ollama_503_alarm_percent": ALARM_PERCENT,
    "observability.cloudfront_cache_hit_alarm_percent": ALARM_PERCENT,
    "observability.cloudfront_5xx_alarm_percent": ALARM_PERCENT,
    "observability.rds_cpu_alarm_percent": ALARM_PERCENT,
    "observability.target_response_time_alarm_seconds": (
        "must be above 0 and at most 4000 s (the ALB idle timeout ceiling); use 30"
    ),
    "observability.rds_free_storage_alarm_gb": "must be 1-65536",
    "observability.rds_connections_alarm": "must be 1-65536",
    "backup.daily_retention_days": "retention must be 1-36500 days",
    "backup.weekly_retention_days": "retention must be 1-36500 days",
    "cost.data_out_gb": "must be 0-10,000,000 (an amount the estimate assumes); use 20",
    "cost.requests_millions": "must be 0-1,000,000 (an amount the estimate assumes); use 1",
    "cost.nat_processed_gb": "must be 0-10,000,000 (an amount the estimate assumes); use 30",
    "cost.endpoint_processed_gb": "must be 0-1,000,000 (an amount the estimate assumes); use 5",
    "cost.alb_lcu": "must be 0-100,000 (an amount the estimate assumes); use 1",
    "cost.log_ingest_gb": "must be 0-1,000,000 (an amount the estimate assumes); use 5",
    "cost.storage_gb": "must be 0-10,000,000 (an amount the estimate assumes); use 10",
    "cost.access_log_gb": "must be 0-10,000,000 (an amount the estimate assumes); use 5",
    "cost.replication_gb": "must be 0-10,000,000 (an amount the estimate assumes); use 2",
    "cost.table_gb": "must be 0-1,000,000 (an amount the estimate assumes); use 1",
    "cost.table_reads_millions": "must be 0-1,000,000 (an amount the estimate assumes); use 1",
    "cost.table_writes_millions": "must be 0-1,000,000 (an amount the estimate assumes); use 0.1",
    "cost.backup_gb": "must be 0-10,000,000 (an amount the estimate assumes); use 20",
    "cost.backup_copy_gb": "must be 0-10,000,000 (an amount the estimate assumes); use 5",
    "cost.spot_discount_percent": "must be 0-95 (%); use 65",
}
