"""Load-test configuration: command-line options, each with an environment variable.

Secrets never go on the command line: the API key is read only from OLLAMA_LOADTEST_API_KEY.
Everything is validated before any user starts: each value as locust parses it (from the
command line, the environment or a config file), what depends on several in from_options.
Errors name the option, its environment variable, the bad value and what to do instead.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from loadtest.metrics import SLO
from loadtest.prompts import DISTRIBUTIONS, PromptSpec
from loadtest.schedule import SCENARIOS

API_KEY_ENV = "OLLAMA_LOADTEST_API_KEY"
API_MODES = ("direct", "webui", "api-listener")
ACTIONS = ("generate", "chat", "tags", "health")
ENVIRONMENTS = ("dev", "staging", "production")
BASELINE_DIR = Path(__file__).resolve().parent / "baselines"
DEFAULT_MODEL = "llama3.2:1b"  # the stacks' default model (ollama.models)


class SettingsError(ValueError):
    """A configuration value that cannot work; the message says how to fix it."""


def _integer(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be an integer") from None
        if value < minimum:
            raise ValueError(f"must be >= {minimum}")
        return value

    return parse


def _number(minimum: float, strict: bool = False) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("must be a number") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            raise ValueError(f"must be {'>' if strict else '>='} {minimum}")
        return value

    return parse


def _model_name(raw: str) -> str:
    if not raw or any(c.isspace() for c in raw):
        raise ValueError(
            "must be a model name such as llama3.2:3b; leave the option out to use the "
            f"--baseline's workload.model, else {DEFAULT_MODEL}"
        )
    return raw


def _header_name(raw: str) -> str:
    if not raw or not all(c.isalnum() or c == "-" for c in raw):
        raise ValueError("must be an HTTP header name")
    return raw


def _weights(raw: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in ACTIONS:
            raise ValueError(f"use name=weight pairs with names from {', '.join(ACTIONS)}")
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"weight of {name!r} must be a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"weight of {name!r} must be >= 0")
        weights[name] = weight
    if weights.get("generate", 0) + weights.get("chat", 0) <= 0:
        raise ValueError("give generate or chat a positive weight (nothing to measure)")
    return weights


def _checked_weights(raw: str) -> str:
    """Checked, but kept as text: locust's web UI edits an option by its value's type."""
    _weights(raw)
    return raw


def _baseline(raw: str) -> str:
    """An environment's baseline file, or an existing file; a path as text, because locust's
    master sends the option values to its workers and a Path does not serialise."""
    if raw in ENVIRONMENTS:
        return str(BASELINE_DIR / f"{raw}.json")
    if raw and not Path(raw).is_file():
        raise ValueError(f"is neither one of {', '.join(ENVIRONMENTS)} nor an existing file")
    return raw


def _stack_env(raw: str) -> str:
    if raw and raw not in ENVIRONMENTS:
        raise ValueError(f"must be one of {', '.join(ENVIRONMENTS)}")
    return raw


def _err(opt: Option, value: Any, rule: str) -> SettingsError:
    return SettingsError(f"{opt.flag} (env {opt.env}) = {value!r}: {rule}")


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str  # raises ValueError with the rule the value breaks
    choices: tuple[str, ...] | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def type(self, raw: str) -> Any:
        """argparse ``type=``, so command line, environment variable and config file values all
        arrive checked; the error names the option, its variable, the value and the rule."""
        value = raw.strip()
        try:
            if self.choices is not None and value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            return self.parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(_err(self, value, str(exc)))) from None


OPTIONS = (
    Option(
        "--ollama-model",
        "OLLAMA_LOADTEST_MODEL",
        None,  # not "": argparse would check a text default, and "" must be an error
        f"model to load-test; default: the --baseline's workload.model, else {DEFAULT_MODEL}",
        _model_name,
    ),
    Option(
        "--api-mode",
        "OLLAMA_LOADTEST_API_MODE",
        "direct",
        "direct (Ollama API, no auth), webui (Open WebUI's /ollama proxy, bearer API key) or "
        f"api-listener (dedicated listener, key in a header); key from {API_KEY_ENV}",
        choices=API_MODES,
    ),
    Option(
        "--auth-header",
        "OLLAMA_LOADTEST_AUTH_HEADER",
        "Authorization",
        "header carrying the key in api-listener mode; 'Authorization' sends 'Bearer <key>'",
        _header_name,
    ),
    Option(
        "--stack-outputs",
        "OLLAMA_LOADTEST_STACK_OUTPUTS",
        "",
        "JSON from `pulumi stack output --json`; without --host, the host is ollama_url "
        "(webui), ollama_api_endpoint (api-listener) or ollama_alb_dns_name (direct)",
    ),
    Option(
        "--task-weights",
        "OLLAMA_LOADTEST_WEIGHTS",
        "generate=6,chat=3,tags=1,health=1",
        "relative weights of the actions generate, chat, tags, health",
        _checked_weights,
    ),
    Option(
        "--num-predict",
        "OLLAMA_LOADTEST_NUM_PREDICT",
        256,
        "output token cap per request",
        _integer(1),
    ),
    Option(
        "--prompt-distribution",
        "OLLAMA_LOADTEST_PROMPT_DISTRIBUTION",
        "normal",
        f"prompt length distribution: {', '.join(DISTRIBUTIONS)}",
        choices=DISTRIBUTIONS,
    ),
    Option(
        "--prompt-mean-words", "OLLAMA_LOADTEST_PROMPT_MEAN", 200, "mean prompt length", _integer(1)
    ),
    Option(
        "--prompt-stddev-words",
        "OLLAMA_LOADTEST_PROMPT_STDDEV",
        50,
        "prompt length stddev",
        _integer(0),
    ),
    Option("--prompt-min-words", "OLLAMA_LOADTEST_PROMPT_MIN", 16, "shortest prompt", _integer(1)),
    Option("--prompt-max-words", "OLLAMA_LOADTEST_PROMPT_MAX", 2048, "longest prompt", _integer(1)),
    Option(
        "--warmup-requests",
        "OLLAMA_LOADTEST_WARMUP",
        1,
        "generation requests per user excluded from the statistics (model load, caches)",
        _integer(0),
    ),
    Option(
        "--scenario",
        "OLLAMA_LOADTEST_SCENARIO",
        "constant",
        f"load shape: {', '.join(SCENARIOS)} (constant = locust's -u/-r/-t)",
        choices=SCENARIOS,
    ),
    Option(
        "--scenario-users",
        "OLLAMA_LOADTEST_SCENARIO_USERS",
        50,
        "peak users of the scenario",
        _integer(1),
    ),
    Option(
        "--time-scale",
        "OLLAMA_LOADTEST_TIME_SCALE",
        1.0,
        "multiply every scenario stage duration (0.01 = a 3 s baseline for smoke runs)",
        _number(0.0, strict=True),
    ),
    Option("--step-users", "OLLAMA_LOADTEST_STEP_USERS", 5, "users added per step", _integer(1)),
    Option(
        "--step-duration",
        "OLLAMA_LOADTEST_STEP_DURATION",
        120.0,
        "seconds per step",
        _number(0.0, strict=True),
    ),
    Option(
        "--wait-min",
        "OLLAMA_LOADTEST_WAIT_MIN",
        0.5,
        "min think time between requests, s",
        _number(0.0),
    ),
    Option(
        "--wait-max",
        "OLLAMA_LOADTEST_WAIT_MAX",
        2.0,
        "max think time between requests, s",
        _number(0.0),
    ),
    Option(
        "--connect-timeout",
        "OLLAMA_LOADTEST_CONNECT_TIMEOUT",
        10.0,
        "TCP connect timeout, s",
        _number(0.0, strict=True),
    ),
    Option(
        "--read-timeout",
        "OLLAMA_LOADTEST_READ_TIMEOUT",
        600.0,
        "longest silence before a stream counts as timed out, s (ALB idle timeout >= 600 s)",
        _number(0.0, strict=True),
    ),
    Option(
        "--slo-ttft-ms",
        "OLLAMA_LOADTEST_SLO_TTFT_MS",
        0.0,
        "TTFT objective (goodput)",
        _number(0.0),
    ),
    Option(
        "--slo-tpot-ms",
        "OLLAMA_LOADTEST_SLO_TPOT_MS",
        0.0,
        "TPOT objective (goodput)",
        _number(0.0),
    ),
    Option(
        "--slo-e2e-ms", "OLLAMA_LOADTEST_SLO_E2E_MS", 0.0, "E2E objective (goodput)", _number(0.0)
    ),
    Option("--json-summary", "OLLAMA_LOADTEST_JSON_SUMMARY", "", "write the run summary JSON here"),
    Option(
        "--baseline",
        "OLLAMA_LOADTEST_BASELINE",
        "",
        "gate the run: dev, staging, production (loadtest/baselines/<env>.json) or a path",
        _baseline,
    ),
    Option(
        "--stack-env",
        "OLLAMA_LOADTEST_ENV",
        "",
        "stack the run targets (dev/staging/production); names ollama-asg-<env> in the summary",
        _stack_env,
    ),
    Option(
        "--observe-scaling",
        "OLLAMA_LOADTEST_OBSERVE_SCALING",
        "false",
        "sample ollama-asg-<env> and its CPU alarms during the run (needs --stack-env and "
        "AWS credentials); true or false",
        choices=("true", "false", "1", "0"),
    ),
    Option(
        "--scaling-interval",
        "OLLAMA_LOADTEST_SCALING_INTERVAL",
        30.0,
        "seconds between scaling samples",
        _number(0.0, strict=True),
    ),
    Option(
        "--seed",
        "OLLAMA_LOADTEST_SEED",
        1,
        "seed for prompts, actions and think times",
        _integer(0),
    ),
)


@dataclass(frozen=True)
class Settings:
    model: str
    api_mode: str
    path_prefix: str
    headers: dict[str, str]
    host: str | None
    weights: dict[str, float]
    num_predict: int
    prompt: PromptSpec
    warmup_requests: int
    scenario: str
    scenario_users: int
    time_scale: float
    step_users: int
    step_duration_s: float
    wait_min_s: float
    wait_max_s: float
    connect_timeout_s: float
    read_timeout_s: float
    slo: SLO
    json_summary: Path | None
    baseline: Path | None
    stack_env: str | None
    observe_scaling: bool
    scaling_interval_s: float
    seed: int

    def describe(self) -> dict[str, Any]:
        """Run metadata for the summary (no secrets)."""
        return {
            "model": self.model,
            "api_mode": self.api_mode,
            "num_predict": self.num_predict,
            "scenario": self.scenario,
            "weights": self.weights,
            "prompt": {
                "distribution": self.prompt.distribution,
                "mean_words": self.prompt.mean,
                "stddev_words": self.prompt.stddev,
                "min_words": self.prompt.min,
                "max_words": self.prompt.max,
            },
            "warmup_requests_per_user": self.warmup_requests,
            "seed": self.seed,
        }


def add_arguments(parser: Any) -> None:
    """Register the options on locust's (configargparse) parser.

    ``choices`` never rejects anything ``Option.type`` let through; it lists the values in
    the help and turns the field into a drop-down in locust's web UI.
    """
    group = parser.add_argument_group("Ollama load test")
    for opt in OPTIONS:
        group.add_argument(
            opt.flag,
            env_var=opt.env,
            default=opt.default,
            type=opt.type,
            choices=opt.choices,
            help=f"{opt.help} [env {opt.env}"
            + ("]" if opt.default is None else f"; default {opt.default!r}]"),
        )


def host_from_stack_outputs(path: Path, api_mode: str) -> str:
    """Base URL for ``api_mode`` from `pulumi stack output --json`.

    webui: ``ollama_url`` (Open WebUI behind CloudFront; the /ollama prefix is added per request);
    api-listener: ``ollama_api_endpoint`` (the dedicated listener); direct:
    ``http://<ollama_alb_dns_name>`` (the ALB answers 403 unless the request carries
    CloudFront's origin header, so direct mode suits private or port-forwarded access).
    """
    opt = OPTIONS_BY_DEST["stack_outputs"]
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise _err(opt, str(path), f"cannot read stack outputs JSON ({exc})") from None
    if not isinstance(outputs, dict):
        raise _err(opt, str(path), "must hold a JSON object of stack outputs")
    key = {"webui": "ollama_url", "api-listener": "ollama_api_endpoint"}.get(
        api_mode, "ollama_alb_dns_name"
    )
    value = outputs.get(key)
    if not isinstance(value, str) or not value:
        raise _err(opt, str(path), f"has no {key!r} output, which --api-mode {api_mode} needs")
    value = value.rstrip("/")
    if api_mode == "api-listener" and value.endswith("/ollama"):
        raise _err(
            opt,
            str(path),
            "ollama_api_endpoint points at the Open WebUI proxy, so the stack has no API "
            "listener (ollama_api.enabled is false); use --api-mode webui",
        )
    return value if api_mode != "direct" else f"http://{value}"


def _auth_headers(api_mode: str, header: str, environ: Mapping[str, str]) -> dict[str, str]:
    if api_mode == "direct":
        return {}
    key = environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise SettingsError(
            f"--api-mode {api_mode} needs an API key in the environment variable {API_KEY_ENV} "
            "(never on the command line); export it or use --api-mode direct"
        )
    if api_mode == "webui" or header.lower() == "authorization":
        return {"Authorization": f"Bearer {key}"}
    return {header: key}


def _baseline_model(path: Path | None) -> str | None:
    """The model a baseline was measured with, so gating compares like with like."""
    if path is None:
        return None
    try:
        model = json.loads(path.read_text(encoding="utf-8")).get("workload", {}).get("model")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None  # the gate reports an unreadable baseline with its own message
    return model if isinstance(model, str) and model else None


def from_options(
    options: Any, environ: Mapping[str, str] | None = None, host: str | None = None
) -> Settings:
    """Settings from parsed options (attribute names = option dests), each already checked by
    its ``Option.type``; what depends on several options, a file or the environment is
    checked here."""
    environ = os.environ if environ is None else environ
    o = OPTIONS_BY_DEST
    baseline = Path(options.baseline) if options.baseline else None
    model = options.ollama_model or _baseline_model(baseline) or DEFAULT_MODEL
    api_mode = options.api_mode
    if not host and options.stack_outputs:
        host = host_from_stack_outputs(Path(options.stack_outputs), api_mode)
    if host:
        parsed = urlparse(host)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(f"--host {host!r}: must be an http(s) URL such as http://alb-dns")
    try:
        prompt = PromptSpec(
            distribution=options.prompt_distribution,
            mean=options.prompt_mean_words,
            stddev=options.prompt_stddev_words,
            min=options.prompt_min_words,
            max=options.prompt_max_words,
        )
    except ValueError as exc:
        raise SettingsError(f"--prompt-* options: {exc}") from None
    if options.wait_max < options.wait_min:
        raise _err(o["wait_max"], options.wait_max, f"must be >= --wait-min ({options.wait_min})")
    stack_env = options.stack_env or None
    observe_scaling = options.observe_scaling in ("true", "1")
    if observe_scaling and stack_env is None:
        raise _err(
            o["observe_scaling"],
            options.observe_scaling,
            "needs --stack-env: which ollama-asg-<env> to watch",
        )
    return Settings(
        model=model,
        api_mode=api_mode,
        path_prefix="/ollama" if api_mode == "webui" else "",
        headers=_auth_headers(api_mode, options.auth_header, environ),
        host=host or None,
        weights=_weights(options.task_weights),
        num_predict=options.num_predict,
        prompt=prompt,
        warmup_requests=options.warmup_requests,
        scenario=options.scenario,
        scenario_users=options.scenario_users,
        time_scale=options.time_scale,
        step_users=options.step_users,
        step_duration_s=options.step_duration,
        wait_min_s=options.wait_min,
        wait_max_s=options.wait_max,
        connect_timeout_s=options.connect_timeout,
        read_timeout_s=options.read_timeout,
        slo=SLO(
            ttft_ms=options.slo_ttft_ms or None,
            tpot_ms=options.slo_tpot_ms or None,
            e2e_ms=options.slo_e2e_ms or None,
        ),
        json_summary=Path(options.json_summary) if options.json_summary else None,
        baseline=baseline,
        stack_env=stack_env,
        observe_scaling=observe_scaling,
        scaling_interval_s=options.scaling_interval,
        seed=options.seed,
    )


OPTIONS_BY_DEST = {opt.dest: opt for opt in OPTIONS}
