"""Rules that involve more than one key or depend on the environment.

Each rule is a small function that yields the issues it finds; ``cross_checks`` runs them
all, so one run reports every problem of the stack file.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Iterator
from ipaddress import IPv4Network
from typing import Any, cast

from pydantic import BaseModel

from ollama_infra import naming, versions
from ollama_infra.config.fields import ENVIRONMENTS
from ollama_infra.config.sections import SECTIONS
from ollama_infra.config.stack import ConfigIssue, StackConfig, issue
from ollama_infra.config.stackname import parse_stack_name

Rule = Callable[[StackConfig], Iterator[ConfigIssue]]
RULES: list[Rule] = []
WARNINGS: list[Rule] = []

# The account id AWS documentation uses in examples, and the one the repository's stack
# files carry in their placeholder ARNs.
EXAMPLE_ACCOUNT_ID = "123456789012"
PRIVATE_RANGES = tuple(IPv4Network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def warning(fn: Rule) -> Rule:
    """A rule whose findings are worth a look but do not stop a deployment."""
    WARNINGS.append(fn)
    return fn


class _Reads:
    """Stands in for a config object and records the keys (``section.key``) a rule reads."""

    def __init__(self, target: Any, prefix: str, log: set[str]) -> None:
        self._target, self._prefix, self._log = target, prefix, log

    def __getattr__(self, name: str) -> Any:
        static = inspect.getattr_static(type(self._target), name, None)
        if isinstance(static, property):  # e.g. StackConfig.env reads environment.name
            return static.__get__(self)
        if inspect.isfunction(static):  # e.g. NetworkConfig.subnet_plan reads its fields
            return types.MethodType(static, self)
        value = getattr(self._target, name)
        self._log.add(f"{self._prefix}{name}")
        return _Reads(value, f"{name}.", self._log) if isinstance(value, BaseModel) else value


def cross_checks(cfg: StackConfig, substituted: frozenset[str] = frozenset()) -> list[ConfigIssue]:
    """Every cross-key problem of ``cfg``, in rule order.

    ``substituted`` names keys (``compute.min_size``, ``region``) whose invalid values were
    replaced by defaults; a rule that reads one of them is not reported.
    """
    found: list[ConfigIssue] = []
    for check in RULES:
        reads: set[str] = set()
        issues = list(check(cast(StackConfig, _Reads(cfg, "", reads))))
        if not reads & substituted:
            found += issues
    return found


def config_warnings(cfg: StackConfig) -> list[ConfigIssue]:
    """Findings that do not stop a deployment (the plan and `pulumi preview` print them)."""
    return [found for check in WARNINGS for found in check(cfg)]


def _region_of(arn: str) -> str:
    return arn.split(":")[3]


# ---------------------------------------------------------------- environment


@rule
def stack_name_matches(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.stack in ENVIRONMENTS and cfg.stack != cfg.env:
        yield issue(
            "environment.name",
            cfg.env,
            f"does not match the stack name '{cfg.stack}'",
            f"set environment.name: {cfg.stack} or remove the key",
        )


@rule
def dr_stack_names_its_primary(cfg: StackConfig) -> Iterator[ConfigIssue]:
    """A DR stack says which primary it copies; the name, environment and region agree."""
    parsed = parse_stack_name(cfg.stack)
    primary = cfg.environment.primary
    if not parsed.is_dr:
        if primary is not None:
            yield issue(
                "environment.primary",
                primary,
                f"only DR stacks (named <env>-<region>) copy a primary; '{cfg.stack}' is not one",
                "remove environment.primary, or name the stack <env>-<region> "
                "(see docs/environments.md)",
            )
        return
    if primary != parsed.env:
        yield issue(
            "environment.primary",
            primary,
            f"the DR stack '{cfg.stack}' copies the primary stack '{parsed.env}'",
            f"set environment.primary: {parsed.env}",
        )
    if cfg.env != parsed.env:
        yield issue(
            "environment.name",
            cfg.env,
            f"a DR stack has its primary's environment ('{parsed.env}' for '{cfg.stack}')",
            f"set environment.name: {parsed.env}",
        )
    if cfg.region != parsed.dr_region:
        yield ConfigIssue(
            key="aws:region",
            value=cfg.region,
            rule=f"the DR stack '{cfg.stack}' is named after its region {parsed.dr_region}",
            fix=f"set aws:region: {parsed.dr_region}, or name the stack {parsed.env}-{cfg.region}",
        )


@rule
def production_nat_per_az(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.is_production and cfg.network.nat_gateway_mode != "per_az":
        yield issue(
            "network.nat_gateway_mode",
            cfg.network.nat_gateway_mode,
            "a single NAT gateway makes one AZ a single point of failure for production",
            "set nat_gateway_mode: per_az",
        )


# checkov CKV_AWS_338; dev and staging may keep less (docs/SECURITY.md, accepted findings).
PRODUCTION_LOG_RETENTION_DAYS = 365


@rule
def production_keeps_logs_a_year(cfg: StackConfig) -> Iterator[ConfigIssue]:
    days = cfg.observability.log_retention_days
    if cfg.is_production and days < PRODUCTION_LOG_RETENTION_DAYS:
        yield issue(
            "observability.log_retention_days",
            days,
            "production must keep its logs for at least a year (security reviews and "
            "incident investigations reach back that far)",
            f"set log_retention_days: {PRODUCTION_LOG_RETENTION_DAYS} (or a longer CloudWatch "
            "value such as 400, 545 or 731)",
        )


# checkov CKV_AWS_378; dev and staging may stay on HTTP (docs/SECURITY.md, accepted findings).
@rule
def production_encrypts_alb_to_instance(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.is_production and not cfg.backend_tls:
        yield issue(
            "edge.backend_tls",
            cfg.edge.backend_tls,
            "production must encrypt the hop from the ALB to the instances",
            "remove edge.backend_tls (it defaults to true in production) or set it to true",
        )


@rule
def names_fit_aws_limits(cfg: StackConfig) -> Iterator[ConfigIssue]:
    for role, name, kind in naming.all_names(cfg.name_suffix, "123456789012"):
        limit = naming.NAME_LIMITS[kind]
        if len(name) > limit:
            yield issue(
                "environment.name",
                cfg.env,
                f"the {role} name '{name}' exceeds the AWS limit of {limit} characters",
                "use a shorter environment name (a DR stack: a region with a shorter code)",
            )


@rule
def replication_leaves_the_region(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.data.replication_region == cfg.region:
        yield issue(
            "data.replication_region",
            cfg.region,
            "replication to the same region gives no regional DR",
            "pick another region",
        )


@rule
def glacier_after_ia(cfg: StackConfig) -> Iterator[ConfigIssue]:
    d = cfg.data
    if d.storage_glacier_after_days <= d.storage_ia_after_days:
        yield issue(
            "data.storage_glacier_after_days",
            d.storage_glacier_after_days,
            "Glacier transition must come after the Standard-IA transition",
            "set it above storage_ia_after_days",
        )


# ---------------------------------------------------------------- network


@rule
def subnets_fit_the_vpc(cfg: StackConfig) -> Iterator[ConfigIssue]:
    net = cfg.network
    counts_ok = True
    for key in ("public_subnet_cidrs", "private_subnet_cidrs"):
        given = getattr(net, key)
        if given is not None and len(given) != net.az_count:
            counts_ok = False
            yield issue(
                f"network.{key}",
                [str(c) for c in given],
                f"needs exactly one CIDR per AZ ({net.az_count})",
                "list one CIDR per AZ or remove the key to derive them from vpc_cidr",
            )
    if not counts_ok:
        return
    public, private = net.subnet_plan()
    seen: list[tuple[str, str]] = []
    for key, cidrs in (("public_subnet_cidrs", public), ("private_subnet_cidrs", private)):
        for cidr in cidrs:
            yield from _subnet_issues(cfg, key, cidr, seen)
            seen.append((key, cidr))


def _subnet_issues(
    cfg: StackConfig, key: str, cidr: str, seen: list[tuple[str, str]]
) -> Iterator[ConfigIssue]:
    vpc, sub = cfg.network.vpc_cidr, IPv4Network(cidr)
    if not sub.subnet_of(vpc):
        yield issue(
            f"network.{key}",
            cidr,
            f"subnet is not inside the VPC {vpc}",
            "pick subnet CIDRs carved from vpc_cidr",
        )
    elif sub.prefixlen > 28:
        yield issue(f"network.{key}", cidr, "AWS subnets are /16 to /28", "use /28 or larger")
    for other_key, other in seen:
        if sub.overlaps(IPv4Network(other)):
            yield issue(
                f"network.{key}",
                cidr,
                f"overlaps {other} from network.{other_key}",
                "give every subnet its own non-overlapping CIDR",
            )


# ---------------------------------------------------------------- compute


@rule
def capacity_is_ordered(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    if not c.min_size <= c.desired_capacity <= c.max_size:
        sizes = {
            "min_size": c.min_size,
            "desired_capacity": c.desired_capacity,
            "max_size": c.max_size,
        }
        yield issue(
            "compute.min_size",
            sizes,
            "must satisfy min_size <= desired_capacity <= max_size",
            "adjust the three capacity values",
        )
    if c.max_size < 1:
        yield issue("compute.max_size", c.max_size, "must be at least 1", "set max_size: 1")


@rule
def scaling_thresholds_have_a_gap(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    if c.scale_in_cpu_percent >= c.scale_out_cpu_percent:
        yield issue(
            "compute.scale_in_cpu_percent",
            c.scale_in_cpu_percent,
            f"must be below scale_out_cpu_percent ({c.scale_out_cpu_percent}) or the group flaps",
            "keep a gap, e.g. 30 and 40",
        )


@rule
def instance_type_suits_the_environment(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    if cfg.env != "dev" and c.instance_type.split(".")[0].startswith("t"):
        yield issue(
            "compute.instance_type",
            c.instance_type,
            "burstable T-family instances run out of CPU credits under sustained inference",
            "use a fixed-performance type such as m7i.2xlarge outside dev (see docs/SIZING.md)",
        )
    if c.gpu_enabled and not re.match(r"^g[4-6][a-z]*\.", c.instance_type):
        yield issue(
            "compute.instance_type",
            c.instance_type,
            "gpu_enabled needs an NVIDIA GPU instance",
            "use a g5/g6 type such as g6.xlarge, or set gpu_enabled: false",
        )
    if c.gpu_enabled and cfg.ollama.install_method == "snap" and c.ami_id is None:
        # The snap ships Ollama's CUDA libraries and reaches the GPU through its opengl plug,
        # but installs no NVIDIA driver; the install script does (docs/UPSTREAM.md).
        yield issue(
            "ollama.install_method",
            cfg.ollama.install_method,
            "the snap brings CUDA libraries but no NVIDIA driver, and the stock Ubuntu image "
            "has none",
            "set install_method: script (it installs the driver), or set compute.ami_id to "
            "an image with the NVIDIA driver",
        )


@rule
def gpu_scaling_needs_gpus(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    if c.scaling_metric == "gpu" and not c.gpu_enabled:
        yield issue(
            "compute.scaling_metric",
            c.scaling_metric,
            "GPU utilization is only collected on the GPU profile",
            "set compute.gpu_enabled: true (a g5/g6 type), or scaling_metric: cpu",
        )
    if c.scaling_metric == "gpu" and c.requests_per_target is not None:
        yield issue(
            "compute.requests_per_target",
            c.requests_per_target,
            "two target-tracking policies (GPU and requests) would fight over the capacity",
            "remove requests_per_target or set scaling_metric: cpu",
        )


@rule
def refresh_checkpoints_are_valid(cfg: StackConfig) -> Iterator[ConfigIssue]:
    points = cfg.compute.refresh_checkpoint_percentages
    if points is None:
        return
    ordered = all(1 <= p <= 100 for p in points) and points == sorted(set(points))
    if not points or not ordered or points[-1] != 100:
        yield issue(
            "compute.refresh_checkpoint_percentages",
            points,
            "checkpoints must be unique percentages (1-100) in ascending order ending with "
            "100, or the refresh never replaces the whole group",
            "use e.g. [50, 100], or remove the key",
        )


@rule
def ami_matches_the_architecture(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    arm = re.match(r"^[a-z]+[0-9]+[a-z]*g[a-z]*\.", c.instance_type) is not None
    if c.ami_id is None and arm != ("/arm64/" in c.ubuntu_ami_parameter):
        yield issue(
            "compute.ubuntu_ami_parameter",
            c.ubuntu_ami_parameter,
            f"the AMI architecture does not match instance type {c.instance_type} "
            f"({'arm64' if arm else 'amd64'})",
            "use the Ubuntu parameter with /arm64/ for Graviton types and /amd64/ otherwise",
        )


@rule
def spot_only_in_dev(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    if c.spot_instance_types and not c.spot_enabled:
        yield issue(
            "compute.spot_instance_types",
            c.spot_instance_types,
            "only used with Spot capacity",
            "set spot_enabled: true (dev) or remove spot_instance_types",
        )
    if c.spot_enabled and cfg.env != "dev":
        yield issue(
            "compute.spot_enabled",
            True,
            "Spot capacity can be reclaimed at two minutes' notice; allowed in dev only",
            "set spot_enabled: false",
        )


@rule
def snap_models_dir_is_writable(cfg: StackConfig) -> Iterator[ConfigIssue]:
    models_dir = cfg.ollama.models_dir
    if cfg.ollama.install_method == "snap" and not models_dir.startswith("/var/snap/ollama/"):
        yield issue(
            "ollama.models_dir",
            models_dir,
            "the ollama snap is strictly confined and cannot write outside /var/snap/ollama",
            "set models_dir: /var/snap/ollama/common/models, or install_method: script",
        )


@rule
def ollama_logs_the_filtered_format(cfg: StackConfig) -> Iterator[ConfigIssue]:
    version = cfg.ollama.version
    if versions.version_tuple(version) < versions.version_tuple(versions.OLLAMA_MIN_VERSION):
        yield issue(
            "ollama.version",
            version,
            f"is older than {versions.OLLAMA_MIN_VERSION}, whose model-load log line the "
            "metric filters parse (older versions leave ModelLoadTime empty)",
            f"use {versions.OLLAMA_VERSION} (docs/UPSTREAM.md lists the checked versions)",
        )


@rule
def model_access_needs_the_headless_admin(cfg: StackConfig) -> Iterator[ConfigIssue]:
    access = cfg.webui.model_access
    if cfg.oidc and access in ("group", "public"):
        yield issue(
            "webui.model_access",
            access,
            "needs the headless admin the boot signs in with to grant models, and auth.mode "
            "oidc has none (the login form and local passwords are off)",
            "use admin-only (or remove the key) and grant the models to your groups in Open "
            "WebUI's Admin Panel > Settings > Models (see docs/api-access.md)",
        )


@rule
def schedules_come_in_pairs(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    if (c.schedule_scale_down_cron is None) != (c.schedule_scale_up_cron is None):
        yield issue(
            "compute.schedule_scale_up_cron",
            c.schedule_scale_up_cron,
            "scale-down and scale-up schedules go together",
            "set both schedule_scale_down_cron and schedule_scale_up_cron, or neither",
        )


@rule
def ssh_has_cidrs_and_a_key(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    if c.ssh_enabled and (not c.ssh_admin_cidrs or not c.ssh_public_key):
        yield issue(
            "compute.ssh_enabled",
            True,
            "SSH needs ssh_admin_cidrs and ssh_public_key",
            "set both, or leave ssh_enabled false and use Session Manager",
        )


@rule
def several_instances_share_state(cfg: StackConfig) -> Iterator[ConfigIssue]:
    c = cfg.compute
    if c.max_size > 1 and not (cfg.data.database_enabled and cfg.data.cache_enabled):
        yield issue(
            "compute.max_size",
            c.max_size,
            "Open WebUI keeps users, chats and websocket sessions per instance unless it "
            "shares PostgreSQL and Redis; more than one instance without them breaks logins "
            "and live chats",
            "set data.database_enabled and data.cache_enabled to true, or max_size: 1",
        )


# ---------------------------------------------------------------- edge


@rule
def alb_certificate(cfg: StackConfig) -> Iterator[ConfigIssue]:
    e = cfg.edge
    if cfg.env != "dev" and e.certificate_arn is None:
        yield issue(
            "edge.certificate_arn",
            None,
            f"the {cfg.env} stack requires HTTPS at the ALB (only dev may reach its "
            "origin over plain HTTP)",
            "request an ACM certificate in the stack's region and set edge.certificate_arn; "
            "see docs/runbooks/deployment.md",
        )
    if e.certificate_arn:
        cert_region = _region_of(e.certificate_arn)
        if cert_region != cfg.region:
            yield issue(
                "edge.certificate_arn",
                e.certificate_arn,
                f"ALB certificates must be in the stack's region ({cfg.region}), not {cert_region}",
                f"request or import the certificate in {cfg.region}",
            )
        if e.origin_domain_name is None:
            yield issue(
                "edge.origin_domain_name",
                None,
                "with an ALB certificate CloudFront reaches the ALB over HTTPS and checks "
                "the certificate against the origin's DNS name",
                "create a DNS record the certificate covers (e.g. origin.ollama.example.com) "
                "pointing at the ALB and set edge.origin_domain_name to it",
            )
    elif e.origin_domain_name is not None:
        yield issue(
            "edge.origin_domain_name",
            e.origin_domain_name,
            "is only used for the HTTPS origin, which needs edge.certificate_arn",
            "set edge.certificate_arn, or remove edge.origin_domain_name",
        )


@rule
def cloudfront_aliases(cfg: StackConfig) -> Iterator[ConfigIssue]:
    e = cfg.edge
    if e.cloudfront_certificate_arn:
        if _region_of(e.cloudfront_certificate_arn) != "us-east-1":
            yield issue(
                "edge.cloudfront_certificate_arn",
                e.cloudfront_certificate_arn,
                "CloudFront only uses certificates from us-east-1",
                "request the certificate in us-east-1",
            )
        if not e.domain_aliases:
            yield issue(
                "edge.domain_aliases",
                [],
                "a CloudFront certificate is only used with alternate domain names",
                "list the domain names the certificate covers",
            )
    elif e.domain_aliases:
        yield issue(
            "edge.cloudfront_certificate_arn",
            None,
            "CloudFront aliases need a certificate covering them",
            "set edge.cloudfront_certificate_arn (us-east-1)",
        )


@rule
def api_listener(cfg: StackConfig) -> Iterator[ConfigIssue]:
    api = cfg.ollama_api
    if not api.enabled:
        return
    cidrs = [str(c) for c in api.allowed_cidrs]
    if not cidrs:
        yield issue(
            "ollama_api.allowed_cidrs",
            [],
            "the API listener needs the client CIDRs it serves",
            "list your clients' CIDRs",
        )
    if any(c.prefixlen == 0 for c in api.allowed_cidrs) and not api.acknowledge_public_access:
        yield issue(
            "ollama_api.allowed_cidrs",
            cidrs,
            "opens the Ollama API listener to the whole internet",
            "list your clients' CIDRs, or set ollama_api.acknowledge_public_access: true",
        )
    if api.port in (80, 443):
        yield issue(
            "ollama_api.port",
            api.port,
            "collides with the ALB's HTTP/HTTPS listener",
            "use another port such as 8443",
        )
    if cfg.edge.certificate_arn is None:
        yield issue(
            "ollama_api.enabled",
            True,
            "the API listener is HTTPS-only and needs edge.certificate_arn",
            "set edge.certificate_arn or disable the API listener",
        )


# ---------------------------------------------------------------- data and observability


@rule
def database_storage_ceiling(cfg: StackConfig) -> Iterator[ConfigIssue]:
    d = cfg.data
    if d.database_max_storage_gb < d.database_storage_gb:
        yield issue(
            "data.database_max_storage_gb",
            d.database_max_storage_gb,
            f"the autoscaling ceiling is below the allocated storage ({d.database_storage_gb})",
            "set it to at least database_storage_gb",
        )


@rule
def keys_are_in_the_stack_region(cfg: StackConfig) -> Iterator[ConfigIssue]:
    # KMS keys are regional; the data key also encrypts secrets, database and cache.
    d = cfg.data
    if d.kms_key_arn and _region_of(d.kms_key_arn) != cfg.region:
        yield issue(
            "data.kms_key_arn",
            d.kms_key_arn,
            f"the table, bucket, secrets, database and cache need a key in the stack's "
            f"region ({cfg.region}); KMS keys are regional",
            f"create or pick a key in {cfg.region}, or remove kms_key_arn for AWS managed keys",
        )
    # Log groups and the alerts topic are regional: their keys must be in the stack's region.
    for key in ("log_kms_key_arn", "alerts_kms_key_arn"):
        arn = getattr(cfg.observability, key)
        if arn is not None and _region_of(arn) != cfg.region:
            yield issue(
                f"observability.{key}",
                arn,
                f"the key must be in the stack's region ({cfg.region})",
                f"create or pick a KMS key in {cfg.region}, or remove the key",
            )


# ---------------------------------------------------------------- warnings and placeholders


@warning
def vpc_range_is_private(cfg: StackConfig) -> Iterator[ConfigIssue]:
    vpc = cfg.network.vpc_cidr
    if not any(vpc.subnet_of(private) for private in PRIVATE_RANGES):
        yield issue(
            "network.vpc_cidr",
            str(vpc),
            "is a public (internet-routable) range: instances could not reach the real owners "
            "of these addresses, and AWS recommends the private RFC 1918 ranges",
            "use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. 10.20.0.0/16",
        )


def placeholder_values(cfg: StackConfig, account: str | None = None) -> list[ConfigIssue]:
    """Values a real deploy would fail on: ARNs in another account (``account`` given) or in
    the example account (``account`` unknown, as in the offline plan), and example.com names.
    ``ollama-ops deploy`` refuses them; the plan and preview warn about them."""
    found = []
    fix = (
        f"put your own certificate, key and DNS names in Pulumi.{cfg.stack}.yaml "
        "(see docs/environments.md)"
    )
    for section in SECTIONS:
        model = getattr(cfg, section)
        for key in type(model).model_fields:
            value = getattr(model, key)
            if not (key.endswith("_arn") and isinstance(value, str) and value.startswith("arn:")):
                continue
            owner = value.split(":")[4]
            if account is None and owner == EXAMPLE_ACCOUNT_ID:
                rule = f"is a placeholder in the example account {owner}; a real deploy fails"
            elif account is not None and owner and owner != account:
                rule = f"is in account {owner}, not {account}"
            else:
                continue
            found.append(issue(f"{section}.{key}", value, rule, fix))
    names = [("edge.origin_domain_name", cfg.edge.origin_domain_name)]
    names += [("edge.domain_aliases", alias) for alias in cfg.edge.domain_aliases]
    for key, name in names:
        if name and (name == "example.com" or name.endswith(".example.com")):
            rule = "is a placeholder under example.com, which no certificate of yours covers"
            found.append(issue(key, name, rule, fix))
    return found


@warning
def no_placeholders(cfg: StackConfig) -> Iterator[ConfigIssue]:
    yield from placeholder_values(cfg)


_EXTERNAL_KEYS = ("issuer_url", "client_id", "client_secret_arn")


@rule
def oidc_provider_is_complete(cfg: StackConfig) -> Iterator[ConfigIssue]:
    a = cfg.auth
    if not cfg.oidc:
        return
    if a.provider == "external":
        for key in _EXTERNAL_KEYS:
            if getattr(a, key) is None:
                yield issue(
                    f"auth.{key}",
                    None,
                    "an external OIDC provider needs issuer_url, client_id and client_secret_arn",
                    f"set auth.{key} (see docs/identity.md), or use provider: cognito",
                )
        if a.client_secret_arn and _region_of(a.client_secret_arn) != cfg.region:
            yield issue(
                "auth.client_secret_arn",
                a.client_secret_arn,
                f"the secret is not in the stack region {cfg.region}; instances read it at boot",
                f"replicate the secret to {cfg.region} and give that ARN",
            )
    elif a.identity_providers and "COGNITO" in {n.upper() for n in a.identity_providers}:
        yield issue(
            "auth.identity_providers",
            a.identity_providers,
            "COGNITO (the pool's own accounts) is always offered",
            "list only the federated providers, e.g. [EntraID]",
        )
    if a.provider == "cognito":
        for key in _EXTERNAL_KEYS:
            if getattr(a, key) is not None:
                yield issue(
                    f"auth.{key}",
                    getattr(a, key),
                    "only used with provider: external; the stack-owned Cognito pool has its "
                    "own issuer, client and secret",
                    f"remove auth.{key}, or set provider: external",
                )
    if a.provider == "external" and a.identity_providers:
        yield issue(
            "auth.identity_providers",
            a.identity_providers,
            "only a stack-owned Cognito pool federates providers",
            "remove auth.identity_providers, or federate them in your own provider",
        )
    if a.admin_group == a.user_group:
        yield issue(
            "auth.admin_group",
            a.admin_group,
            "admin_group and user_group must differ, or every user would be an admin",
            "use ollama-admins and ollama-users",
        )


@rule
def production_requires_mfa(cfg: StackConfig) -> Iterator[ConfigIssue]:
    if cfg.is_production and cfg.cognito_pool and cfg.auth.mfa == "off":
        yield issue(
            "auth.mfa",
            "off",
            "production sign-in without MFA is refused",
            "set auth.mfa to required (or optional)",
        )
