"""Edge: ALB, listeners, rules, target groups and the edge config rules.

CloudFront/WAF tests are in test_edge_cdn.py, the log bucket's in test_edge_logs.py; the
helpers at the top are shared by them. ``route`` evaluates ALB listener rules the way the
load balancer does (lowest priority first, every condition of a rule must match, else the
default action), so tests ask "what happens to this request" instead of re-reading inputs.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
from edge_paths import all_spellings, ollama_routes, webui_routes
from harness import STACKS, config_for, evaluated, override, replace_record, run_program
from harness import stack_values as values_of

from ollama_infra.config import ConfigError, parse_config
from ollama_infra.edge.alb import API_KEY_HEADER, ORIGIN_HEADER
from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.offline.evaluate import unwrap_secrets as plain
from ollama_infra.security import OPEN_WEBUI_PORT, OPEN_WEBUI_TLS_PORT

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
RULE = "aws:lb/listenerRule:ListenerRule"
TG = "aws:lb/targetGroup:TargetGroup"
DIST = "aws:cloudfront/distribution:Distribution"
WAF = "aws:wafv2/webAcl:WebAcl"


def inputs(r: ResourceRecord) -> dict[str, Any]:
    return plain(r.inputs)


@dataclass(frozen=True)
class Decision:
    kind: str  # forward | fixed-response | redirect
    status: str | None = None
    target_group_arn: str | None = None


def _decision(action: dict[str, Any]) -> Decision:
    kind = action["type"]
    if kind == "forward":
        return Decision(kind, target_group_arn=action.get("targetGroupArn"))
    if kind == "fixed-response":
        return Decision(kind, status=str(action["fixedResponse"]["statusCode"]))
    return Decision(kind, status=str(action.get("redirect", {}).get("statusCode")))


def rules_of(ev: Evaluation, listener: ResourceRecord) -> list[dict[str, Any]]:
    arn = listener.state["arn"]
    rules = [inputs(r) for r in ev.of_type(RULE) if inputs(r)["listenerArn"] == arn]
    return sorted(rules, key=lambda r: r["priority"])


def _matches(condition: dict[str, Any], path: str, headers: dict[str, str]) -> bool:
    if "pathPattern" in condition:
        # Value patterns: case-sensitive, * and ? wildcards; regex values: searched.
        spec = condition["pathPattern"]
        return any(fnmatch.fnmatchcase(path, p) for p in spec.get("values") or []) or any(
            re.search(r, path) for r in spec.get("regexValues") or []
        )
    if "httpHeader" in condition:
        spec = condition["httpHeader"]
        given = {k.lower(): v for k, v in headers.items()}.get(spec["httpHeaderName"].lower())
        return given is not None and any(
            fnmatch.fnmatch(given.lower(), v.lower()) for v in spec["values"]
        )
    raise AssertionError(f"condition kind not modelled: {sorted(condition)}")


def route(
    ev: Evaluation, listener: ResourceRecord, path: str, headers: dict[str, str] | None = None
) -> Decision:
    """What the ALB does with a request for ``path`` with ``headers`` on ``listener``."""
    headers = headers or {}
    for rule in rules_of(ev, listener):
        if all(_matches(c, path, headers) for c in rule["conditions"]):
            return _decision(rule["actions"][0])
    return _decision(inputs(listener)["defaultActions"][0])


def listener_on(ev: Evaluation, port: int) -> ResourceRecord:
    found = [r for r in ev.of_type(LISTENER) if inputs(r)["port"] == port]
    assert len(found) == 1, f"expected one listener on port {port}, found {len(found)}"
    return found[0]


def forwards(ev: Evaluation, listener: ResourceRecord) -> bool:
    """Whether anything on ``listener`` can forward to a target group."""
    actions = [a for r in rules_of(ev, listener) for a in r["actions"]]
    actions += inputs(listener)["defaultActions"]
    return any(a["type"] == "forward" for a in actions)


def header_values(ev: Evaluation, listener: ResourceRecord) -> dict[str, str]:
    """Header name -> value required by the forward rules of ``listener``."""
    out = {}
    for rule in rules_of(ev, listener):
        for c in rule["conditions"]:
            if "httpHeader" in c:
                out[c["httpHeader"]["httpHeaderName"]] = c["httpHeader"]["values"][0]
    return out


# Two variants of the stack files, each evaluated once per session (every evaluation is a
# full program run): dev with the optional edge features on, staging with a custom domain
# and the dedicated API listener.
CF_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/99999999-8888-7777-6666-555555555555"


KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def dev_variant_values() -> dict[str, Any]:
    values = override(
        values_of("dev"),
        "edge",
        deregistration_delay_seconds=42,
        waf_enabled=True,
        waf_rate_limit_per_5min=500,
    )
    return override(values, "data", kms_key_arn=KMS_KEY)


def staging_variant_values() -> dict[str, Any]:
    values = override(
        values_of("staging"),
        "edge",
        domain_aliases=["chat.example.com"],
        cloudfront_certificate_arn=CF_CERT,
    )
    return override(values, "ollama_api", enabled=True, allowed_cidrs=["203.0.113.0/24"])


@functools.cache
def dev_variant() -> Evaluation:
    return run_program("dev", dev_variant_values())


@functools.cache
def staging_variant() -> Evaluation:
    return run_program("staging", staging_variant_values())


def distribution(ev: Evaluation) -> dict[str, Any]:
    found = ev.of_type(DIST)
    assert len(found) == 1
    return inputs(found[0])


# ---------------------------------------------------------------- invariants over records

# Ollama's model-management endpoints, blocked at the edge for everyone (written out here,
# not read from the product's constant, so a path dropped there fails these tests).
MODEL_MANAGEMENT = (
    "/api/pull",
    "/api/push",
    "/api/create",
    "/api/copy",
    "/api/delete",
    "/api/blobs",
    "/api/unload",
)
# Model management only Open WebUI serves (routers/ollama.py, main.py).
WEBUI_MODEL_MANAGEMENT = ("/ollama/models/download", "/ollama/models/upload", "/api/models/unload")

# Requests every listener must refuse, including trailing slashes, blob digests and the
# same endpoints through Open WebUI's /ollama proxy.
BLOCKED_REQUESTS: tuple[str, ...] = (
    *(
        f"{prefix}{path}{suffix}"
        for prefix in ("", "/ollama")
        for path in MODEL_MANAGEMENT
        for suffix in ("", "/")
    ),
    *(f"{path}{suffix}" for path in WEBUI_MODEL_MANAGEMENT for suffix in ("", "/", "/0")),
    "/api/blobs/sha256:0123abcd",
    "/ollama/api/pull/0",
)


def plain_http_violations(ev: Evaluation, has_certificate: bool) -> list[str]:
    """Where a certificate exists, no listener forwards plain HTTP; HTTP only redirects."""
    out = []
    for listener in ev.of_type(LISTENER):
        spec = inputs(listener)
        if spec["protocol"] != "HTTP":
            continue
        if has_certificate and forwards(ev, listener):
            out.append(f"{listener.name}: plain HTTP on port {int(spec['port'])} forwards")
        if has_certificate:
            default = spec["defaultActions"][0]
            if default["type"] != "redirect" or default["redirect"].get("protocol") != "HTTPS":
                out.append(f"{listener.name}: HTTP default action is not a redirect to HTTPS")
    return out


def secret_header_violations(ev: Evaluation) -> list[str]:
    """Every forward needs a secret header; without it every path ends in a fixed 403."""
    out = []
    for listener in ev.of_type(LISTENER):
        if not forwards(ev, listener):
            continue
        spec = inputs(listener)
        default = spec["defaultActions"][0]
        if default["type"] != "fixed-response" or default["fixedResponse"]["statusCode"] != "403":
            out.append(f"{listener.name}: default action is {default['type']}, not a fixed 403")
        for rule in rules_of(ev, listener):
            if rule["actions"][0]["type"] != "forward":
                continue
            headers = [c["httpHeader"] for c in rule["conditions"] if "httpHeader" in c]
            if not headers or not all(h["values"] and all(h["values"]) for h in headers):
                out.append(
                    f"{listener.name}: a forward rule (priority {rule['priority']}) "
                    "does not require the secret header"
                )
        for path in ("/", "/api/chat", "/api/generate", "/ws/socket.io/"):
            if route(ev, listener, path).kind == "forward":
                out.append(f"{listener.name}: {path} is forwarded without the secret header")
    return out


def blocked_path_violations(ev: Evaluation) -> list[str]:
    """Every model-management path gets a fixed 403 on every listener that forwards,
    even when the request carries every secret header."""
    out = []
    for listener in ev.of_type(LISTENER):
        if not forwards(ev, listener):
            continue
        headers = header_values(ev, listener)
        for path in BLOCKED_REQUESTS:
            decision = route(ev, listener, path, headers)
            if (decision.kind, decision.status) != ("fixed-response", "403"):
                out.append(f"{listener.name}: {path} -> {decision.kind} {decision.status or ''}")
    return out


def disguised_path_violations(ev: Evaluation) -> list[str]:
    """Every spelling of a management path that Open WebUI or Ollama would route gets a fixed
    403 on every listener that forwards, whether the ALB matches the raw path or a decoded one
    (AWS does not document which)."""
    out = []
    for listener in ev.of_type(LISTENER):
        if not forwards(ev, listener):
            continue
        headers = header_values(ev, listener)
        for form in all_spellings():
            if not (webui_routes(form) or ollama_routes(form)):
                continue
            for seen in {form, unquote(form)}:
                decision = route(ev, listener, seen, headers)
                if (decision.kind, decision.status) != ("fixed-response", "403"):
                    out.append(f"{listener.name}: {seen} -> {decision.kind}")
    return out


# ALB value patterns: at most 128 characters of these (no %); regexes at most 128 characters.
ALB_PATTERN = re.compile(r"[A-Za-z0-9_\-.$/~\"'@:+&*?]{1,128}")


def rule_pattern_violations(ev: Evaluation) -> list[str]:
    out = []
    for rule in ev.of_type(RULE):
        for condition in inputs(rule)["conditions"]:
            spec = condition.get("pathPattern") or {}
            out += [
                f"{rule.name}: path pattern {v!r} is not a valid ALB value pattern"
                for v in spec.get("values") or []
                if not ALB_PATTERN.fullmatch(v)
            ]
            out += [
                f"{rule.name}: regex {r!r} is longer than 128 characters"
                for r in spec.get("regexValues") or []
                if len(r) > 128
            ]
    return out


def name_length_violations(ev: Evaluation) -> list[str]:
    out = []
    for r in ev.of_type(LB) + ev.of_type(TG):
        name = inputs(r)["name"]
        if len(name) > 32:
            out.append(f"{r.name}: name {name!r} is {len(name)} characters (AWS limit 32)")
    return out


def _with_cert(stack: str) -> bool:
    return config_for(stack).edge.certificate_arn is not None


@pytest.mark.parametrize("stack", STACKS)
def test_no_listener_forwards_plain_http_where_a_certificate_exists(stack: str) -> None:
    ev = evaluated(stack)
    assert plain_http_violations(ev, _with_cert(stack)) == []
    if _with_cert(stack):
        assert inputs(listener_on(ev, 443))["protocol"] == "HTTPS"
        assert route(ev, listener_on(ev, 80), "/").kind == "redirect"


def test_plain_http_check_catches_a_forwarding_http_listener() -> None:
    ev = evaluated("staging")
    http = listener_on(ev, 80)
    tg = inputs(ev.of_type(TG)[0])
    broken = replace_record(
        ev, http.name, defaultActions=[{"type": "forward", "targetGroupArn": "arn:tg"}]
    )
    problems = plain_http_violations(broken, has_certificate=True)
    assert any("plain HTTP on port 80 forwards" in p for p in problems), problems
    assert any("not a redirect to HTTPS" in p for p in problems)
    assert tg["port"] == 8080  # the records are the real ones


@pytest.mark.parametrize("stack", STACKS)
def test_the_secret_header_rule_precedes_every_forward(stack: str) -> None:
    ev = evaluated(stack)
    assert secret_header_violations(ev) == []
    web = listener_on(ev, 443 if _with_cert(stack) else 80)
    headers = header_values(ev, web)
    assert list(headers) == [ORIGIN_HEADER]
    assert route(ev, web, "/", headers).kind == "forward"
    assert route(ev, web, "/", {ORIGIN_HEADER: "guessed-value"}) == Decision(
        "fixed-response", "403"
    )


def test_secret_header_check_catches_an_unguarded_forward() -> None:
    ev = evaluated("staging")
    rule = next(r for r in ev.of_type(RULE) if r.name.endswith("web-origin-header"))
    broken = replace_record(ev, rule.name, conditions=[{"pathPattern": {"values": ["/*"]}}])
    problems = secret_header_violations(broken)
    assert any("does not require the secret header" in p for p in problems), problems
    assert any("forwarded without the secret header" in p for p in problems)
    listener = listener_on(ev, 443)
    broken = replace_record(
        ev, listener.name, defaultActions=[{"type": "forward", "targetGroupArn": "arn:tg"}]
    )
    assert any("not a fixed 403" in p for p in secret_header_violations(broken))


@pytest.mark.parametrize("stack", STACKS)
def test_every_model_management_path_is_blocked_on_every_listener(stack: str) -> None:
    ev = evaluated(stack)
    assert [listener for listener in ev.of_type(LISTENER) if forwards(ev, listener)]
    assert blocked_path_violations(ev) == []


def test_blocked_path_check_catches_a_forward_before_the_block() -> None:
    ev = evaluated("production")
    rule = next(r for r in ev.of_type(RULE) if r.name.endswith("web-origin-header"))
    # The forward now outranks the block rules (priority 1-3).
    problems = blocked_path_violations(replace_record(ev, rule.name, priority=0))
    assert any("/api/pull -> forward" in p for p in problems), problems
    block = next(r for r in ev.of_type(RULE) if r.name.endswith("web-block-2"))
    problems = blocked_path_violations(
        replace_record(ev, block.name, conditions=[{"pathPattern": {"values": ["/nothing"]}}])
    )
    assert any("/api/blobs -> forward" in p for p in problems), problems


def test_the_route_models_follow_the_upstream_sources() -> None:
    """Open WebUI decodes once and routes exact case; Ollama routes the decoded path."""
    assert webui_routes("/ollama/api/%70ull")
    assert webui_routes("/ollama%2Fapi%2Fpull/0")
    assert webui_routes("/ollama/models/%75pload")
    assert not webui_routes("/OLLAMA/api/pull")
    assert not webui_routes("//ollama/api/pull")
    assert not webui_routes("/ollama/api/%2570ull")
    assert ollama_routes("/api/%62lobs/sha256:1")
    assert not ollama_routes("/API/pull")


@pytest.mark.parametrize("stack", STACKS)
def test_no_spelling_of_a_management_path_gets_through_the_alb(stack: str) -> None:
    """Issue 21 item 5: escapes, %2F, // and dot segments of every management path."""
    ev = evaluated(stack)
    assert len([f for f in all_spellings() if webui_routes(f) or ollama_routes(f)]) > 200
    assert disguised_path_violations(ev) == []
    assert rule_pattern_violations(ev) == []


def test_disguised_path_check_catches_literal_only_rules() -> None:
    """Without the regex rule (the rules before issue 21), escaped spellings get through."""
    ev = evaluated("production")
    regex_rules = [
        r
        for r in ev.of_type(RULE)
        if any("regexValues" in c.get("pathPattern", {}) for c in inputs(r)["conditions"])
    ]
    assert regex_rules
    broken = ev
    for rule in regex_rules:
        broken = replace_record(
            broken, rule.name, conditions=[{"pathPattern": {"regexValues": ["^/nothing$"]}}]
        )
    problems = disguised_path_violations(broken)
    assert any("/ollama/api/%70ull -> forward" in p for p in problems), problems[:5]
    assert any("/ollama%2Fapi/pull -> forward" in p for p in problems)
    assert any("/api/models/%75nload -> forward" in p for p in problems)
    rule = regex_rules[0]
    bad = [{"pathPattern": {"values": ["/ollama/api/%70ull"], "regexValues": ["x" * 129]}}]
    problems = rule_pattern_violations(replace_record(ev, rule.name, conditions=bad))
    assert any("not a valid ALB value pattern" in p for p in problems), problems
    assert any("longer than 128" in p for p in problems)


@pytest.mark.parametrize("stack", STACKS)
def test_alb_and_target_group_names_fit_the_aws_limit(stack: str) -> None:
    ev = evaluated(stack)
    names = sorted(inputs(r)["name"] for r in ev.of_type(LB) + ev.of_type(TG))
    groups = ("tls-tg", "tls-api-tg") if config_for(stack).backend_tls else ("tg", "api-tg")
    assert names == sorted([f"ollama-alb-{stack}", *(f"ollama-{g}-{stack}" for g in groups)])
    assert name_length_violations(ev) == []


def test_name_length_check_catches_a_long_name() -> None:
    ev = evaluated("production")
    lb = ev.of_type(LB)[0]
    broken = replace_record(ev, lb.name, name="ollama-alb-production-with-a-long-suffix")
    assert any("AWS limit 32" in p for p in name_length_violations(broken))


def test_idle_timeout_is_at_least_600_seconds_by_default() -> None:
    assert parse_config("dev", {"aws:region": "us-east-1"}).edge.alb_idle_timeout_seconds >= 600
    for stack in STACKS:
        lb = inputs(evaluated(stack).of_type(LB)[0])
        assert lb["idleTimeout"] >= 600, stack
        assert lb["idleTimeout"] == config_for(stack).edge.alb_idle_timeout_seconds


@pytest.mark.parametrize("stack", STACKS)
def test_load_balancer_settings(stack: str) -> None:
    ev = evaluated(stack)
    lb = inputs(ev.of_type(LB)[0])
    assert lb["dropInvalidHeaderFields"] is True
    assert lb["internal"] is False
    assert lb["enableDeletionProtection"] is (stack != "dev")
    assert lb["accessLogs"] == {
        "bucket": f"ollama-logs-{stack}-123456789012",
        "prefix": "alb",
        "enabled": True,
    }
    public = set(ev.outputs["ollama_public_subnet_ids"])
    assert set(lb["subnets"]) == public
    assert lb["securityGroups"] == [ev.outputs["ollama_alb_security_group_id"]]


# Open WebUI endpoints that fail when the shared database or Redis does (main.py).
SHARED_STATE_ENDPOINTS = ("/ready", "/health/db")


def fleet_flap_violations(ev: Evaluation) -> list[str]:
    """Issue 21 item 7: the Open WebUI target group checks liveness only. Every instance
    shares one database and one Redis, so a check on them fails on all targets at once when
    either blips; the ASG (ELB health type) would then replace the whole fleet, and the new
    instances could not pass their own /ready boot gate until the database is back."""
    out = []
    for tg in ev.of_type(TG):
        spec = inputs(tg)
        webui = int(spec["port"]) in (OPEN_WEBUI_PORT, OPEN_WEBUI_TLS_PORT)
        if webui and spec["healthCheck"]["path"] != "/health":
            out.append(f"{tg.name}: health check {spec['healthCheck']['path']}, not /health")
        if spec["healthCheck"]["path"] in SHARED_STATE_ENDPOINTS:
            out.append(f"{tg.name}: health check depends on the shared database or Redis")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_no_target_group_health_check_depends_on_shared_state(stack: str) -> None:
    assert fleet_flap_violations(evaluated(stack)) == []


def test_fleet_flap_check_catches_a_readiness_health_check() -> None:
    ev = evaluated("production")
    tg = next(
        r
        for r in ev.of_type(TG)
        if int(inputs(r)["port"]) in (OPEN_WEBUI_PORT, OPEN_WEBUI_TLS_PORT)
    )
    check = {**inputs(tg)["healthCheck"], "path": "/ready"}
    problems = fleet_flap_violations(replace_record(ev, tg.name, healthCheck=check))
    assert any("depends on the shared database" in p for p in problems), problems


@pytest.mark.parametrize("stack", STACKS)
def test_target_groups(stack: str) -> None:
    ev = evaluated(stack)
    groups = {inputs(r)["name"]: inputs(r) for r in ev.of_type(TG)}
    tls = config_for(stack).backend_tls
    prefix = "ollama-tls-" if tls else "ollama-"
    webui, api = groups[f"{prefix}tg-{stack}"], groups[f"{prefix}api-tg-{stack}"]
    assert (webui["port"], webui["healthCheck"]["path"]) == (8443 if tls else 8080, "/health")
    assert (api["port"], api["healthCheck"]["path"], api["healthCheck"]["matcher"]) == (
        11443 if tls else 11434,
        "/api/tags",
        "200",
    )
    assert webui["stickiness"]["enabled"] is True
    assert webui["stickiness"]["type"] == "lb_cookie"
    delay = config_for(stack).edge.deregistration_delay_seconds
    for tg in (webui, api):
        assert tg["loadBalancingAlgorithmType"] == "least_outstanding_requests"
        assert int(tg["deregistrationDelay"]) == delay
        assert tg["healthCheck"]["path"] != "/"  # Open WebUI answers 200 on any path


# ---------------------------------------------------------------- backend TLS (edge.backend_tls)


def backend_tls_problems(ev: Evaluation) -> list[str]:
    """Every way traffic or health checks from the ALB to the instances could go unencrypted."""
    out = []
    for r in ev.of_type(TG):
        tg = inputs(r)
        if tg["protocol"] != "HTTPS" or tg["healthCheck"]["protocol"] != "HTTPS":
            out.append(
                f"{r.name}: {tg['protocol']} traffic, {tg['healthCheck']['protocol']} checks"
            )
        if tg["port"] not in (8443, 11443) or tg["healthCheck"]["port"] != "traffic-port":
            out.append(f"{r.name}: port {tg['port']} is not the instance's TLS proxy")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_backend_tls_is_on_in_production_only_by_default(stack: str) -> None:
    ev = evaluated(stack)
    assert config_for(stack).backend_tls is (stack == "production")
    if stack == "production":
        assert backend_tls_problems(ev) == []
    else:  # the accepted finding CKV_AWS_378 (docs/SECURITY.md)
        assert {
            (inputs(r)["protocol"], inputs(r)["healthCheck"]["protocol"]) for r in ev.of_type(TG)
        } == {("HTTP", "HTTP")}


def test_backend_tls_check_catches_http_traffic_or_checks() -> None:
    ev = evaluated("production")
    webui = next(r for r in ev.of_type(TG) if inputs(r)["port"] == 8443)
    plain_checks = replace_record(
        ev, webui.name, healthCheck={**inputs(webui)["healthCheck"], "protocol": "HTTP"}
    )
    assert any("HTTP checks" in p for p in backend_tls_problems(plain_checks))
    plain = replace_record(ev, webui.name, protocol="HTTP", port=8080)
    assert len(backend_tls_problems(plain)) == 2


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_backend_tls_can_be_switched_on_outside_production(stack: str) -> None:
    ev = run_program(stack, override(values_of(stack), "edge", backend_tls=True))
    assert backend_tls_problems(ev) == []
    groups = {inputs(r)["name"]: r for r in ev.of_type(TG)}
    assert set(groups) == {f"ollama-tls-tg-{stack}", f"ollama-tls-api-tg-{stack}"}
    # The listener rules, the ASG and the boot all follow.
    forwards = {
        a["targetGroupArn"]
        for r in ev.of_type(RULE)
        for a in inputs(r)["actions"]
        if a["type"] == "forward"
    }
    assert forwards == {groups[f"ollama-tls-tg-{stack}"].state["arn"]}
    (asg,) = ev.of_type("aws:autoscaling/group:Group")
    assert set(inputs(asg)["targetGroupArns"]) == {r.state["arn"] for r in groups.values()}


def test_production_target_groups_are_new_resources_not_replacements() -> None:
    """A protocol change replaces a target group, and a fixed-name group that a listener rule
    uses cannot be deleted first; the HTTPS groups have their own logical and physical names
    (and no alias to the HTTP ones), so Pulumi creates them before deleting the old."""
    ev = evaluated("production")
    for r in ev.of_type(TG):
        assert "-tls-" in r.name and "-tls-" in inputs(r)["name"]
        assert not [a for a in r.aliases if a.endswith(("-webui-tg", "-api-tg"))]


def test_deregistration_delay_comes_from_config() -> None:
    ev = dev_variant()
    assert {int(inputs(r)["deregistrationDelay"]) for r in ev.of_type(TG)} == {42}


def test_dev_without_certificate_warns_in_the_plan() -> None:
    assert any("no edge.certificate_arn" in w for w in evaluated("dev").warnings)
    assert not any("no edge.certificate_arn" in w for w in evaluated("production").warnings)


# ---------------------------------------------------------------- the API listener


def test_api_listener_needs_the_key_and_serves_inference_only() -> None:
    ev = staging_variant()
    api = listener_on(ev, 8443)
    spec = inputs(api)
    assert spec["protocol"] == "HTTPS"
    assert spec["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    key = header_values(ev, api)
    assert list(key) == [API_KEY_HEADER]
    api_tg = next(r.state["arn"] for r in ev.of_type(TG) if inputs(r)["port"] == 11434)
    for path in ("/api/generate", "/api/chat", "/api/tags", "/v1/chat/completions"):
        assert route(ev, api, path, key) == Decision("forward", target_group_arn=api_tg), path
        assert route(ev, api, path) == Decision("fixed-response", "403"), path
    # Encoded or unknown paths are not on the allow-list, so they end at the default 403.
    for path in ("/api/%70ull", "/API/pull", "/", "/api/pullx"):
        assert route(ev, api, path, key).status == "403", path
    assert blocked_path_violations(ev) == []
    assert secret_header_violations(ev) == []
    secrets = {inputs(r)["name"] for r in ev.of_type("aws:secretsmanager/secret:Secret")}
    assert "ollama/staging/api-key" in secrets
    assert ev.outputs["ollama_api_endpoint"] == "https://origin.ollama-staging.example.com:8443"


def test_api_key_is_not_the_origin_header_and_neither_is_exported() -> None:
    ev = staging_variant()
    key = header_values(ev, listener_on(ev, 8443))[API_KEY_HEADER]
    origin = header_values(ev, listener_on(ev, 443))[ORIGIN_HEADER]
    assert key != origin
    rendered = repr(ev.outputs)
    assert key not in rendered
    assert origin not in rendered


def test_edge_secrets_use_the_data_kms_key_when_one_is_set() -> None:
    def keys(ev: Evaluation) -> dict[str, Any]:
        return {
            inputs(r)["name"]: inputs(r).get("kmsKeyId")
            for r in ev.of_type("aws:secretsmanager/secret:Secret")
        }

    assert keys(dev_variant())["ollama/dev/origin-header"] == KMS_KEY
    assert keys(evaluated("dev"))["ollama/dev/origin-header"] is None  # aws/secretsmanager


def test_without_api_listener_the_endpoint_is_the_webui_proxy() -> None:
    ev = evaluated("production")
    assert ev.outputs["ollama_api_endpoint"] == ev.outputs["ollama_url"] + "/ollama"
    assert sorted(inputs(r)["port"] for r in ev.of_type(LISTENER)) == [80, 443]
    secrets = {inputs(r)["name"] for r in ev.of_type("aws:secretsmanager/secret:Secret")}
    assert "ollama/production/origin-header" in secrets
    assert "ollama/production/api-key" not in secrets


# ---------------------------------------------------------------- config validation

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"

# (stack, section, changes, key the message must name, words the message must contain)
EDGE_INVALID: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("production", "edge", {"certificate_arn": None}, "ollama:edge.certificate_arn", "HTTPS"),
    (
        "staging",
        "edge",
        {"certificate_arn": None, "origin_domain_name": None},
        "ollama:edge.certificate_arn",
        "only dev may reach its origin over plain HTTP",
    ),
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
        {"enabled": True, "allowed_cidrs": ["198.51.100.0/24"], "port": 80},
        "ollama:ollama_api.port",
        "collides",
    ),
    (
        "staging",
        "ollama_api",
        {"enabled": True, "allowed_cidrs": []},
        "ollama:ollama_api.allowed_cidrs",
        "client CIDRs",
    ),
    (
        "staging",
        "edge",
        {"origin_domain_name": None},
        "ollama:edge.origin_domain_name",
        "checks the certificate",
    ),
    (
        "staging",
        "edge",
        {"origin_domain_name": "ollama-alb-staging-1.us-east-1.elb.amazonaws.com"},
        "ollama:edge.origin_domain_name",
        "cannot be covered",
    ),
    (
        "staging",
        "edge",
        {"origin_domain_name": "Not A Name"},
        "ollama:edge.origin_domain_name",
        "DNS name",
    ),
    (
        "dev",
        "edge",
        {"origin_domain_name": "origin.example.com"},
        "ollama:edge.origin_domain_name",
        "needs edge.certificate_arn",
    ),
    (
        "staging",
        "edge",
        {"domain_aliases": ["chat.example.com"]},
        "ollama:edge.cloudfront_certificate_arn",
        "certificate covering them",
    ),
    (
        "staging",
        "edge",
        {
            "domain_aliases": ["chat.example.com"],
            "cloudfront_certificate_arn": CERT.replace("us-east-1", "eu-west-1"),
        },
        "ollama:edge.cloudfront_certificate_arn",
        "us-east-1",
    ),
    ("dev", "edge", {"domain_aliases": ["chat example"]}, "ollama:edge.domain_aliases", "DNS"),
    ("dev", "edge", {"alb_idle_timeout_seconds": 30}, "ollama:edge.alb_idle_timeout_seconds", "60"),
    (
        "dev",
        "edge",
        {"access_log_retention_days": 0},
        "ollama:edge.access_log_retention_days",
        "1-3650",
    ),
    ("dev", "edge", {"waf_rate_limit_per_5min": 5}, "ollama:edge.waf_rate_limit_per_5min", "10"),
    (
        "production",
        "edge",
        {"backend_tls": False},
        "ollama:edge.backend_tls",
        "production must encrypt the hop from the ALB to the instances",
    ),
]


@pytest.mark.parametrize(("stack", "section", "changes", "key", "words"), EDGE_INVALID)
def test_edge_config_errors_name_the_key_and_the_fix(
    stack: str, section: str, changes: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(stack, override(values_of(stack), section, **changes))
    message = str(info.value)
    assert key in {i.key for i in info.value.issues}, message
    assert words in message
    assert "Fix:" in message


def test_first_alias_must_be_a_concrete_hostname() -> None:
    """The first alias becomes the public URL (WEBUI_URL, the OIDC callback): a wildcard there
    is refused before any resource is declared; after a concrete first alias it stays allowed
    (CloudFront serves it; it is left out of the CORS origins, test_edge_cdn.py)."""
    aliases = ["*.example.com", "chat.example.com"]
    values = override(
        values_of("staging"), "edge", domain_aliases=aliases, cloudfront_certificate_arn=CF_CERT
    )
    with pytest.raises(ConfigError) as info:
        parse_config("staging", values)
    (found,) = info.value.issues
    assert found.key == "ollama:edge.domain_aliases"
    assert "*.example.com is not a hostname" in found.rule
    assert "put a concrete hostname" in found.fix and "chat.example.com" in found.fix
    with pytest.raises(ConfigError, match=r"ollama:edge\.domain_aliases"):
        run_program("staging", values)
    only_wildcard = override(values, "edge", domain_aliases=["*.example.com"])
    with pytest.raises(ConfigError, match="put a concrete hostname"):
        parse_config("staging", only_wildcard)
    concrete_first = override(values, "edge", domain_aliases=aliases[::-1])
    assert parse_config("staging", concrete_first).edge.domain_aliases == aliases[::-1]


def test_open_api_listener_is_accepted_only_with_the_acknowledgement() -> None:
    changes = {"enabled": True, "allowed_cidrs": ["0.0.0.0/0"]}
    values = override(values_of("staging"), "ollama_api", **changes)
    with pytest.raises(ConfigError, match="acknowledge_public_access"):
        parse_config("staging", values)
    acked = override(values, "ollama_api", acknowledge_public_access=True)
    assert [str(c) for c in parse_config("staging", acked).ollama_api.allowed_cidrs] == [
        "0.0.0.0/0"
    ]
