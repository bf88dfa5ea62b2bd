"""CloudFront in front of the ALB, its WAF web ACL, and the public URL parameter.

- The origin is the ALB with the secret origin header; the ALB forwards nothing without it.
- With an ALB certificate the origin protocol is HTTPS and the origin hostname must be a DNS
  name the certificate covers (``edge.origin_domain_name``, a record pointing at the ALB);
  CloudFront validates the origin certificate against it. Without a certificate (dev) the
  origin is the ALB's own DNS name over HTTP.
- Open WebUI's static assets are cached (managed CachingOptimized); everything else is not
  cached and forwards every viewer header, cookie and query string (CachingDisabled +
  AllViewer), which is also what websockets need. With an HTTPS origin the Host header is
  the one value not forwarded (AllViewerExceptHostHeader): CloudFront would otherwise check
  the ALB certificate against the viewer's hostname, which it cannot cover.
- A viewer-request CloudFront Function answers 403 to the model-management paths (Ollama's,
  through Open WebUI's proxy, and Open WebUI's own), matched on a normalised copy of the path
  (escapes decoded, duplicate slashes and dot segments resolved, any case), so no spelling
  that Open WebUI or Ollama would route reaches the ALB.
- CLOUDFRONT-scope WAF and CloudFront certificates live in us-east-1: the web ACL uses the
  explicit ``ollama-us-east-1`` provider, which observability reuses for the billing alarm.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ollama_infra import origin_header
from ollama_infra.config import EdgeConfig
from ollama_infra.context import StackContext
from ollama_infra.edge.alb import blocked_paths
from ollama_infra.edge.log_bucket import CLOUDFRONT_PREFIX

SERVICE = "edge"
# WAF logging: the required log group name prefix and the headers never logged.
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"
WAF_REDACTED_HEADERS = ("authorization", "cookie")
ORIGIN_ID = "ollama-alb"
# AWS managed policy IDs (fixed, documented in the CloudFront developer guide).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
# Open WebUI's build output (SvelteKit, content-hashed) and static files.
STATIC_PATHS: tuple[str, ...] = ("/_app/*", "/static/*", "/favicon*")
ORIGIN_READ_TIMEOUT = 60  # the CloudFront maximum without a quota increase
VIEWER_TLS = "TLSv1.2_2021"
ALL_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]


def block_function_code() -> str:
    """CloudFront Function (cloudfront-js-2.0) that refuses the model-management paths.

    It matches a normalised copy of the path (escapes decoded until stable, backslashes as
    slashes, empty and dot segments resolved, any case): a superset of every spelling that
    Open WebUI (decodes once, exact case) or Ollama could route to a blocked endpoint. The
    request itself goes on unchanged.
    """
    alternatives = "|".join(re.escape(p.lstrip("/")).replace("/", "\\/") for p in blocked_paths())
    return f"""// Refuse model management: Ollama's endpoints, direct or through Open WebUI's proxy,
// and Open WebUI's own, in any spelling that could reach them.
var BLOCKED = /^\\/({alternatives})/i;

function deny(code, text) {{
  return {{ statusCode: code, statusDescription: text }};
}}

// Decode escapes until the path stops changing; only the first decode may fail.
function decoded(uri) {{
  var path = decodeURIComponent(uri);
  for (var i = 0; i < 3 && path.indexOf("%") >= 0; i++) {{
    var next;
    try {{
      next = decodeURIComponent(path);
    }} catch (e) {{
      break;
    }}
    if (next === path) {{
      break;
    }}
    path = next;
  }}
  return path;
}}

// Backslashes as slashes, empty and "." segments dropped, ".." removing its parent.
function normalised(path) {{
  var parts = path.replace(/\\\\/g, "/").split("/");
  var kept = [];
  for (var i = 0; i < parts.length; i++) {{
    if (parts[i] === "" || parts[i] === ".") {{
      continue;
    }}
    if (parts[i] === "..") {{
      kept.pop();
      continue;
    }}
    kept.push(parts[i]);
  }}
  return "/" + kept.join("/");
}}

function handler(event) {{
  var request = event.request;
  var path;
  try {{
    path = normalised(decoded(request.uri));
  }} catch (e) {{
    return deny(400, "Bad Request");
  }}
  if (BLOCKED.test(path)) {{
    return deny(403, "Forbidden");
  }}
  return request;
}}
"""


@dataclass(frozen=True)
class CdnArgs:
    ctx: StackContext
    """The stack: names and tags of the distribution, function, WAF and parameter."""
    config: EdgeConfig
    """Aliases, certificates, price class and WAF limits (ollama:edge)."""
    waf_enabled: bool
    """Attach the CLOUDFRONT-scope web ACL (StackConfig.waf_enabled)."""
    https_origin: bool
    """The ALB has a certificate: CloudFront reaches it over HTTPS."""
    alb_dns_name: pulumi.Input[str]
    """The origin when there is no origin_domain_name (HTTP, dev only)."""
    origin_header_name: str
    """Header CloudFront adds so the ALB forwards the request."""
    origin_header_value: pulumi.Input[str]
    """Its secret value (never printed; masked in the plan)."""
    log_bucket_domain_name: pulumi.Input[str]
    """Where CloudFront standard logs go."""
    cloudfront_logging: bool
    """False where CloudFront cannot deliver standard logs to the bucket's region."""
    log_delivery_ready: Sequence[pulumi.Resource] = ()
    """The log bucket's ownership controls and ACL; the distribution waits for them."""
    waf_log_retention_days: int = 30
    """Retention of the WAF log group (observability.log_retention_days)."""
    origin_header_generation: int = 0
    """The generation of ``origin_header_value``, in the distribution's tag
    ``OriginHeaderGeneration``: what ``ollama-ops secrets rotate --finish`` checks."""
    origin_rule: pulumi.Resource | None = None
    """The ALB rule that checks the header: updated before the distribution, so that during a
    rotation it accepts the new value before any edge location sends it."""


class CdnComponent(pulumi.ComponentResource):
    """The CloudFront distribution, optional WAF, monitoring subscription and public URL."""

    us_east_1: aws.Provider
    """Explicit us-east-1 provider (CLOUDFRONT WAF here; billing alarm in observability)."""

    def __init__(self, name: str, args: CdnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ollama:edge:Cdn", name, None, opts)
        ctx, cfg = args.ctx, args.config
        child = pulumi.ResourceOptions(parent=self)
        self.us_east_1 = aws.Provider("ollama-us-east-1", region="us-east-1", opts=child)

        function_name = ctx.name("block-model-mgmt")
        block = aws.cloudfront.Function(
            f"{name}-block-model-mgmt",
            name=function_name,
            runtime="cloudfront-js-2.0",
            comment="Ollama: 403 for model-management API paths",
            code=block_function_code(),
            publish=True,
            tags=ctx.tags(SERVICE, function_name),
            opts=child,
        )
        self.web_acl = self._web_acl(name, ctx, cfg) if args.waf_enabled else None
        if self.web_acl is not None:
            self._waf_logging(name, ctx, self.web_acl, args.waf_log_retention_days)

        logging_config: aws.cloudfront.DistributionLoggingConfigArgsDict | None = None
        if args.cloudfront_logging:
            logging_config = {
                "bucket": args.log_bucket_domain_name,
                "prefix": CLOUDFRONT_PREFIX,
                "include_cookies": False,
            }
        else:
            pulumi.log.warn(
                f"CloudFront standard logging cannot deliver to a bucket in {ctx.region} "
                "(an opt-in region); the distribution of this stack is not logged to "
                f"{ctx.names.log_bucket}"
            )
        viewer_certificate: aws.cloudfront.DistributionViewerCertificateArgsDict = {
            "cloudfront_default_certificate": True
        }
        if cfg.cloudfront_certificate_arn:
            viewer_certificate = {
                "acm_certificate_arn": cfg.cloudfront_certificate_arn,
                "ssl_support_method": "sni-only",
                "minimum_protocol_version": VIEWER_TLS,
            }
        static: list[aws.cloudfront.DistributionOrderedCacheBehaviorArgsDict] = [
            {
                "path_pattern": path,
                "target_origin_id": ORIGIN_ID,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED,
                "response_headers_policy_id": SECURITY_HEADERS,
                "compress": True,
            }
            for path in STATIC_PATHS
        ]
        default: aws.cloudfront.DistributionDefaultCacheBehaviorArgsDict = {
            "target_origin_id": ORIGIN_ID,
            "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ALL_METHODS,
            "cached_methods": ["GET", "HEAD"],
            "cache_policy_id": CACHING_DISABLED,
            "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST if args.https_origin else ALL_VIEWER,
            "response_headers_policy_id": SECURITY_HEADERS,
            "compress": False,
            "function_associations": [{"event_type": "viewer-request", "function_arn": block.arn}],
        }
        dist_name = ctx.names.distribution
        self.distribution = aws.cloudfront.Distribution(
            f"{name}-distribution",
            enabled=True,
            comment=f"Ollama + Open WebUI ({ctx.env})",
            aliases=list(cfg.domain_aliases) or None,
            price_class=cfg.cloudfront_price_class,
            http_version="http2and3",
            is_ipv6_enabled=True,
            origins=[_origin(args)],
            default_cache_behavior=default,
            ordered_cache_behaviors=static,
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate=viewer_certificate,
            logging_config=logging_config,
            web_acl_id=self.web_acl.arn if self.web_acl else None,
            tags={
                **ctx.tags(SERVICE, dist_name),
                origin_header.GENERATION_TAG: str(args.origin_header_generation),
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*args.log_delivery_ready, *filter(None, [args.origin_rule])],
            ),
        )
        # Additional CloudWatch metrics (cache hit rate, origin latency, error rates by code)
        # that the cache-hit alarm and the dashboard read.
        aws.cloudfront.MonitoringSubscription(
            f"{name}-monitoring",
            distribution_id=self.distribution.id,
            monitoring_subscription={
                "realtime_metrics_subscription_config": {
                    "realtime_metrics_subscription_status": "Enabled"
                }
            },
            opts=child,
        )

        host = (
            pulumi.Output.from_input(cfg.domain_aliases[0])
            if cfg.domain_aliases
            else self.distribution.domain_name
        )
        self.url = pulumi.Output.concat("https://", host)
        parameter_name = ctx.names.parameter("webui/public-url")
        self.public_url_parameter = aws.ssm.Parameter(
            f"{name}-public-url",
            name=parameter_name,
            type="String",
            value=self.url,
            description="Public URL of Open WebUI (WEBUI_URL)",
            tags=ctx.tags(SERVICE, ctx.name("public-url")),
            opts=child,
        )
        cors_name = ctx.names.parameter("webui/cors-origins")
        self.cors_origins_parameter = aws.ssm.Parameter(
            f"{name}-cors-origins",
            name=cors_name,
            type="String",
            value=cors_origins(cfg.domain_aliases, self.url),
            description="Origins Open WebUI accepts (CORS_ALLOW_ORIGIN, websockets): every alias",
            tags=ctx.tags(SERVICE, ctx.name("cors-origins")),
            opts=child,
        )

        self.distribution_id = self.distribution.id
        self.distribution_arn = self.distribution.arn
        self.domain_name = self.distribution.domain_name
        self.register_outputs(
            {
                "url": self.url,
                "distribution_id": self.distribution_id,
                "domain_name": self.domain_name,
            }
        )

    def _web_acl(self, name: str, ctx: StackContext, cfg: EdgeConfig) -> aws.wafv2.WebAcl:
        acl_name = ctx.name("waf")

        def visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgsDict:
            return {
                "cloudwatch_metrics_enabled": True,
                "metric_name": metric,
                "sampled_requests_enabled": True,
            }

        managed = [
            # Prompts posted to Open WebUI are often larger than the 8 KB body limit of the
            # common rule set, so that one rule only counts instead of blocking chats.
            ("AWSManagedRulesCommonRuleSet", ["SizeRestrictions_BODY"]),
            ("AWSManagedRulesKnownBadInputsRuleSet", []),
        ]
        rules: list[aws.wafv2.WebAclRuleArgsDict] = []
        for i, (group, counted) in enumerate(managed):
            statement: aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgsDict = {
                "vendor_name": "AWS",
                "name": group,
            }
            if counted:
                statement["rule_action_overrides"] = [
                    {"name": rule, "action_to_use": {"count": {}}} for rule in counted
                ]
            rules.append(
                {
                    "name": group,
                    "priority": i + 1,
                    "override_action": {"none": {}},
                    "statement": {"managed_rule_group_statement": statement},
                    "visibility_config": visibility(f"{acl_name}-{group}"),
                }
            )
        rules.append(
            {
                "name": "per-ip-rate-limit",
                "priority": len(managed) + 1,
                "action": {"block": {}},
                "statement": {
                    "rate_based_statement": {
                        "limit": cfg.waf_rate_limit_per_5min,
                        "aggregate_key_type": "IP",
                        "evaluation_window_sec": 300,
                    }
                },
                "visibility_config": visibility(f"{acl_name}-rate"),
            }
        )
        return aws.wafv2.WebAcl(
            f"{name}-waf",
            name=acl_name,
            description=f"Ollama {ctx.env}: managed rule groups and a per-IP rate limit",
            scope="CLOUDFRONT",
            default_action={"allow": {}},
            rules=rules,
            visibility_config=visibility(acl_name),
            tags=ctx.tags(SERVICE, acl_name),
            opts=pulumi.ResourceOptions(parent=self, provider=self.us_east_1),
        )

    def _waf_logging(
        self, name: str, ctx: StackContext, web_acl: aws.wafv2.WebAcl, retention_days: int
    ) -> None:
        """WAF request logs in CloudWatch Logs (us-east-1, beside the CLOUDFRONT web ACL).

        WAF accepts only log groups named ``aws-waf-logs-...``. Credentials and sessions
        never reach the logs: the authorization and cookie headers are redacted.
        """
        opts = pulumi.ResourceOptions(parent=self, provider=self.us_east_1)
        group_name = waf_log_group_name(ctx)
        group = aws.cloudwatch.LogGroup(
            f"{name}-waf-logs",
            name=group_name,
            retention_in_days=retention_days,
            tags=ctx.tags(SERVICE, ctx.name("waf-logs")),
            opts=opts,
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-waf-logging",
            resource_arn=web_acl.arn,
            log_destination_configs=[group.arn],
            redacted_fields=[
                {"single_header": {"name": header}} for header in WAF_REDACTED_HEADERS
            ],
            opts=opts,
        )


def cors_origins(aliases: Sequence[str], url: pulumi.Input[str]) -> pulumi.Output[str]:
    """Every public origin, ``;``-separated as Open WebUI splits ``CORS_ALLOW_ORIGIN`` (no
    spaces: it does not strip them): each alias, or the distribution's own URL when there is
    none. Wildcard aliases cannot be listed: Open WebUI and socket.io compare origins exactly."""
    exact = [alias for alias in aliases if not alias.startswith("*.")]
    if exact:
        return pulumi.Output.from_input(";".join(f"https://{alias}" for alias in exact))
    return pulumi.Output.from_input(url)


def waf_log_group_name(ctx: StackContext) -> str:
    """``aws-waf-logs-ollama-waf-<env>``: WAF logs only to groups with that prefix."""
    return f"{WAF_LOG_GROUP_PREFIX}{ctx.name('waf')}"


def _origin(args: CdnArgs) -> aws.cloudfront.DistributionOriginArgsDict:
    """The ALB origin: HTTPS to the certificate's hostname, or HTTP to the ALB's DNS name."""
    domain = args.config.origin_domain_name if args.https_origin else None
    return {
        "origin_id": ORIGIN_ID,
        "domain_name": domain or args.alb_dns_name,
        "custom_headers": [{"name": args.origin_header_name, "value": args.origin_header_value}],
        "custom_origin_config": {
            "http_port": 80,
            "https_port": 443,
            "origin_protocol_policy": "https-only" if args.https_origin else "http-only",
            "origin_ssl_protocols": ["TLSv1.2"],
            "origin_read_timeout": ORIGIN_READ_TIMEOUT,
            "origin_keepalive_timeout": 5,
        },
    }
