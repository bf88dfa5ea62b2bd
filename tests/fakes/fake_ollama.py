"""TEST DOUBLE -- a fake Ollama server for the load-test suite. Not part of the product.

It speaks Ollama's native streaming format (``application/x-ndjson`` over chunked HTTP/1.1,
``done: false`` chunks then a ``done: true`` object with nanosecond timings) with a known,
configurable timing, so tests can compare what the load test reports with the ground truth:

* the first chunk with text is written ``first_token_delay_s`` after a parallel slot is free,
  then one token every ``token_interval_s``; an empty chunk goes out half-way to the first token
  (real servers send such chunks, and they must not count as the first token);
* the final object reports ``eval_count`` tokens over ``eval_duration`` = the time actually taken
  from one interval before the first token to the last token, so ``eval_count / eval_duration``
  equals ``1 / token_interval_s``; ``total - load - prompt_eval - eval`` is the slot wait;
* ``num_parallel`` / ``max_queue`` mimic OLLAMA_NUM_PARALLEL / OLLAMA_MAX_QUEUE (HTTP 503);
* ``faults`` is a list applied round-robin to generation requests (None = healthy) to inject
  503s, malformed, truncated, dropped, stalled, wrong-model, empty and error streams.

Threaded (one thread per connection), binds 127.0.0.1 on an ephemeral port. Run standalone
(for the client-capacity benchmark) with ``python tests/fakes/fake_ollama.py --help``; then
``GET /_fake/truth`` returns each request's real arrival-to-first-token time and ``POST``
to it clears the log.

Every request is also recorded (method, path, and ``keep_alive`` when the body has one) and
``GET /_fake/hits`` returns that log (``POST`` clears it), so a test can tell whether a proxy
in front of the fake forwarded a model-management request. The management endpoints (pull,
push, create, copy, delete, blobs) answer a plain success without doing anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = (
    "http_503",  # answer 503 like a full OLLAMA_MAX_QUEUE
    "garbage",  # a non-JSON line in the middle of the stream
    "truncate",  # end the body cleanly without a done=true object
    "drop",  # close the connection mid-stream (chunked body never terminated)
    "stall",  # stop sending for stall_s after the first tokens, then close
    "wrong_model",  # chunks name another model
    "empty",  # a complete stream without any text
    "missing_timings",  # final object without eval_duration
    "error_object",  # an {"error": ...} object mid-stream
)
# Test-double-only endpoint: GET returns the ground-truth log, POST clears it.
TRUTH_PATH = "/_fake/truth"
HITS_PATH = "/_fake/hits"
# Ollama's model-management endpoints: answered with a plain success, so a proxy's call succeeds.
MANAGEMENT = (
    ("POST", "/api/pull"),
    ("POST", "/api/push"),
    ("POST", "/api/create"),
    ("POST", "/api/copy"),
    ("DELETE", "/api/delete"),
    ("POST", "/api/blobs/"),
    ("HEAD", "/api/blobs/"),
)
BUSY = "server busy, please try again.  maximum pending requests exceeded"


@dataclass(frozen=True)
class FakeConfig:
    model: str = "fake-model:1b"
    first_token_delay_s: float = 0.1
    token_interval_s: float = 0.02
    token_count: int = 20
    load_duration_s: float = 0.0
    num_parallel: int = 0  # 0 = unlimited parallel streams
    max_queue: int = 512
    faults: tuple[str | None, ...] = ()
    stall_s: float = 5.0
    # Like Open WebUI's /ollama proxy: if set, every request needs "Authorization: Bearer <key>"
    # (401 otherwise), and a leading /ollama is stripped from the path.
    api_key: str | None = None

    def __post_init__(self) -> None:
        if self.first_token_delay_s < self.token_interval_s or self.token_interval_s <= 0:
            raise ValueError("need first_token_delay_s >= token_interval_s > 0")
        if self.token_count < 1:
            raise ValueError("token_count must be >= 1")
        for fault in self.faults:
            if fault is not None and fault not in FAULTS:
                raise ValueError(f"unknown fault {fault!r}; choose from {FAULTS}")


@dataclass
class GroundTruth:
    """What the fake really did for one generation request (client-independent)."""

    path: str
    fault: str | None
    queue_s: float
    first_token_offset_s: float  # from the slot becoming free to the first text chunk
    tokens: int


@dataclass
class _State:
    config: FakeConfig
    lock: threading.Lock = field(default_factory=threading.Lock)
    generation_requests: int = 0
    admitted: int = 0  # requests holding or waiting for a parallel slot
    truth: list[GroundTruth] = field(default_factory=list)
    slots: threading.BoundedSemaphore | None = None
    hits: list[dict[str, Any]] = field(default_factory=list)


def _now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without TCP_NODELAY, small token writes would be held back by Nagle's algorithm.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send_json(self, status: int, obj: Any, content_type: str = "application/json") -> None:
        body = (json.dumps(obj) if not isinstance(obj, str) else obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self, body: dict[str, Any] | None = None) -> None:
        if self.path in (TRUTH_PATH, HITS_PATH):
            return
        hit: dict[str, Any] = {"method": self.command, "path": self.path}
        if body and "keep_alive" in body:
            hit["keep_alive"] = body["keep_alive"]
        with self.server.state.lock:
            self.server.state.hits.append(hit)

    def _management(self) -> bool:
        """Answer a model-management request with a plain success (True when it was one)."""
        if not any(
            self.command == m and (self.path == p or (p.endswith("/") and self.path.startswith(p)))
            for m, p in MANAGEMENT
        ):
            return False
        self._send_json(200, {"status": "success"})
        return True

    def do_DELETE(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._record()
        if not self._management():
            self._send_json(404, {"error": "not found"})

    def do_HEAD(self) -> None:
        self._record()
        self.send_response(200 if self.path.startswith("/api/blobs/") else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _authorized(self) -> bool:
        """Proxy behaviour when an API key is configured; the test-double endpoints are exempt."""
        key = self.server.state.config.api_key
        if key is None or self.path in (TRUTH_PATH, HITS_PATH):
            return True
        if self.path == "/ollama" or self.path.startswith("/ollama/"):
            self.path = self.path[len("/ollama") :] or "/"
        if self.headers.get("Authorization") != f"Bearer {key}":
            self._send_json(401, {"detail": "Not authenticated"})
            return False
        return True

    def do_GET(self) -> None:
        cfg = self.server.state.config
        if not self._authorized():
            return
        self._record()
        if self.path == HITS_PATH:
            with self.server.state.lock:
                hits = list(self.server.state.hits)
            self._send_json(200, {"hits": hits})
        elif self.path == TRUTH_PATH:
            with self.server.state.lock:
                truth = [t.queue_s + t.first_token_offset_s for t in self.server.state.truth]
            self._send_json(200, {"first_token_from_arrival_s": truth})
        elif self.path == "/":
            self._send_json(200, "Ollama is running", "text/plain; charset=utf-8")
        elif self.path == "/api/version":
            self._send_json(200, {"version": "0.0.0-fake"})
        elif self.path == "/api/tags":
            model = {"name": cfg.model, "model": cfg.model, "size": 1, "digest": "0" * 64}
            self._send_json(200, {"models": [model]})
        elif self.path == "/api/ps":
            self._send_json(200, {"models": []})
        else:
            self._send_json(404, {"error": "not found"})

    def do_POST(self) -> None:
        arrived = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        if not self._authorized():
            self.rfile.read(length)
            return
        if self.path == TRUTH_PATH:  # reset the ground-truth log between benchmark rounds
            with self.server.state.lock:
                self.server.state.truth.clear()
            self._send_json(200, {"reset": True})
            return
        if self.path == HITS_PATH:
            with self.server.state.lock:
                self.server.state.hits.clear()
            self._send_json(200, {"reset": True})
            return
        raw = self.rfile.read(length)
        if self.path.startswith("/api/blobs/"):  # a binary body
            self._record()
            self._management()
            return
        try:
            request = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send_json(400, {"error": "invalid JSON body"})
            return
        self._record(request if isinstance(request, dict) else None)
        if self._management():
            return
        if self.path == "/api/show":
            details = {"format": "gguf", "family": "fake", "parameter_size": "1B"}
            self._send_json(200, {"details": details, "model_info": {}, "capabilities": []})
            return
        if self.path not in ("/api/generate", "/api/chat"):
            self._send_json(404, {"error": "not found"})
            return
        state = self.server.state
        with state.lock:
            cfg = state.config
            fault = cfg.faults[state.generation_requests % len(cfg.faults)] if cfg.faults else None
            state.generation_requests += 1
            # Like OLLAMA_MAX_QUEUE: beyond the busy slots, at most max_queue may wait.
            queue_full = cfg.num_parallel > 0 and state.admitted >= cfg.num_parallel + cfg.max_queue
            if queue_full or fault == "http_503":
                rejected = True
            else:
                rejected = False
                state.admitted += 1
        if rejected:
            self._send_json(503, {"error": BUSY})
            return
        slots = state.slots
        if slots is not None:
            slots.acquire()
        try:
            self._stream(cfg, request, fault, arrived)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if slots is not None:
                slots.release()
            with state.lock:
                state.admitted -= 1

    def _chunk(self, obj: dict[str, Any] | str) -> None:
        data = (obj if isinstance(obj, str) else json.dumps(obj)).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _stream(
        self, cfg: FakeConfig, request: dict[str, Any], fault: str | None, arrived: float
    ) -> None:
        chat = self.path == "/api/chat"
        model = "some-other-model:7b" if fault == "wrong_model" else request.get("model", "")
        num_predict = int((request.get("options") or {}).get("num_predict") or 0)
        tokens = min(cfg.token_count, num_predict) if num_predict > 0 else cfg.token_count
        prompt = request.get("prompt") or " ".join(
            str(m.get("content", "")) for m in request.get("messages") or []
        )
        slot = time.perf_counter()
        delay, interval = cfg.first_token_delay_s, cfg.token_interval_s

        def piece(text: str, done: bool = False) -> dict[str, Any]:
            obj: dict[str, Any] = {"model": model, "created_at": _now_iso()}
            if chat:
                obj["message"] = {"role": "assistant", "content": text}
            else:
                obj["response"] = text
            obj["done"] = done
            return obj

        def wait_until(t: float) -> None:
            remaining = t - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)

        wait_until(slot + delay / 2)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(piece(""))
        first = last = slot
        for k in range(tokens):
            wait_until(slot + delay + k * interval)
            if k == 1 and fault in ("garbage", "error_object", "truncate", "drop", "stall"):
                self._inject(fault)
                return
            last = time.perf_counter()
            if k == 0:
                first = last
            self._chunk(piece("" if fault == "empty" else f" tok{k}"))
        final = piece("", done=True)
        final.update(
            done_reason="length" if num_predict == tokens else "stop",
            total_duration=int((time.perf_counter() - arrived) * 1e9),
            load_duration=int(cfg.load_duration_s * 1e9),
            prompt_eval_count=max(len(prompt.split()), 1),
            prompt_eval_duration=max(int((first - interval - slot) * 1e9), 0),
            eval_count=0 if fault == "empty" else tokens,
            eval_duration=int((last - first + interval) * 1e9),
        )
        if fault == "missing_timings":
            del final["eval_duration"]
        self._chunk(final)
        self.wfile.write(b"0\r\n\r\n")
        with self.server.state.lock:
            self.server.state.truth.append(
                GroundTruth(self.path, fault, slot - arrived, first - slot, tokens)
            )

    def _inject(self, fault: str) -> None:
        if fault == "garbage":
            self._chunk("<html>502 Bad Gateway</html>")
            self.wfile.write(b"0\r\n\r\n")
        elif fault == "error_object":
            self._chunk({"error": "model runner has unexpectedly stopped"})
            self.wfile.write(b"0\r\n\r\n")
        elif fault == "truncate":
            self.wfile.write(b"0\r\n\r\n")
        else:  # drop / stall: never terminate the chunked body
            if fault == "stall":
                time.sleep(self.server.state.config.stall_s)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    state: _State


class FakeOllama:
    """TEST DOUBLE: start with ``with FakeOllama(FakeConfig(...)) as fake: fake.url``."""

    def __init__(self, config: FakeConfig | None = None, port: int = 0) -> None:
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.state = _State(config or FakeConfig())
        self._apply_slots()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def truth(self) -> list[GroundTruth]:
        with self._server.state.lock:
            return list(self._server.state.truth)

    @property
    def hits(self) -> list[dict[str, Any]]:
        """Every request received since the last ``clear_hits`` (test-double endpoints aside)."""
        with self._server.state.lock:
            return list(self._server.state.hits)

    def clear_hits(self) -> None:
        with self._server.state.lock:
            self._server.state.hits.clear()

    def reconfigure(self, **changes: Any) -> None:
        """Change timing or faults between runs (not while streams are in flight)."""
        with self._server.state.lock:
            self._server.state.config = replace(self._server.state.config, **changes)
            self._server.state.generation_requests = 0
        self._apply_slots()

    def _apply_slots(self) -> None:
        n = self._server.state.config.num_parallel
        self._server.state.slots = threading.BoundedSemaphore(n) if n > 0 else None

    def start(self) -> FakeOllama:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="TEST DOUBLE: fake Ollama streaming server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--model", default=FakeConfig.model)
    parser.add_argument("--first-token-delay", type=float, default=FakeConfig.first_token_delay_s)
    parser.add_argument("--token-interval", type=float, default=FakeConfig.token_interval_s)
    parser.add_argument("--token-count", type=int, default=FakeConfig.token_count)
    args = parser.parse_args(argv)
    config = FakeConfig(
        model=args.model,
        first_token_delay_s=args.first_token_delay,
        token_interval_s=args.token_interval,
        token_count=args.token_count,
    )
    with FakeOllama(config, port=args.port) as fake:
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
