"""Load-test configuration: command-line options, each with an environment variable.

Secrets never go on the command line: the API key is read only from OLLAMA_LOADTEST_API_KEY.
Everything is validated once, before any user starts, and errors name the option, its
environment variable, the bad value and what to do instead.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
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


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    default: Any
    help: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


OPTIONS = (
    Option(
        "--ollama-model",
        "OLLAMA_LOADTEST_MODEL",
        "",
        f"model to load-test; default: the --baseline's workload.model, else {DEFAULT_MODEL}",
    ),
    Option(
        "--api-mode",
        "OLLAMA_LOADTEST_API_MODE",
        "direct",
        "direct (Ollama API, no auth), webui (Open WebUI's /ollama proxy, bearer API key) or "
        f"api-listener (dedicated listener, key in a header); key from {API_KEY_ENV}",
    ),
    Option(
        "--auth-header",
        "OLLAMA_LOADTEST_AUTH_HEADER",
        "Authorization",
        "header carrying the key in api-listener mode; 'Authorization' sends 'Bearer <key>'",
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
    ),
    Option("--num-predict", "OLLAMA_LOADTEST_NUM_PREDICT", 256, "output token cap per request"),
    Option(
        "--prompt-distribution",
        "OLLAMA_LOADTEST_PROMPT_DISTRIBUTION",
        "normal",
        f"prompt length distribution: {', '.join(DISTRIBUTIONS)}",
    ),
    Option("--prompt-mean-words", "OLLAMA_LOADTEST_PROMPT_MEAN", 200, "mean prompt length"),
    Option("--prompt-stddev-words", "OLLAMA_LOADTEST_PROMPT_STDDEV", 50, "prompt length stddev"),
    Option("--prompt-min-words", "OLLAMA_LOADTEST_PROMPT_MIN", 16, "shortest prompt"),
    Option("--prompt-max-words", "OLLAMA_LOADTEST_PROMPT_MAX", 2048, "longest prompt"),
    Option(
        "--warmup-requests",
        "OLLAMA_LOADTEST_WARMUP",
        1,
        "generation requests per user excluded from the statistics (model load, caches)",
    ),
    Option(
        "--scenario",
        "OLLAMA_LOADTEST_SCENARIO",
        "constant",
        f"load shape: {', '.join(SCENARIOS)} (constant = locust's -u/-r/-t)",
    ),
    Option("--scenario-users", "OLLAMA_LOADTEST_SCENARIO_USERS", 50, "peak users of the scenario"),
    Option(
        "--time-scale",
        "OLLAMA_LOADTEST_TIME_SCALE",
        1.0,
        "multiply every scenario stage duration (0.01 = a 3 s baseline for smoke runs)",
    ),
    Option("--step-users", "OLLAMA_LOADTEST_STEP_USERS", 5, "users added per step"),
    Option("--step-duration", "OLLAMA_LOADTEST_STEP_DURATION", 120.0, "seconds per step"),
    Option("--wait-min", "OLLAMA_LOADTEST_WAIT_MIN", 0.5, "min think time between requests, s"),
    Option("--wait-max", "OLLAMA_LOADTEST_WAIT_MAX", 2.0, "max think time between requests, s"),
    Option("--connect-timeout", "OLLAMA_LOADTEST_CONNECT_TIMEOUT", 10.0, "TCP connect timeout, s"),
    Option(
        "--read-timeout",
        "OLLAMA_LOADTEST_READ_TIMEOUT",
        600.0,
        "longest silence before a stream counts as timed out, s (ALB idle timeout >= 600 s)",
    ),
    Option("--slo-ttft-ms", "OLLAMA_LOADTEST_SLO_TTFT_MS", 0.0, "TTFT objective (goodput)"),
    Option("--slo-tpot-ms", "OLLAMA_LOADTEST_SLO_TPOT_MS", 0.0, "TPOT objective (goodput)"),
    Option("--slo-e2e-ms", "OLLAMA_LOADTEST_SLO_E2E_MS", 0.0, "E2E objective (goodput)"),
    Option("--json-summary", "OLLAMA_LOADTEST_JSON_SUMMARY", "", "write the run summary JSON here"),
    Option(
        "--baseline",
        "OLLAMA_LOADTEST_BASELINE",
        "",
        "gate the run: dev, staging, production (loadtest/baselines/<env>.json) or a path",
    ),
    Option(
        "--stack-env",
        "OLLAMA_LOADTEST_ENV",
        "",
        "stack the run targets (dev/staging/production); names ollama-asg-<env> in the summary",
    ),
    Option(
        "--observe-scaling",
        "OLLAMA_LOADTEST_OBSERVE_SCALING",
        "false",
        "sample ollama-asg-<env> and its CPU alarms during the run (needs --stack-env and "
        "AWS credentials); true or false",
    ),
    Option(
        "--scaling-interval",
        "OLLAMA_LOADTEST_SCALING_INTERVAL",
        30.0,
        "seconds between scaling samples",
    ),
    Option("--seed", "OLLAMA_LOADTEST_SEED", 1, "seed for prompts, actions and think times"),
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
    """Register the options on locust's (configargparse) parser."""
    group = parser.add_argument_group("Ollama load test")
    for opt in OPTIONS:
        group.add_argument(
            opt.flag,
            env_var=opt.env,
            default=opt.default,
            type=str,
            help=f"{opt.help} [env {opt.env}; default {opt.default!r}]",
        )


def _err(opt: Option, value: Any, rule: str) -> SettingsError:
    return SettingsError(f"{opt.flag} (env {opt.env}) = {value!r}: {rule}")


def _get(options: Any, opt: Option) -> str:
    value = getattr(options, opt.dest, None)
    return str(opt.default if value is None else value).strip()


def _int(options: Any, opt: Option, minimum: int) -> int:
    raw = _get(options, opt)
    try:
        value = int(raw)
    except ValueError:
        raise _err(opt, raw, "must be an integer") from None
    if value < minimum:
        raise _err(opt, raw, f"must be >= {minimum}")
    return value


def _float(options: Any, opt: Option, minimum: float, strict: bool = False) -> float:
    raw = _get(options, opt)
    try:
        value = float(raw)
    except ValueError:
        raise _err(opt, raw, "must be a number") from None
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        raise _err(opt, raw, f"must be {'>' if strict else '>='} {minimum}")
    return value


def _choice(options: Any, opt: Option, choices: tuple[str, ...]) -> str:
    raw = _get(options, opt)
    if raw not in choices:
        raise _err(opt, raw, f"must be one of {', '.join(choices)}")
    return raw


def parse_weights(options: Any, opt: Option) -> dict[str, float]:
    raw = _get(options, opt)
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in ACTIONS:
            raise _err(opt, raw, f"use name=weight pairs with names from {', '.join(ACTIONS)}")
        try:
            weight = float(value)
        except ValueError:
            raise _err(opt, raw, f"weight of {name!r} must be a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise _err(opt, raw, f"weight of {name!r} must be >= 0")
        weights[name] = weight
    if weights.get("generate", 0) + weights.get("chat", 0) <= 0:
        raise _err(opt, raw, "give generate or chat a positive weight (nothing to measure)")
    return weights


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


def resolve_baseline(raw: str) -> Path | None:
    if not raw:
        return None
    if raw in ENVIRONMENTS:
        return BASELINE_DIR / f"{raw}.json"
    path = Path(raw)
    if not path.is_file():
        raise _err(
            OPTIONS_BY_DEST["baseline"],
            raw,
            f"is neither one of {', '.join(ENVIRONMENTS)} nor an existing file",
        )
    return path


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
    """Validate parsed options (attribute names = option dests) into Settings."""
    environ = os.environ if environ is None else environ
    o = OPTIONS_BY_DEST
    baseline = resolve_baseline(_get(options, o["baseline"]))
    model = _get(options, o["ollama_model"]) or _baseline_model(baseline) or DEFAULT_MODEL
    if any(c.isspace() for c in model):
        raise _err(o["ollama_model"], model, "must be a model name such as llama3.2:3b")
    api_mode = _choice(options, o["api_mode"], API_MODES)
    header = _get(options, o["auth_header"])
    if not header or not all(c.isalnum() or c == "-" for c in header):
        raise _err(o["auth_header"], header, "must be an HTTP header name")
    outputs = _get(options, o["stack_outputs"])
    if not host and outputs:
        host = host_from_stack_outputs(Path(outputs), api_mode)
    if host:
        parsed = urlparse(host)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(f"--host {host!r}: must be an http(s) URL such as http://alb-dns")
    try:
        prompt = PromptSpec(
            distribution=_choice(options, o["prompt_distribution"], DISTRIBUTIONS),
            mean=_int(options, o["prompt_mean_words"], 1),
            stddev=_int(options, o["prompt_stddev_words"], 0),
            min=_int(options, o["prompt_min_words"], 1),
            max=_int(options, o["prompt_max_words"], 1),
        )
    except ValueError as exc:
        raise SettingsError(f"--prompt-* options: {exc}") from None
    wait_min = _float(options, o["wait_min"], 0.0)
    wait_max = _float(options, o["wait_max"], 0.0)
    if wait_max < wait_min:
        raise _err(o["wait_max"], wait_max, f"must be >= --wait-min ({wait_min})")
    slo_values = {
        name: _float(options, o[f"slo_{name}"], 0.0) or None
        for name in ("ttft_ms", "tpot_ms", "e2e_ms")
    }
    json_summary = _get(options, o["json_summary"])
    stack_env = _get(options, o["stack_env"]) or None
    if stack_env is not None and stack_env not in ENVIRONMENTS:
        raise _err(o["stack_env"], stack_env, f"must be one of {', '.join(ENVIRONMENTS)}")
    observe = _choice(options, o["observe_scaling"], ("true", "false", "1", "0"))
    observe_scaling = observe in ("true", "1")
    if observe_scaling and stack_env is None:
        raise _err(
            o["observe_scaling"], observe, "needs --stack-env: which ollama-asg-<env> to watch"
        )
    return Settings(
        model=model,
        api_mode=api_mode,
        path_prefix="/ollama" if api_mode == "webui" else "",
        headers=_auth_headers(api_mode, header, environ),
        host=host or None,
        weights=parse_weights(options, o["task_weights"]),
        num_predict=_int(options, o["num_predict"], 1),
        prompt=prompt,
        warmup_requests=_int(options, o["warmup_requests"], 0),
        scenario=_choice(options, o["scenario"], SCENARIOS),
        scenario_users=_int(options, o["scenario_users"], 1),
        time_scale=_float(options, o["time_scale"], 0.0, strict=True),
        step_users=_int(options, o["step_users"], 1),
        step_duration_s=_float(options, o["step_duration"], 0.0, strict=True),
        wait_min_s=wait_min,
        wait_max_s=wait_max,
        connect_timeout_s=_float(options, o["connect_timeout"], 0.0, strict=True),
        read_timeout_s=_float(options, o["read_timeout"], 0.0, strict=True),
        slo=SLO(**slo_values),
        json_summary=Path(json_summary) if json_summary else None,
        baseline=baseline,
        stack_env=stack_env,
        observe_scaling=observe_scaling,
        scaling_interval_s=_float(options, o["scaling_interval"], 0.0, strict=True),
        seed=_int(options, o["seed"], 0),
    )


OPTIONS_BY_DEST = {opt.dest: opt for opt in OPTIONS}
