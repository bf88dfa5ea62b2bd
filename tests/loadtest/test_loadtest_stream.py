"""Property 12 (load test response validation) and the stream parser's timing."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests
from fakes.fake_ollama import FakeOllama
from hypothesis import given
from hypothesis import strategies as st
from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

from loadtest.stream import (
    TIMING_FIELDS,
    FailureKind,
    StreamError,
    StreamValidator,
    classify_exception,
)

MODEL = "llama3.2:3b"


def final(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "model": MODEL,
        "response": "",
        "done": True,
        "done_reason": "stop",
        "total_duration": 900_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": 12,
        "prompt_eval_duration": 100_000_000,
        "eval_count": 3,
        "eval_duration": 600_000_000,
    }
    obj.update(overrides)
    return obj


def chunk(text: str, model: str = MODEL) -> dict[str, Any]:
    return {"model": model, "response": text, "done": False}


def chat_chunk(text: str) -> dict[str, Any]:
    return {"model": MODEL, "message": {"role": "assistant", "content": text}, "done": False}


def lines(*objs: Any) -> list[str]:
    return [o if isinstance(o, str) else json.dumps(o) for o in objs]


def validate(raw: list[str], endpoint: str = "generate") -> Any:
    v = StreamValidator(endpoint, MODEL)  # type: ignore[arg-type]
    for i, line in enumerate(raw):
        v.feed(line, float(i))
    return v.finish()


VALID = lines(chunk(""), chunk("Hello"), chunk(" world"), chunk("!"), final())

INVALID = {
    "not JSON": (lines(chunk("Hi"), "<html>502 Bad Gateway</html>"), FailureKind.MALFORMED),
    "JSON but not an object": (lines(chunk("Hi"), "[1, 2]"), FailureKind.MALFORMED),
    "no done field": (lines({"model": MODEL, "response": "Hi"}), FailureKind.MALFORMED),
    "text not a string": (lines({**chunk("x"), "response": 5}), FailureKind.MALFORMED),
    "missing eval_duration": (
        lines(chunk("Hi"), {k: v for k, v in final().items() if k != "eval_duration"}),
        FailureKind.MALFORMED,
    ),
    "negative timing": (lines(chunk("Hi"), final(eval_count=-1)), FailureKind.MALFORMED),
    "float timing": (lines(chunk("Hi"), final(total_duration=1.5)), FailureKind.MALFORMED),
    "tokens without duration": (lines(chunk("Hi"), final(eval_duration=0)), FailureKind.MALFORMED),
    "data after done": (lines(chunk("Hi"), final(), chunk("more")), FailureKind.MALFORMED),
    "truncated: no done object": (lines(chunk("Hel"), chunk("lo")), FailureKind.TRUNCATED),
    "truncated: empty body": ([], FailureKind.TRUNCATED),
    "wrong model in chunk": (
        lines(chunk("Hi", model="llama3.1:8b"), final()),
        FailureKind.WRONG_MODEL,
    ),
    "wrong model in final": (
        lines(chunk("Hi"), final(model="qwen2.5:0.5b")),
        FailureKind.WRONG_MODEL,
    ),
    "empty output": (lines(chunk(""), chunk(""), final(eval_count=0)), FailureKind.EMPTY_OUTPUT),
    "error object mid-stream": (
        lines(chunk("Hi"), {"error": "model runner has unexpectedly stopped"}),
        FailureKind.SERVER_ERROR,
    ),
    "invalid UTF-8": ([b'{"model": "\xff"}'], FailureKind.MALFORMED),
}


def test_property_12_load_test_response_validation() -> None:
    """Property 12 (load test response validation): malformed, truncated, wrong-model and empty
    streams are all marked failed, each with its own kind; a valid stream passes."""
    result = validate(VALID)
    assert result.final["eval_count"] == 3
    assert result.text_chunks == 3
    for case, (raw, kind) in INVALID.items():
        with pytest.raises(StreamError) as err:
            validate(raw)
        assert err.value.kind is kind, case
        assert str(err.value).startswith(kind.value), case


@pytest.mark.parametrize("case", sorted(INVALID))
def test_each_invalid_stream_fails_with_its_kind(case: str) -> None:
    raw, kind = INVALID[case]
    with pytest.raises(StreamError) as err:
        validate(raw)
    assert err.value.kind is kind


@pytest.mark.parametrize("field", TIMING_FIELDS)
def test_every_timing_field_is_required(field: str) -> None:
    obj = final()
    del obj[field]
    with pytest.raises(StreamError, match=field):
        validate(lines(chunk("Hi"), obj))


def test_ttft_is_the_first_non_empty_chunk_not_the_first_line() -> None:
    v = StreamValidator("generate", MODEL)
    v.feed(json.dumps(chunk("")), 1.0)
    v.feed(json.dumps(chunk("")), 2.0)
    v.feed(json.dumps(chunk("A")), 3.5)
    v.feed(json.dumps(chunk("B")), 4.0)
    v.feed(json.dumps(final(eval_count=2)), 4.1)
    result = v.finish()
    assert result.first_token_at == 3.5
    assert result.last_line_at == 4.1


def test_chat_stream_reads_message_content_and_thinking() -> None:
    thinking = {"model": MODEL, "message": {"role": "assistant", "thinking": "hmm"}, "done": False}
    result = validate(lines(thinking, chat_chunk("Hi"), final()), endpoint="chat")
    assert result.first_token_at == 0.0  # the thinking chunk is the first visible token
    assert result.text_chunks == 2


def test_chat_chunk_without_message_is_malformed() -> None:
    with pytest.raises(StreamError) as err:
        validate(lines(chunk("generate-style chunk")), endpoint="chat")
    assert err.value.kind is FailureKind.MALFORMED


@pytest.mark.parametrize(("asked", "got"), [("llama3.2", "llama3.2:latest"), ("a:latest", "a")])
def test_implicit_latest_tag_is_the_same_model(asked: str, got: str) -> None:
    v = StreamValidator("generate", asked)
    v.feed(json.dumps(chunk("x", model=got)), 0.0)
    v.feed(json.dumps(final(model=got)), 1.0)
    assert v.finish().text_chars == 1


def test_blank_lines_are_ignored() -> None:
    assert validate(["", *VALID, "  "]).text_chunks == 3


texts = st.lists(st.text(max_size=8), min_size=1, max_size=30)


def stream_of(parts: list[str]) -> list[str]:
    return lines(*(chunk(t) for t in parts), final(eval_count=max(len(parts), 1)))


@given(texts)
def test_property_12_any_valid_stream_passes(parts: list[str]) -> None:
    """Property 12: a valid stream passes whatever its chunking; TTFT is the first text."""
    if not any(parts):
        parts = [*parts, "x"]
    result = validate(stream_of(parts))
    first = next(i for i, t in enumerate(parts) if t)
    assert result.first_token_at == float(first)
    assert result.text_chars == sum(len(t) for t in parts)


@given(texts, st.data())
def test_property_12_any_corruption_fails_with_its_kind(
    parts: list[str], data: st.DataObject
) -> None:
    """Property 12: cutting a line, dropping the end, or naming another model always fails."""
    parts = [*parts, "x"]
    raw = stream_of(parts)
    i = data.draw(st.integers(0, len(raw) - 1))
    cut = data.draw(st.integers(1, len(raw[i]) - 1))
    cases = {
        FailureKind.MALFORMED: [*raw[:i], raw[i][:cut], *raw[i + 1 :]],
        FailureKind.TRUNCATED: raw[:-1],
        FailureKind.WRONG_MODEL: [
            *raw[:i],
            raw[i].replace(json.dumps(MODEL), json.dumps("other:1b")),
            *raw[i + 1 :],
        ],
    }
    for kind, broken in cases.items():
        with pytest.raises(StreamError) as err:
            validate(broken)
        assert err.value.kind is kind


@given(st.lists(st.just(""), min_size=1, max_size=10))
def test_property_12_all_empty_chunks_is_empty_output(parts: list[str]) -> None:
    with pytest.raises(StreamError) as err:
        validate(stream_of(parts))
    assert err.value.kind is FailureKind.EMPTY_OUTPUT


def _raised(exc: BaseException, cause: BaseException | None = None) -> BaseException:
    try:
        raise exc from cause
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (requests.ReadTimeout("no headers in time"), FailureKind.TIMEOUT),
        (requests.ConnectTimeout("connect"), FailureKind.TIMEOUT),
        (  # a stream that goes silent mid-body: requests wraps urllib3's read timeout
            _raised(
                requests.ConnectionError("read"), ReadTimeoutError(None, "/", "Read timed out.")
            ),
            FailureKind.TIMEOUT,
        ),
        (requests.exceptions.ChunkedEncodingError("Connection broken"), FailureKind.TRUNCATED),
        (requests.ConnectionError("Connection refused"), FailureKind.CONNECTION),
        (ConnectionResetError("reset"), FailureKind.CONNECTION),
    ],
)
def test_transport_errors_are_classified(exc: BaseException, kind: FailureKind) -> None:
    assert classify_exception(exc) is kind


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _failure_of(url: str) -> BaseException:
    try:
        requests.get(url, timeout=(5, 5))
    except requests.RequestException as exc:
        return exc
    raise AssertionError(f"{url} answered")


def test_a_refused_connection_is_a_connection_error_not_a_timeout() -> None:
    """urllib3's NewConnectionError subclasses its ConnectTimeoutError; a refused port is not
    a timeout."""
    exc = _failure_of(f"http://127.0.0.1:{_closed_port()}/api/tags")
    assert classify_exception(exc) is FailureKind.CONNECTION


def test_an_unresolvable_host_is_a_dns_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolver is replaced (no network in tests); requests and urllib3 wrap its error as
    they would a real lookup failure."""

    def no_such_host(*_: object, **__: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    exc = _failure_of("http://ollama-alb-dev.invalid/api/tags")
    assert classify_exception(exc) is FailureKind.DNS


def test_https_to_a_plain_http_server_is_a_tls_error(fake_ollama: FakeOllama) -> None:
    exc = _failure_of(fake_ollama.url.replace("http://", "https://") + "/api/tags")
    assert classify_exception(exc) is FailureKind.TLS


def test_a_connect_timeout_is_a_timeout() -> None:
    exc = _raised(
        requests.ConnectTimeout("connect"),
        ConnectTimeoutError(None, "/", "Connection to 10.0.0.1 timed out. (connect timeout=1)"),
    )
    assert classify_exception(exc) is FailureKind.TIMEOUT
