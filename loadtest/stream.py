"""Line-by-line validation of Ollama's streamed NDJSON responses.

``/api/generate`` and ``/api/chat`` answer with ``application/x-ndjson``: ``done: false`` chunks
carrying text (``response`` or ``message.content``; early chunks may be empty, reasoning models
send ``thinking`` first), then one ``done: true`` object with the server's timings in nanoseconds.
A stream only counts as a success if every line parses, every chunk names the requested model,
some text arrived and the final object carries all timing fields.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

Endpoint = Literal["generate", "chat"]

# Fields Ollama puts on the final ``done: true`` object; all are non-negative integers.
TIMING_FIELDS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


class FailureKind(StrEnum):
    """Distinct failure classes, reported separately in locust's table and in the summary."""

    QUEUE_FULL = "http_503"  # OLLAMA_MAX_QUEUE exceeded (or no healthy target behind the ALB)
    HTTP_ERROR = "http_error"  # any other non-200 status
    TIMEOUT = "timeout"  # connect or read timeout, including a stalled stream
    CONNECTION = "connection_error"  # refused/reset before or during the stream
    DNS = "dns_error"  # the host name did not resolve
    TLS = "tls_error"  # the TLS handshake failed (certificate, protocol, plain HTTP on https)
    MALFORMED = "malformed_stream"  # a line that is not a JSON object of the expected shape
    TRUNCATED = "truncated_stream"  # the stream ended without a ``done: true`` object
    WRONG_MODEL = "wrong_model"  # a chunk names a different model than requested
    EMPTY_OUTPUT = "empty_output"  # a complete stream without any generated text
    SERVER_ERROR = "server_error"  # an ``{"error": ...}`` object inside the stream


# Failures where no answer came back from the server at all: a load test that meets them
# measured nothing, so they are reported by kind and fail the gate.
TRANSPORT_KINDS = (FailureKind.CONNECTION, FailureKind.DNS, FailureKind.TLS, FailureKind.TIMEOUT)

_TIMEOUTS = (TimeoutError, requests.Timeout, ReadTimeoutError, ConnectTimeoutError)
_TLS = (ssl.SSLError, requests.exceptions.SSLError, Urllib3SSLError)
_DNS = (socket.gaierror, NameResolutionError)
_CUT_OFF = (requests.exceptions.ChunkedEncodingError, ProtocolError)
_BY_CAUSE = ((_TIMEOUTS, FailureKind.TIMEOUT), (_TLS, FailureKind.TLS), (_DNS, FailureKind.DNS))


class StreamError(Exception):
    """A response that must be counted as failed, with its kind."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(f"{kind.value}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class StreamResult:
    """What a valid stream yielded; times are readings of the caller's clock."""

    first_token_at: float
    last_line_at: float
    final: dict[str, Any]
    text_chunks: int
    text_chars: int


def normalize_model(name: str) -> str:
    """Ollama treats ``llama3.2`` and ``llama3.2:latest`` as the same model."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class StreamValidator:
    """Feed it each line as it arrives, then call :meth:`finish`.

    Time to first token is taken at the first line carrying non-empty text (``response`` on
    /api/generate, ``message.content`` on /api/chat, or ``thinking`` on either), because empty
    keep-alive chunks are not something a user sees.
    """

    def __init__(self, endpoint: Endpoint, model: str) -> None:
        if endpoint not in ("generate", "chat"):
            raise ValueError(f"endpoint must be 'generate' or 'chat', got {endpoint!r}")
        self._endpoint = endpoint
        self._model = normalize_model(model)
        self._requested = model
        self._first_token_at: float | None = None
        self._last_line_at: float | None = None
        self._final: dict[str, Any] | None = None
        self._text_chunks = 0
        self._text_chars = 0
        self._lines = 0

    def feed(self, line: bytes | str, now: float) -> None:
        """Validate one NDJSON line received at clock reading ``now``."""
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise StreamError(FailureKind.MALFORMED, "line is not valid UTF-8") from exc
        if not line.strip():
            return
        self._lines += 1
        self._last_line_at = now
        if self._final is not None:
            raise StreamError(FailureKind.MALFORMED, "data after the done=true object")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise StreamError(FailureKind.MALFORMED, "line is not valid JSON") from exc
        if not isinstance(obj, dict):
            raise StreamError(FailureKind.MALFORMED, "line is not a JSON object")
        if "error" in obj:
            raise StreamError(FailureKind.SERVER_ERROR, str(obj["error"])[:200])
        self._check_model(obj)
        text = self._text_of(obj)
        if text:
            self._text_chunks += 1
            self._text_chars += len(text)
            if self._first_token_at is None:
                self._first_token_at = now
        done = obj.get("done")
        if not isinstance(done, bool):
            raise StreamError(FailureKind.MALFORMED, "chunk has no boolean 'done' field")
        if done:
            self._check_timings(obj)
            self._final = obj

    def finish(self) -> StreamResult:
        """Call at end of stream; raises unless the stream was complete and non-empty."""
        if self._final is None:
            if self._lines == 0:
                raise StreamError(FailureKind.TRUNCATED, "response body was empty")
            raise StreamError(FailureKind.TRUNCATED, "stream ended without a done=true object")
        if self._first_token_at is None or self._last_line_at is None:
            raise StreamError(FailureKind.EMPTY_OUTPUT, "stream finished without generated text")
        return StreamResult(
            first_token_at=self._first_token_at,
            last_line_at=self._last_line_at,
            final=self._final,
            text_chunks=self._text_chunks,
            text_chars=self._text_chars,
        )

    def _check_model(self, obj: dict[str, Any]) -> None:
        model = obj.get("model")
        if not isinstance(model, str):
            raise StreamError(FailureKind.MALFORMED, "chunk has no string 'model' field")
        if normalize_model(model) != self._model:
            raise StreamError(
                FailureKind.WRONG_MODEL, f"asked for {self._requested!r}, got {model!r}"
            )

    def _text_of(self, obj: dict[str, Any]) -> str:
        if self._endpoint == "generate":
            parts = [obj.get("response"), obj.get("thinking")]
        else:
            message = obj.get("message")
            if message is None and obj.get("done"):
                return ""
            if not isinstance(message, dict):
                raise StreamError(FailureKind.MALFORMED, "chat chunk has no 'message' object")
            parts = [message.get("content"), message.get("thinking")]
        text = ""
        for part in parts:
            if part is None:
                continue
            if not isinstance(part, str):
                raise StreamError(FailureKind.MALFORMED, "token text is not a string")
            text += part
        return text

    @staticmethod
    def _check_timings(obj: dict[str, Any]) -> None:
        for field in TIMING_FIELDS:
            value = obj.get(field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise StreamError(
                    FailureKind.MALFORMED,
                    f"final object lacks a non-negative integer {field!r}",
                )
        if obj["eval_count"] > 0 and obj["eval_duration"] == 0:
            raise StreamError(FailureKind.MALFORMED, "eval_count > 0 with eval_duration 0")


def _cause_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def _new_connection(exc: BaseException, kind: FailureKind) -> bool:
    return kind is FailureKind.TIMEOUT and isinstance(exc, NewConnectionError)


def classify_exception(exc: BaseException) -> FailureKind:
    """Transport errors, first match wins: a timeout anywhere in the cause chain (including a
    stream that went silent mid-body), a failed TLS handshake, a host name that did not
    resolve, a body cut off mid-chunk, else any other connection failure."""
    chain = _cause_chain(exc)
    for kinds, kind in _BY_CAUSE:
        # urllib3's NewConnectionError (refused, unreachable, unresolved) subclasses its
        # ConnectTimeoutError for compatibility; it is not a timeout.
        if any(isinstance(e, kinds) and not _new_connection(e, kind) for e in chain):
            return kind
    if isinstance(exc, _CUT_OFF):
        return FailureKind.TRUNCATED
    return FailureKind.CONNECTION
