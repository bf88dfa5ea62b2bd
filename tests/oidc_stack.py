"""Test stack configs that turn single sign-on on (no shipped stack file uses oidc by default).

``oidc_values(stack)`` is the real stack file of ``stack`` with ``ollama:auth`` set to a
stack-owned Cognito pool; ``external_values`` uses an existing provider instead.
"""

from __future__ import annotations

from typing import Any

from harness import override, stack_values

SECRET_ARN = "arn:aws:secretsmanager:{region}:123456789012:secret:corp/ollama-oidc-AbCdEf"

COGNITO_AUTH: dict[str, Any] = {
    "mode": "oidc",
    "allowed_email_domains": ["example.com"],
    "mfa": "required",
}


def oidc_values(stack: str, **auth: Any) -> dict[str, Any]:
    """``stack``'s file with a stack-owned Cognito pool (plus ``auth`` overrides)."""
    return override(stack_values(stack), "auth", **{**COGNITO_AUTH, **auth})


def external_values(stack: str, **auth: Any) -> dict[str, Any]:
    """``stack``'s file with an existing OIDC provider (plus ``auth`` overrides)."""
    values = stack_values(stack)
    region = values["aws:region"]
    settings = {
        "mode": "oidc",
        "provider": "external",
        "issuer_url": "https://login.example.com/realms/corp",
        "client_id": "ollama-webui",
        "client_secret_arn": SECRET_ARN.format(region=region),
        "groups_claim": "groups",
        **auth,
    }
    return override(values, "auth", **settings)
