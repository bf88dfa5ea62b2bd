"""CloudFront, WAF, the blocking function, the public URL parameter and Property 28."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from edge_paths import all_spellings, ollama_routes, webui_routes
from harness import STACKS, config_for, evaluated, override, replace_record, run_program
from test_edge import (
    CF_CERT,
    DIST,
    LISTENER,
    WAF,
    dev_variant,
    dev_variant_values,
    distribution,
    header_values,
    inputs,
    listener_on,
    route,
    staging_variant,
    staging_variant_values,
)

from ollama_infra.config import StackConfig
from ollama_infra.edge.cdn import (
    ALL_VIEWER,
    ALL_VIEWER_EXCEPT_HOST,
    CACHING_DISABLED,
    CACHING_OPTIMIZED,
    STATIC_PATHS,
    block_function_code,
)
from ollama_infra.edge.regions import cloudfront_can_log_to
from ollama_infra.offline.evaluate import Evaluation

TLS13_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def _dist_record(ev: Evaluation) -> Any:
    return ev.of_type(DIST)[0]


def cdn_violations(ev: Evaluation, cfg: StackConfig) -> list[str]:
    """The distribution is built as specified for the stack's config."""
    out = []
    d = distribution(ev)
    https_origin = cfg.edge.certificate_arn is not None
    default = d["defaultCacheBehavior"]
    if default["viewerProtocolPolicy"] != "redirect-to-https":
        out.append(f"default behaviour viewer policy is {default['viewerProtocolPolicy']}")
    if default["cachePolicyId"] != CACHING_DISABLED:
        out.append("default behaviour is cached (must use CachingDisabled)")
    expected_orp = ALL_VIEWER_EXCEPT_HOST if https_origin else ALL_VIEWER
    if default.get("originRequestPolicyId") != expected_orp:
        out.append("default behaviour does not forward all viewer values to the origin")
    if not {"POST", "PUT", "DELETE", "PATCH"} <= set(default["allowedMethods"]):
        out.append("default behaviour does not allow the API's methods")
    if [f["eventType"] for f in default.get("functionAssociations", [])] != ["viewer-request"]:
        out.append("the model-management blocking function is not on viewer requests")
    ordered = {b["pathPattern"]: b for b in d.get("orderedCacheBehaviors", [])}
    if set(ordered) != set(STATIC_PATHS):
        out.append(f"static behaviours are {sorted(ordered)}, expected {sorted(STATIC_PATHS)}")
    for path, b in ordered.items():
        if b["viewerProtocolPolicy"] != "redirect-to-https":
            out.append(f"{path}: viewer policy is {b['viewerProtocolPolicy']}")
        if b["cachePolicyId"] != CACHING_OPTIMIZED:
            out.append(f"{path}: static assets are not cached with CachingOptimized")
    (origin,) = d["origins"]
    custom = origin["customOriginConfig"]
    if custom["originProtocolPolicy"] != ("https-only" if https_origin else "http-only"):
        out.append(f"origin protocol is {custom['originProtocolPolicy']}")
    if custom["originReadTimeout"] != 60:
        out.append(f"origin read timeout is {custom['originReadTimeout']}, expected 60")
    expected_domain = (
        cfg.edge.origin_domain_name if https_origin else ev.outputs["ollama_alb_dns_name"]
    )
    if origin["domainName"] != expected_domain:
        out.append(f"origin domain is {origin['domainName']}, expected {expected_domain}")
    web = listener_on(ev, 443 if https_origin else 80)
    if {h["name"]: h["value"] for h in origin.get("customHeaders", [])} != header_values(ev, web):
        out.append("the origin header CloudFront sends is not the one the ALB requires")
    if d["priceClass"] != cfg.edge.cloudfront_price_class:
        out.append(f"price class is {d['priceClass']}")
    if "Ollama" not in d.get("comment", "") or cfg.env not in d.get("comment", ""):
        out.append(f"comment {d.get('comment')!r} does not name Ollama and the environment")
    logging = d.get("loggingConfig") or {}
    if not cloudfront_can_log_to(cfg.region):
        # Opt-in regions: CloudFront cannot deliver standard logs there (the plan warns).
        if logging:
            out.append(f"standard logging is set although {cfg.region} cannot receive it")
    elif not str(logging.get("bucket", "")).startswith(f"ollama-logs-{cfg.env}-"):
        out.append("standard logging does not go to the log bucket")
    return out


def in_transit_violations(ev: Evaluation, cfg: StackConfig) -> list[str]:
    """Property 28: every hop that can be encrypted is, with TLS 1.2 or later."""
    out = []
    d = distribution(ev)
    behaviours = [d["defaultCacheBehavior"], *d.get("orderedCacheBehaviors", [])]
    for b in behaviours:
        if b["viewerProtocolPolicy"] not in ("redirect-to-https", "https-only"):
            out.append(f"viewer -> CloudFront allows plain HTTP ({b.get('pathPattern', '*')})")
    cert = d["viewerCertificate"]
    if cert.get("acmCertificateArn") and cert.get("minimumProtocolVersion") != "TLSv1.2_2021":
        out.append(f"viewer TLS minimum is {cert.get('minimumProtocolVersion')}")
    for origin in d["origins"]:
        custom = origin["customOriginConfig"]
        if custom["originSslProtocols"] != ["TLSv1.2"]:
            out.append(f"origin TLS protocols are {custom['originSslProtocols']}")
        if cfg.edge.certificate_arn and custom["originProtocolPolicy"] != "https-only":
            out.append("CloudFront -> ALB is not HTTPS although the ALB has a certificate")
    for listener in ev.of_type(LISTENER):
        spec = inputs(listener)
        if spec["protocol"] == "HTTPS" and spec.get("sslPolicy") != TLS13_POLICY:
            out.append(f"{listener.name}: TLS policy {spec.get('sslPolicy')}")
        redirects = route(ev, listener, "/").kind == "redirect"
        if spec["protocol"] == "HTTP" and cfg.edge.certificate_arn and not redirects:
            out.append(f"{listener.name}: plain HTTP is served, not redirected")
        if int(spec["port"]) == cfg.ollama_api.port and spec["protocol"] != "HTTPS":
            out.append(f"{listener.name}: the API listener is not HTTPS")
    for policy in ev.of_type("aws:s3/bucketPolicy:BucketPolicy"):
        statements = json.loads(inputs(policy)["policy"])["Statement"]
        if not any(
            s["Effect"] == "Deny"
            and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in statements
        ):
            out.append(f"{policy.name}: the bucket accepts requests without TLS")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_cloudfront_behaviours_origin_and_logging(stack: str) -> None:
    ev = evaluated(stack)
    assert cdn_violations(ev, config_for(stack)) == []
    assert ev.outputs["ollama_cloudfront_distribution_id"] == _dist_record(ev).id
    assert ev.outputs["ollama_url"] == f"https://{_dist_record(ev).state['domainName']}"


def test_cdn_check_catches_plain_http_and_wrong_caching() -> None:
    ev = evaluated("production")
    d = _dist_record(ev)
    ordered = [dict(b) for b in inputs(d)["orderedCacheBehaviors"]]
    ordered[0] = {**ordered[0], "viewerProtocolPolicy": "allow-all", "cachePolicyId": "x"}
    problems = cdn_violations(
        replace_record(ev, d.name, orderedCacheBehaviors=ordered), config_for("production")
    )
    assert any("viewer policy is allow-all" in p for p in problems), problems
    assert any("not cached with CachingOptimized" in p for p in problems)
    default = {**inputs(d)["defaultCacheBehavior"], "cachePolicyId": CACHING_OPTIMIZED}
    problems = cdn_violations(
        replace_record(ev, d.name, defaultCacheBehavior=default), config_for("production")
    )
    assert any("default behaviour is cached" in p for p in problems), problems
    origins = [{**inputs(d)["origins"][0], "customHeaders": []}]
    problems = cdn_violations(replace_record(ev, d.name, origins=origins), config_for("production"))
    assert any("origin header" in p for p in problems), problems


def test_price_class_follows_the_stack() -> None:
    assert distribution(evaluated("production"))["priceClass"] == "PriceClass_200"
    assert distribution(evaluated("dev"))["priceClass"] == "PriceClass_100"


@pytest.mark.parametrize("stack", STACKS)
def test_property_28_encryption_in_transit(stack: str) -> None:
    """Property 28 (encryption in transit): viewers reach CloudFront over HTTPS only
    (redirect-to-https on every behaviour, TLSv1.2_2021 with a custom certificate),
    CloudFront reaches the ALB over HTTPS (TLSv1.2) whenever the ALB has a certificate,
    HTTPS listeners use ELBSecurityPolicy-TLS13-1-2-2021-06, plain HTTP only redirects,
    the API listener is HTTPS, and the buckets refuse requests without TLS."""
    assert in_transit_violations(evaluated(stack), config_for(stack)) == []


def test_property_28_catches_each_unencrypted_hop() -> None:
    ev, cfg = evaluated("production"), config_for("production")
    d = _dist_record(ev)
    default = {**inputs(d)["defaultCacheBehavior"], "viewerProtocolPolicy": "allow-all"}
    origin = dict(inputs(d)["origins"][0])
    origin["customOriginConfig"] = {
        **origin["customOriginConfig"],
        "originProtocolPolicy": "http-only",
        "originSslProtocols": ["TLSv1", "TLSv1.2"],
    }
    broken = replace_record(ev, d.name, defaultCacheBehavior=default, origins=[origin])
    problems = in_transit_violations(broken, cfg)
    assert any("viewer -> CloudFront allows plain HTTP" in p for p in problems), problems
    assert any("CloudFront -> ALB is not HTTPS" in p for p in problems)
    assert any("origin TLS protocols" in p for p in problems)
    https = listener_on(ev, 443)
    problems = in_transit_violations(
        replace_record(ev, https.name, sslPolicy="ELBSecurityPolicy-2016-08"), cfg
    )
    assert any("TLS policy ELBSecurityPolicy-2016-08" in p for p in problems), problems
    http = listener_on(ev, 80)
    forward = [{"type": "forward", "targetGroupArn": "arn:tg"}]
    problems = in_transit_violations(replace_record(ev, http.name, defaultActions=forward), cfg)
    assert any("plain HTTP is served" in p for p in problems), problems


# ---------------------------------------------------------------- custom domain


def test_custom_domain_uses_the_certificate_with_tls12_2021() -> None:
    ev = staging_variant()
    d = distribution(ev)
    assert d["aliases"] == ["chat.example.com"]
    assert d["viewerCertificate"] == {
        "acmCertificateArn": CF_CERT,
        "sslSupportMethod": "sni-only",
        "minimumProtocolVersion": "TLSv1.2_2021",
    }
    assert ev.outputs["ollama_url"] == "https://chat.example.com"
    assert in_transit_violations(ev, config_for("staging", staging_variant_values())) == []
    broken_cert = {**d["viewerCertificate"], "minimumProtocolVersion": "TLSv1"}
    broken = replace_record(ev, _dist_record(ev).name, viewerCertificate=broken_cert)
    problems = in_transit_violations(broken, config_for("staging", staging_variant_values()))
    assert any("viewer TLS minimum is TLSv1" in p for p in problems), problems


# ---------------------------------------------------------------- public URL, monitoring


@pytest.mark.parametrize("stack", STACKS)
def test_public_url_parameter_and_monitoring_subscription(stack: str) -> None:
    ev = evaluated(stack)
    params = {inputs(r)["name"]: inputs(r) for r in ev.of_type("aws:ssm/parameter:Parameter")}
    url = params[f"/ollama/{stack}/webui/public-url"]
    assert url["type"] == "String"
    assert url["value"] == ev.outputs["ollama_url"]
    (subscription,) = ev.of_type("aws:cloudfront/monitoringSubscription:MonitoringSubscription")
    spec = inputs(subscription)
    assert spec["distributionId"] == _dist_record(ev).id
    status = spec["monitoringSubscription"]["realtimeMetricsSubscriptionConfig"]
    assert status["realtimeMetricsSubscriptionStatus"] == "Enabled"


def cors_origins_of(ev: Evaluation) -> str:
    params = {inputs(r)["name"]: inputs(r) for r in ev.of_type("aws:ssm/parameter:Parameter")}
    (name,) = [n for n in params if n.endswith("/webui/cors-origins")]
    return str(params[name]["value"])


@pytest.mark.parametrize("stack", STACKS)
def test_cors_origins_without_aliases_are_the_distribution_url(stack: str) -> None:
    ev = evaluated(stack)
    assert cors_origins_of(ev) == ev.outputs["ollama_url"]


def test_cors_origins_list_every_alias() -> None:
    """Issue 21 item 6: socket.io refuses origins outside CORS_ALLOW_ORIGIN, so every alias
    (not only the first, the public URL) is an origin; wildcards cannot be one."""
    values = override(
        staging_variant_values(),
        "edge",
        domain_aliases=["chat.example.com", "ai.example.org", "*.example.net"],
    )
    ev = run_program("staging", values)
    assert ev.outputs["ollama_url"] == "https://chat.example.com"
    origins = cors_origins_of(ev)
    assert origins == "https://chat.example.com;https://ai.example.org"
    # Open WebUI splits on ";" without stripping: no spaces, no empty entries.
    assert all(o and o == o.strip() for o in origins.split(";"))
    assert cors_origins_of(staging_variant()) == "https://chat.example.com"


@pytest.mark.parametrize("stack", STACKS)
def test_origin_header_secret_is_stored_but_never_exported(stack: str) -> None:
    ev = evaluated(stack)
    secrets = {inputs(r)["name"] for r in ev.of_type("aws:secretsmanager/secret:Secret")}
    assert f"ollama/{stack}/origin-header" in secrets
    (origin,) = distribution(ev)["origins"]
    value = origin["customHeaders"][0]["value"]
    assert len(value) >= 32
    assert value not in json.dumps(ev.outputs, default=str)
    # The value is a Pulumi secret wherever it is an input (state encrypts it).
    raw_rule = next(r for r in ev.resources if r.name.endswith("web-origin-header"))
    assert "4dabf18193072939515e22adb298388d" in json.dumps(raw_rule.inputs["conditions"])


# ---------------------------------------------------------------- WAF


def waf_violations(ev: Evaluation, cfg: StackConfig) -> list[str]:
    acls = ev.of_type(WAF)
    if not cfg.waf_enabled:
        return [f"WAF present although disabled: {[a.name for a in acls]}"] if acls else []
    if len(acls) != 1:
        return [f"expected one web ACL, found {len(acls)}"]
    acl = acls[0]
    spec = inputs(acl)
    out = []
    if spec["scope"] != "CLOUDFRONT":
        out.append(f"scope is {spec['scope']}")
    provider = next(r for r in ev.resources if r.name == "ollama-us-east-1")
    if not acl.provider or "::ollama-us-east-1::" not in acl.provider:
        out.append("the web ACL is not created through the us-east-1 provider")
    if provider.inputs.get("region") != "us-east-1":
        out.append(f"the explicit provider is in {provider.inputs.get('region')}")
    groups = {
        r["statement"]["managedRuleGroupStatement"]["name"]
        for r in spec["rules"]
        if "managedRuleGroupStatement" in r["statement"]
    }
    for group in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"):
        if group not in groups:
            out.append(f"{group} is missing")
    rates = [r for r in spec["rules"] if "rateBasedStatement" in r["statement"]]
    if (
        not rates
        or rates[0]["statement"]["rateBasedStatement"]["limit"]
        != (cfg.edge.waf_rate_limit_per_5min)
        or rates[0]["statement"]["rateBasedStatement"]["aggregateKeyType"] != "IP"
    ):
        out.append("no per-IP rate rule with the configured limit")
    if distribution(ev).get("webAclId") != acl.state["arn"]:
        out.append("the distribution does not use the web ACL")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_waf_is_on_in_production_by_default_and_in_us_east_1(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    assert waf_violations(ev, cfg) == []
    assert bool(ev.of_type(WAF)) is (stack == "production")


def test_waf_check_catches_a_regional_acl_and_a_missing_rule_group() -> None:
    ev, cfg = evaluated("production"), config_for("production")
    acl = ev.of_type(WAF)[0]
    rules = [r for r in acl.inputs["rules"] if r["name"] != "AWSManagedRulesCommonRuleSet"]
    problems = waf_violations(replace_record(ev, acl.name, scope="REGIONAL", rules=rules), cfg)
    assert any("scope is REGIONAL" in p for p in problems), problems
    assert any("AWSManagedRulesCommonRuleSet is missing" in p for p in problems)
    d = _dist_record(ev)
    problems = waf_violations(replace_record(ev, d.name, webAclId=None), cfg)
    assert any("does not use the web ACL" in p for p in problems), problems


def test_waf_can_be_enabled_in_dev_with_its_rate_limit() -> None:
    ev = dev_variant()
    assert waf_violations(ev, config_for("dev", dev_variant_values())) == []
    acl = inputs(ev.of_type(WAF)[0])
    rate = next(r for r in acl["rules"] if "rateBasedStatement" in r["statement"])
    assert rate["statement"]["rateBasedStatement"]["limit"] == 500


# ---------------------------------------------------------------- the CloudFront Function


def _run_function(uris: list[str], code: str | None = None) -> list[int]:
    """Run the function's code under node for each URI; the status it answers (200: passed on)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the CloudFront Function cannot be executed")
    script = (
        (code if code is not None else block_function_code())
        + "\nvar uris = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        + "console.log(JSON.stringify(uris.map(function (u) {\n"
        + "  var r = handler({ request: { uri: u, method: 'GET' } });\n"
        + "  return r.statusCode || 200;\n"
        + "})));\n"
    )
    done = subprocess.run(
        [node, "-e", script], input=json.dumps(uris), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _passed(uris: list[str], code: str | None = None) -> list[str]:
    return [u for u, status in zip(uris, _run_function(uris, code), strict=True) if status != 403]


BLOCKED_URIS = [
    "/api/pull",
    "/api/push",
    "/api/create",
    "/api/copy",
    "/api/delete",
    "/api/blobs/sha256:abc",
    "/ollama/api/pull",
    "/ollama/api/delete/1",
    "/ollama/api/unload",
    "/ollama/models/upload",
    "/ollama/models/download/0",
    "/api/models/unload",
    "/api/%70ull",
    "//api//pull",
    "/API/Pull",
    "/ollama%2Fapi%2Fpush",
    "/ollama/./api/pull",
    "/x/../ollama/api/pull",
    "/ollama\\api\\pull",
    "/ollama/api/%2570ull",
]
ALLOWED_URIS = [
    "/",
    "/api/chat",
    "/ollama/api/generate",
    "/ollama/api/tags",
    "/ollama/v1/chat/completions",
    "/api/v1/chats/new",
    "/api/models",
    "/api/chat/completions",
    "/api/v1/files/0f1e/content/100%25%20done.txt",
    "/api/v1/files/0f1e/content/%E2%82%AC.txt",
    "/_app/immutable/start.js",
    "/c/8e1f",
]


def test_cloudfront_function_refuses_model_management_even_when_encoded() -> None:
    results = _run_function(BLOCKED_URIS + ALLOWED_URIS)
    blocked, allowed = results[: len(BLOCKED_URIS)], results[len(BLOCKED_URIS) :]
    assert blocked == [403] * len(BLOCKED_URIS), dict(zip(BLOCKED_URIS, blocked, strict=True))
    assert allowed == [200] * len(ALLOWED_URIS), dict(zip(ALLOWED_URIS, allowed, strict=True))
    assert _run_function(["/api/%E0%A4%A"]) == [400]  # malformed escapes are refused


def test_cloudfront_function_refuses_every_spelling() -> None:
    """Issue 21 item 5: every spelling of every management path (case, each character
    escaped, %2F, //, /./, /x/../, backslash, trailing slash, double escapes) gets a 403:
    a superset of the spellings Open WebUI and Ollama would route."""
    forms = all_spellings()
    routed = [f for f in forms if webui_routes(f) or ollama_routes(f)]
    assert len(forms) > 700 and len(routed) > 200
    assert _passed(forms) == []


def test_function_spelling_check_catches_a_function_without_normalisation() -> None:
    """The function before issue 21 (no unload, no Open WebUI paths, no dot segments) and
    one that skips decoding both let routed spellings through."""
    forms = all_spellings()
    raw = block_function_code().replace(
        "path = normalised(decoded(request.uri));", "path = request.uri;"
    )
    assert raw != block_function_code()
    passed = _passed(forms, raw)
    assert "/ollama/api/%70ull" in passed and "/ollama%2Fapi/pull" in passed
    assert [f for f in passed if webui_routes(f)]
    passed = _passed(forms, PRE_ISSUE_21_FUNCTION)
    assert "/ollama/api/unload" in passed and "/ollama/models/upload/1" in passed
    assert "/ollama/./api/pull" in passed


# The deployed function before issue 21, kept as the broken input of the test above.
PRE_ISSUE_21_FUNCTION = r"""
var BLOCKED = /^\/(ollama\/)?api\/(pull|push|create|copy|delete|blobs)/i;
function handler(event) {
  var request = event.request;
  var path;
  try {
    path = decodeURIComponent(request.uri);
  } catch (e) {
    return { statusCode: 400, statusDescription: "Bad Request" };
  }
  path = path.replace(/\/{2,}/g, "/");
  if (BLOCKED.test(path)) {
    return { statusCode: 403, statusDescription: "Forbidden" };
  }
  return request;
}
"""


def test_the_deployed_function_is_the_tested_code() -> None:
    ev = evaluated("dev")
    (fn,) = ev.of_type("aws:cloudfront/function:Function")
    spec = inputs(fn)
    assert spec["code"] == block_function_code()
    assert spec["runtime"] == "cloudfront-js-2.0"
    assert spec["publish"] is True
    assert spec["name"] == "ollama-block-model-mgmt-dev"


def test_cdn_invariants_in_an_opt_in_region() -> None:
    """ap-southeast-3 cannot receive CloudFront standard logs: no logging there, and the check
    accepts that (found by hypothesis with a generated dev config in that region)."""
    from harness import stack_values

    values = stack_values("dev")
    values["aws:region"] = "ap-southeast-3"
    ev = run_program("dev", values)
    cfg = config_for("dev", values)
    assert cdn_violations(ev, cfg) == []
    (d,) = ev.of_type("aws:cloudfront/distribution:Distribution")
    broken = replace_record(ev, d.name, loggingConfig={"bucket": "ollama-logs-dev-1.s3"})
    assert any("cannot receive it" in p for p in cdn_violations(broken, cfg))
