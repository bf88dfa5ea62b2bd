"""Single sign-on (``auth.mode: oidc``): the Cognito pool, its app client and the settings the
boot reads.

- production pools require or offer MFA (never off);
- app clients use the authorization-code flow, never the implicit grant (tokens in the URL);
- callback and logout URLs are HTTPS on the stack's own public host (the CloudFront
  distribution's domain or one of its aliases), so a code cannot be sent elsewhere;
- the OIDC client secret is never in plain config: the ``webui/oidc`` parameter carries only
  the ARN of a Secrets Manager secret, and no user data sets ``OAUTH_CLIENT_SECRET``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from ollama_infra.policy.common import (
    Report,
    ResourceLike,
    as_list,
    decode_user_data,
    environment,
    flag,
    policy,
)

USER_POOL = "aws:cognito/userPool:UserPool"
POOL_CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
PARAMETER = "aws:ssm/parameter:Parameter"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
PRODUCTION = "production"
SECRET_ARN_RE = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$")
# OAUTH_CLIENT_SECRET=<a literal>: only a shell expansion ($...) is allowed in scripts.
LITERAL_CLIENT_SECRET_RE = re.compile(r"OAUTH_CLIENT_SECRET[=\s]+['\"]?(?![\"'$])\S")


@policy(
    "cognito-mfa-in-production",
    "A production Cognito user pool requires or offers MFA; it is never off.",
    USER_POOL,
)
def cognito_mfa_in_production(args: Any, report: Report) -> None:
    if environment(args) != PRODUCTION:
        return
    mfa = args.props.get("mfaConfiguration") or "OFF"
    if mfa == "OFF":
        flag(
            report,
            args,
            "MFA is off in production",
            "set ollama:auth.mfa to required (or optional)",
        )


@policy(
    "cognito-no-implicit-flow",
    "Cognito app clients use the authorization-code flow, never the implicit grant.",
    POOL_CLIENT,
)
def cognito_no_implicit_flow(args: Any, report: Report) -> None:
    flows = [str(f) for f in as_list(args.props.get("allowedOauthFlows"))]
    if "implicit" in flows:
        flag(
            report,
            args,
            "allows the implicit grant, which returns tokens in the browser's URL",
            "allow only the code flow (allowed_oauth_flows=['code'])",
        )


def _public_hosts(resources: list[ResourceLike]) -> set[str]:
    """Hosts the stack serves Open WebUI on: each distribution's domain and aliases."""
    hosts: set[str] = set()
    for r in resources:
        if r.resource_type == DISTRIBUTION:
            hosts |= {str(a) for a in as_list(r.props.get("aliases"))}
            if isinstance(r.props.get("domainName"), str):
                hosts.add(r.props["domainName"])
    return hosts


@policy(
    "cognito-callbacks-on-stack-domain",
    "Callback and logout URLs of Cognito app clients are HTTPS on the stack's public host.",
    POOL_CLIENT,
    stack=True,
)
def cognito_callbacks_on_stack_domain(args: Any, report: Report) -> None:
    resources = list(args.resources)
    hosts = _public_hosts(resources)
    for client in (r for r in resources if r.resource_type == POOL_CLIENT):
        urls = [
            *as_list(client.props.get("callbackUrls")),
            *as_list(client.props.get("logoutUrls")),
        ]
        for url in urls:
            if not isinstance(url, str):
                continue  # unknown during preview; the offline plan checks the real value
            parts = urlsplit(url)
            if parts.scheme != "https" or parts.hostname not in hosts:
                flag(
                    report,
                    client,
                    f"URL {url!r} is not HTTPS on the stack's public host "
                    f"({', '.join(sorted(hosts)) or 'no distribution found'})",
                    "derive callback and logout URLs from the stack's public URL "
                    "(<ollama_url>/oauth/oidc/callback)",
                )


def _secret_keys(settings: Any, path: str = "") -> list[str]:
    """Keys of a JSON document that name a secret and hold something other than an ARN."""
    found: list[str] = []
    if isinstance(settings, dict):
        for key, value in settings.items():
            where = f"{path}.{key}" if path else str(key)
            if re.search(r"(?i)secret", str(key)) and not (
                isinstance(value, str) and SECRET_ARN_RE.match(value)
            ):
                found.append(where)
            found += _secret_keys(value, where)
    return found


@policy(
    "oidc-client-secret-not-plain",
    "The OIDC client secret is only referenced by its Secrets Manager ARN, never in plain "
    "config (parameters, user data).",
    PARAMETER,
    LAUNCH_TEMPLATE,
)
def oidc_client_secret_not_plain(args: Any, report: Report) -> None:
    p = args.props
    if args.resource_type == LAUNCH_TEMPLATE:
        if LITERAL_CLIENT_SECRET_RE.search(decode_user_data(p.get("userData"))):
            flag(
                report,
                args,
                "user data sets OAUTH_CLIENT_SECRET to a literal",
                "read the secret from Secrets Manager at boot (webui/oidc's client_secret_arn)",
            )
        return
    if not str(p.get("name") or "").endswith("/webui/oidc") or p.get("type") == "SecureString":
        return
    value = p.get("value")
    try:
        settings = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        settings = None
    if not isinstance(settings, dict):
        return
    bad = _secret_keys(settings)
    if "client_secret_arn" not in settings:
        bad.append("client_secret_arn (missing)")
    if bad:
        flag(
            report,
            args,
            f"carries {', '.join(bad)} instead of a Secrets Manager ARN",
            "store the client secret in Secrets Manager and put only its ARN in "
            "client_secret_arn (auth.client_secret_arn for an external provider)",
        )
