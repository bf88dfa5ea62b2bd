"""A short load test in webui mode through server A against the fake Ollama, and the same
against the fake directly: the proxy's overhead on time to first token."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from tier import Findings, Fleet, Tier

pytestmark = pytest.mark.e2e_local
_spec = importlib.util.spec_from_file_location(
    "locust_runner", Path(__file__).resolve().parents[1] / "loadtest" / "locust_runner.py"
)
assert _spec is not None and _spec.loader is not None
locust_runner = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("locust_runner", locust_runner)
_spec.loader.exec_module(locust_runner)
run_locust = locust_runner.run_locust
USERS = 10
RUN_TIME = "30s"


def ttft(summary: dict[str, object]) -> dict[str, float]:
    dist = summary["latency_ms"]["ttft_ms"]  # type: ignore[index]
    return {k: round(float(dist[k]), 1) for k in ("p50", "p90", "p99")}


def test_webui_proxy_overhead_on_time_to_first_token(
    fleet: Fleet, tier: Tier, findings: Findings, tmp_path: Path
) -> None:
    key = fleet.a.make_api_key(fleet.admin_token)
    common = ("--wait-min", "0", "--wait-max", "0.2")
    direct = run_locust(tier.fake.url, tmp_path / "direct", "--api-mode", "direct", *common,
                        users=USERS, run_time=RUN_TIME, timeout=180)  # fmt: skip
    proxied = run_locust(fleet.a.url, tmp_path / "webui", "--api-mode", "webui", *common,
                         users=USERS, run_time=RUN_TIME, timeout=180,
                         env={"OLLAMA_LOADTEST_API_KEY": key})  # fmt: skip
    assert direct.summary is not None, direct.output[-2000:]
    assert proxied.summary is not None, proxied.output[-2000:]
    d, p = ttft(direct.summary), ttft(proxied.summary)
    overhead = {k: round(p[k] - d[k], 1) for k in d}
    findings.add(
        "load: webui proxy overhead",
        f"{USERS} users for {RUN_TIME}: TTFT direct {d} ms, through Open WebUI {p} ms, "
        f"overhead {overhead} ms; requests direct {direct.summary['requests']}, "
        f"webui {proxied.summary['requests']}",
    )
    assert proxied.summary["requests"]["failed"] == 0, proxied.output[-2000:]
    assert proxied.summary["requests"]["succeeded"] > 0
