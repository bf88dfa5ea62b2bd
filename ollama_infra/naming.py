"""Physical names and required tags.

Every physical name is ``ollama-<role>-<env>``; log groups are ``/aws/ec2/ollama-<role>-<env>``.
AWS name limits are enforced here, so a name that would fail at apply time fails at
config time instead (config.rules checks every name in ``all_names``).

Tags are passed explicitly to every taggable resource through ``Tagger``. That is the
mechanism the real deployment uses, and it is what the Pulumi mocks record, so the
tagging tests check exactly what AWS will receive (provider ``default_tags`` would be
invisible to the mocks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PROJECT = "ollama"
REQUIRED_TAG_KEYS: tuple[str, ...] = ("Project", "Environment", "ManagedBy", "Service")

# Maximum name length per kind of AWS name.
NAME_LIMITS: dict[str, int] = {
    "alb": 32,  # load balancers
    "target_group": 32,
    "bucket": 63,
    "iam": 64,  # roles, instance profiles
    # IAM name_prefix: the provider appends a 26-character unique suffix to reach the 64 limit
    "iam_prefix": 38,
    "log_group": 512,
    "generic": 255,
}

# Key prefix of Open WebUI's uploads in the storage bucket: the boot script configures it
# (from the webui/storage parameter) and the instance role may touch nothing else.
STORAGE_PREFIX = "open-webui/"

NAME_RE = re.compile(r"^ollama-[a-z0-9]+(-[a-z0-9]+)*$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class NamingError(ValueError):
    """A generated name breaks an AWS rule."""


def name(role: str, env: str, kind: str = "generic") -> str:
    """``ollama-<role>-<env>``, checked against the AWS limit for ``kind``."""
    result = f"{PROJECT}-{role}-{env}"
    _check(result, kind)
    if not NAME_RE.match(result):
        raise NamingError(f"'{result}' is not of the form ollama-<role>-<env> (lowercase, dashes)")
    return result


def prefix(role: str, env: str, kind: str = "generic") -> str:
    """``ollama-<role>-<env>-``: a ``name_prefix`` (see ollama_infra/lifecycle.py)."""
    result = f"{name(role, env)}-"
    _check(result, kind)
    return result


def bucket_name(role: str, env: str, account_id: str) -> str:
    """Globally unique S3 bucket name: ``ollama-<role>-<env>-<account id>``."""
    result = f"{PROJECT}-{role}-{env}-{account_id}"
    _check(result, "bucket")
    if not BUCKET_RE.match(result) or ".." in result:
        raise NamingError(f"'{result}' is not a valid S3 bucket name (3-63 lowercase DNS chars)")
    return result


def log_group_name(role: str, env: str) -> str:
    """CloudWatch log group name: ``/aws/ec2/ollama-<role>-<env>``."""
    result = f"/aws/ec2/{name(role, env)}"
    _check(result, "log_group")
    return result


def ssm_prefix(env: str) -> str:
    """Parameter Store path owned by the stack: ``/ollama/<env>``."""
    return f"/{PROJECT}/{env}"


# Region words as the short region codes abbreviate them (us-west-2 -> usw2, ap-southeast-1
# -> apse1); any other word keeps its first letter (us-gov-west-1 -> usgw1).
_REGION_WORDS: dict[str, str] = {
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "central": "c",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
}
# Environments as DR suffixes spell them: short enough for IAM name prefixes (38 characters).
_ENV_SHORT: dict[str, str] = {"dev": "dev", "staging": "stg", "production": "prod"}


def region_code(region: str) -> str:
    """A compact region code: ``us-west-2`` -> ``usw2``, ``eu-central-1`` -> ``euc1``."""
    country, *words, number = region.split("-")
    return country + "".join(_REGION_WORDS.get(w, w[:1]) for w in words) + number


def dr_suffix(env: str, region: str) -> str:
    """The name suffix of a DR stack: ``production`` in ``us-west-2`` -> ``prod-usw2``.

    It replaces ``<env>`` in every physical name of the DR stack, so its names differ from
    the primary's (S3 bucket and IAM names are global; the DR copy may share the account)
    and ``ollama-flow-logs-role-<suffix>-`` stays within the 38-character IAM prefix limit
    (``production-us-west-2`` would not).
    """
    return f"{_ENV_SHORT.get(env, env)}-{region_code(region)}"


def _check(value: str, kind: str) -> None:
    limit = NAME_LIMITS[kind]
    if len(value) > limit:
        raise NamingError(f"'{value}' is {len(value)} characters; the AWS limit is {limit}")


# The names the stack creates whose length AWS limits; checked at config time.
_LIMITED_NAMES: tuple[tuple[str, str], ...] = (
    ("alb", "alb"),
    ("tg", "target_group"),
    ("api-tg", "target_group"),
    ("tls-tg", "target_group"),
    ("tls-api-tg", "target_group"),
)
# The name prefixes of IAM roles and instance profiles (ollama-<role>-<env>-).
_LIMITED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("ec2-role", "iam_prefix"),
    ("ec2-profile", "iam_prefix"),
    ("flow-logs-role", "iam_prefix"),
    ("backup-role", "iam_prefix"),
    ("storage-replication", "iam_prefix"),
    ("db-monitoring", "iam_prefix"),
)


def all_names(env: str, account_id: str) -> list[tuple[str, str, str]]:
    """(role, full name or prefix, kind) for every length-limited name of an environment."""
    out = [(role, f"{PROJECT}-{role}-{env}", kind) for role, kind in _LIMITED_NAMES]
    out += [(role, f"{PROJECT}-{role}-{env}-", kind) for role, kind in _LIMITED_PREFIXES]
    out.append(("storage", f"{PROJECT}-storage-{env}-{account_id}", "bucket"))
    out.append(("storage-dr", f"{PROJECT}-storage-dr-{env}-{account_id}", "bucket"))
    out.append(("logs", f"{PROJECT}-logs-{env}-{account_id}", "bucket"))
    out.append(("logs-dr", f"{PROJECT}-logs-dr-{env}-{account_id}", "bucket"))
    return out


@dataclass(frozen=True)
class Tagger:
    """Builds the required tag set for one stack; ``for_service`` adds the Service tag."""

    env: str
    owner: str | None = None
    cost_center: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def base(self) -> dict[str, str]:
        tags = {**self.extra, "Project": PROJECT, "Environment": self.env, "ManagedBy": "pulumi"}
        if self.owner:
            tags["Owner"] = self.owner
        if self.cost_center:
            tags["CostCenter"] = self.cost_center
        return tags

    def for_service(self, service: str, resource_name: str | None = None) -> dict[str, str]:
        """Tags for a resource of ``service``; ``resource_name`` sets the Name tag."""
        tags = {**self.base(), "Service": service}
        if resource_name:
            tags["Name"] = resource_name
        return tags

    def asg_tags(self, service: str, resource_name: str) -> list[dict[str, object]]:
        """ASG tag list (propagated to instances at launch)."""
        return [
            {"key": k, "value": v, "propagate_at_launch": True}
            for k, v in sorted(self.for_service(service, resource_name).items())
        ]


def is_taggable(type_token: str) -> bool:
    """Whether the pulumi-aws resource type accepts a ``tags`` input.

    Derived from the provider SDK itself, so new resource types are covered without a list.
    """
    import importlib
    import inspect
    import keyword

    pkg, _, rest = type_token.partition(":")
    if pkg != "aws" or ":" not in rest:
        return False
    module_path, _, class_name = rest.partition(":")
    module_name = module_path.split("/")[0]
    if keyword.iskeyword(module_name):  # the SDK names the lambda module lambda_
        module_name += "_"
    module = importlib.import_module(
        "pulumi_aws" if module_name == "index" else f"pulumi_aws.{module_name}"
    )
    cls = getattr(module, class_name, None)
    if cls is None:
        return False
    return "tags" in inspect.signature(cls._internal_init).parameters


@dataclass(frozen=True)
class StackNames:
    """Every shared name of one stack, in one place.

    Components, the user data, the ops CLI and the docs all refer to resources by these
    names (or ARNs built from them), so no component needs another's Outputs just to
    know a name, and IAM policies can be scoped to exact ARNs.
    """

    env: str  # the name suffix: the environment, or a DR stack's suffix (see dr_suffix)
    account_id: str
    # The environment itself when ``env`` is a DR suffix: the catalog's partition key.
    environment: str | None = None

    @property
    def catalog_environment(self) -> str:
        """The model catalog's partition key: the environment (a DR copy serves its primary's)."""
        return self.environment or self.env

    # compute
    @property
    def asg(self) -> str:
        return name("asg", self.env)

    @property
    def launch_template_prefix(self) -> str:
        return f"{PROJECT}-lt-{self.env}-"

    @property
    def instance_role(self) -> str:
        """The role's Name tag; its physical name is this plus a unique suffix."""
        return name("ec2-role", self.env, "iam")

    @property
    def instance_profile(self) -> str:
        """The profile's Name tag; its physical name is this plus a unique suffix."""
        return name("ec2-profile", self.env, "iam")

    @property
    def key_pair(self) -> str:
        return f"{PROJECT}-key-{self.env}"

    # edge
    @property
    def alb(self) -> str:
        return name("alb", self.env, "alb")

    @property
    def distribution(self) -> str:
        """The CloudFront distribution's Name tag (the ops CLI finds it by this tag)."""
        return name("cdn", self.env)

    @property
    def webui_target_group(self) -> str:
        return name("tg", self.env, "target_group")

    @property
    def api_target_group(self) -> str:
        return name("api-tg", self.env, "target_group")

    # With edge.backend_tls the groups speak HTTPS to the instances. A protocol change
    # replaces a target group, and a fixed-name group still in use by a listener rule
    # cannot be deleted first, so the HTTPS groups carry their own names: the new ones are
    # created, the rules move to them, the old ones go last (ollama_infra/edge/alb.py).
    @property
    def webui_tls_target_group(self) -> str:
        return name("tls-tg", self.env, "target_group")

    @property
    def api_tls_target_group(self) -> str:
        return name("tls-api-tg", self.env, "target_group")

    def target_groups(self, backend_tls: bool) -> tuple[str, str]:
        """(Open WebUI, Ollama API) target group names of a stack with or without backend TLS."""
        if backend_tls:
            return self.webui_tls_target_group, self.api_tls_target_group
        return self.webui_target_group, self.api_target_group

    @property
    def log_bucket(self) -> str:
        return bucket_name("logs", self.env, self.account_id)

    # data
    @property
    def table(self) -> str:
        return name("data-table", self.env)

    @property
    def data_key(self) -> str:
        """Name tag of the stack data key (the instance role finds the key by it)."""
        return name("data-key", self.env)

    @property
    def first_start_lock_key(self) -> str:
        """Partition key of the one lock item instances write in the table (never a catalog
        environment: the catalog's keys are dev, staging, production)."""
        return f"first-start-lock#{self.env}"

    @property
    def restored_table_pattern(self) -> str:
        """Tables `ollama-ops restore dynamodb` creates: ollama-data-table-restored-<time>-<env>."""
        return f"{PROJECT}-data-table-restored-*-{self.env}"

    @property
    def active_table_parameter(self) -> str:
        """Names the catalog table in use when it is not ``table`` (after a restore switch)."""
        return self.parameter("data/active-table")

    @property
    def storage_bucket(self) -> str:
        return bucket_name("storage", self.env, self.account_id)

    @property
    def storage_dr_bucket(self) -> str:
        """Cross-region replica of the storage bucket (when data.replication_region is set)."""
        return bucket_name("storage-dr", self.env, self.account_id)

    @property
    def dr_log_bucket(self) -> str:
        """Server access logs of the DR replica: S3 logs only to a bucket in the same region."""
        return bucket_name("logs-dr", self.env, self.account_id)

    @property
    def database(self) -> str:
        return name("webui-db", self.env)

    @property
    def cache(self) -> str:
        return name("webui-cache", self.env)

    @property
    def backup_vault(self) -> str:
        return name("backup-vault", self.env)

    # secrets (Secrets Manager names; IAM scopes to the prefix)
    @property
    def secret_prefix(self) -> str:
        return f"{PROJECT}/{self.env}/"

    def secret(self, role: str) -> str:
        """e.g. secret('webui-secret-key') -> ollama/<env>/webui-secret-key"""
        return f"{self.secret_prefix}{role}"

    # parameters (SSM Parameter Store; IAM scopes to the path)
    @property
    def parameter_path(self) -> str:
        return ssm_prefix(self.env)

    def parameter(self, role: str) -> str:
        """e.g. parameter('cloudwatch-agent/config') -> /ollama/<env>/cloudwatch-agent/config"""
        return f"{self.parameter_path}/{role}"

    # observability
    @property
    def app_log_group(self) -> str:
        """Open WebUI container logs."""
        return log_group_name("app", self.env)

    @property
    def service_log_group(self) -> str:
        """Ollama server logs."""
        return log_group_name("service", self.env)

    @property
    def bootstrap_log_group(self) -> str:
        return log_group_name("bootstrap", self.env)

    @property
    def flow_log_group(self) -> str:
        return log_group_name("vpc-flow-logs", self.env)

    @property
    def alerts_topic(self) -> str:
        return name("alerts", self.env)

    @property
    def dashboard(self) -> str:
        return f"{PROJECT}-{self.env}"

    @property
    def metric_namespace(self) -> str:
        return f"Ollama/{self.env}"

    def alarm(self, role: str) -> str:
        return name(role, self.env)
