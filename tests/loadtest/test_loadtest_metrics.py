"""Per-request metric formulas, percentiles, goodput and the saturation finder."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtest.metrics import (
    SLO,
    RequestRecord,
    find_saturation,
    percentile,
    record_failure,
    record_success,
    summarize,
)
from loadtest.stream import FailureKind, StreamResult


def result(first: float, last: float, **final: int) -> StreamResult:
    base = {
        "total_duration": 2_000_000_000,
        "load_duration": 100_000_000,
        "prompt_eval_count": 400,
        "prompt_eval_duration": 200_000_000,
        "eval_count": 51,
        "eval_duration": 1_000_000_000,
    }
    base.update(final)
    return StreamResult(first, last, base, text_chunks=51, text_chars=200)


def test_request_metrics_follow_the_stated_formulas() -> None:
    rec = record_success("generate", result(10.5, 12.5), sent_at=10.0, started_at=1000.0)
    assert rec.ttft_ms == pytest.approx(500)
    assert rec.e2e_ms == pytest.approx(2500)
    assert rec.tpot_ms == pytest.approx(2000 / 50)  # (E2E - TTFT) / (tokens - 1)
    assert rec.decode_tps == pytest.approx(51)  # eval_count / eval_duration
    assert rec.prefill_tps == pytest.approx(2000)  # 400 tokens / 0.2 s
    assert rec.queue_wait_ms == pytest.approx(700)  # 2.0 - 0.1 - 0.2 - 1.0 s
    assert rec.ended_at == pytest.approx(1002.5)


def test_single_token_has_no_tpot_and_cached_prompt_no_prefill_rate() -> None:
    rec = record_success(
        "chat",
        result(1.0, 1.0, eval_count=1, prompt_eval_duration=0),
        sent_at=0.5,
        started_at=0.0,
    )
    assert rec.tpot_ms is None
    assert rec.prefill_tps is None


def test_queue_wait_never_negative() -> None:
    rec = record_success("chat", result(1, 2, total_duration=1), sent_at=0, started_at=0)
    assert rec.queue_wait_ms == 0


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=200))
def test_percentile_matches_statistics_inclusive_quantiles(values: list[float]) -> None:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    for q in (50, 90, 99):
        assert percentile(values, q) == pytest.approx(cuts[q - 1], rel=1e-9, abs=1e-6)
    assert percentile(values, 0) == min(values)
    assert percentile(values, 100) == max(values)


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        percentile([1.0], 101)


def ok(ttft: float, tpot: float, e2e: float, start: float, tokens: int = 10) -> RequestRecord:
    return RequestRecord(
        endpoint="generate",
        ok=True,
        started_at=start,
        ended_at=start + e2e / 1000,
        ttft_ms=ttft,
        tpot_ms=tpot,
        e2e_ms=e2e,
        output_tokens=tokens,
        prompt_tokens=5,
        decode_tps=50.0,
    )


def test_summary_counts_throughput_goodput_and_errors_by_kind() -> None:
    records = [
        ok(100, 20, 1000, start=0.0),
        ok(300, 20, 1000, start=1.0),  # breaches the TTFT SLO
        ok(100, 60, 1000, start=2.0),  # breaches the TPOT SLO
        ok(100, 20, 1000, start=3.0),  # ends at 4.0: window is 4 s
        record_failure("chat", FailureKind.QUEUE_FULL, 1.0, 1.1),
        record_failure("chat", FailureKind.TIMEOUT, 1.0, 2.0),
    ]
    s = summarize(records, SLO(ttft_ms=200, tpot_ms=50), {"model": "m"}, warmup_excluded=2)
    assert s["window_s"] == pytest.approx(4.0)
    m = s["metrics"]
    assert m["requests_per_s"] == pytest.approx(4 / 4)
    assert m["output_tokens_per_s"] == pytest.approx(40 / 4)
    assert m["goodput_requests_per_s"] == pytest.approx(2 / 4)
    assert m["goodput_ratio"] == pytest.approx(2 / 6)
    assert m["error_rate"] == pytest.approx(2 / 6)
    assert m["error_rate.http_503"] == pytest.approx(1 / 6)
    assert m["error_rate.timeout"] == pytest.approx(1 / 6)
    assert m["error_rate.malformed_stream"] == 0
    assert m["ttft_ms.p50"] == 100
    assert s["errors"]["by_kind"]["http_503"]["count"] == 1
    assert s["run"] == {"model": "m", "warmup_requests_excluded": 2}


def test_summary_of_no_requests_has_no_latency_metrics() -> None:
    s = summarize([], SLO())
    assert "ttft_ms.p50" not in s["metrics"]
    assert s["metrics"]["requests.succeeded"] == 0


def test_slo_rejects_non_positive_limits() -> None:
    with pytest.raises(ValueError, match="ttft_ms"):
        SLO(ttft_ms=0)


def stage(users: int, tput: float, goodput: float = 1.0, errors: float = 0.0) -> dict:
    return {
        "users": users,
        "output_tokens_per_s": tput,
        "goodput_ratio": goodput,
        "error_rate": errors,
    }


def test_saturation_is_the_level_after_which_throughput_stops_growing() -> None:
    stages = [stage(5, 100), stage(10, 190), stage(15, 200), stage(20, 201)]
    assert find_saturation(stages) == {
        "users": 10,
        "reason": "throughput gain +5% going to 15 users",
    }


def test_saturation_on_failures_or_lost_goodput() -> None:
    assert find_saturation([stage(5, 100), stage(10, 200, errors=0.1)])["users"] == 10
    assert find_saturation([stage(5, 100), stage(10, 200, goodput=0.5)])["users"] == 10
    assert find_saturation([stage(5, 100), stage(10, 200)]) is None
