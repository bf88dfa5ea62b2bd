"""CloudWatch Logs metric filters that turn Ollama's own log lines into inference metrics.

Ollama has no ``/metrics`` endpoint. Its server logs one gin request line per HTTP request,
written after the response (for a stream, after the last chunk), e.g.::

    [GIN] 2026/01/20 - 23:15:37 | 200 | 32.779561288s |       127.0.0.1 | POST     "/api/generate"

and, since v0.30.0, one slog line when a model has loaded (``llm/llama_server.go``)::

    time=2026-08-20T09:14:03.512Z level=INFO source=llama_server.go:1362
        msg="llama-server started in 5.65 seconds"   (one line in the log)

(before v0.30.0 it said "llama runner started in ..."; the stack refuses those versions).
The exact formats, with their sources and the pinned version, are in docs/UPSTREAM.md,
whose sample lines the filter tests run against.

The gin latency is Go's ``time.Duration`` text (``971.777µs``, ``200.6ms``, ``32.78s``,
``1m5s``, ``1h0m3s``). A metric filter can only publish a field that is a plain number, so
the latency cannot be published as a value. Instead the filters count *slow* requests
(latency at or above a threshold, matched by a regular expression on the duration text)
next to *all* inference requests; "p90 latency is above T" is exactly "more than 10 % of
requests took at least T", which the latency alarm computes with metric math. The model
load line carries a plain number of seconds, so that one is published as a value.

Only regex features CloudWatch documents are used (no parentheses; at most two regular
expressions per pattern; at most five regex patterns per log group).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Metric names in the stack's namespace (Ollama/<env>).
INFERENCE_REQUESTS = "InferenceRequests"
INFERENCE_REQUESTS_BY_STATUS = "InferenceRequestsByStatus"
INFERENCE_SLOW_REQUESTS = "InferenceSlowRequests"
MODEL_LOAD_TIME = "ModelLoadTime"
STATUS_DIMENSION = "StatusCode"

INFERENCE_PATHS = ("/api/generate", "/api/chat")
# Field names of the gin request line, split on spaces. "[GIN]" is one field whether or
# not the brackets are kept; the quoted path is one field whether or not the quotes are.
GIN_FIELDS = (
    "marker",
    "date",
    "dash",
    "clock",
    "bar1",
    "status",
    "bar2",
    "latency",
    "bar3",
    "client",
    "bar4",
    "method",
    "path",
)
MAX_REGEX_PER_PATTERN = 2
MAX_REGEX_PATTERNS_PER_LOG_GROUP = 5


@dataclass(frozen=True)
class MetricFilterSpec:
    """One metric filter on the Ollama (service) log group."""

    role: str
    """The filter is named ``ollama-<role>-<env>``."""
    metric: str
    pattern: str
    value: str = "1"
    """"1" counts the matching lines; "$field" publishes a field of the pattern."""
    unit: str = "Count"
    dimensions: dict[str, str] = field(default_factory=dict)
    default_value: str | None = None
    """Emitted for log events that do not match, so ratios have a denominator of 0, not
    missing data. CloudWatch forbids a default value on dimensioned filters."""


def _range_alternatives(low: int, high: int, suffix: str) -> list[str]:
    """Anchored alternatives matching the integers low..high (0 <= low <= high <= 59) as
    written without leading zeros, each followed by ``suffix``."""
    out = []
    if low <= 9:
        top = min(high, 9)
        out.append(f"^[{low}-{top}]{suffix}" if low != top else f"^{low}{suffix}")
        low = 10
    while low <= high:
        tens, ones = divmod(low, 10)
        if ones == 0 and high >= tens * 10 + 9:
            last_tens = min(high // 10 if high % 10 == 9 else high // 10 - 1, 5)
            span = f"[{tens}-{last_tens}]" if last_tens != tens else f"{tens}"
            out.append(f"^{span}[0-9]{suffix}")
            low = (last_tens + 1) * 10
        else:
            top = min(high, tens * 10 + 9)
            digits = f"[{ones}-{top % 10}]" if top % 10 != ones else f"{ones}"
            out.append(f"^{tens}{digits}{suffix}")
            low = top + 1
    return out


def duration_at_least_regex(seconds: int) -> str:
    """A CloudWatch regex matching Go duration texts (as gin prints them) of at least
    ``seconds`` (1-59, or whole minutes up to 59 min)."""
    hours = "^[0-9]+h"
    if 1 <= seconds <= 59:
        # "5s" / "5.25s" with an integer part >= seconds (anchored at both ends so "5.2ms"
        # and "9.5µs" stay out), or any minute or hour form. The minute form always has a
        # digit after "m" ("1m5s"), unlike "ms".
        seconds_form = r"\.?[0-9]*s$"
        parts = [*_range_alternatives(seconds, 59, seconds_form), "^[0-9]+m[0-9]", hours]
    elif seconds % 60 == 0 and 60 <= seconds <= 3540:
        parts = [*_range_alternatives(seconds // 60, 59, "m[0-9]"), hours]
    else:
        raise ValueError(
            f"inference latency threshold {seconds} s: use 1-59 s or whole minutes up to 59 min"
        )
    return "|".join(parts)


def gin_pattern(latency_regex: str | None = None) -> str:
    """Space-delimited pattern for gin lines of POST /api/generate or /api/chat."""
    conditions = {
        "marker": '"*GIN*"',
        "method": '"POST"',
        "path": "%" + "|".join(INFERENCE_PATHS) + "%",
    }
    if latency_regex is not None:
        conditions["latency"] = f"%{latency_regex}%"
    fields = [f"{name}={conditions[name]}" if name in conditions else name for name in GIN_FIELDS]
    return "[" + ", ".join(fields) + "]"


# slog line: level=INFO source=llama_server.go:NNN msg="llama-server started in 5.65 seconds"
MODEL_LOAD_PATTERN = (
    '[ts, level="level=INFO", source, msg="*llama-server", w_started="started", w_in="in", '
    'load_seconds, unit="seconds*"]'
)


def metric_filters(latency_threshold_seconds: int) -> list[MetricFilterSpec]:
    """The filters on the Ollama log group (names are roles: ollama-<role>-<env>)."""
    return [
        # Every finished /api/generate and /api/chat request.
        MetricFilterSpec(
            "inference-requests", INFERENCE_REQUESTS, gin_pattern(), default_value="0"
        ),
        # The same requests by HTTP status (503: queue full).
        MetricFilterSpec(
            "inference-status",
            INFERENCE_REQUESTS_BY_STATUS,
            gin_pattern(),
            dimensions={STATUS_DIMENSION: "$status"},
        ),
        # Those that took at least the latency threshold (the p90 alarm's numerator).
        MetricFilterSpec(
            "inference-slow",
            INFERENCE_SLOW_REQUESTS,
            gin_pattern(duration_at_least_regex(latency_threshold_seconds)),
            default_value="0",
        ),
        # Seconds Ollama took to load a model into a runner.
        MetricFilterSpec(
            "model-load-time",
            MODEL_LOAD_TIME,
            MODEL_LOAD_PATTERN,
            value="$load_seconds",
            unit="Seconds",
        ),
    ]


# The boot script's own failure line (ollama_infra/userdata/ollama-boot.sh, its EXIT trap):
#   2026-05-01T10:00:00Z ollama-boot: ERROR: boot failed (exit 1); see /var/log/...
BOOT_FAILURES = "BootFailures"
BOOT_FAILED_TEXT = "ollama-boot: ERROR: boot failed"


def bootstrap_filters() -> list[MetricFilterSpec]:
    """The filter on the bootstrap log group: one count per failed boot (the rollout alarm)."""
    return [
        MetricFilterSpec("boot-failures", BOOT_FAILURES, f'"{BOOT_FAILED_TEXT}"', default_value="0")
    ]
