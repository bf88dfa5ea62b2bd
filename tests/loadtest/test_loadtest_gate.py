"""The SLO/baseline gate: thresholds, regressions, the stored baselines and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loadtest import gate
from loadtest.gate import BaselineError, evaluate, parse_baseline
from loadtest.stream import FailureKind

BASELINES = Path(__file__).resolve().parents[2] / "loadtest" / "baselines"


def summary(**metrics: float) -> dict[str, Any]:
    base = {
        "requests.succeeded": 100.0,
        "ttft_ms.p50": 500.0,
        "ttft_ms.p90": 900.0,
        "tpot_ms.p50": 60.0,
        "output_tokens_per_s": 300.0,
        "error_rate": 0.0,
        "goodput_ratio": 1.0,
    }
    base.update(metrics)
    by_kind = {kind.value: {"count": 0, "rate": 0.0} for kind in FailureKind}
    return {
        "run": {"model": "llama3.2:3b", "num_predict": 256},
        "metrics": base,
        "errors": {"total": 0, "by_kind": by_kind},
    }


def baseline(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "environment": "staging",
        "status": "measured",
        "slo": {"ttft_ms": 2000, "tpot_ms": 150},
        "thresholds": {"error_rate": {"max": 0.01}, "goodput_ratio": {"min": 0.9}},
        "metrics": {"ttft_ms.p50": 500, "tpot_ms.p50": 60, "output_tokens_per_s": 300},
        "tolerance_pct": 10,
        "min_requests": 20,
        "workload": {"model": "llama3.2:3b"},
    }
    doc.update(overrides)
    return doc


def failed(checks: list[gate.Check]) -> set[str]:
    return {c.metric for c in checks if not c.ok}


def test_equal_run_passes() -> None:
    assert failed(evaluate(summary(), parse_baseline(baseline()))) == set()


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ({"ttft_ms.p50": 551.0}, {"ttft_ms.p50"}),  # slower than +10 %
        ({"tpot_ms.p50": 67.0}, {"tpot_ms.p50"}),
        ({"output_tokens_per_s": 269.0}, {"output_tokens_per_s"}),  # throughput fell > 10 %
        ({"error_rate": 0.02}, {"error_rate"}),  # SLO threshold
        ({"goodput_ratio": 0.5}, {"goodput_ratio"}),
        ({"requests.succeeded": 3.0}, {"requests.succeeded"}),  # too few samples
    ],
)
def test_breaches_fail_the_gate(metrics: dict[str, float], expected: set[str]) -> None:
    assert failed(evaluate(summary(**metrics), parse_baseline(baseline()))) == expected


def test_min_requests_is_inclusive() -> None:
    """Exactly min_requests successes is enough; one fewer is not."""
    b = parse_baseline(baseline(min_requests=20))
    assert failed(evaluate(summary(**{"requests.succeeded": 20.0}), b)) == set()
    assert failed(evaluate(summary(**{"requests.succeeded": 19.0}), b)) == {"requests.succeeded"}


@pytest.mark.parametrize("kind", ["connection_error", "dns_error", "tls_error", "timeout"])
def test_requests_without_an_answer_fail_the_gate_whatever_the_thresholds(kind: str) -> None:
    """One unanswered request fails the gate even when error_rate's threshold would allow it."""
    s = summary()
    s["errors"]["by_kind"][kind]["count"] = 1
    b = parse_baseline(baseline(thresholds={"error_rate": {"max": 0.5}}))
    checks = evaluate(s, b)
    assert failed(checks) == {f"errors.{kind}"}
    ok, text = gate.report(checks, b)
    assert not ok
    assert f"transport  errors.{kind}" in text


def test_http_errors_are_left_to_the_thresholds() -> None:
    s = summary()
    s["errors"]["by_kind"]["http_503"]["count"] = 1
    assert failed(evaluate(s, parse_baseline(baseline()))) == set()


def test_a_summary_without_error_counts_is_unusable() -> None:
    s = summary()
    del s["errors"]
    with pytest.raises(BaselineError, match=r"errors\.by_kind"):
        evaluate(s, parse_baseline(baseline()))
    s = summary()
    del s["errors"]["by_kind"]["dns_error"]
    assert failed(evaluate(s, parse_baseline(baseline()))) == {"errors.dns_error"}


def test_within_tolerance_and_improvements_pass() -> None:
    s = summary(**{"ttft_ms.p50": 549.0, "tpot_ms.p50": 30.0, "output_tokens_per_s": 900.0})
    assert failed(evaluate(s, parse_baseline(baseline()))) == set()


def test_missing_metric_fails_instead_of_passing_vacuously() -> None:
    s = summary()
    del s["metrics"]["ttft_ms.p50"]
    assert failed(evaluate(s, parse_baseline(baseline()))) == {"ttft_ms.p50"}


def test_per_metric_tolerance_overrides_the_default() -> None:
    b = parse_baseline(baseline(tolerances_pct={"ttft_ms.p50": 50}))
    assert failed(evaluate(summary(**{"ttft_ms.p50": 700.0}), b)) == set()


def test_different_model_is_a_workload_mismatch() -> None:
    s = summary()
    s["run"]["model"] = "llama3.1:8b"
    assert failed(evaluate(s, parse_baseline(baseline()))) == {"model"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"status": "guess"}, "'status' must be 'estimate' or 'measured'"),
        ({"environment": ""}, "'environment'"),
        ({"slo": {"ttft": 5}}, "'slo' may only set"),
        ({"slo": {"ttft_ms": -5}}, "ttft_ms must be a positive"),
        ({"thresholds": {"bogus_metric": {"max": 1}}}, "no known direction"),
        ({"thresholds": {"error_rate": {"below": 1}}}, "'min' and/or 'max'"),
        ({"metrics": {"ttft_ms.p50": "fast"}}, "must be a finite number"),
        ({"metrics": {"ttft_ms.p50": 0}}, "must be > 0"),
        ({"status": "estimate"}, "must not carry 'metrics'"),
        ({"min_requests": 0}, "'min_requests'"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_bad_baselines_are_rejected_with_the_key(overrides: dict, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        parse_baseline(baseline(**overrides))


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_stored_baselines_are_valid_and_named_for_their_stack(env: str) -> None:
    b = gate.load_baseline(BASELINES / f"{env}.json")
    assert b.environment == env
    assert b.slo.ttft_ms and b.slo.tpot_ms
    assert "error_rate" in b.thresholds
    # Until measured on the real stack, no regression reference may pretend to be one.
    assert b.status == "estimate" and not b.metrics


def write(tmp_path: Path, name: str, doc: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_cli_exit_codes_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = write(tmp_path, "b.json", baseline())
    good = write(tmp_path, "good.json", summary())
    slow = write(tmp_path, "slow.json", summary(**{"ttft_ms.p50": 800.0}))
    assert gate.main(["--summary", str(good), "--baseline", str(b)]) == 0
    assert "PASS" in capsys.readouterr().out
    assert gate.main(["--summary", str(slow), "--baseline", str(b)]) == gate.EXIT_GATE_FAILED
    out = capsys.readouterr().out
    assert "FAIL (1 of" in out
    assert "regression  ttft_ms.p50  800" in out
    assert "(baseline 500 +10%)" in out


def test_cli_rejects_unusable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = write(tmp_path, "b.json", baseline())
    missing = tmp_path / "nope.json"
    assert gate.main(["--summary", str(missing), "--baseline", str(b)]) == gate.EXIT_INPUT
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert gate.main(["--summary", str(broken), "--baseline", str(b)]) == gate.EXIT_INPUT
    nometrics = write(tmp_path, "n.json", {"run": {}})
    assert gate.main(["--summary", str(nometrics), "--baseline", str(b)]) == gate.EXIT_INPUT


def test_promote_turns_an_estimate_into_a_measured_baseline(tmp_path: Path) -> None:
    estimate = baseline(status="estimate", metrics={})
    path = write(tmp_path, "staging.json", estimate)
    run = summary()
    run["metrics"].update({m: 10.0 for m in gate.PROMOTED_METRICS})
    src = write(tmp_path, "run.json", run)
    assert gate.main(["--summary", str(src), "--baseline", str(path), "--promote"]) == 0
    promoted = gate.load_baseline(path)
    assert promoted.status == "measured"
    assert set(promoted.metrics) == set(gate.PROMOTED_METRICS)
    assert promoted.workload["num_predict"] == 256


def test_promote_refuses_a_run_without_successes(tmp_path: Path) -> None:
    path = write(tmp_path, "staging.json", baseline(status="estimate", metrics={}))
    empty = write(tmp_path, "run.json", {"run": {}, "metrics": {"requests.succeeded": 0}})
    assert gate.main(["--summary", str(empty), "--baseline", str(path), "--promote"]) == 2
    assert gate.load_baseline(path).status == "estimate"
