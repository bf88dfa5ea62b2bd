"""Item 7 of the fleet issue: what /health and /ready answer with Redis or PostgreSQL stopped.

Documented behaviour (docs/UPSTREAM.md): /health is liveness only and stays 200
{"status": true}; /ready answers 503 while the database or Redis does not answer, and 200
again once it is back. Runs last: it stops the shared services."""

from __future__ import annotations

import pytest
import requests
from tier import Findings, Fleet, Tier

pytestmark = pytest.mark.e2e_local


def probe(fleet: Fleet) -> dict[str, tuple[int, str]]:
    out = {}
    for path in ("/health", "/ready"):
        r = requests.get(f"{fleet.a.url}{path}", timeout=30)
        out[path] = (r.status_code, r.text[:80])
    return out


@pytest.mark.parametrize("service", ["redis", "postgres"])
def test_health_and_ready_with_a_shared_service_down(
    fleet: Fleet, tier: Tier, findings: Findings, service: str
) -> None:
    target = tier.redis if service == "redis" else tier.postgres
    fleet.a.wait_ready()
    target.stop()
    try:
        down = probe(fleet)
    finally:
        target.start()
    fleet.a.wait_ready(timeout=120)
    back = probe(fleet)
    findings.add(f"item 7: {service} stopped", f"while down: {down}; after restart: {back}")
    assert down["/health"][0] == 200 and '"status":true' in down["/health"][1].replace(" ", "")
    assert down["/ready"][0] == 503, down
    assert back["/ready"][0] == 200, back
