"""Single sign-on (``auth.mode: oidc``): the Cognito user pool the stack owns, or an existing
OIDC provider, and the settings the boot script hands Open WebUI.

The boot reads one parameter, ``/ollama/<env>/webui/oidc`` (issuer discovery URL, client id,
the ARN of the client secret, the groups claim and the group names); the secret itself stays
in Secrets Manager and is read at boot through the instance role, never in user data. Roles
follow group membership at every sign-in: ``admin_group`` -> admin, ``user_group`` -> user,
a member of other groups only is refused, and someone in no group gets Open WebUI's default
role, pending (docs/identity.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ollama_infra.builders import stored_secret
from ollama_infra.config import AuthConfig
from ollama_infra.context import StackContext
from ollama_infra.userdata import OIDC_CALLBACK_PATH

SERVICE = "auth"
OIDC_PARAMETER = "webui/oidc"
OIDC_CLIENT_ROLE = "oidc-client"
SCOPES: tuple[str, ...] = ("openid", "email", "profile")
# Cognito's issuer is https://cognito-idp.<region>.amazonaws.com/<pool id>; Open WebUI wants
# the discovery document under it (OPENID_PROVIDER_URL).
DISCOVERY_PATH = "/.well-known/openid-configuration"
MFA_CONFIGURATION = {"off": "OFF", "optional": "OPTIONAL", "required": "ON"}
# Stronger than Cognito's default (8): NIST SP 800-63B favours length over rotation.
PASSWORD_MIN_LENGTH = 14


def callback_url(public_url: pulumi.Input[str]) -> pulumi.Output[str]:
    """``<public URL>/oauth/oidc/callback``: the one redirect the app client allows."""
    return pulumi.Output.concat(public_url, OIDC_CALLBACK_PATH)


def group_roles(config: AuthConfig) -> dict[str, tuple[str, int]]:
    """Group name -> (description, precedence; lower wins in Cognito's token claims)."""
    return {
        config.admin_group: ("Open WebUI admins (OAUTH_ADMIN_ROLES)", 1),
        config.user_group: ("Open WebUI users (OAUTH_ALLOWED_ROLES)", 10),
    }


@dataclass(frozen=True)
class SingleSignOnArgs:
    ctx: StackContext
    """The stack: names and tags of the pool, its client, domain, groups and secret."""
    config: AuthConfig
    """Provider, allowed domains, groups claim, group names and MFA (ollama:auth)."""
    public_url: pulumi.Input[str]
    """Public HTTPS URL of Open WebUI (edge); the callback and logout URLs derive from it."""
    deletion_protection: bool
    """Cognito deletion protection on the pool (on outside dev)."""
    secrets_kms_key_arn: str | None = None
    """Customer managed key of the client-secret secret (data.kms_key_arn), if any."""


class SingleSignOnComponent(pulumi.ComponentResource):
    """User pool ``ollama-users-<env>`` with client, hosted-UI domain and groups, or an
    external provider's settings; either way the ``webui/oidc`` parameter the boot reads."""

    def __init__(
        self, name: str, args: SingleSignOnArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:auth:SingleSignOn", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        ctx, cfg = args.ctx, args.config
        self.callback_url = callback_url(args.public_url)
        self.user_pool: aws.cognito.UserPool | None = None
        self.client: aws.cognito.UserPoolClient | None = None
        self.domain: aws.cognito.UserPoolDomain | None = None
        self.groups: dict[str, aws.cognito.UserGroup] = {}
        if cfg.provider == "cognito":
            self.user_pool = self._user_pool()
            self.client = self._client(self.user_pool)
            self.domain = self._domain(self.user_pool)
            self.groups = self._groups(self.user_pool)
            issuer: pulumi.Input[str] = pulumi.Output.concat(
                f"https://cognito-idp.{ctx.region}.amazonaws.com/", self.user_pool.id
            )
            client_id: pulumi.Input[str] = self.client.id
            self.client_secret_arn: pulumi.Input[str] = stored_secret(
                f"{name}-client-secret",
                ctx=ctx,
                service=SERVICE,
                role=OIDC_CLIENT_ROLE,
                description="Client secret of the Open WebUI app client (OAUTH_CLIENT_SECRET)",
                value=self.client.client_secret,
                kms_key_arn=args.secrets_kms_key_arn,
                parent=self,
                version_name=f"{name}-client-secret-value",
            ).arn
            provider_name = "Cognito"
        else:
            assert cfg.issuer_url and cfg.client_id and cfg.client_secret_arn  # config rules
            issuer = cfg.issuer_url.rstrip("/")
            client_id = cfg.client_id
            self.client_secret_arn = cfg.client_secret_arn
            provider_name = "SSO"
        self.issuer_url = pulumi.Output.from_input(issuer)
        self.parameter = aws.ssm.Parameter(
            f"{name}-oidc",
            name=ctx.names.parameter(OIDC_PARAMETER),
            type="String",
            value=pulumi.Output.all(issuer, client_id, self.client_secret_arn).apply(
                lambda v: self._settings(v[0], v[1], v[2], provider_name)
            ),
            description="Open WebUI single sign-on settings (no secret: the secret's ARN only)",
            tags=ctx.tags(SERVICE, ctx.name("oidc")),
            opts=self._child,
        )
        self.register_outputs(
            {
                "issuer_url": self.issuer_url,
                "callback_url": self.callback_url,
                "client_secret_arn": self.client_secret_arn,
                "user_pool_id": self.user_pool.id if self.user_pool else None,
            }
        )

    def _settings(self, issuer: str, client_id: str, secret_arn: str, provider: str) -> str:
        cfg = self._args.config
        settings: dict[str, Any] = {
            "provider_name": provider,
            "provider_url": f"{issuer}{DISCOVERY_PATH}",
            "client_id": client_id,
            "client_secret_arn": secret_arn,
            "scopes": " ".join(SCOPES),
            "allowed_domains": list(cfg.allowed_email_domains),
            "groups_claim": cfg.groups_claim,
            "admin_group": cfg.admin_group,
            "user_group": cfg.user_group,
        }
        return json.dumps(settings, sort_keys=True)

    def _user_pool(self) -> aws.cognito.UserPool:
        ctx, cfg = self._args.ctx, self._args.config
        pool_name = ctx.name("users")
        mfa = cfg.mfa
        return aws.cognito.UserPool(
            f"{self._name}-pool",
            name=pool_name,
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            admin_create_user_config={"allow_admin_create_user_only": not cfg.self_signup},
            mfa_configuration=MFA_CONFIGURATION[mfa],
            software_token_mfa_configuration={"enabled": True} if mfa != "off" else None,
            password_policy={
                "minimum_length": PASSWORD_MIN_LENGTH,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": True,
                "temporary_password_validity_days": 3,
            },
            account_recovery_setting={
                "recovery_mechanisms": [{"name": "verified_email", "priority": 1}]
            },
            deletion_protection="ACTIVE" if self._args.deletion_protection else "INACTIVE",
            tags=ctx.tags(SERVICE, pool_name),
            opts=self._child,
        )

    def _client(self, pool: aws.cognito.UserPool) -> aws.cognito.UserPoolClient:
        ctx = self._args.ctx
        return aws.cognito.UserPoolClient(
            f"{self._name}-client",
            name=ctx.name("webui"),
            user_pool_id=pool.id,
            generate_secret=True,
            # Authorization-code flow only (no implicit grant): tokens never pass the browser.
            allowed_oauth_flows=["code"],
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_scopes=list(SCOPES),
            callback_urls=[self.callback_url],
            logout_urls=[self._args.public_url],
            supported_identity_providers=["COGNITO", *self._args.config.identity_providers],
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            opts=self._child,
        )

    def _domain(self, pool: aws.cognito.UserPool) -> aws.cognito.UserPoolDomain:
        ctx = self._args.ctx
        # Prefix domains live under <prefix>.auth.<region>.amazoncognito.com, shared by all
        # accounts, so the account id is part of the prefix.
        return aws.cognito.UserPoolDomain(
            f"{self._name}-domain",
            domain=f"{ctx.name('login')}-{ctx.account_id}",
            user_pool_id=pool.id,
            opts=self._child,
        )

    def _groups(self, pool: aws.cognito.UserPool) -> dict[str, aws.cognito.UserGroup]:
        return {
            group: aws.cognito.UserGroup(
                f"{self._name}-group-{role}",
                name=group,
                user_pool_id=pool.id,
                description=description,
                precedence=precedence,
                opts=self._child,
            )
            for role, (group, (description, precedence)) in zip(
                ("admins", "users"), group_roles(self._args.config).items(), strict=True
            )
        }
