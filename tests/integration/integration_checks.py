"""Checks against a deployed stack, each returning a list of problems (empty = passed).

They take boto3 clients and URLs, so the integration tests run them against the real stack
and tests/integration/test_checks_offline.py runs them against moto and local fake servers
to prove each one reports a broken deployment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlparse

import requests

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
# Ollama's model-management endpoints, blocked at the edge for everyone (docs/SECURITY.md).
MODEL_MANAGEMENT = ("/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete")
# Open WebUI's own model management and spellings it decodes into pull (docs/api-access.md).
WEBUI_MODEL_MANAGEMENT = (
    "/ollama/api/unload",
    "/ollama/models/upload",
    "/ollama/models/download",
    "/api/models/unload",
    "/ollama/api/%70ull",
    "/ollama%2Fapi/pull",
)
TIMEOUT = 30


def _get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)


def webui_health_problems(base_url: str) -> list[str]:
    """Open WebUI's liveness endpoint answers 200 with {"status": true} (never check `/`)."""
    resp = _get(f"{base_url.rstrip('/')}/health")
    if resp.status_code != 200:
        return [f"GET /health returned {resp.status_code}, expected 200"]
    try:
        body = resp.json()
    except ValueError:
        return [f"GET /health returned non-JSON {resp.text[:80]!r} (the SPA, not the API?)"]
    return [] if body.get("status") is True else [f"GET /health body {body!r} lacks status: true"]


def ollama_api_problems(base_url: str, api_key: str, expected_models: Iterable[str]) -> list[str]:
    """The Ollama API through Open WebUI's authenticated proxy: denied without a key, served
    with one, and the expected models are present."""
    base = f"{base_url.rstrip('/')}/ollama"
    problems = []
    anonymous = _get(f"{base}/api/tags")
    if anonymous.status_code not in (401, 403):
        problems.append(f"GET /ollama/api/tags without a key returned {anonymous.status_code}")
    resp = _get(f"{base}/api/tags", headers={"Authorization": f"Bearer {api_key}"})
    if resp.status_code != 200:
        return [*problems, f"GET /ollama/api/tags with the key returned {resp.status_code}"]
    names = {m.get("name") or m.get("model") for m in resp.json().get("models", [])}
    missing = sorted(set(expected_models) - names)
    if missing:
        problems.append(f"models {missing} are not served (served: {sorted(filter(None, names))})")
    return problems


def model_management_problems(base_url: str, api_key: str) -> list[str]:
    """Model-management endpoints answer 403 at the edge, even with a valid key."""
    problems = []
    paths = [f"{prefix}{path}" for prefix in ("", "/ollama") for path in MODEL_MANAGEMENT]
    for path in [*paths, *WEBUI_MODEL_MANAGEMENT]:
        resp = requests.post(
            f"{base_url.rstrip('/')}{path}",
            json={"model": "smoke-test/does-not-exist:0"},
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        if resp.status_code != 403:
            problems.append(f"POST {path} returned {resp.status_code}, expected 403")
    return problems


def websocket_upgrade_problems(base_url: str, path: str = "/ws/socket.io/") -> list[str]:
    """A raw RFC 6455 handshake to Open WebUI's socket.io endpoint must get 101 and the
    matching Sec-WebSocket-Accept (CloudFront and the ALB must pass the upgrade through)."""
    url = urlparse(base_url)
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {url.scheme}://{url.netloc}\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
        sock: socket.socket = raw
        if url.scheme == "https":
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host)
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    status = lines[0] if lines else ""
    if " 101 " not in f"{status} ":
        return [f"websocket upgrade answered {status!r}, expected 101 Switching Protocols"]
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()  # noqa: S324
    if headers.get("sec-websocket-accept") != accept:
        return ["websocket upgrade returned a wrong Sec-WebSocket-Accept"]
    return []


def log_freshness_problems(
    logs: Any, groups: Sequence[str], max_age_s: int, now_ms: int | None = None
) -> list[str]:
    """Each log group has a stream that received an event within max_age_s."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    problems = []
    for group in groups:
        try:
            streams = logs.describe_log_streams(
                logGroupName=group, orderBy="LastEventTime", descending=True, limit=5
            )["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            problems.append(f"log group {group} does not exist")
            continue
        latest = max((s.get("lastEventTimestamp", 0) for s in streams), default=0)
        if not latest:
            problems.append(f"log group {group} has no events")
        elif now_ms - latest > max_age_s * 1000:
            problems.append(f"log group {group}: newest event is {(now_ms - latest) // 1000} s old")
    return problems


def dashboard_problems(cloudwatch: Any, name: str, min_widgets: int = 5) -> list[str]:
    import json

    try:
        body = json.loads(cloudwatch.get_dashboard(DashboardName=name)["DashboardBody"])
    except cloudwatch.exceptions.ResourceNotFound:
        return [f"dashboard {name} does not exist"]
    widgets = body.get("widgets", [])
    if len(widgets) < min_widgets:
        return [f"dashboard {name} has {len(widgets)} widgets, expected at least {min_widgets}"]
    return []


def target_health_problems(elbv2: Any, target_group_names: Sequence[str]) -> list[str]:
    """Every target group has at least one target and every target is healthy."""
    problems = []
    groups = elbv2.describe_target_groups(Names=list(target_group_names))["TargetGroups"]
    for tg in groups:
        states = [
            d["TargetHealth"]["State"]
            for d in elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])[
                "TargetHealthDescriptions"
            ]
        ]
        if not states:
            problems.append(f"target group {tg['TargetGroupName']} has no registered targets")
        unhealthy = [s for s in states if s != "healthy"]
        if unhealthy:
            problems.append(f"target group {tg['TargetGroupName']}: targets {unhealthy}")
    return problems


def s3_roundtrip_problems(s3: Any, bucket: str, key: str) -> list[str]:
    """Upload, download and delete an object; the bucket must encrypt it at rest."""
    payload = os.urandom(1024)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=payload)
        head = s3.head_object(Bucket=bucket, Key=key)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
    problems = []
    if body != payload:
        problems.append(f"s3://{bucket}/{key} came back different from what was uploaded")
    if head.get("ServerSideEncryption") not in ("AES256", "aws:kms", "aws:kms:dsse"):
        problems.append(f"s3://{bucket}/{key} is not encrypted at rest")
    return problems


def cloudfront_cache_problems(base_url: str, path: str = "/static/favicon.png") -> list[str]:
    """A static asset is served from CloudFront's cache on the second request."""
    url = f"{base_url.rstrip('/')}{path}"
    first = _get(url)
    if first.status_code != 200:
        return [f"GET {path} returned {first.status_code}"]
    second = _get(url)
    cache = second.headers.get("X-Cache", "")
    if not cache.lower().startswith(("hit", "refreshhit")):
        return [f"GET {path} twice: X-Cache is {cache!r}, expected a CloudFront hit"]
    return []


def scaling_problems(autoscaling: Any, cloudwatch: Any, asg_name: str) -> list[str]:
    """The ASG has scaling policies and each step policy is the action of an existing alarm."""
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])
    if not groups["AutoScalingGroups"]:
        return [f"auto scaling group {asg_name} does not exist"]
    policies = autoscaling.describe_policies(AutoScalingGroupName=asg_name)["ScalingPolicies"]
    if not policies:
        return [f"{asg_name} has no scaling policies"]
    problems = []
    alarm_actions = {
        action
        for page in cloudwatch.get_paginator("describe_alarms").paginate()
        for alarm in page["MetricAlarms"]
        for action in alarm.get("AlarmActions", [])
    }
    for policy in policies:
        if policy.get("PolicyType") == "TargetTrackingScaling":
            continue  # target tracking creates and owns its alarms
        if policy["PolicyARN"] not in alarm_actions:
            problems.append(f"scaling policy {policy['PolicyName']} is not any alarm's action")
    return problems


def catalog_problems(dynamodb: Any, table: str, env: str, served: Iterable[str]) -> list[str]:
    """Every enabled catalog entry of the environment is served: instances read the table."""
    items = dynamodb.query(
        TableName=table,
        KeyConditionExpression="environment = :e",
        ExpressionAttributeValues={":e": {"S": env}},
    )["Items"]
    enabled = {i["model"]["S"] for i in items if i.get("enabled", {}).get("BOOL", False)}
    missing = sorted(enabled - set(served))
    return [f"catalog models {missing} are enabled but not served"] if missing else []


def wait_for(
    condition: Any, timeout_s: float, interval_s: float = 15.0, what: str = "condition"
) -> list[str]:
    """Poll ``condition() -> list[str]`` until it returns no problems or the time runs out."""
    deadline = time.monotonic() + timeout_s
    problems: list[str] = [f"{what} never checked"]
    while time.monotonic() < deadline:
        problems = condition()
        if not problems:
            return []
        time.sleep(interval_s)
    return [f"{what} not reached within {int(timeout_s)} s: {p}" for p in problems]
