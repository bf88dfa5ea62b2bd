"""Pass/fail gate for a load-test run: SLO thresholds plus regression against a baseline.

Run inside locust (``--baseline``) or standalone::

    python -m loadtest.gate --summary summary.json --baseline loadtest/baselines/staging.json

Exit codes: 0 pass, 3 gate failed (a table of what failed is printed), 2 unusable input.
``--promote`` copies the run's metrics into the baseline file as the new measured reference.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtest.metrics import SLO
from loadtest.stream import TRANSPORT_KINDS

EXIT_PASS = 0
EXIT_INPUT = 2
EXIT_GATE_FAILED = 3

# Prefixes of summary metric keys and the direction in which they get worse.
LOWER_IS_BETTER = ("ttft_ms.", "tpot_ms.", "e2e_ms.", "queue_wait_ms.", "error_rate")
HIGHER_IS_BETTER = (
    "requests_per_s",
    "output_tokens_per_s",
    "goodput_requests_per_s",
    "goodput_ratio",
    "decode_tokens_per_s.",
    "prefill_tokens_per_s.",
)
# Metrics a promoted baseline records for regression checks.
PROMOTED_METRICS = (
    "ttft_ms.p50",
    "ttft_ms.p90",
    "ttft_ms.p99",
    "tpot_ms.p50",
    "tpot_ms.p90",
    "e2e_ms.p50",
    "e2e_ms.p90",
    "decode_tokens_per_s.p50",
    "output_tokens_per_s",
    "requests_per_s",
)
WORKLOAD_KEYS = ("model", "num_predict", "scenario", "users_peak")


class BaselineError(ValueError):
    """The baseline file or the summary cannot be used; the message says how to fix it."""


def direction(metric: str) -> str:
    if metric.startswith(LOWER_IS_BETTER):
        return "lower"
    if metric.startswith(HIGHER_IS_BETTER):
        return "higher"
    raise BaselineError(
        f"metric {metric!r} has no known direction; use one of the summary's latency "
        f"({', '.join(LOWER_IS_BETTER)}) or throughput ({', '.join(HIGHER_IS_BETTER)}) keys"
    )


@dataclass(frozen=True)
class Bound:
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Baseline:
    environment: str
    status: str
    slo: SLO
    thresholds: dict[str, Bound]
    metrics: dict[str, float]
    tolerance_pct: float = 15.0
    tolerances_pct: dict[str, float] = field(default_factory=dict)
    min_requests: int = 1
    workload: dict[str, Any] = field(default_factory=dict)

    def tolerance_for(self, metric: str) -> float:
        return self.tolerances_pct.get(metric, self.tolerance_pct)


def _number(where: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BaselineError(f"{where} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise BaselineError(f"{where} must be > 0, got {value!r}")
    return float(value)


def parse_baseline(data: Any, source: str = "baseline") -> Baseline:
    """Validate a baseline document; errors name the key, the value and the rule."""
    if not isinstance(data, dict):
        raise BaselineError(f"{source}: top level must be a JSON object")
    known = {
        "environment",
        "status",
        "description",
        "slo",
        "thresholds",
        "metrics",
        "tolerance_pct",
        "tolerances_pct",
        "min_requests",
        "workload",
        "expected_ranges",
    }
    if unknown := sorted(set(data) - known):
        raise BaselineError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(known)}")
    env = data.get("environment")
    if not isinstance(env, str) or not env:
        raise BaselineError(f"{source}: 'environment' must name the stack (dev/staging/production)")
    status = data.get("status")
    if status not in ("estimate", "measured"):
        raise BaselineError(
            f"{source}: 'status' must be 'estimate' or 'measured', got {status!r}; "
            "promote a measured run with `python -m loadtest.gate --promote`"
        )
    slo_raw = data.get("slo", {})
    if not isinstance(slo_raw, dict) or set(slo_raw) - {"ttft_ms", "tpot_ms", "e2e_ms"}:
        raise BaselineError(f"{source}: 'slo' may only set ttft_ms, tpot_ms, e2e_ms")
    try:
        slo = SLO(**{k: _number(f"{source}: slo.{k}", v) for k, v in slo_raw.items()})
    except ValueError as exc:
        raise BaselineError(f"{source}: {exc}") from exc
    thresholds = {}
    for metric, bound in data.get("thresholds", {}).items():
        direction(metric)
        if not isinstance(bound, dict) or not bound or set(bound) - {"min", "max"}:
            raise BaselineError(
                f"{source}: thresholds.{metric} must be an object with 'min' and/or 'max'"
            )
        thresholds[metric] = Bound(
            **{k: _number(f"{source}: thresholds.{metric}.{k}", v) for k, v in bound.items()}
        )
    metrics = {}
    for metric, value in data.get("metrics", {}).items():
        direction(metric)
        metrics[metric] = _number(f"{source}: metrics.{metric}", value, positive=True)
    if status == "estimate" and metrics:
        raise BaselineError(
            f"{source}: an 'estimate' baseline must not carry 'metrics' (regression references "
            "must be measured); put guesses under 'expected_ranges'"
        )
    tolerances = {
        metric: _number(f"{source}: tolerances_pct.{metric}", value, positive=True)
        for metric, value in data.get("tolerances_pct", {}).items()
    }
    min_requests = data.get("min_requests", 1)
    if isinstance(min_requests, bool) or not isinstance(min_requests, int) or min_requests < 1:
        raise BaselineError(f"{source}: 'min_requests' must be an integer >= 1")
    workload = data.get("workload", {})
    if not isinstance(workload, dict):
        raise BaselineError(f"{source}: 'workload' must be an object")
    return Baseline(
        environment=env,
        status=status,
        slo=slo,
        thresholds=thresholds,
        metrics=metrics,
        tolerance_pct=_number(
            f"{source}: tolerance_pct", data.get("tolerance_pct", 15.0), positive=True
        ),
        tolerances_pct=tolerances,
        min_requests=min_requests,
        workload=workload,
    )


def load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BaselineError(f"{what} file {str(path)!r} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{what} file {str(path)!r} is not valid JSON: {exc}") from exc


def load_baseline(path: Path) -> Baseline:
    return parse_baseline(load_json(path, "baseline"), source=str(path))


@dataclass(frozen=True)
class Check:
    kind: str  # "sample", "transport", "workload", "slo" or "regression"
    metric: str
    observed: float | str | None
    limit: str
    ok: bool


def evaluate(summary: dict[str, Any], baseline: Baseline) -> list[Check]:
    """Every check the gate makes, passing or not."""
    metrics = summary.get("metrics")
    if not isinstance(metrics, dict):
        raise BaselineError("summary has no 'metrics' object; was it written by this load test?")
    checks: list[Check] = []
    succeeded = metrics.get("requests.succeeded", 0.0)
    checks.append(
        Check(
            "sample",
            "requests.succeeded",
            succeeded,
            f">= {baseline.min_requests}",
            succeeded >= baseline.min_requests,
        )
    )
    by_kind = summary.get("errors", {}).get("by_kind")
    if not isinstance(by_kind, dict):
        raise BaselineError(
            "summary has no 'errors.by_kind' object; was it written by this load test?"
        )
    for kind in TRANSPORT_KINDS:  # requests that never got an answer measured nothing
        count = by_kind.get(kind.value, {}).get("count")
        checks.append(Check("transport", f"errors.{kind.value}", count, "== 0", count == 0))
    run = summary.get("run", {})
    for key in WORKLOAD_KEYS:
        if key in baseline.workload and key in run:
            expected, got = baseline.workload[key], run[key]
            checks.append(Check("workload", key, str(got), f"== {expected}", got == expected))
    for metric, bound in sorted(baseline.thresholds.items()):
        value = metrics.get(metric)
        parts = []
        if bound.max is not None:
            parts.append(f"<= {bound.max:g}")
        if bound.min is not None:
            parts.append(f">= {bound.min:g}")
        ok = (
            value is not None
            and (bound.max is None or value <= bound.max)
            and (bound.min is None or value >= bound.min)
        )
        checks.append(Check("slo", metric, value, " and ".join(parts), ok))
    for metric, reference in sorted(baseline.metrics.items()):
        value = metrics.get(metric)
        tol = baseline.tolerance_for(metric)
        if direction(metric) == "lower":
            limit = reference * (1 + tol / 100)
            ok = value is not None and value <= limit
            text = f"<= {limit:.4g} (baseline {reference:.4g} +{tol:g}%)"
        else:
            limit = reference * (1 - tol / 100)
            ok = value is not None and value >= limit
            text = f">= {limit:.4g} (baseline {reference:.4g} -{tol:g}%)"
        checks.append(Check("regression", metric, value, text, ok))
    return checks


def format_table(checks: Sequence[Check]) -> str:
    def fmt(value: float | str | None) -> str:
        if value is None:
            return "missing"
        return value if isinstance(value, str) else f"{value:.4g}"

    rows = [("check", "metric", "observed", "limit", "result")]
    rows += [(c.kind, c.metric, fmt(c.observed), c.limit, "ok" if c.ok else "FAIL") for c in checks]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def report(checks: Sequence[Check], baseline: Baseline) -> tuple[bool, str]:
    failed = [c for c in checks if not c.ok]
    head = f"load-test gate for '{baseline.environment}' ({baseline.status} baseline): " + (
        "PASS" if not failed else f"FAIL ({len(failed)} of {len(checks)} checks)"
    )
    notes = []
    if not baseline.metrics:
        notes.append(
            "note: no measured reference metrics, so only SLO thresholds and transport errors "
            "were checked; "
            "promote a good run with `python -m loadtest.gate --promote`"
        )
    body = format_table(failed if failed else checks)
    return not failed, "\n".join([head, body, *notes])


def promote(summary: dict[str, Any], baseline_path: Path) -> dict[str, Any]:
    """Record the run's metrics (and workload) as the measured reference in the baseline."""
    current = load_json(baseline_path, "baseline")
    parse_baseline(current, str(baseline_path))
    metrics = summary.get("metrics", {})
    missing = [m for m in PROMOTED_METRICS if not metrics.get(m)]
    if missing:
        raise BaselineError(f"summary lacks {missing}; promote only a run with successful requests")
    current["status"] = "measured"
    current["metrics"] = {m: round(metrics[m], 4) for m in PROMOTED_METRICS}
    run = summary.get("run", {})
    current["workload"] = {
        **current.get("workload", {}),
        **{k: run[k] for k in WORKLOAD_KEYS if k in run},
    }
    parse_baseline(current, str(baseline_path))
    baseline_path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    return current


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.gate",
        description="Check a load-test summary against SLOs and a stored baseline.",
    )
    parser.add_argument("--summary", required=True, type=Path, help="summary JSON of the run")
    parser.add_argument(
        "--baseline", required=True, type=Path, help="baseline JSON (loadtest/baselines/<env>.json)"
    )
    parser.add_argument(
        "--promote",
        action="store_true",
        help="store this run's metrics as the baseline's measured reference instead of gating",
    )
    args = parser.parse_args(argv)
    try:
        summary = load_json(args.summary, "summary")
        if args.promote:
            promote(summary, args.baseline)
            print(f"promoted {args.summary} into {args.baseline}")
            return EXIT_PASS
        baseline = load_baseline(args.baseline)
        ok, text = report(evaluate(summary, baseline), baseline)
    except BaselineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    print(text)
    return EXIT_PASS if ok else EXIT_GATE_FAILED


if __name__ == "__main__":
    sys.exit(main())
