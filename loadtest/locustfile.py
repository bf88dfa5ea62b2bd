"""Locust entry point: streamed Ollama generation as an LLM user feels it.

    locust -f loadtest/locustfile.py --headless -u 50 -r 10 -t 5m --host http://<alb-dns> \
        --json-summary summary.json --baseline staging

Options (all also environment variables) are listed by ``locust -f loadtest/locustfile.py
--help``; metric definitions are in loadtest/README.md. The measuring and gating logic lives in
plain modules next to this file; this file only wires it to locust's events.
"""

from __future__ import annotations

import bisect
import itertools
import json
import logging
import random
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

# Locust puts this file's directory on sys.path; the modules are imported as the package.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import gevent  # noqa: E402
import requests  # noqa: E402
from locust import HttpUser, LoadTestShape, events, task  # noqa: E402
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner  # noqa: E402

from loadtest import gate, scaling, schedule  # noqa: E402
from loadtest import settings as settings_mod  # noqa: E402
from loadtest.metrics import (  # noqa: E402
    RequestRecord,
    find_saturation,
    record_failure,
    record_success,
    summarize,
)
from loadtest.prompts import PromptFactory  # noqa: E402
from loadtest.stream import (  # noqa: E402
    TRANSPORT_KINDS,
    FailureKind,
    StreamError,
    StreamValidator,
    classify_exception,
    normalize_model,
)

log = logging.getLogger("loadtest")

LLM_ROW = "LLM"  # request_type of the per-request metric rows
# Distributed runs: at the end of a run the master asks every worker for its last records and
# waits for them. Locust's own final report on quit is waited for only half a second, so a
# worker on a busy machine lost everything it had not yet sent (a 3 s report interval).
FLUSH_REQUEST, FLUSH_REPLY = "ollama_flush", "ollama_flushed"
FLUSH_TIMEOUT_S = 30.0


class RunState:
    """Process-wide state of one run (locust runs one test per process)."""

    def __init__(self) -> None:
        self.settings: settings_mod.Settings | None = None
        self.records: list[RequestRecord] = []
        self.outbox: list[dict[str, Any]] = []  # records not yet sent to the master
        self.warmups = 0
        self.flushed: set[str] = set()  # workers whose last records reached the master
        self.stage_log: list[tuple[float, int]] = []  # (wall time, target users)
        self.user_ids = itertools.count()
        self.observer: scaling.ScalingObserver | None = None

    def add(self, record: RequestRecord, distributed_worker: bool) -> None:
        if distributed_worker:
            self.outbox.append(record.to_dict())
        else:
            self.records.append(record)

    def note_stage(self, users: int) -> None:
        if not self.stage_log or self.stage_log[-1][1] != users:
            self.stage_log.append((time.time(), users))

    def with_stages(self) -> list[RequestRecord]:
        times = [t for t, _ in self.stage_log]
        out = []
        for r in self.records:
            i = bisect.bisect_right(times, r.started_at) - 1
            out.append(replace(r, stage_users=self.stage_log[max(i, 0)][1] if times else 0))
        return out


STATE = RunState()


def _settings() -> settings_mod.Settings:
    if STATE.settings is None:
        raise RuntimeError("load-test settings are not initialised (init event not fired)")
    return STATE.settings


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any, **_: Any) -> None:
    settings_mod.add_arguments(parser)


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    try:
        STATE.settings = settings_mod.from_options(
            environment.parsed_options, host=environment.host
        )
        if STATE.settings.baseline is not None:
            gate.load_baseline(STATE.settings.baseline)
    except (settings_mod.SettingsError, gate.BaselineError) as exc:
        log.error("invalid load-test configuration: %s", exc)
        sys.exit(2)
    if STATE.settings.host and not environment.host:
        environment.host = STATE.settings.host
        OllamaUser.host = STATE.settings.host
    if STATE.settings.observe_scaling and not isinstance(environment.runner, WorkerRunner):
        STATE.observer = _scaling_observer(STATE.settings)
    if isinstance(environment.runner, MasterRunner):
        environment.runner.register_message(FLUSH_REPLY, _on_flushed)
    elif isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(FLUSH_REQUEST, _on_flush_request)


def _scaling_observer(s: settings_mod.Settings) -> scaling.ScalingObserver:
    """Clients for the stack's region (AWS_REGION etc.), checked with one sample up front."""
    import boto3
    import botocore.exceptions

    assert s.stack_env is not None  # settings enforce --stack-env with --observe-scaling
    try:
        observer = scaling.ScalingObserver(
            s.stack_env,
            boto3.client("autoscaling"),
            boto3.client("cloudwatch"),
            interval_s=s.scaling_interval_s,
            sleep=gevent.sleep,
        )
        scaling.sample(observer.autoscaling, observer.cloudwatch, s.stack_env)
    except (scaling.ScalingError, botocore.exceptions.BotoCoreError) as exc:
        log.error("--observe-scaling: %s", exc)
        sys.exit(2)
    except botocore.exceptions.ClientError as exc:
        log.error("--observe-scaling: AWS refused the read-only describe calls: %s", exc)
        sys.exit(2)
    return observer


@events.test_start.add_listener
def _on_test_start(environment: Any, **_: Any) -> None:
    STATE.records.clear()
    STATE.outbox.clear()
    STATE.warmups = 0
    STATE.stage_log.clear()
    if _settings().scenario == "constant" and environment.parsed_options is not None:
        STATE.note_stage(int(environment.parsed_options.num_users or 1))
    if STATE.observer is not None:
        STATE.observer.running = True
        gevent.spawn(STATE.observer.observe)


@events.report_to_master.add_listener
def _report_to_master(data: dict[str, Any], **_: Any) -> None:
    data["ollama_records"], STATE.outbox = STATE.outbox, []
    data["ollama_warmups"], STATE.warmups = STATE.warmups, 0


@events.worker_report.add_listener
def _worker_report(data: dict[str, Any], **_: Any) -> None:
    STATE.records.extend(RequestRecord.from_dict(r) for r in data.get("ollama_records", []))
    STATE.warmups += data.get("ollama_warmups", 0)


def _on_flush_request(environment: Any, **_: Any) -> None:
    """Worker: stop the users (what the master's quit would do next), then send what is left."""
    environment.runner.stop()
    data: dict[str, Any] = {}
    _report_to_master(data)
    environment.runner.send_message(FLUSH_REPLY, data)


def _on_flushed(msg: Any, **_: Any) -> None:
    _worker_report(msg.data)
    STATE.flushed.add(msg.node_id)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_: Any) -> None:
    """Master: collect every live worker's last records before the summary is written."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    STATE.flushed.clear()
    workers = {c.id for c in runner.clients.all if c.state != STATE_MISSING}
    for worker in workers:
        runner.send_message(FLUSH_REQUEST, None, worker)
    deadline = time.monotonic() + FLUSH_TIMEOUT_S
    while not workers <= STATE.flushed and time.monotonic() < deadline:
        gevent.sleep(0.05)
    missing = workers - STATE.flushed
    if missing:
        log.error(
            "%d worker(s) sent no final records within %.0f s; the summary lacks their last "
            "requests: %s",
            len(missing),
            FLUSH_TIMEOUT_S,
            ", ".join(sorted(missing)),
        )


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or STATE.settings is None:
        return
    s = STATE.settings
    slo = s.slo
    baseline = gate.load_baseline(s.baseline) if s.baseline else None
    if baseline is not None and slo == type(slo)():
        slo = baseline.slo
    run_info: dict[str, Any] = {
        **s.describe(),
        "host": environment.host,
        "users_peak": max((u for _, u in STATE.stage_log), default=0),
    }
    if s.stack_env:
        scale_out, scale_in = scaling.alarm_names(s.stack_env)
        run_info["scaling"] = {
            "asg": scaling.asg_name(s.stack_env),
            "scale_out_alarm": scale_out,
            "scale_in_alarm": scale_in,
        }
    summary = summarize(STATE.with_stages(), slo, run_info, warmup_excluded=STATE.warmups)
    if s.scenario == "step":
        summary["saturation"] = find_saturation(summary["stages"])
    if STATE.observer is not None:
        STATE.observer.running = False
        STATE.observer.observe_once()  # the state the run left the group in
        summary["scaling_observed"] = STATE.observer.summary()
    print_summary(summary)
    if s.json_summary is not None:
        s.json_summary.parent.mkdir(parents=True, exist_ok=True)
        s.json_summary.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        log.info("summary written to %s", s.json_summary)
    if baseline is not None:
        ok, text = gate.report(gate.evaluate(summary, baseline), baseline)
        print(text, flush=True)
        environment.process_exit_code = gate.EXIT_PASS if ok else gate.EXIT_GATE_FAILED


def print_summary(summary: dict[str, Any]) -> None:
    lat = summary["latency_ms"]
    req = summary["requests"]
    lines = [
        f"LLM summary: {req['total']} requests ({req['succeeded']} succeeded, "
        f"{req['failed']} failed) over {summary['window_s']:.1f} s"
    ]
    for key in ("ttft_ms", "tpot_ms", "e2e_ms"):
        d = lat[key]
        if d:
            lines.append(
                f"  {key:<8} p50 {d['p50']:9.1f}  p90 {d['p90']:9.1f}  p99 {d['p99']:9.1f}"
            )
    tp = summary["throughput"]
    if tp["requests_per_s"] is not None:
        lines.append(
            f"  {tp['requests_per_s']:.2f} req/s, {tp['output_tokens_per_s']:.1f} output tok/s, "
            f"goodput {tp['goodput_requests_per_s']:.2f} req/s"
        )
    errors = {k: v["count"] for k, v in summary["errors"]["by_kind"].items() if v["count"]}
    lines.append(
        "  errors: " + (", ".join(f"{k} {n}" for k, n in errors.items()) if errors else "none")
    )
    unanswered = [kind.value for kind in TRANSPORT_KINDS if errors.get(kind.value)]
    if unanswered:
        lines.append(
            f"  {', '.join(unanswered)}: requests got no answer from "
            f"{summary['run'].get('host')}; check --host (scheme, name, port) and that the "
            "server is reachable from here"
        )
    print("\n".join(lines), flush=True)


def _fire_metric(environment: Any, name: str, value: float | None, length: int = 0) -> None:
    if value is not None:
        environment.events.request.fire(
            request_type=LLM_ROW,
            name=name,
            response_time=value,
            response_length=length,
            exception=None,
            context={},
        )


def _http_failure(resp: Any) -> str:
    """Why a non-200 answer failed; a request that got no answer names its transport kind."""
    if resp.status_code == 0 and resp.error is not None:
        return f"{classify_exception(resp.error).value}: {type(resp.error).__name__}"
    return f"HTTP {resp.status_code}"


class OllamaUser(HttpUser):
    """One chat user: streams generations and chats, sometimes lists models or checks health."""

    def on_start(self) -> None:
        s = _settings()
        worker = getattr(self.environment.runner, "worker_index", 0) or 0
        seed = s.seed * 1_000_003 + worker * 10_007 + next(STATE.user_ids)
        self.rng = random.Random(seed)
        self.prompts = PromptFactory(s.prompt, seed)
        self.warmups_left = s.warmup_requests
        self.actions = list(s.weights)
        self.action_weights = [s.weights[a] for a in self.actions]
        self.distributed = isinstance(self.environment.runner, WorkerRunner)

    def wait_time(self) -> float:
        s = _settings()
        return self.rng.uniform(s.wait_min_s, s.wait_max_s)

    @task
    def act(self) -> None:
        action = self.rng.choices(self.actions, self.action_weights)[0]
        if action in ("generate", "chat"):
            self.stream(action)
        elif action == "tags":
            self.list_models()
        else:
            self.health()

    def _url(self, path: str) -> str:
        return _settings().path_prefix + path

    def _timeout(self) -> tuple[float, float]:
        s = _settings()
        return (s.connect_timeout_s, s.read_timeout_s)

    def stream(self, endpoint: str) -> None:
        s = _settings()
        prompt = self.prompts.prompt()
        body: dict[str, Any] = {
            "model": s.model,
            "stream": True,
            "options": {"num_predict": s.num_predict},
        }
        if endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        warmup = self.warmups_left > 0
        self.warmups_left -= int(warmup)
        path = f"/api/{endpoint}"
        name = f"{path} (warm-up)" if warmup else path
        validator = StreamValidator("chat" if endpoint == "chat" else "generate", s.model)
        started = time.time()
        sent = time.perf_counter()
        with self.client.post(
            self._url(path),
            json=body,
            headers=s.headers,
            stream=True,
            catch_response=True,
            name=name,
            timeout=self._timeout(),
        ) as resp:
            try:
                if resp.status_code != 200:
                    if resp.status_code == 0 and resp.error is not None:
                        raise resp.error
                    queue_full = resp.status_code == 503
                    kind = FailureKind.QUEUE_FULL if queue_full else FailureKind.HTTP_ERROR
                    raise StreamError(kind, f"HTTP {resp.status_code}")
                for line in resp.iter_lines():
                    validator.feed(line, time.perf_counter())
                result = validator.finish()
            except StreamError as exc:
                failure: StreamError | None = exc
            except (requests.RequestException, OSError) as exc:
                kind = classify_exception(exc)
                failure = StreamError(kind, type(exc).__name__)
            else:
                failure = None
            ended = time.time()
            if failure is not None:
                if resp.raw is not None:  # no body at all when the request never got an answer
                    resp.close()  # an unread or broken body: never hand the connection back
                resp.failure(failure)
                if warmup:
                    STATE.warmups += 1
                else:
                    STATE.add(
                        record_failure(endpoint, failure.kind, started, ended), self.distributed
                    )
                return
            record = record_success(endpoint, result, sent, started)
            resp.request_meta["response_time"] = record.e2e_ms
            resp.request_meta["response_length"] = record.output_tokens or 0
            resp.success()
        if warmup:
            STATE.warmups += 1
            return
        STATE.add(record, self.distributed)
        env = self.environment
        _fire_metric(env, "TTFT ms", record.ttft_ms, record.prompt_tokens or 0)
        _fire_metric(env, "TPOT ms", record.tpot_ms)
        _fire_metric(env, "E2E ms", record.e2e_ms, record.output_tokens or 0)
        _fire_metric(env, "queue wait ms (est.)", record.queue_wait_ms)
        _fire_metric(env, "output tokens (count)", record.output_tokens)
        _fire_metric(env, "decode tok/s (server)", record.decode_tps)
        _fire_metric(env, "prefill tok/s (server)", record.prefill_tps)

    def _get(self, path: str, name: str) -> Any:
        """An authenticated GET whose response the caller judges (``with ... as resp``)."""
        return self.client.get(
            self._url(path),
            headers=_settings().headers,
            catch_response=True,
            name=name,
            timeout=self._timeout(),
        )

    def list_models(self) -> None:
        s = _settings()
        with self._get("/api/tags", "/api/tags") as resp:
            if resp.status_code != 200:
                resp.failure(_http_failure(resp))
                return
            try:
                models = resp.json().get("models", [])
                names = {normalize_model(str(m.get("name", ""))) for m in models}
            except (ValueError, AttributeError, TypeError):
                resp.failure("malformed /api/tags body")
                return
            if normalize_model(s.model) not in names:
                resp.failure(f"model {s.model} not listed by /api/tags")

    def health(self) -> None:
        s = _settings()
        with self._get("/", "/ (health)") as resp:
            if resp.status_code != 200:
                resp.failure(_http_failure(resp))
            elif s.api_mode != "webui" and "Ollama is running" not in resp.text:
                resp.failure("GET / did not answer 'Ollama is running'")


class ScenarioShape(LoadTestShape):
    """Plays the --scenario stage table; 'constant' follows -u/-r/-t like plain locust."""

    use_common_options = True

    def __init__(self) -> None:
        super().__init__()
        self._stages: list[schedule.Stage] | None = None

    def tick(self) -> tuple[int, float] | None:
        s = _settings()
        if s.scenario == "constant":
            # Locust applies -t only after a shape finishes, so the shape enforces it here.
            assert self.runner is not None  # locust sets it before the first tick
            opts = self.runner.environment.parsed_options
            run_time = getattr(opts, "run_time", None)
            if run_time and self.get_run_time() >= run_time:
                return None
            users = int(getattr(opts, "num_users", None) or 1)
            rate = float(getattr(opts, "spawn_rate", None) or 1)
            STATE.note_stage(users)
            return users, rate
        if self._stages is None:
            self._stages = schedule.build(
                s.scenario,
                users=s.scenario_users,
                time_scale=s.time_scale,
                step_users=s.step_users,
                step_duration_s=s.step_duration_s,
            )
        stage = schedule.stage_at(self._stages, self.get_run_time())
        if stage is None:
            return None
        STATE.note_stage(stage.users)
        return stage.users, stage.spawn_rate

    def reset_time(self) -> None:
        super().reset_time()
        self._stages = None
