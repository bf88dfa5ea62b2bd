"""Single sign-on (``ollama:auth``): config validation, the Cognito resources, the boot wiring.

No shipped stack file uses oidc; the configs come from tests/oidc_stack.py (the real stack
files with ``ollama:auth`` set).
"""

from __future__ import annotations

from typing import Any

import pytest
from harness import STACKS, config_for, override, stack_values
from oidc_stack import SECRET_ARN, external_values, oidc_values

from ollama_infra.config import ConfigError, parse_config


def problems(stack: str, values: dict[str, Any]) -> dict[str, str]:
    """Issue key -> rendered message, for a config that must be refused."""
    with pytest.raises(ConfigError) as info:
        parse_config(stack, values)
    return {i.key: i.render() for i in info.value.issues}


# ------------------------------------------------------------------ config


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_keep_local_mode(stack: str) -> None:
    cfg = config_for(stack)
    assert cfg.auth.mode == "local" and not cfg.oidc and not cfg.cognito_pool


@pytest.mark.parametrize("stack", STACKS)
def test_oidc_configs_validate(stack: str) -> None:
    cfg = parse_config(stack, oidc_values(stack))
    assert cfg.cognito_pool and cfg.auth.allowed_email_domains == ["example.com"]
    ext = parse_config(stack, external_values(stack))
    assert ext.oidc and not ext.cognito_pool and ext.auth.client_id == "ollama-webui"


BROKEN: list[tuple[str, dict[str, Any], str, str]] = [
    ("dev", {"mode": "sso"}, "ollama:auth.mode", "local"),
    ("dev", {"provider": "external", "client_id": None}, "ollama:auth.client_id", "needs"),
    ("dev", {"provider": "external", "issuer_url": None}, "ollama:auth.issuer_url", "needs"),
    (
        "dev",
        {"provider": "external", "client_secret_arn": None},
        "ollama:auth.client_secret_arn",
        "needs",
    ),
    (
        "dev",
        {"provider": "external", "client_secret_arn": "s3cr3t-value"},
        "ollama:auth.client_secret_arn",
        "never the secret",
    ),
    (
        "dev",
        {"provider": "external", "issuer_url": "http://login.example.com"},
        "ollama:auth.issuer_url",
        "https",
    ),
    (
        "staging",
        {
            "provider": "external",
            "client_secret_arn": SECRET_ARN.format(region="ap-south-1"),
        },
        "ollama:auth.client_secret_arn",
        "stack region",
    ),
    ("dev", {"client_id": "abc"}, "ollama:auth.client_id", "only used with provider: external"),
    ("production", {"mfa": "off"}, "ollama:auth.mfa", "without MFA"),
    ("dev", {"admin_group": "ollama-users"}, "ollama:auth.admin_group", "must differ"),
    ("dev", {"allowed_email_domains": ["Example.COM"]}, "ollama:auth.allowed_email_domains", ""),
    ("dev", {"groups_claim": "groups; rm -rf"}, "ollama:auth.groups_claim", "claim name"),
    ("dev", {"colour": "blue"}, "ollama:auth.colour", "unknown key"),
]


@pytest.mark.parametrize(("stack", "auth", "key", "text"), BROKEN)
def test_broken_auth_configs_are_refused_with_the_key_and_a_fix(
    stack: str, auth: dict[str, Any], key: str, text: str
) -> None:
    base = external_values if auth.get("provider") == "external" else oidc_values
    found = problems(stack, base(stack, **auth))
    assert key in found, found
    assert text in found[key] and "Fix:" in found[key], found[key]


def test_mfa_off_is_allowed_outside_production_and_without_a_pool() -> None:
    assert parse_config("dev", oidc_values("dev", mfa="off")).auth.mfa == "off"
    # local mode ignores the pool's MFA setting
    values = override(stack_values("production"), "auth", mode="local", mfa="off")
    assert parse_config("production", values).auth.mfa == "off"
