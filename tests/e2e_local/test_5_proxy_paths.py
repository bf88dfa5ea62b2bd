"""Item 5 of the fleet issue: which model-management requests real Open WebUI forwards to
Ollama for an admin key, in each encoded, duplicated-slash and case form, and whether the
edge in this repository (the CloudFront Function, executed with node) refuses every one of
them. Requests go out byte for byte (http.client), so no client normalises the path."""

from __future__ import annotations

import http.client
import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from tier import MODEL, Findings, Fleet, Tier

from ollama_infra.edge.alb import blocked_path_patterns

pytestmark = pytest.mark.e2e_local


@dataclass(frozen=True)
class Op:
    name: str
    method: str
    path: str  # under Open WebUI's /ollama proxy
    body: dict[str, object] | None
    upstream: str  # the fake's path that proves the request reached Ollama


OPS = (
    Op("pull", "POST", "/api/pull", {"model": MODEL}, "/api/pull"),
    Op("push", "DELETE", "/api/push", {"model": MODEL}, "/api/push"),
    Op("create", "POST", "/api/create", {"model": "e2e-created", "from": MODEL}, "/api/create"),
    Op("copy", "POST", "/api/copy", {"source": MODEL, "destination": "e2e-copy"}, "/api/copy"),
    Op("delete", "DELETE", "/api/delete", {"model": MODEL}, "/api/delete"),
    Op("unload", "POST", "/api/unload", {"model": MODEL}, "/api/generate"),  # keep_alive 0
    Op("blobs", "POST", "/api/blobs/sha256:" + "0" * 64, None, "/api/blobs/"),
    Op("models/upload", "POST", "/models/upload", None, "/api/blobs/"),
    # Open WebUI fetches the URL itself; a URL it refuses proves the handler without a fetch.
    Op(
        "models/download", "POST", "/models/download", {"url": "https://example.invalid/m.gguf"}, ""
    ),
)


def forms(path: str) -> dict[str, str]:
    """The raw request paths of one proxied endpoint: plain, indexed, encoded, slashes, case."""
    full = "/ollama" + path
    last = full.rsplit("/", 1)
    head, leaf = last[0], last[1]
    return {
        "plain": full,
        "url_idx": full + "/0",
        "trailing slash": full + "/",
        "encoded letter": f"{head}/%{ord(leaf[0]):02X}{leaf[1:]}",
        "encoded slashes": full.replace("/", "%2F").replace("%2F", "/", 1),
        "double slashes": full.replace("/", "//"),
        "upper case": head + "/" + leaf.upper(),
        "upper prefix": full.replace("/ollama", "/OLLAMA", 1),
    }


def send(base: str, method: str, raw_path: str, key: str, op: Op) -> tuple[int, str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {key}"}
    if op.name == "models/upload":
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="e2e.gguf"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\nGGUFe2e\r\n--{boundary}--\r\n"
        ).encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    elif op.body is None:
        body = b"blob"
        headers["Content-Type"] = "application/octet-stream"
    else:
        body = json.dumps(op.body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, raw_path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(400).decode(errors="replace")
    finally:
        conn.close()


def reached(tier: Tier, op: Op, status: int, text: str) -> bool:
    if op.name == "models/download":
        return status == 400 and "Invalid file_url" in text
    for hit in tier.fake.hits:
        if op.name == "unload":
            if hit["path"] == "/api/generate" and hit.get("keep_alive") == 0:
                return True
        elif hit["path"] == op.upstream or (
            op.upstream.endswith("/") and hit["path"].startswith(op.upstream)
        ):
            return True
    return False


def cloudfront_status(uris: list[str]) -> list[int]:
    from test_edge_cdn import _run_function

    return _run_function(uris)


def alb_blocks(raw_path: str) -> bool:
    """ALB path patterns: case-sensitive, * and ? wildcards, matched on the path as sent."""
    for pattern in blocked_path_patterns():
        rx = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
        if re.match(rx, raw_path):
            return True
    return False


def test_proxy_management_forms_are_blocked_at_the_edge(
    fleet: Fleet, tier: Tier, findings: Findings
) -> None:
    key = fleet.a.make_api_key(fleet.admin_token)
    rows: list[tuple[str, str, str, int, bool]] = []
    for op in OPS:
        for form, raw in forms(op.path).items():
            tier.fake.clear_hits()
            status, text = send(fleet.a.url, op.method, raw, key, op)
            rows.append((op.name, form, raw, status, reached(tier, op, status, text)))
    routed = [r for r in rows if r[4]]
    edge = dict(zip([r[2] for r in routed], cloudfront_status([r[2] for r in routed]), strict=True))
    through = [f"{r[0]} ({r[1]}): {r[2]}" for r in routed if edge[r[2]] != 403]
    table = "\n".join(
        f"| {op} | {form} | `{raw}` | {status} | {'yes' if hit else 'no'} | "
        f"{edge.get(raw, '-') if hit else '-'} | {'403' if alb_blocks(raw) else 'forwarded'} |"
        for op, form, raw, status, hit in rows
    )
    findings.add(
        "item 5: proxy paths vs the edge",
        "| endpoint | form | request path | Open WebUI | reached Ollama | CloudFront | ALB |\n"
        "|---|---|---|---|---|---|---|\n"
        + table
        + f"\n\nRouted by Open WebUI, not refused by the CloudFront Function: {through or 'none'}",
    )
    assert routed, "no form reached the fake Ollama, so the edge check could not fail"
    assert through == [], (
        f"forms real Open WebUI routes to Ollama management that the edge lets through: {through}"
    )


def test_non_admin_key_is_refused_by_the_proxy(
    fleet: Fleet, tier: Tier, findings: Findings
) -> None:
    email, password = f"plain-{uuid.uuid4().hex[:8]}@example.com", "User-pass-1"
    fleet.a.add_user(fleet.admin_token, email, password)
    key = fleet.a.make_api_key(fleet.a.sign_in(email, password))
    tier.fake.clear_hits()
    status, text = send(fleet.a.url, "POST", "/ollama/api/pull", key, OPS[0])
    findings.add("item 5: non-admin key on /ollama/api/pull", f"{status} {text[:120]}")
    assert status in (401, 403), text
    assert not any(h["path"] == "/api/pull" for h in tier.fake.hits)
