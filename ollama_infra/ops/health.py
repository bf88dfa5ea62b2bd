"""``ollama-ops health``: the post-deployment checks, also run at the end of ``deploy``.

A deployment is healthy when Open WebUI answers ``/ready`` through the public URL (startup
finished, its database and Redis answer: ``/health`` would pass with both down), the
Ollama API answers ``/api/tags`` through the authenticated path (Open WebUI's ``/ollama``
proxy with an API key) and lists the configured models, every target in the Open WebUI
target group is healthy, and none of the stack's alarms is in ALARM. ``GET /`` proves
nothing (Open WebUI answers 200 for any path), so it is never used.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from botocore.exceptions import ClientError

from ollama_infra import naming
from ollama_infra.config import load_stack_values, parse_config
from ollama_infra.ops import aws, envs, pulumi_cli
from ollama_infra.ops.common import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNHEALTHY,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_region,
)

DEFAULT_API_KEY_ENV = "OPEN_WEBUI_API_KEY"


@dataclass
class Check:
    name: str
    status: str  # "ok", "failed" or "skipped"
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timing:
    """Retry budget of each check: attempts until ``timeout`` seconds have passed."""

    timeout: float = 300.0
    interval: float = 10.0
    request_timeout: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def retry(check: Callable[[], Check], timing: Timing) -> Check:
    """Run ``check`` until it passes or the time budget is spent; return the last result."""
    deadline = timing.clock() + timing.timeout
    attempts = 0
    while True:
        attempts += 1
        result = check()
        if result.status != "failed" or timing.clock() + timing.interval > deadline:
            result.data["attempts"] = attempts
            return result
        timing.sleep(timing.interval)


def _get(session: requests.Session, url: str, timing: Timing, **kwargs: Any) -> requests.Response:
    return session.get(url, timeout=timing.request_timeout, **kwargs)


def webui_health(session: requests.Session, base_url: str, timing: Timing) -> Check:
    url = base_url.rstrip("/") + "/ready"
    try:
        resp = _get(session, url, timing)
    except requests.RequestException as exc:
        return Check("webui", "failed", f"GET {url}: {exc.__class__.__name__}: {exc}")
    if resp.status_code != 200:
        return Check(
            "webui", "failed", f"GET {url} returned HTTP {resp.status_code}{_detail(resp)}"
        )
    try:
        body = resp.json()
    except ValueError:
        return Check("webui", "failed", f"GET {url} did not return JSON (is this Open WebUI?)")
    if not isinstance(body, dict) or body.get("status") is not True:
        return Check("webui", "failed", f"GET {url} returned {body!r}, expected status true")
    return Check("webui", "ok", f"{url} healthy")


def _detail(resp: requests.Response) -> str:
    """Open WebUI's reason for a 503 from /ready ("Database not ready", "Redis not ready")."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    detail = body.get("detail") if isinstance(body, dict) else None
    return f" ({detail})" if isinstance(detail, str) else ""


def ollama_tags(
    session: requests.Session,
    base_url: str,
    api_key: str | None,
    expected_models: list[str],
    timing: Timing,
) -> Check:
    url = base_url.rstrip("/") + "/ollama/api/tags"
    if not api_key:
        return Check(
            "ollama",
            "skipped",
            f"no Open WebUI API key in ${DEFAULT_API_KEY_ENV} (or --api-key-env); "
            "the Ollama API is only reachable through the authenticated path",
        )
    try:
        resp = _get(session, url, timing, headers={"Authorization": f"Bearer {api_key}"})
    except requests.RequestException as exc:
        return Check("ollama", "failed", f"GET {url}: {exc.__class__.__name__}: {exc}")
    if resp.status_code in (401, 403):
        return Check("ollama", "failed", f"GET {url}: HTTP {resp.status_code}, API key rejected")
    if resp.status_code != 200:
        return Check("ollama", "failed", f"GET {url} returned HTTP {resp.status_code}")
    try:
        served = sorted(m["name"] for m in resp.json().get("models", []))
    except (ValueError, AttributeError, KeyError, TypeError):
        return Check("ollama", "failed", f"GET {url} did not return an Ollama model list")
    missing = [m for m in expected_models if not _served(m, served)]
    if missing:
        return Check(
            "ollama",
            "failed",
            f"models not served yet: {', '.join(missing)} (served: {', '.join(served) or 'none'})",
            {"models": served},
        )
    return Check("ollama", "ok", f"serving {', '.join(served)}", {"models": served})


def _served(model: str, served: list[str]) -> bool:
    name = model.split("@", 1)[0]
    candidates = {name, f"{name}:latest"} if ":" not in name else {name}
    return bool(candidates & set(served))


def webui_target_group(elb: Any, names: naming.StackNames) -> tuple[str, str]:
    """(name, ARN) of the Open WebUI target group: the HTTPS one of edge.backend_tls, else
    the HTTP one (a stack has one of the two)."""
    wanted = (names.target_groups(True)[0], names.target_groups(False)[0])
    for tg_name in wanted:
        try:
            groups = elb.describe_target_groups(Names=[tg_name])["TargetGroups"]
        except ClientError as exc:
            if aws.error_code(exc) == "TargetGroupNotFound":
                continue
            raise aws.to_ops_error(exc, f"describing target group {tg_name}") from exc
        return tg_name, groups[0]["TargetGroupArn"]
    raise OpsError(
        f"neither target group {' nor '.join(wanted)} exists",
        "check --stack and --region (is the stack deployed there?)",
        EXIT_NOT_FOUND,
    )


def targets_healthy(target: aws.Target) -> Check:
    elb = target.client("elbv2")
    tg_name, tg_arn = webui_target_group(elb, target.names)
    with aws.aws_errors(f"describing the targets of {tg_name}"):
        health = elb.describe_target_health(TargetGroupArn=tg_arn)
    states = {
        d["Target"]["Id"]: d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]
    }
    data: dict[str, Any] = {"targets": states}
    if not states:
        return Check("targets", "failed", f"no targets registered in {tg_name}", data)
    bad = {k: v for k, v in states.items() if v != "healthy"}
    if bad:
        return Check("targets", "failed", f"{len(bad)}/{len(states)} targets not healthy", data)
    return Check("targets", "ok", f"{len(states)} healthy target(s) in {tg_name}", data)


def stack_alarms(target: aws.Target) -> list[dict[str, Any]]:
    """The stack's alarms (names ollama-...-<env>)."""
    cw = target.client("cloudwatch")
    with aws.aws_errors("listing CloudWatch alarms"):
        alarms = aws.paginate(cw, "describe_alarms", "MetricAlarms", AlarmNamePrefix="ollama-")
    return [a for a in alarms if a["AlarmName"].endswith(f"-{target.names.env}")]


def alarms_quiet(target: aws.Target) -> Check:
    alarms = stack_alarms(target)
    firing = sorted(a["AlarmName"] for a in alarms if a["StateValue"] == "ALARM")
    data: dict[str, Any] = {"alarms": len(alarms), "firing": firing}
    if firing:
        return Check("alarms", "failed", f"in ALARM: {', '.join(firing)}", data)
    return Check("alarms", "ok", f"{len(alarms)} alarm(s), none firing", data)


def dashboard_url(target: aws.Target) -> str:
    return (
        f"https://{target.region}.console.aws.amazon.com/cloudwatch/home?region={target.region}"
        f"#dashboards:name={target.names.dashboard}"
    )


def run_checks(
    target: aws.Target,
    outputs: dict[str, Any],
    expected_models: list[str],
    api_key: str | None,
    timing: Timing,
    session: requests.Session | None = None,
) -> list[Check]:
    http = session or requests.Session()
    url = outputs.get("ollama_url")
    checks: list[Check] = []
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        checks.append(Check("webui", "failed", "the stack has no ollama_url output"))
        checks.append(Check("ollama", "skipped", "no URL to reach the API through"))
    else:
        checks.append(retry(lambda: webui_health(http, url, timing), timing))
        checks.append(
            retry(lambda: ollama_tags(http, url, api_key, expected_models, timing), timing)
        )
    checks.append(retry(lambda: targets_healthy(target), timing))
    checks.append(alarms_quiet(target))
    return checks


def report(target: aws.Target, outputs: dict[str, Any], checks: list[Check], as_json: bool) -> int:
    healthy = all(c.status != "failed" for c in checks)
    dashboard = outputs.get("ollama_dashboard_url") or dashboard_url(target)
    models = next((c.data.get("models") for c in checks if c.name == "ollama"), None)
    if as_json:
        doc = {
            "stack": target.stack,
            "healthy": healthy,
            "url": outputs.get("ollama_url"),
            "models": models,
            "dashboard": dashboard,
            "checks": [asdict(c) for c in checks],
        }
        print(json.dumps(doc, indent=2, sort_keys=True, default=str))
    else:
        for c in checks:
            print(f"  [{c.status:>7}] {c.name}: {c.detail}")
        print(f"Open WebUI:  {outputs.get('ollama_url', 'unknown')}")
        print(f"Models:      {', '.join(models) if models else 'unknown'}")
        print(f"Dashboard:   {dashboard}")
        print("HEALTHY" if healthy else "UNHEALTHY: see the failed checks above")
    return EXIT_OK if healthy else EXIT_UNHEALTHY


def add_health_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--health-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long each post-deploy check may keep retrying (default 600)",
    )
    parser.add_argument(
        "--health-interval",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="pause between retries of a failing check (default 15)",
    )
    parser.add_argument(
        "--api-key-env",
        default=DEFAULT_API_KEY_ENV,
        metavar="NAME",
        help="environment variable holding an Open WebUI API key for the Ollama API check",
    )


def timing_from(args: argparse.Namespace) -> Timing:
    for flag in ("health_timeout", "health_interval"):
        value = getattr(args, flag)
        if value < 0:
            raise OpsError(
                f"--{flag.replace('_', '-')} {value}: must be zero or more seconds",
                "pass a non-negative number",
                EXIT_USAGE,
            )
    return Timing(timeout=args.health_timeout, interval=args.health_interval)


def check_stack(args: argparse.Namespace, target: aws.Target, outputs: dict[str, Any]) -> int:
    cfg = parse_config(target.stack, load_stack_values(target.stack))
    api_key = os.environ.get(args.api_key_env) or None
    checks = run_checks(target, outputs, list(cfg.ollama.models), api_key, timing_from(args))
    return report(target, outputs, checks, getattr(args, "json", False))


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "health", "run the post-deployment health checks against a deployed stack", __doc__
    )
    envs.add_stack_args(p)
    add_region(p)
    add_health_args(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    timing_from(args)
    envs.guard(args)
    target = aws.resolve_target(args.stack, args.region)
    return check_stack(args, target, pulumi_cli.stack_outputs(args.stack))
