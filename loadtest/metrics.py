"""Per-request LLM metrics and the run-level summary (no locust import).

Definitions (stated in loadtest/README.md, following vLLM's benchmark_serving / GenAI-Perf):

* TTFT: client clock, from just before the request is sent to the first NDJSON line that
  carries non-empty text. Includes network, queueing, model load and prefill.
* E2E: client clock, from just before the request is sent to the last line (``done: true``).
* TPOT: ``(E2E - TTFT) / (output_tokens - 1)``, excluding the first token; undefined for a
  single-token answer. ``output_tokens`` is the server's ``eval_count``.
* Server decode rate: ``eval_count / eval_duration`` (tokens/s); prefill rate:
  ``prompt_eval_count / prompt_eval_duration``.
* Queue wait (estimate): ``total_duration - load_duration - prompt_eval_duration -
  eval_duration``, the server time not spent loading, prefilling or decoding, which is mostly
  waiting for a parallel slot (OLLAMA_NUM_PARALLEL).
* Throughputs and goodput divide by the measurement window: first measured request start to
  last measured request end, warm-up requests excluded.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from loadtest.stream import FailureKind, StreamResult

NS = 1e9
SUMMARY_SCHEMA = "ollama-loadtest-summary/1"
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class SLO:
    """Per-request service-level objectives; a request is 'good' when it meets all that are set."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    e2e_ms: float | None = None

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"SLO {name} must be a positive number of ms, got {value!r}")

    def met_by(self, record: RequestRecord) -> bool:
        if not record.ok:
            return False
        checks = (
            (self.ttft_ms, record.ttft_ms),
            (self.tpot_ms, record.tpot_ms),
            (self.e2e_ms, record.e2e_ms),
        )
        # A request with one output token has no TPOT; it cannot breach a TPOT objective.
        return all(
            limit is None or observed is None or observed <= limit for limit, observed in checks
        )


@dataclass(frozen=True)
class RequestRecord:
    """One measured request; latencies in ms, rates in tokens/s, times in epoch seconds."""

    endpoint: str
    ok: bool
    started_at: float
    ended_at: float
    stage_users: int = 0
    failure: str | None = None
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    tpot_ms: float | None = None
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    decode_tps: float | None = None
    prefill_tps: float | None = None
    queue_wait_ms: float | None = None
    load_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestRecord:
        return cls(**data)


def _rate(count: int, duration_ns: int) -> float | None:
    return count / duration_ns * NS if count > 0 and duration_ns > 0 else None


def record_success(
    endpoint: str,
    result: StreamResult,
    sent_at: float,
    started_at: float,
    stage_users: int = 0,
) -> RequestRecord:
    """Derive a request's metrics from a validated stream.

    ``sent_at`` and the result's times come from the same monotonic clock; ``started_at`` is the
    wall-clock time of sending, used only to place the request in the run's window.
    """
    final = result.final
    ttft_s = result.first_token_at - sent_at
    e2e_s = result.last_line_at - sent_at
    tokens = int(final["eval_count"])
    tpot_ms = (e2e_s - ttft_s) * 1000 / (tokens - 1) if tokens > 1 else None
    residual_ns = (
        final["total_duration"]
        - final["load_duration"]
        - final["prompt_eval_duration"]
        - final["eval_duration"]
    )
    return RequestRecord(
        endpoint=endpoint,
        ok=True,
        started_at=started_at,
        ended_at=started_at + e2e_s,
        stage_users=stage_users,
        ttft_ms=ttft_s * 1000,
        e2e_ms=e2e_s * 1000,
        tpot_ms=tpot_ms,
        output_tokens=tokens,
        prompt_tokens=int(final["prompt_eval_count"]),
        decode_tps=_rate(tokens, final["eval_duration"]),
        prefill_tps=_rate(final["prompt_eval_count"], final["prompt_eval_duration"]),
        queue_wait_ms=max(residual_ns, 0) / 1e6,
        load_ms=final["load_duration"] / 1e6,
    )


def record_failure(
    endpoint: str, kind: FailureKind, started_at: float, ended_at: float, stage_users: int = 0
) -> RequestRecord:
    return RequestRecord(
        endpoint=endpoint,
        ok=False,
        started_at=started_at,
        ended_at=ended_at,
        stage_users=stage_users,
        failure=kind.value,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method); ``q`` in [0, 100]."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within [0, 100], got {q}")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def distribution(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    out = {f"p{q}": percentile(values, q) for q in PERCENTILES}
    out.update(mean=sum(values) / len(values), min=min(values), max=max(values), count=len(values))
    return out


def _values(records: Iterable[RequestRecord], attr: str) -> list[float]:
    return [v for r in records if r.ok and (v := getattr(r, attr)) is not None]


DISTRIBUTIONS = {
    "ttft_ms": "ttft_ms",
    "tpot_ms": "tpot_ms",
    "e2e_ms": "e2e_ms",
    "queue_wait_ms": "queue_wait_ms",
    "decode_tokens_per_s": "decode_tps",
    "prefill_tokens_per_s": "prefill_tps",
    "output_tokens": "output_tokens",
    "prompt_tokens": "prompt_tokens",
}


def summarize(
    records: Sequence[RequestRecord],
    slo: SLO,
    run_info: dict[str, Any] | None = None,
    warmup_excluded: int = 0,
) -> dict[str, Any]:
    """Build the run summary; ``metrics`` holds the flat keys the gate reads."""
    total = len(records)
    ok = [r for r in records if r.ok]
    window_s = 0.0
    if records:
        window_s = max(r.ended_at for r in records) - min(r.started_at for r in records)
    good = sum(1 for r in ok if slo.met_by(r))
    out_tokens = sum(r.output_tokens or 0 for r in ok)
    failures = Counter(r.failure for r in records if not r.ok)

    def per_s(x: float) -> float | None:
        return x / window_s if window_s > 0 else None

    dists = {key: distribution(_values(records, attr)) for key, attr in DISTRIBUTIONS.items()}
    errors_by_kind = {
        kind.value: {
            "count": failures.get(kind.value, 0),
            "rate": failures.get(kind.value, 0) / total if total else 0.0,
        }
        for kind in FailureKind
    }
    metrics: dict[str, float] = {
        "requests.total": float(total),
        "requests.succeeded": float(len(ok)),
        "error_rate": (total - len(ok)) / total if total else 0.0,
    }
    for kind, entry in errors_by_kind.items():
        metrics[f"error_rate.{kind}"] = entry["rate"]
    for key, dist in dists.items():
        if dist is None:
            continue
        for stat in ("p50", "p90", "p99", "mean"):
            metrics[f"{key}.{stat}"] = dist[stat]
    throughput = {
        "requests_per_s": per_s(len(ok)),
        "output_tokens_per_s": per_s(out_tokens),
        "goodput_requests_per_s": per_s(good),
    }
    for key, value in throughput.items():
        if value is not None:
            metrics[key] = value
    if total:
        metrics["goodput_ratio"] = good / total
    return {
        "schema": SUMMARY_SCHEMA,
        "run": {**(run_info or {}), "warmup_requests_excluded": warmup_excluded},
        "window_s": window_s,
        "requests": {"total": total, "succeeded": len(ok), "failed": total - len(ok)},
        "latency_ms": {k: dists[k] for k in ("ttft_ms", "tpot_ms", "e2e_ms", "queue_wait_ms")},
        "server_rates": {k: dists[k] for k in ("decode_tokens_per_s", "prefill_tokens_per_s")},
        "tokens": {
            "output_total": out_tokens,
            "prompt_total": sum(r.prompt_tokens or 0 for r in ok),
            "output_per_request": dists["output_tokens"],
            "prompt_per_request": dists["prompt_tokens"],
        },
        "throughput": throughput,
        "goodput": {
            "slo": asdict(slo),
            "good_requests": good,
            "ratio": good / total if total else None,
            "requests_per_s": throughput["goodput_requests_per_s"],
        },
        "errors": {"total": total - len(ok), "by_kind": errors_by_kind},
        "stages": stage_breakdown(records, slo),
        "metrics": metrics,
    }


def stage_breakdown(records: Sequence[RequestRecord], slo: SLO) -> list[dict[str, Any]]:
    """Per load level (users when the request started), in increasing order of users."""
    levels = sorted({r.stage_users for r in records})
    rows = []
    for users in levels:
        subset = [r for r in records if r.stage_users == users]
        ok = [r for r in subset if r.ok]
        window = max(r.ended_at for r in subset) - min(r.started_at for r in subset)
        ttft = _values(subset, "ttft_ms")
        rows.append(
            {
                "users": users,
                "requests": len(subset),
                "error_rate": (len(subset) - len(ok)) / len(subset),
                "goodput_ratio": sum(1 for r in ok if slo.met_by(r)) / len(subset),
                "ttft_ms_p90": percentile(ttft, 90) if ttft else None,
                "output_tokens_per_s": (
                    sum(r.output_tokens or 0 for r in ok) / window if window > 0 else None
                ),
            }
        )
    return rows


def find_saturation(
    stages: Sequence[dict[str, Any]], min_gain: float = 0.10, min_goodput: float = 0.9
) -> dict[str, Any] | None:
    """The first load level where adding users stopped paying off.

    Saturated means: output-token throughput grew by less than ``min_gain`` (relative) over the
    previous level, or the goodput ratio fell below ``min_goodput``, or requests failed.
    Returns the level and the reason, or None if every level still scaled.
    """
    previous: dict[str, Any] | None = None
    for stage in stages:
        if stage["error_rate"] > 0:
            return {"users": stage["users"], "reason": "requests failed at this level"}
        if stage["goodput_ratio"] < min_goodput:
            return {
                "users": stage["users"],
                "reason": f"goodput ratio {stage['goodput_ratio']:.2f} < {min_goodput}",
            }
        tput = stage["output_tokens_per_s"]
        if previous is not None and previous["output_tokens_per_s"] and tput is not None:
            gain = tput / previous["output_tokens_per_s"] - 1
            if gain < min_gain:
                return {
                    "users": previous["users"],
                    "reason": f"throughput gain {gain:+.0%} going to {stage['users']} users",
                }
        previous = stage
    return None
