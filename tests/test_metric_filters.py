"""Ollama metric filters against real-format Ollama log lines.

``CloudWatchFilter`` below is a test-only model of the part of CloudWatch Logs' filter
pattern syntax the filters use (space-delimited patterns with named fields, quoted
literals with ``*`` wildcards, numeric equality and ``%regex%`` conditions). It is not
CloudWatch: where the documentation leaves the tokenizer open (whether the brackets of
``[GIN]`` and the quotes of ``"/api/generate"`` are kept in the field value), every test
runs under both readings, so the patterns cannot depend on either.

The sample lines come from docs/UPSTREAM.md: the exact format of the pinned Ollama's server
log (gin request lines and slog lines as they appear in the journal with ``-o cat``), with
their sources, and what each filter must do with each line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from harness import STACKS, evaluated, replace_record
from hypothesis import given
from hypothesis import strategies as st
from upstream_register import register_text, samples

from ollama_infra.observability import filters

# --------------------------------------------------------------------------- test double


REGEX_ALLOWED = re.compile(r"^[A-Za-z0-9:_#=@/;,\-^$?\[\]{}|\\*+.]+$")


def regex_violations(regex: str) -> list[str]:
    """CloudWatch's documented regex subset: no parentheses, no multi-byte characters, and
    only the listed symbols and operators."""
    out = []
    if "(" in regex or ")" in regex:
        out.append(f"{regex!r}: parentheses are not supported")
    if not regex.isascii():
        out.append(f"{regex!r}: multi-byte characters are not supported")
    if not REGEX_ALLOWED.match(regex):
        out.append(f"{regex!r}: uses a character CloudWatch regex does not accept")
    return out


def tokenize(message: str, strip_delimiters: bool) -> list[str]:
    """Split on runs of spaces; a field that starts with [ or " runs to the matching ] or "."""
    words = message.split()
    tokens: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        closer = {"[": "]", '"': '"'}.get(word[0])
        if closer and not (len(word) > 1 and word.endswith(closer)):
            j = i + 1
            while j < len(words) and not words[j].endswith(closer):
                j += 1
            word = " ".join(words[i : j + 1])
            i = j
        if closer and strip_delimiters and word.endswith(closer) and len(word) > 1:
            word = word[1:-1]
        tokens.append(word)
        i += 1
    return tokens


def _split_fields(body: str) -> list[str]:
    fields, depth_quote, depth_regex, cur = [], False, False, ""
    for ch in body:
        if ch == '"' and not depth_regex:
            depth_quote = not depth_quote
        elif ch == "%" and not depth_quote:
            depth_regex = not depth_regex
        if ch == "," and not depth_quote and not depth_regex:
            fields.append(cur.strip())
            cur = ""
        else:
            cur += ch
    fields.append(cur.strip())
    return fields


@dataclass(frozen=True)
class CloudWatchFilter:
    """A space-delimited metric filter: match a line and read the published value."""

    pattern: str
    value: str

    def __post_init__(self) -> None:
        if not (self.pattern.startswith("[") and self.pattern.endswith("]")):
            raise ValueError(f"not a space-delimited pattern: {self.pattern}")

    @property
    def fields(self) -> list[tuple[str, str | None]]:
        out = []
        for field in _split_fields(self.pattern[1:-1]):
            name, sep, cond = field.partition("=")
            out.append((name.strip(), cond.strip() if sep else None))
        return out

    @property
    def regexes(self) -> list[str]:
        return [c[1:-1] for _, c in self.fields if c and c.startswith("%")]

    @staticmethod
    def _condition(token: str, cond: str) -> bool:
        if cond.startswith("%") and cond.endswith("%"):
            return re.search(cond[1:-1], token) is not None
        if cond.startswith('"') and cond.endswith('"'):
            glob = "".join(".*" if c == "*" else re.escape(c) for c in cond[1:-1])
            return re.fullmatch(glob, token) is not None
        try:
            return float(token) == float(cond)
        except ValueError:
            return False

    def fields_of(self, message: str, strip_delimiters: bool) -> dict[str, str] | None:
        tokens = tokenize(message, strip_delimiters)
        fields = self.fields
        if len(tokens) != len(fields):
            return None
        values = {}
        for (name, cond), token in zip(fields, tokens, strict=True):
            if cond is not None and not self._condition(token, cond):
                return None
            values[name] = token
        return values

    def published(self, message: str, strip_delimiters: bool) -> float | None:
        """The value the metric gets for this line, or None when nothing is published."""
        values = self.fields_of(message, strip_delimiters)
        if values is None:
            return None
        if not self.value.startswith("$"):
            return float(self.value)
        try:
            return float(values[self.value[1:]])
        except (KeyError, ValueError):
            return None  # CloudWatch publishes only numeric field values


READINGS = pytest.mark.parametrize("strip", [True, False], ids=["strip", "keep-delims"])

# --------------------------------------------------------------------------- samples

# The sample lines are the register's (docs/UPSTREAM.md, "Sample log lines"): real lines in
# the format of the pinned Ollama, with their sources, each with what the filters must do.
SAMPLES = samples(register_text())


def _line(name: str) -> str:
    return SAMPLES[name].line


GENERATE_200 = _line("generate-200")
CHAT_200_MS = _line("chat-200-ms")
CHAT_503 = _line("chat-503")
GENERATE_LONG = _line("generate-long")
GENERATE_403_ZERO = _line("generate-403-zero")
HEAD_ROOT = _line("head-root")
ROUTE_DEBUG = _line("route-debug")
SERVER_WAITING = _line("server-waiting")
INFERENCE = [s.line for s in SAMPLES.values() if s.expect == "request"]
NOT_INFERENCE = [s.line for s in SAMPLES.values() if s.expect != "request"]
LOADS = [
    (s.line, float(s.expect.split("=")[1]))
    for s in SAMPLES.values()
    if s.expect.startswith("load=")
]
NOT_LOADS = [s.line for s in SAMPLES.values() if not s.expect.startswith("load=")]


def _spec(role: str, threshold: int = 60) -> filters.MetricFilterSpec:
    return next(f for f in filters.metric_filters(threshold) if f.role == role)


def _filter(role: str, threshold: int = 60) -> CloudWatchFilter:
    spec = _spec(role, threshold)
    return CloudWatchFilter(spec.pattern, spec.value)


# --------------------------------------------------------------------------- the matcher itself


def test_the_matcher_reads_fields_and_rejects_mismatches() -> None:
    """The test double must be able to say no, or the tests below prove nothing."""
    f = CloudWatchFilter('[a, b="x*", c=%^[0-9]+$%, d=5]', "$c")
    assert f.published("one xy 42 5", strip_delimiters=True) == 42
    assert f.published("one yx 42 5", strip_delimiters=True) is None  # literal
    assert f.published("one xy 4a2 5", strip_delimiters=True) is None  # regex
    assert f.published("one xy 42 6", strip_delimiters=True) is None  # number
    assert f.published("one xy 42 5 extra", strip_delimiters=True) is None  # field count
    assert tokenize('[GIN] a "b c" d', True) == ["GIN", "a", "b c", "d"]
    assert tokenize('[GIN] a "b c" d', False) == ["[GIN]", "a", '"b c"', "d"]
    assert CloudWatchFilter("[a, b]", "$b").published("x y", True) is None  # not numeric


# --------------------------------------------------------------------------- request filters


@READINGS
@pytest.mark.parametrize("line", INFERENCE)
def test_request_filters_count_every_inference_request(line: str, strip: bool) -> None:
    assert _filter("inference-requests").published(line, strip) == 1
    assert _filter("inference-status").published(line, strip) == 1


@READINGS
@pytest.mark.parametrize("line", NOT_INFERENCE)
def test_request_filters_ignore_other_lines(line: str, strip: bool) -> None:
    """Health checks, model management, the OpenAI-compatible path (Open WebUI uses the
    native API), gin's route table and slog lines are not inference requests."""
    assert _filter("inference-requests").published(line, strip) is None
    assert _filter("inference-status").published(line, strip) is None


@READINGS
def test_status_dimension_is_the_http_status(strip: bool) -> None:
    spec = _spec("inference-status")
    assert spec.dimensions == {filters.STATUS_DIMENSION: "$status"}
    f = CloudWatchFilter(spec.pattern, spec.value)
    assert f.fields_of(CHAT_503, strip)["status"] == "503"  # type: ignore[index]
    assert f.fields_of(GENERATE_200, strip)["status"] == "200"  # type: ignore[index]


@READINGS
@pytest.mark.parametrize(
    ("threshold", "line", "slow"),
    [
        (60, GENERATE_200, False),  # 32.8 s
        (60, GENERATE_LONG, True),  # 2m3s
        (30, GENERATE_200, True),
        (30, CHAT_200_MS, False),  # 200 ms
        (1, CHAT_503, False),  # 212 µs
        (1, GENERATE_403_ZERO, False),  # 0s
        (120, GENERATE_LONG, True),
        (180, GENERATE_LONG, False),
    ],
)
def test_slow_filter_on_real_lines(threshold: int, line: str, slow: bool, strip: bool) -> None:
    f = _filter("inference-slow", threshold)
    assert (f.published(line, strip) == 1) is slow
    assert f.published(HEAD_ROOT, strip) is None


# --------------------------------------------------------------------------- model load


@READINGS
@pytest.mark.parametrize(("line", "seconds"), LOADS)
def test_model_load_time_is_published_in_seconds(line: str, seconds: float, strip: bool) -> None:
    """Ollama >= 0.30 logs `llama-server started in N seconds` (llm/llama_server.go)."""
    spec = _spec("model-load-time")
    assert spec.unit == "Seconds"
    assert CloudWatchFilter(spec.pattern, spec.value).published(line, strip) == seconds


@READINGS
@pytest.mark.parametrize("line", NOT_LOADS)
def test_model_load_filter_ignores_other_lines(line: str, strip: bool) -> None:
    """Including the pre-0.30 `llama runner started` line and llama-server's own output."""
    assert _filter("model-load-time").published(line, strip) is None


def test_samples_cover_both_outcomes_of_every_filter() -> None:
    """Without loads, requests and non-matching lines in the register, the tests above would
    pass vacuously."""
    assert len(LOADS) >= 2 and len(INFERENCE) >= 3 and len(NOT_INFERENCE) >= 5
    assert "llama runner started" in SAMPLES["old-runner-started"].line
    assert SAMPLES["old-runner-started"].expect == "none"


# --------------------------------------------------------------------------- durations


def go_duration(ns: int) -> str:
    """Go's time.Duration.String(), as gin prints latencies (reference implementation)."""
    if ns == 0:
        return "0s"
    if ns < 1_000:
        return f"{ns}ns"

    def frac(value: int, unit: int, digits: int) -> str:
        whole, rest = divmod(value, unit)
        text = f"{rest:0{digits}d}".rstrip("0")
        return f"{whole}.{text}" if text else str(whole)

    if ns < 1_000_000:
        return frac(ns, 1_000, 3) + "µs"
    if ns < 1_000_000_000:
        return frac(ns, 1_000_000, 6) + "ms"
    hours, rest = divmod(ns, 3_600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds = frac(rest, 10**9, 9) + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{minutes}m{seconds}"
    return seconds


def gin_latency(ns: int) -> str:
    """gin truncates latencies above one minute to whole seconds before printing."""
    if ns > 60 * 10**9:
        ns -= ns % 10**9
    return go_duration(ns)


def test_go_duration_reference() -> None:
    assert go_duration(971_777) == "971.777µs"
    assert go_duration(200_665_714) == "200.665714ms"
    assert go_duration(32_779_561_288) == "32.779561288s"
    assert gin_latency(123_400_000_000) == "2m3s"
    assert go_duration(3_603 * 10**9) == "1h0m3s"
    assert go_duration(5_000_000) == "5ms"
    assert go_duration(850) == "850ns"


THRESHOLDS = st.one_of(st.integers(1, 59), st.integers(1, 59).map(lambda m: m * 60))
DURATIONS = st.one_of(
    st.integers(0, 10**9),  # below a second
    st.integers(10**9, 3_600 * 10**9),  # up to an hour
    st.integers(3_600 * 10**9, 30 * 3_600 * 10**9),
)


@given(threshold=THRESHOLDS, ns=DURATIONS)
def test_slow_regex_matches_exactly_the_durations_at_or_above_the_threshold(
    threshold: int, ns: int
) -> None:
    text = gin_latency(ns)
    truncated_ns = ns - ns % 10**9 if ns > 60 * 10**9 else ns
    matched = re.search(filters.duration_at_least_regex(threshold), text) is not None
    assert matched is (truncated_ns >= threshold * 10**9), (threshold, text)


@pytest.mark.parametrize(
    ("threshold", "text"),
    [(30, "30s"), (30, "59.999999999s"), (60, "1m0s"), (5, "5s"), (120, "2m0s"), (59, "1h0m0s")],
)
def test_slow_regex_boundaries_match(threshold: int, text: str) -> None:
    assert re.search(filters.duration_at_least_regex(threshold), text)


@pytest.mark.parametrize(
    ("threshold", "text"),
    [(30, "29.999999999s"), (5, "5.2ms"), (9, "9.5µs"), (1, "850ns"), (60, "59.9s"), (5, "5ms")],
)
def test_slow_regex_boundaries_do_not_match(threshold: int, text: str) -> None:
    assert not re.search(filters.duration_at_least_regex(threshold), text)


@pytest.mark.parametrize("bad", [0, 61, 90, 3600, -5])
def test_thresholds_the_regex_cannot_express_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        filters.duration_at_least_regex(bad)


# --------------------------------------------------------------------------- CloudWatch limits


def filter_limit_violations(patterns: list[str]) -> list[str]:
    """Regex syntax and quotas: <= 2 regex per pattern, <= 5 regex patterns per log group."""
    out = []
    with_regex = 0
    for pattern in patterns:
        regexes = CloudWatchFilter(pattern, "1").regexes
        if len(regexes) > filters.MAX_REGEX_PER_PATTERN:
            out.append(f"{pattern}: {len(regexes)} regular expressions (max 2)")
        with_regex += bool(regexes)
        for regex in regexes:
            out.extend(regex_violations(regex))
        if len(pattern) > 1024:
            out.append(f"{pattern[:40]}...: longer than 1024 characters")
    if with_regex > filters.MAX_REGEX_PATTERNS_PER_LOG_GROUP:
        out.append(f"{with_regex} regex filter patterns on one log group (max 5)")
    return out


@pytest.mark.parametrize("threshold", [1, 9, 10, 37, 59, 60, 540, 3540])
def test_patterns_stay_within_cloudwatch_regex_rules(threshold: int) -> None:
    assert filter_limit_violations([f.pattern for f in filters.metric_filters(threshold)]) == []


def test_limit_check_catches_bad_patterns() -> None:
    assert filter_limit_violations(["[a=%(x|y)%, b]"])  # parentheses
    assert filter_limit_violations(["[a=%µs%, b]"])  # multi-byte
    assert filter_limit_violations(["[a=%x%, b=%y%, c=%z%]"])  # three regexes
    assert filter_limit_violations(["[a=%x%]"] * 6)  # six regex patterns on one group


@pytest.mark.parametrize("stack", STACKS)
def test_the_plan_declares_the_filters_on_the_ollama_log_group(stack: str) -> None:
    ev = evaluated(stack)
    records = ev.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    assert filter_plan_violations(ev) == []
    assert {r.inputs["metricTransformation"]["name"] for r in records} == {
        filters.INFERENCE_REQUESTS,
        filters.INFERENCE_REQUESTS_BY_STATUS,
        filters.INFERENCE_SLOW_REQUESTS,
        filters.MODEL_LOAD_TIME,
        filters.BOOT_FAILURES,
    }


def filter_plan_violations(ev) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    namespace = f"Ollama/{ev.stack}"
    service_group = f"/aws/ec2/ollama-service-{ev.stack}"
    for r in ev.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter"):
        t = r.inputs["metricTransformation"]
        # The boot-failure count reads the bootstrap log; every other filter Ollama's.
        if t["name"] == filters.BOOT_FAILURES:
            if r.inputs["logGroupName"] != f"/aws/ec2/ollama-bootstrap-{ev.stack}":
                out.append(f"{r.name}: on {r.inputs['logGroupName']}, not the bootstrap log")
            continue
        if r.inputs["logGroupName"] != service_group:
            out.append(f"{r.name}: on {r.inputs['logGroupName']}, not {service_group}")
        if t["namespace"] != namespace:
            out.append(f"{r.name}: namespace {t['namespace']} != {namespace}")
        if t.get("dimensions") and t.get("defaultValue") is not None:
            out.append(f"{r.name}: CloudWatch refuses a default value with dimensions")
        out.extend(filter_limit_violations([r.inputs["pattern"]]))
    return out


def test_filter_plan_check_catches_a_filter_on_the_wrong_group() -> None:
    ev = evaluated("dev")
    record = next(
        r
        for r in ev.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
        if r.inputs["logGroupName"] == "/aws/ec2/ollama-service-dev"
    )
    broken = replace_record(ev, record.name, logGroupName="/aws/ec2/ollama-app-dev")
    assert any("not /aws/ec2/ollama-service-dev" in v for v in filter_plan_violations(broken))
