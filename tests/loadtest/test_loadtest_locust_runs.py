"""Headless locust runs against the fake Ollama server (a test double with known timing).

Each run is a few seconds; locust runs in a subprocess so gevent never patches pytest.
"""

from __future__ import annotations

import json
import re
import socket
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from fakes.fake_ollama import FakeConfig, FakeOllama
from locust_runner import MODEL, ROOT, fake_ollama_process, fake_truth, run_locust

from loadtest import gate
from loadtest.settings import API_KEY_ENV as API_KEY

# Real-time runs that mostly wait: `make test` runs them beside the workers (Makefile).
pytestmark = pytest.mark.paced

FAST = ("--wait-min", "0", "--wait-max", "0.05", "--task-weights", "generate=1,chat=1")
# A CPU-class stream: half a second to the first token, then 4 tokens/s. The token interval
# is long enough that a busy machine (the suite shares its cores with other jobs) does not
# push a correct first-token figure past the second token, which a wrong one always reaches.
DELAY_S, INTERVAL_S, TOKENS = 0.5, 0.25, 4


@pytest.mark.parametrize("users", [1, 50])
def test_reported_ttft_and_decode_rate_match_the_fake_servers_ground_truth(
    users: int, tmp_path: Path
) -> None:
    """With first-token delay D and token interval I, the median TTFT is no earlier than what
    the server really did (less a small tolerance) and earlier than the second token could
    leave the server (D + I), and the median decode rate is within 10 % of 1/I, at 1 and at
    50 concurrent streams.

    A busy machine only makes things late: the server's first token, and the client's sight
    of it after the server sent it. So the checks are tight below and bounded above by what
    a measuring defect (TTFT taken at the second token or at the end of the stream) always
    exceeds."""
    with fake_ollama_process(DELAY_S, INTERVAL_S, TOKENS) as url:
        run = run_locust(url, tmp_path, *FAST, users=users, run_time="8s")
        truth = fake_truth(url)
    assert run.returncode == 0, run.output
    s = run.summary
    assert s is not None
    assert s["errors"]["total"] == 0
    assert s["run"]["warmup_requests_excluded"] == users  # one warm-up per user, not counted
    # 50 streams really ran side by side (one after another, 8 s would hold about 6).
    assert s["latency_ms"]["ttft_ms"]["count"] >= (3 if users == 1 else 100)
    delay_ms, interval_ms = DELAY_S * 1000, INTERVAL_S * 1000
    tolerance_ms = max(5.0, 0.02 * delay_ms)
    # The fake's own log: it never sends the first token early, and kept roughly to its delay.
    server_ms = statistics.median(truth) * 1000
    assert delay_ms <= server_ms < delay_ms + interval_ms, server_ms
    ttft = s["latency_ms"]["ttft_ms"]["p50"]
    # Not earlier than the server sent the first token (a clock started late, or stopped at
    # the headers or the empty chunk the fake sends at D/2, is far below) ...
    assert ttft >= server_ms - tolerance_ms, (ttft, server_ms)
    # ... and before the second token could leave (at D + I at the earliest): a client
    # figure at the second token, or at the end of the stream, is never below it.
    assert ttft < delay_ms + interval_ms, (ttft, server_ms)
    # Rates within 10 %: a late first or last token moves them either way by a few per cent
    # over a 3-interval stream, while the defects this catches are 20 % off or more (decode
    # over total_duration, TPOT including TTFT or divided by the token count).
    decode = s["server_rates"]["decode_tokens_per_s"]["p50"]
    assert abs(decode - 1 / INTERVAL_S) <= 0.1 / INTERVAL_S, decode
    client_rate = 1000 / s["latency_ms"]["tpot_ms"]["p50"]  # user-perceived rate agrees too
    assert abs(client_rate - 1 / INTERVAL_S) <= 0.1 / INTERVAL_S, client_rate


def test_gate_fails_a_slower_run_and_passes_an_equal_one(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """Seed 11.5: a run that regresses beyond the tolerance versus the baseline exits non-zero
    with a table of what regressed; an equal run exits zero.

    The fake's timings are large (half a second to the first token, 100 ms per token) so a
    busy machine's few tens of milliseconds of scheduling delay stay well inside the 20 %
    tolerance, while the slower run (1.5 times every delay) regresses by 50 %."""
    fake_ollama.reconfigure(first_token_delay_s=0.5, token_interval_s=0.1, token_count=4)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps(
            {
                "environment": "dev",
                "status": "estimate",
                "slo": {"ttft_ms": 1000, "tpot_ms": 100},
                "thresholds": {"error_rate": {"max": 0.01}},
                "tolerance_pct": 20,
                "min_requests": 5,
            }
        )
    )
    reference = run_locust(fake_ollama.url, tmp_path / "a", *FAST, users=8, run_time="3s")
    assert reference.returncode == 0, reference.output
    promoted = tmp_path / "a" / "summary.json"
    assert gate.main(["--summary", str(promoted), "--baseline", str(baseline), "--promote"]) == 0

    equal = run_locust(
        fake_ollama.url, tmp_path / "b", *FAST, "--baseline", str(baseline), users=8, run_time="3s"
    )
    assert equal.returncode == 0, equal.output
    assert "load-test gate for 'dev' (measured baseline): PASS" in equal.output

    fake_ollama.reconfigure(first_token_delay_s=0.75, token_interval_s=0.15)
    slower = run_locust(
        fake_ollama.url, tmp_path / "c", *FAST, "--baseline", str(baseline), users=8, run_time="3s"
    )
    assert slower.returncode == gate.EXIT_GATE_FAILED, slower.output
    assert "FAIL" in slower.output
    for metric in ("ttft_ms.p50", "tpot_ms.p50", "decode_tokens_per_s.p50"):
        assert f"regression  {metric}" in slower.output


def test_baseline_shape_shortened_writes_summary_csv_and_html(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    run = run_locust(
        fake_ollama.url,
        tmp_path,
        *FAST,
        "--scenario",
        "baseline",
        "--time-scale",
        "0.01",  # 300 s -> 3 s
        "--scenario-users",
        "10",
        "--stack-env",
        "staging",
        "--csv",
        str(tmp_path / "run"),
        "--html",
        str(tmp_path / "run.html"),
        run_time="",
    )
    assert run.returncode == 0, run.output
    s = run.summary
    assert s is not None
    assert (s["run"]["scenario"], s["run"]["users_peak"]) == ("baseline", 10)
    assert s["run"]["scaling"]["asg"] == "ollama-asg-staging"
    assert s["run"]["scaling"]["scale_out_alarm"] == "ollama-high-cpu-staging"
    assert 2.0 < s["window_s"] < 6.0
    assert s["requests"]["succeeded"] > 10
    assert s["metrics"]["goodput_ratio"] == 1.0
    stats_csv = (tmp_path / "run_stats.csv").read_text()
    assert "TTFT ms" in stats_csv and "/api/generate" in stats_csv
    assert (tmp_path / "run.html").stat().st_size > 1000


def test_failures_are_counted_by_kind(tmp_path: Path) -> None:
    faults = (
        None,
        "http_503",
        "garbage",
        "truncate",
        "drop",
        "wrong_model",
        "empty",
        "missing_timings",
        "error_object",
        "stall",
    )
    config = FakeConfig(
        model=MODEL, first_token_delay_s=0.02, token_interval_s=0.01, faults=faults, stall_s=1.5
    )
    with FakeOllama(config) as fake:
        run = run_locust(
            fake.url,
            tmp_path,
            *FAST,
            "--warmup-requests",
            "0",
            "--read-timeout",
            "0.5",
            users=2,
            run_time="3s",
        )
    assert run.returncode == 1, run.output  # locust's own "requests failed" code without a gate
    s = run.summary
    assert s is not None
    by_kind = {k: v["count"] for k, v in s["errors"]["by_kind"].items()}
    for kind in (
        "http_503",
        "malformed_stream",
        "truncated_stream",
        "wrong_model",
        "empty_output",
        "server_error",
        "timeout",
    ):
        assert by_kind[kind] > 0, (kind, by_kind)
        assert kind in run.output  # locust's failure table names the kind too
    assert by_kind["connection_error"] == 0
    assert s["requests"]["succeeded"] > 0


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gate_baseline(tmp_path: Path) -> Path:
    """A baseline whose thresholds alone would let every failed request through."""
    path = tmp_path / "baseline.json"
    path.write_text(
        json.dumps(
            {
                "environment": "dev",
                "status": "estimate",
                "thresholds": {"error_rate": {"max": 1.0}},
                "min_requests": 1,
            }
        )
    )
    return path


@pytest.mark.parametrize(("scheme", "kind"), [("http", "connection_error"), ("https", "tls_error")])
def test_a_host_that_does_not_answer_is_counted_by_kind_and_fails_the_gate(
    scheme: str, kind: str, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """Section 1 of the newcomer report: a closed port (connection refused), or https against
    a plain-HTTP server (a failed TLS handshake). Every request is counted under its kind,
    the summary names the kind and the host, and the gate fails even though its thresholds
    alone would pass; no traceback."""
    port = _closed_port() if kind == "connection_error" else fake_ollama.url.rsplit(":", 1)[1]
    host = f"{scheme}://127.0.0.1:{port}"
    run = run_locust(
        host,
        tmp_path,
        "--wait-min",
        "0",
        "--wait-max",
        "0.05",
        "--task-weights",
        "generate=1,chat=1,tags=1,health=1",
        "--warmup-requests",
        "0",
        "--baseline",
        str(_gate_baseline(tmp_path)),
        users=2,
        run_time="2s",
    )
    assert run.returncode == gate.EXIT_GATE_FAILED, run.output
    assert "Traceback" not in run.output and "AttributeError" not in run.output
    s = run.summary
    assert s is not None
    total = s["requests"]["total"]
    assert total > 5, run.output
    assert s["requests"]["succeeded"] == 0
    by_kind = {k: v["count"] for k, v in s["errors"]["by_kind"].items() if v["count"]}
    assert by_kind == {kind: total}, by_kind
    assert s["metrics"][f"error_rate.{kind}"] == 1.0
    assert f"errors: {kind} {total}" in run.output
    assert f"requests got no answer from {host}; check --host" in run.output
    assert re.search(rf"transport +errors\.{kind} +{total} +== 0 +FAIL", run.output)  # gate row
    for name in ("/api/generate", "/api/chat", "/api/tags", "/ (health)"):
        assert f"{name}: " in run.output and f"{kind}: " in run.output  # locust's error table
    assert fake_ollama.truth == []  # nothing reached a server


def test_step_scenario_finds_the_saturation_point(tmp_path: Path) -> None:
    """With two parallel slots, throughput stops growing after two users."""
    config = FakeConfig(
        model=MODEL, first_token_delay_s=0.05, token_interval_s=0.01, num_parallel=2
    )
    with FakeOllama(config) as fake:
        run = run_locust(
            fake.url,
            tmp_path,
            "--wait-min",
            "0",
            "--wait-max",
            "0",
            "--task-weights",
            "generate=1",
            "--scenario",
            "step",
            "--scenario-users",
            "3",
            "--step-users",
            "1",
            "--step-duration",
            "2",
            run_time="",
        )
    assert run.returncode == 0, run.output
    s = run.summary
    assert s is not None
    assert [st["users"] for st in s["stages"]] == [1, 2, 3]
    assert s["saturation"]["users"] == 2, s["stages"]
    assert s["latency_ms"]["queue_wait_ms"]["max"] > 50  # the queue shows up in the estimate


def test_bad_configuration_stops_before_any_request(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    run = run_locust(fake_ollama.url, tmp_path, "--api-mode", "webui", users=1, run_time="2s")
    assert run.returncode == 2
    assert "OLLAMA_LOADTEST_API_KEY" in run.output
    assert fake_ollama.truth == []


def test_bad_values_from_the_environment_or_locust_conf_stop_before_any_request(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """Locust turns environment variables and config files into command-line arguments, so
    the options' own types check those values too."""
    from_env = run_locust(fake_ollama.url, tmp_path / "env", env={"OLLAMA_LOADTEST_SEED": "-1"})
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "locust.conf").write_text("api-mode = open\n")
    from_conf = run_locust(fake_ollama.url, tmp_path / "conf")
    assert from_env.returncode == 2, from_env.output
    assert "--seed (env OLLAMA_LOADTEST_SEED) = '-1': must be >= 0" in from_env.output
    assert from_conf.returncode == 2, from_conf.output
    assert "--api-mode (env OLLAMA_LOADTEST_API_MODE) = 'open': must be one of" in from_conf.output
    assert fake_ollama.truth == []


def test_distributed_workers_report_every_request_to_the_master(
    fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    """With --processes, the per-request records reach the master's summary and gate.

    The master listens on a free loopback port: on locust's fixed default (5557) another
    run on the same machine (a parallel suite) can take the workers, or lend its own."""
    port = str(_closed_port())
    run = run_locust(
        fake_ollama.url,
        tmp_path,
        *FAST,
        "--processes",
        "2",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        port,
        "--master-port",
        port,
        users=4,
        run_time="4s",  # on a busy machine the worker processes start their users late
    )
    assert run.returncode == 0, run.output
    s = run.summary
    assert s is not None
    served = [t for t in fake_ollama.truth if t.fault is None]
    assert s["run"]["warmup_requests_excluded"] == 4
    # Every generation the server finished is in the summary, except those cut off at the end.
    assert 0 < s["requests"]["succeeded"] <= len(served) - 4
    assert s["requests"]["succeeded"] >= len(served) - 4 - 4


def test_client_capacity_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "loadtest" / "bench_client_capacity.py"),
            "--users",
            "2",
            "--run-time",
            "3",
            "--tokens",
            "5",
            "--client-cpu",
            "-1",
            "--server-cpu",
            "-1",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert row["users"] == 2 and row["requests"] > 0
    # The fake kept its configured 200 ms delay: never early, and (a busy machine only makes
    # it late) before its second token was due 50 ms later.
    assert 200 <= row["server_ttft_p50_ms"] < 250, row
    assert "max users with median TTFT error" in proc.stdout


def test_webui_mode_takes_host_from_stack_outputs_and_key_from_environment(
    tmp_path: Path,
) -> None:
    """The loadtest workflow's command, shortened: Open WebUI's /ollama proxy with a bearer key
    that only the environment holds; a wrong key fails every request as http_error."""
    key = "sk-test-0123456789"
    config = FakeConfig(model=MODEL, first_token_delay_s=0.02, token_interval_s=0.005, api_key=key)
    with FakeOllama(config) as fake:
        outputs = tmp_path / "stack-outputs.json"
        outputs.write_text(json.dumps({"ollama_url": fake.url + "/", "ollama_alb_dns_name": "x"}))
        args = (
            "--scenario",
            "baseline",
            "--time-scale",
            "0.01",
            "--scenario-users",
            "4",
            "--stack-outputs",
            str(outputs),
            "--api-mode",
            "webui",
            "--stack-env",
            "dev",
            "--wait-min",
            "0",
            "--wait-max",
            "0.05",
        )
        good = run_locust("", tmp_path / "good", *args, run_time="", env={API_KEY: key})
        bad = run_locust(
            "",
            tmp_path / "bad",
            *args[4:],  # a short constant run is enough to see every request refused
            users=2,
            run_time="1s",
            env={API_KEY: "wrong"},
        )
    assert good.returncode == 0, good.output
    assert good.summary is not None and bad.summary is not None
    assert good.summary["run"]["host"] == fake.url
    assert good.summary["errors"]["total"] == 0 and good.summary["requests"]["succeeded"] > 5
    assert key not in good.output + json.dumps(good.summary)
    assert bad.returncode == 1
    assert bad.summary["requests"]["succeeded"] == 0
    assert bad.summary["errors"]["by_kind"]["http_error"]["count"] == bad.summary["errors"]["total"]
    assert "HTTP 401" in bad.output
