"""The Application Load Balancer: listeners, rules, target groups and the edge secrets.

Request routing, in rule order, on every listener that can forward:
1. model-management paths (``/api/pull`` ... ``/api/unload*``, the same under Open WebUI's
   ``/ollama`` proxy, and Open WebUI's own model upload/download/unload) -> fixed 403, before
   anything can forward; then one regex rule -> fixed 403 for percent-escapes, ``//`` and dot
   segments where they could spell one of those paths (Open WebUI decodes escapes);
2. a forward that requires a secret header: the origin header CloudFront adds (web
   listener) or the shared API key (API listener);
3. default action -> fixed 403.
HTTP redirects to HTTPS wherever a certificate exists; without one (dev only, enforced by
config) the HTTP listener carries the rules itself and the plan warns.

Listener rule conditions must hold the literal header values, so both secrets also live in
the Pulumi state (encrypted as secrets); their source of truth is Secrets Manager, where
operators and clients read them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from ollama_infra import origin_header
from ollama_infra.builders import StoredSecret, stored_secret
from ollama_infra.config import EdgeConfig, OllamaApiConfig
from ollama_infra.context import StackContext
from ollama_infra.origin_header import RotationState
from ollama_infra.security import backend_ports

SERVICE = "edge"
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ORIGIN_HEADER = origin_header.HEADER
API_KEY_HEADER = "X-Ollama-Api-Key"
# Ollama's model-management endpoints (server/routes.go): never reachable through the edge.
# Open WebUI proxies them under /ollama (routers/ollama.py) with the same names, and adds
# ``/api/unload`` there; admin keys pass its check, so the edge refuses them for everyone.
MODEL_MANAGEMENT_PATHS: tuple[str, ...] = (
    "/api/pull",
    "/api/push",
    "/api/create",
    "/api/copy",
    "/api/delete",
    "/api/blobs",
    "/api/unload",
)
PROXY_PREFIX = "/ollama"
# Model management that only Open WebUI serves: the proxy's model file download/upload
# (routers/ollama.py) and its unified unload (main.py), admin-only upstream.
WEBUI_MODEL_MANAGEMENT_PATHS: tuple[str, ...] = (
    "/ollama/models/download",
    "/ollama/models/upload",
    "/api/models/unload",
)
# The Ollama endpoints the API listener serves (inference and read-only model listing).
# An allow-list, so that encoded or unexpected paths fall through to the default 403.
API_ALLOWED_PATHS: tuple[str, ...] = (
    "/api/generate",
    "/api/chat",
    "/api/embed",
    "/api/embeddings",
    "/api/tags",
    "/api/show",
    "/api/ps",
    "/api/version",
    "/v1/*",
)
# ALB quota: at most 5 condition values (and 5 wildcards) per rule.
MAX_RULE_VALUES = 5
BLOCK_PRIORITY = 1
FORWARD_PRIORITY = 100
DENIED_BODY = "Forbidden"


def blocked_paths() -> list[str]:
    """Every model-management path the edge refuses: direct, through the proxy, Open WebUI's."""
    return [
        *(f"{prefix}{path}" for prefix in ("", PROXY_PREFIX) for path in MODEL_MANAGEMENT_PATHS),
        *WEBUI_MODEL_MANAGEMENT_PATHS,
    ]


def blocked_path_patterns() -> list[str]:
    """ALB path patterns for every blocked path, as the request spells it.

    The trailing ``*`` also covers ``/api/pull/`` and Open WebUI's ``/ollama/api/pull/{idx}``.
    """
    return [f"{path}*" for path in blocked_paths()]


def disguised_path_regex() -> str:
    """One ALB regex for the spellings the literal patterns cannot see.

    Open WebUI's server decodes percent-escapes once before routing, so ``/ollama/api/%70ull``
    and ``/ollama%2Fapi%2Fpull`` reach pull. ALB value patterns cannot hold ``%``, so a
    regex refuses an escape, an empty segment (``//``) or a dot segment in any path segment
    that could still spell a blocked path: the first one, or the one after a literal prefix
    of a blocked path (``/ollama/``, ``/ollama/api/``, ``/api/models/`` ...). Paths of Open
    WebUI's own API (``/api/v1/...``) keep their escapes. Full-match or search semantics
    give the same result (anchored at the start, any tail).
    """
    prefixes = sorted(
        {
            "/".join(segments[:depth]) + "/"
            for segments in (p.strip("/").split("/") for p in blocked_paths())
            for depth in range(1, len(segments))
        }
    )
    alternatives = "|".join(re.escape(p) for p in prefixes)
    return f"^/({alternatives})?([^/]*%|/|\\.\\.?(/|$)).*"


def chunks(values: Sequence[str], size: int) -> list[list[str]]:
    return [list(values[i : i + size]) for i in range(0, len(values), size)]


def fixed_403() -> aws.lb.ListenerRuleActionArgsDict:
    """A fixed 403; the same shape serves listener default actions and rule actions."""
    return {
        "type": "fixed-response",
        "fixed_response": {
            "content_type": "text/plain",
            "message_body": DENIED_BODY,
            "status_code": "403",
        },
    }


@dataclass(frozen=True)
class AlbArgs:
    ctx: StackContext
    """The stack: names and tags of the ALB, listeners, rules, groups and secrets."""
    config: EdgeConfig
    """Certificate, timeouts and deletion protection (ollama:edge)."""
    ollama_api: OllamaApiConfig
    """The optional API listener: port and allowed CIDRs (ollama:ollama_api)."""
    deletion_protection: bool
    """ALB deletion protection (StackConfig.alb_deletion_protection)."""
    vpc_id: pulumi.Input[str]
    """VPC of the target groups."""
    public_subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets the internet-facing ALB spans, one per AZ."""
    alb_security_group_id: pulumi.Input[str]
    """The ALB's group: CloudFront's origin-facing prefix list only."""
    log_bucket_name: pulumi.Input[str]
    """Where ALB access logs go (under ``alb/``)."""
    log_bucket_policy: pulumi.Resource
    """The load balancer depends on it: enabling access logs checks the policy."""
    secrets_kms_key_arn: str | None = None
    """Key for the edge secrets (data.kms_key_arn); None uses aws/secretsmanager."""
    backend_tls: bool = False
    """edge.backend_tls: HTTPS target groups and health checks to the instances' TLS proxy."""
    origin_rotation: RotationState = field(default_factory=RotationState)
    """The origin header generations the rule accepts (read from the deployed stack)."""


class AlbComponent(pulumi.ComponentResource):
    """``ollama-alb-<env>`` with its listeners, rules and the two target groups."""

    def __init__(self, name: str, args: AlbArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ollama:edge:Alb", name, None, opts)
        self._name = name
        self._args = args
        ctx, cfg = args.ctx, args.config
        self.https = cfg.certificate_arn is not None

        self.origin_header_name = ORIGIN_HEADER
        # Generations of the header value (ollama_infra.origin_header): CloudFront sends the
        # current one; during a rotation the rule also accepts the previous one.
        rotation = args.origin_rotation
        accepted = {g: self._origin_value(g) for g in rotation.generations}
        origin_secret = self._secret(
            "origin-header",
            "Header value CloudFront adds; the ALB forwards only requests with it",
            accepted[rotation.current],
        )
        self.origin_header_value = origin_secret.value
        self.origin_header_secret_arn = origin_secret.arn
        self.origin_rotation_parameter = self._rotation_parameter()

        self.alb = aws.lb.LoadBalancer(
            f"{name}-lb",
            name=ctx.names.alb,
            load_balancer_type="application",
            internal=False,
            subnets=list(args.public_subnet_ids),
            security_groups=[args.alb_security_group_id],
            idle_timeout=cfg.alb_idle_timeout_seconds,
            drop_invalid_header_fields=True,
            desync_mitigation_mode="defensive",
            enable_http2=True,
            enable_deletion_protection=args.deletion_protection,
            access_logs={"bucket": args.log_bucket_name, "prefix": "alb", "enabled": True},
            tags=ctx.tags(SERVICE, ctx.names.alb),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.log_bucket_policy]),
        )
        # With backend TLS the groups are new resources with their own names (see
        # StackNames.webui_tls_target_group): created before the plain ones are deleted.
        tls = args.backend_tls
        ports = backend_ports(tls)
        self.webui_target_group = self._target_group(
            "webui-tls-tg" if tls else "webui-tg",
            ctx.names.webui_tls_target_group if tls else ctx.names.webui_target_group,
            ports["webui"],
            health_path="/health",
            # Open WebUI recommends stickiness for websocket stability behind an ALB.
            stickiness={"type": "lb_cookie", "enabled": True, "cookie_duration": 86400},
        )
        self.api_target_group = self._target_group(
            "api-tls-tg" if tls else "api-tg",
            ctx.names.api_tls_target_group if tls else ctx.names.api_target_group,
            ports["ollama"],
            health_path="/api/tags",
        )

        if self.https:
            self.web_listener = self._listener("https", 443, "HTTPS")
            self.http_listener = aws.lb.Listener(
                f"{name}-http",
                load_balancer_arn=self.alb.arn,
                port=80,
                protocol="HTTP",
                default_actions=[
                    {
                        "type": "redirect",
                        "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"},
                    }
                ],
                tags=ctx.tags(SERVICE),
                opts=pulumi.ResourceOptions(parent=self),
            )
        else:
            pulumi.log.warn(
                f"{ctx.names.alb}: no edge.certificate_arn, so CloudFront reaches the ALB over "
                "plain HTTP (config allows this in dev only); set edge.certificate_arn for HTTPS"
            )
            self.web_listener = self._listener("http", 80, "HTTP")
            self.http_listener = self.web_listener
        self._block_rules("web", self.web_listener)
        self.web_forward_rule = self._forward_rule(
            "web-origin-header",
            self.web_listener,
            FORWARD_PRIORITY,
            self.webui_target_group,
            ORIGIN_HEADER,
            [pulumi.Output.secret(v) for v in accepted.values()],
            paths=None,
        )

        self.api_listener: aws.lb.Listener | None = None
        self.api_key_secret_arn: pulumi.Output[str] | None = None
        if args.ollama_api.enabled:
            self._api_listener()

        self.alb_arn = self.alb.arn
        self.alb_arn_suffix = self.alb.arn_suffix
        self.alb_dns_name = self.alb.dns_name
        self.alb_zone_id = self.alb.zone_id
        self.webui_target_group_arn = self.webui_target_group.arn
        self.webui_target_group_arn_suffix = self.webui_target_group.arn_suffix
        self.api_target_group_arn = self.api_target_group.arn
        self.api_target_group_arn_suffix = self.api_target_group.arn_suffix
        # The ASG registers with both (compute takes these).
        self.target_group_arns: list[pulumi.Input[str]] = [
            self.webui_target_group_arn,
            self.api_target_group_arn,
        ]
        self.register_outputs(
            {
                "alb_arn": self.alb_arn,
                "alb_arn_suffix": self.alb_arn_suffix,
                "alb_dns_name": self.alb_dns_name,
                "webui_target_group_arn": self.webui_target_group_arn,
                "api_target_group_arn": self.api_target_group_arn,
                "origin_header_secret_arn": self.origin_header_secret_arn,
            }
        )

    # ------------------------------------------------------------------ pieces

    def _random_value(self, name: str) -> pulumi.Output[str]:
        return random.RandomPassword(
            name, length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
        ).result

    def _origin_value(self, generation: int) -> pulumi.Output[str]:
        """Generation 0 keeps the first release's logical name; a rotation adds ``-<n>``."""
        suffix = f"-{generation}" if generation else ""
        return self._random_value(f"{self._name}-origin-header-value{suffix}")

    def _rotation_parameter(self) -> aws.ssm.Parameter:
        """The rotation state, created at generation 0; ``ollama-ops secrets rotate`` owns
        its value afterwards and the program reads it at deploy time."""
        ctx = self._args.ctx
        return aws.ssm.Parameter(
            f"{self._name}-origin-header-rotation",
            name=origin_header.state_name(ctx.names),
            type="String",
            description="Origin header generations the ALB accepts (JSON); written by "
            "`ollama-ops secrets rotate --secret origin-header`",
            value=origin_header.RotationState().to_json(),
            tags=ctx.tags(SERVICE, ctx.name("origin-header-rotation")),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
        )

    def _secret(
        self, role: str, description: str, value: pulumi.Output[str] | None = None
    ) -> StoredSecret:
        """A random value (unless given) kept in Secrets Manager as ``ollama/<env>/<role>``."""
        if value is None:
            value = self._random_value(f"{self._name}-{role}-value")
        return stored_secret(
            f"{self._name}-{role}",
            ctx=self._args.ctx,
            service=SERVICE,
            role=role,
            description=f"Ollama {self._args.ctx.env}: {description}",
            value=value,
            kms_key_arn=self._args.secrets_kms_key_arn,
            parent=self,
            version_name=f"{self._name}-{role}-version",
        )

    def _target_group(
        self,
        role: str,
        tg_name: str,
        port: int,
        health_path: str,
        stickiness: aws.lb.TargetGroupStickinessArgsDict | None = None,
    ) -> aws.lb.TargetGroup:
        # HTTPS to the instance's proxy, whose self-signed certificate the ALB accepts: it
        # does not validate target certificates (docs/UPSTREAM.md). Health checks follow.
        protocol = "HTTPS" if self._args.backend_tls else "HTTP"
        health_check: aws.lb.TargetGroupHealthCheckArgsDict = {
            "enabled": True,
            "path": health_path,
            "protocol": protocol,
            "port": "traffic-port",
            "matcher": "200",
            "interval": 15,
            "timeout": 5,
            "healthy_threshold": 2,
            "unhealthy_threshold": 3,
        }
        ctx = self._args.ctx
        return aws.lb.TargetGroup(
            f"{self._name}-{role}",
            name=tg_name,
            port=port,
            protocol=protocol,
            target_type="instance",
            vpc_id=self._args.vpc_id,
            load_balancing_algorithm_type="least_outstanding_requests",
            deregistration_delay=self._args.config.deregistration_delay_seconds,
            stickiness=stickiness or {"type": "lb_cookie", "enabled": False},
            health_check=health_check,
            tags=ctx.tags(SERVICE, tg_name),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _listener(self, role: str, port: int, protocol: str) -> aws.lb.Listener:
        tls: dict[str, Any] = (
            {"certificate_arn": self._args.config.certificate_arn, "ssl_policy": TLS_POLICY}
            if protocol == "HTTPS"
            else {}
        )
        return aws.lb.Listener(
            f"{self._name}-{role}",
            load_balancer_arn=self.alb.arn,
            port=port,
            protocol=protocol,
            default_actions=[fixed_403()],
            tags=self._args.ctx.tags(SERVICE),
            opts=pulumi.ResourceOptions(parent=self),
            **tls,
        )

    def _block_rules(self, role: str, listener: aws.lb.Listener) -> None:
        conditions: list[list[aws.lb.ListenerRuleConditionArgsDict]] = [
            [{"path_pattern": {"values": patterns}}]
            for patterns in chunks(blocked_path_patterns(), MAX_RULE_VALUES)
        ]
        conditions.append([{"path_pattern": {"regex_values": [disguised_path_regex()]}}])
        for i, condition in enumerate(conditions):
            aws.lb.ListenerRule(
                f"{self._name}-{role}-block-{i + 1}",
                listener_arn=listener.arn,
                priority=BLOCK_PRIORITY + i,
                conditions=condition,
                actions=[fixed_403()],
                tags=self._args.ctx.tags(SERVICE),
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _forward_rule(
        self,
        role: str,
        listener: aws.lb.Listener,
        priority: int,
        target_group: aws.lb.TargetGroup,
        header: str,
        values: list[pulumi.Input[str]],
        paths: list[str] | None,
    ) -> aws.lb.ListenerRule:
        conditions: list[aws.lb.ListenerRuleConditionArgsDict] = [
            {"http_header": {"http_header_name": header, "values": values}}
        ]
        if paths:
            conditions.append({"path_pattern": {"values": paths}})
        return aws.lb.ListenerRule(
            f"{self._name}-{role}",
            listener_arn=listener.arn,
            priority=priority,
            conditions=conditions,
            actions=[{"type": "forward", "target_group_arn": target_group.arn}],
            tags=self._args.ctx.tags(SERVICE),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _api_listener(self) -> None:
        """HTTPS on ollama_api.port, reachable from allowed_cidrs (ALB SG), key header required."""
        api = self._args.ollama_api
        key = self._secret("api-key", f"Shared secret header {API_KEY_HEADER} for the Ollama API")
        self.api_key_secret_arn = key.arn
        self.api_listener = self._listener("api", api.port, "HTTPS")
        self._block_rules("api", self.api_listener)
        # One header value plus up to four paths per rule keeps within the 5-value quota.
        for i, paths in enumerate(chunks(API_ALLOWED_PATHS, MAX_RULE_VALUES - 1)):
            self._forward_rule(
                f"api-forward-{i + 1}",
                self.api_listener,
                FORWARD_PRIORITY + i,
                self.api_target_group,
                API_KEY_HEADER,
                [key.value],
                paths=paths,
            )
