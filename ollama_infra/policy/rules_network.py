"""Security groups, the ALB and its listeners, CloudFront."""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import re
import sys
from pathlib import Path
from typing import Any

from pulumi_policy import PolicyConfigSchema

from ollama_infra.policy.common import (
    Report,
    ResourceLike,
    as_list,
    by_prop,
    environment,
    flag,
    get,
    number,
    of_type,
    outside_dev,
    policy,
    strings,
    truthy,
)
from ollama_infra.policy.rules_data import production_bar
from ollama_infra.policy.rules_storage import BUCKET, LOG_BUCKET_RE

SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
LOG_DELIVERY_SOURCE = "aws:cloudwatch/logDeliverySource:LogDeliverySource"
SG_TYPES = (SECURITY_GROUP, SG_RULE, INGRESS_RULE)

ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
DEFAULT_PUBLIC_ALB_PORTS = (80, 443)
PUBLIC_ALB_PORTS_SCHEMA = PolicyConfigSchema(
    properties={
        "public_alb_ports": {
            "type": "array",
            "items": {"type": "integer"},
            "default": list(DEFAULT_PUBLIC_ALB_PORTS),
            "description": "ALB listener ports that may accept 0.0.0.0/0 and ::/0",
        }
    }
)
ALB_SG_RE = re.compile(r"^ollama-alb-sg-")
# ALB TLS policies every scanner accepts (checkov CKV_AWS_103 prefixes, trivy AVD-AWS-0047
# deny list, pulumi compliance allow list): TLS 1.2+ with forward secrecy.
ALB_TLS_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
        "ELBSecurityPolicy-FS-1-2-Res-2020-10",
        "ELBSecurityPolicy-FS-1-2-Res-2019-08",
    }
)
CLOUDFRONT_TLS = frozenset({"TLSv1.2_2021", "TLSv1.2_2025", "TLSv1.3_2025"})
HTTPS_VIEWER = frozenset({"redirect-to-https", "https-only"})


def _is_world(cidr: Any) -> bool:
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def _ports(proto: Any, from_port: Any, to_port: Any) -> tuple[float, float]:
    if str(proto) in ("-1", "all"):
        return 0, 65535
    lo, hi = number(from_port), number(to_port)
    return (lo if lo is not None else 0), (hi if hi is not None else 65535)


def world_ingress(res: ResourceLike) -> list[tuple[str, float, float, str | None]]:
    """(cidr, from, to, security group ref) of every world-open ingress the resource declares."""
    p = res.props
    out: list[tuple[str, float, float, str | None]] = []
    if res.resource_type == INGRESS_RULE:
        lo, hi = _ports(p.get("ipProtocol"), p.get("fromPort"), p.get("toPort"))
        for key in ("cidrIpv4", "cidrIpv6"):
            if _is_world(p.get(key)):
                out.append((str(p.get(key)), lo, hi, p.get("securityGroupId")))
    elif res.resource_type == SG_RULE and p.get("type") == "ingress":
        lo, hi = _ports(p.get("protocol"), p.get("fromPort"), p.get("toPort"))
        for cidr in strings(p.get("cidrBlocks")) + strings(p.get("ipv6CidrBlocks")):
            if _is_world(cidr):
                out.append((cidr, lo, hi, p.get("securityGroupId")))
    elif res.resource_type == SECURITY_GROUP:
        for rule in as_list(p.get("ingress")):
            lo, hi = _ports(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"))
            for cidr in strings(rule.get("cidrBlocks")) + strings(rule.get("ipv6CidrBlocks")):
                if _is_world(cidr):
                    out.append((cidr, lo, hi, None))
    return out


@policy(
    "sg-no-world-admin-ports",
    "No security group accepts SSH (22) or RDP (3389) from 0.0.0.0/0 or ::/0.",
    *SG_TYPES,
    checkov=("CKV_AWS_24", "CKV_AWS_25"),
    trivy=("AVD-AWS-0107",),
)
def sg_no_world_admin_ports(args: Any, report: Report) -> None:
    for cidr, lo, hi, _ in world_ingress(args):
        for port, what in ADMIN_PORTS.items():
            if lo <= port <= hi:
                flag(
                    report,
                    args,
                    f"{what} (port {port}) is open to {cidr}",
                    "use SSM Session Manager, or restrict compute.ssh_admin_cidrs to "
                    "admin networks",
                )


def _sg_name(sg: ResourceLike) -> str:
    return str(sg.props.get("name") or get(sg.props, "tags", "Name") or "")


@policy(
    "sg-no-world-ingress",
    "Only the ALB security group accepts 0.0.0.0/0 or ::/0, and only on its public ports.",
    *SG_TYPES,
    stack=True,
    checkov=("CKV_AWS_260", "CKV_AWS_277"),
    trivy=("AVD-AWS-0107",),
    config_schema=PUBLIC_ALB_PORTS_SCHEMA,
)
def sg_no_world_ingress(args: Any, report: Report) -> None:
    config = args.get_config() if hasattr(args, "get_config") else {}
    allowed = {int(p) for p in config.get("public_alb_ports", DEFAULT_PUBLIC_ALB_PORTS)}
    groups = by_prop(args, SECURITY_GROUP, "id")
    for res in args.resources:
        for cidr, lo, hi, sg_ref in world_ingress(res):
            sg = res if res.resource_type == SECURITY_GROUP else groups.get(str(sg_ref))
            name = _sg_name(sg) if sg is not None else ""
            ports = set(range(int(lo), int(hi) + 1))
            if ALB_SG_RE.match(name) and ports <= allowed:
                continue
            where = f"security group {name!r}" if name else "a security group"
            flag(
                report,
                res,
                f"{where} accepts ports {int(lo)}-{int(hi)} from {cidr}",
                "reference the CloudFront origin-facing prefix list, the ALB security "
                "group or a specific CIDR; only the ALB security group may be public, on "
                f"ports {sorted(allowed)} (ollama_api.acknowledge_public_access adds the "
                "API port)",
            )


# ---------------------------------------------------------------------------- ALB


def _is_alb(args: Any) -> bool:
    return args.props.get("loadBalancerType") in (None, "application")


@policy(
    "alb-drop-invalid-headers",
    "Application load balancers drop invalid HTTP header fields.",
    LOAD_BALANCER,
    checkov=("CKV_AWS_131",),
    trivy=("AVD-AWS-0052",),
)
def alb_drop_invalid_headers(args: Any, report: Report) -> None:
    if _is_alb(args) and not truthy(args.props.get("dropInvalidHeaderFields")):
        flag(
            report,
            args,
            "the ALB forwards requests with invalid HTTP header fields",
            "set drop_invalid_header_fields=True",
        )


@policy(
    "alb-access-logs",
    "Application load balancers write access logs to S3.",
    LOAD_BALANCER,
    checkov=("CKV_AWS_91",),
)
def alb_access_logs(args: Any, report: Report) -> None:
    if not _is_alb(args):
        return
    logs = args.props.get("accessLogs")
    if not truthy(get(logs, "enabled")) or not get(logs, "bucket"):
        flag(
            report,
            args,
            "access logging is off",
            "set access_logs={'bucket': <the log bucket>, 'enabled': True, 'prefix': 'alb'}",
        )


@policy(
    "alb-deletion-protection",
    "Application load balancers outside dev have deletion protection.",
    LOAD_BALANCER,
    checkov=("CKV_AWS_150",),
)
def alb_deletion_protection(args: Any, report: Report) -> None:
    protected = truthy(args.props.get("enableDeletionProtection"))
    if _is_alb(args) and outside_dev(args) and not protected:
        flag(
            report,
            args,
            "deletion protection is off outside dev",
            "set enable_deletion_protection=True (edge.deletion_protection)",
        )


@policy(
    "alb-listener-tls",
    "HTTPS listeners have a certificate and a TLS 1.2+ forward-secrecy policy.",
    LISTENER,
    checkov=("CKV_AWS_103", "CKV2_AWS_74"),
    trivy=("AVD-AWS-0047",),
)
def alb_listener_tls(args: Any, report: Report) -> None:
    if args.props.get("protocol") != "HTTPS":
        return
    ssl_policy = args.props.get("sslPolicy")
    if ssl_policy not in ALB_TLS_POLICIES:
        flag(
            report,
            args,
            f"HTTPS listener uses TLS policy {ssl_policy!r} (unset means the weak 2016-08 default)",
            "set ssl_policy='ELBSecurityPolicy-TLS13-1-2-2021-06'",
        )
    if not args.props.get("certificateArn"):
        flag(report, args, "HTTPS listener has no certificate", "set certificate_arn")


@policy(
    "alb-backend-tls",
    "Production target groups reach their targets over HTTPS and health-check them over HTTPS "
    "(dev and staging may stay on HTTP, an accepted finding).",
    TARGET_GROUP,
    checkov=("CKV_AWS_378",),
)
def alb_backend_tls(args: Any, report: Report) -> None:
    p = args.props
    if not production_bar(args) or p.get("targetType") == "lambda":
        return  # a Lambda target group has no protocol
    fix = "set edge.backend_tls: true (the production default): the instances' TLS proxy"
    if p.get("protocol") != "HTTPS":
        flag(
            report,
            args,
            f"target group forwards to its targets over {p.get('protocol')!r}",
            f"{fix} serves the target groups over HTTPS",
        )
    elif get(p, "healthCheck", "protocol") != "HTTPS":
        flag(
            report,
            args,
            f"HTTPS target group health-checks over {get(p, 'healthCheck', 'protocol')!r}, so a "
            "target passes its checks without its TLS path working",
            f"{fix}; health_check.protocol must be HTTPS",
        )


def _redirects_to_https(action: Any) -> bool:
    return get(action, "type") == "redirect" and get(action, "redirect", "protocol") == "HTTPS"


@policy(
    "alb-https-redirect",
    "On an ALB with a certificate, HTTP listeners only redirect to HTTPS.",
    LISTENER,
    LISTENER_RULE,
    stack=True,
    checkov=("CKV_AWS_2", "CKV2_AWS_20"),
    trivy=("AVD-AWS-0054",),
)
def alb_https_redirect(args: Any, report: Report) -> None:
    listeners = of_type(args, LISTENER)
    https_lbs = {
        str(r.props.get("loadBalancerArn")) for r in listeners if r.props.get("protocol") == "HTTPS"
    }
    rules_by_listener: dict[str, list[ResourceLike]] = {}
    for rule in of_type(args, LISTENER_RULE):
        rules_by_listener.setdefault(str(rule.props.get("listenerArn")), []).append(rule)
    for listener in listeners:
        p = listener.props
        if p.get("protocol") != "HTTP" or str(p.get("loadBalancerArn")) not in https_lbs:
            continue  # no certificate on this ALB (dev): plain HTTP forwarding is the exception
        actions = as_list(p.get("defaultActions"))
        if len(actions) != 1 or not _redirects_to_https(actions[0]):
            flag(
                report,
                listener,
                f"HTTP listener on port {p.get('port')} does not redirect to HTTPS although "
                "the ALB has an HTTPS listener",
                "make its only default action a redirect with protocol 'HTTPS', "
                "port '443', status_code 'HTTP_301'",
            )
        for rule in rules_by_listener.get(str(p.get("arn")), []):
            if any(get(a, "type") == "forward" for a in as_list(rule.props.get("actions"))):
                flag(
                    report,
                    rule,
                    "listener rule forwards plain HTTP traffic on an ALB that has HTTPS",
                    "attach the rule to the HTTPS listener",
                )


# ---------------------------------------------------------------------------- CloudFront


def _behaviors(props: Any) -> list[tuple[str, Any]]:
    out = [("default_cache_behavior", props.get("defaultCacheBehavior"))]
    for i, b in enumerate(as_list(props.get("orderedCacheBehaviors"))):
        out.append((f"ordered_cache_behaviors[{i}] ({get(b, 'pathPattern')})", b))
    return out


@policy(
    "cloudfront-viewer-https",
    "CloudFront behaviours redirect viewers to HTTPS (or accept HTTPS only).",
    DISTRIBUTION,
    checkov=("CKV_AWS_34",),
    trivy=("AVD-AWS-0012",),
)
def cloudfront_viewer_https(args: Any, report: Report) -> None:
    for where, behavior in _behaviors(args.props):
        viewer_policy = get(behavior, "viewerProtocolPolicy")
        if behavior is not None and viewer_policy not in HTTPS_VIEWER:
            flag(
                report,
                args,
                f"{where} has viewer_protocol_policy {viewer_policy!r}",
                "set viewer_protocol_policy='redirect-to-https'",
            )


@policy(
    "cloudfront-tls-version",
    "CloudFront with a custom certificate requires TLSv1.2_2021 or newer.",
    DISTRIBUTION,
    checkov=("CKV_AWS_174",),
    trivy=("AVD-AWS-0013",),
)
def cloudfront_tls_version(args: Any, report: Report) -> None:
    cert = args.props.get("viewerCertificate")
    if truthy(get(cert, "cloudfrontDefaultCertificate")):
        return  # *.cloudfront.net certificate: CloudFront fixes the protocol versions
    version = get(cert, "minimumProtocolVersion")
    if version not in CLOUDFRONT_TLS:
        flag(
            report,
            args,
            f"custom certificate with minimum_protocol_version {version!r}",
            "set viewer_certificate.minimum_protocol_version='TLSv1.2_2021' and "
            "ssl_support_method='sni-only'",
        )


@policy(
    "cloudfront-origin-https",
    "Outside dev, CloudFront reaches custom origins over HTTPS with TLS 1.2 only.",
    DISTRIBUTION,
    checkov=("CKV2_AWS_72", "CKV2_AWS_54"),
)
def cloudfront_origin_https(args: Any, report: Report) -> None:
    if not outside_dev(args):
        return
    for origin in as_list(args.props.get("origins")):
        custom = get(origin, "customOriginConfig")
        if custom is None:
            continue
        if get(custom, "originProtocolPolicy") != "https-only":
            flag(
                report,
                args,
                f"origin {get(origin, 'originId')!r} is reached with "
                f"{get(custom, 'originProtocolPolicy')!r} outside dev",
                "set custom_origin_config.origin_protocol_policy='https-only' (the ALB has "
                "a certificate outside dev) and origin_ssl_protocols=['TLSv1.2']",
            )
        bad = [p for p in strings(get(custom, "originSslProtocols")) if p != "TLSv1.2"]
        if bad:
            flag(
                report,
                args,
                f"origin {get(origin, 'originId')!r} allows {bad}",
                "set origin_ssl_protocols=['TLSv1.2']",
            )


@functools.cache
def cloudfront_log_unsupported_regions() -> frozenset[str]:
    """Regions whose buckets CloudFront standard logging cannot write to.

    The table lives in ``ollama_infra/edge/regions.py``. That file imports nothing, but the
    ``ollama_infra.edge`` package pulls in the whole program, which the pack's own
    virtualenv does not carry, so the file is loaded on its own when not imported yet.
    """
    module = sys.modules.get("ollama_infra.edge.regions")
    if module is None:
        path = Path(__file__).resolve().parents[1] / "edge" / "regions.py"
        spec = importlib.util.spec_from_file_location("_ollama_edge_regions", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return frozenset(module.CLOUDFRONT_LOG_UNSUPPORTED_REGIONS)


def _region(res: ResourceLike) -> str | None:
    region = res.props.get("region") or get(getattr(res.provider, "props", None), "region")
    return str(region) if region else None


@policy(
    "cloudfront-logging",
    "CloudFront distributions write access logs.",
    DISTRIBUTION,
    stack=True,
    checkov=("CKV_AWS_86",),
    trivy=("AVD-AWS-0010",),
)
def cloudfront_logging(args: Any, report: Report) -> None:
    resources: list[ResourceLike] = list(args.resources)
    delivered = {
        str(r.props.get("resourceArn")) for r in resources if r.resource_type == LOG_DELIVERY_SOURCE
    }
    log_regions = {
        _region(b)
        for b in resources
        if b.resource_type == BUCKET and LOG_BUCKET_RE.match(str(b.props.get("bucket") or ""))
    }
    # Exception: the stack's log bucket sits in an opt-in region CloudFront cannot log to.
    no_target = bool(log_regions) and log_regions <= cloudfront_log_unsupported_regions()
    for dist in resources:
        if dist.resource_type != DISTRIBUTION:
            continue
        if get(dist.props, "loggingConfig", "bucket") or str(dist.props.get("arn")) in delivered:
            continue
        if no_target:
            continue
        flag(
            report,
            dist,
            "distribution writes no access logs",
            "set logging_config={'bucket': <log bucket domain name>, 'prefix': 'cloudfront/'} "
            "or add a CloudWatch log delivery source for it",
        )


@policy(
    "cloudfront-waf-production",
    "Production CloudFront distributions have a WAF web ACL.",
    DISTRIBUTION,
    checkov=("CKV_AWS_68",),
    trivy=("AVD-AWS-0011",),
)
def cloudfront_waf_production(args: Any, report: Report) -> None:
    if environment(args) == "production" and not args.props.get("webAclId"):
        flag(
            report,
            args,
            "production distribution has no WAF web ACL",
            "attach the CLOUDFRONT-scope web ACL (web_acl_id); edge.waf_enabled must stay on",
        )


# ---------------------------------------------------------------- WAF logging
WEB_ACL = "aws:wafv2/webAcl:WebAcl"
WAF_LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"
# WAF delivers only to destinations named aws-waf-logs-* (log group, bucket or stream).
WAF_DESTINATION_RE = re.compile(r"(:log-group:|:::|/)aws-waf-logs-")
WAF_REDACTED = ("authorization", "cookie")


@policy(
    "waf-logging",
    "WAF web ACLs log requests to an aws-waf-logs-* destination, with the authorization and "
    "cookie headers redacted.",
    WEB_ACL,
    stack=True,
    checkov=("CKV2_AWS_31",),
)
def waf_logging(args: Any, report: Report) -> None:
    configs = by_prop(args, WAF_LOGGING, "resourceArn")
    for acl in of_type(args, WEB_ACL):
        config = configs.get(str(acl.props.get("arn")))
        if config is None:
            flag(
                report,
                acl,
                "web ACL has no logging configuration",
                "add aws.wafv2.WebAclLoggingConfiguration to a log group named aws-waf-logs-...",
            )
            continue
        destinations = strings(config.props.get("logDestinationConfigs"))
        redacted = {
            str(get(f, "singleHeader", "name")).lower()
            for f in as_list(config.props.get("redactedFields"))
        }
        missing = [h for h in WAF_REDACTED if h not in redacted]
        if not destinations or not all(WAF_DESTINATION_RE.search(d) for d in destinations):
            flag(
                report,
                acl,
                f"WAF logs go to {destinations or 'nowhere'}",
                "log to a CloudWatch log group (or bucket) whose name starts with aws-waf-logs-",
            )
        if missing:
            flag(
                report,
                acl,
                f"WAF logs keep the {', '.join(missing)} header(s)",
                "add redacted_fields single_header entries for authorization and cookie",
            )
