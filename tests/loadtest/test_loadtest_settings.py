"""Configuration: every option validated early, secrets only from the environment."""

from __future__ import annotations

import json
import re
from argparse import Namespace
from pathlib import Path
from typing import Any

import configargparse
import pytest

from loadtest import settings
from loadtest.settings import API_KEY_ENV, OPTIONS_BY_DEST, SettingsError, from_options


def parser() -> configargparse.ArgumentParser:
    parser = configargparse.ArgumentParser()
    settings.add_arguments(parser)
    return parser


def opts(**values: Any) -> Namespace:
    """Options as locust hands them over: through the parser add_arguments sets up."""
    argv = [word for dest, v in values.items() for word in (OPTIONS_BY_DEST[dest].flag, str(v))]
    return parser().parse_args(argv, env_vars={})


def test_defaults_are_valid_and_unauthenticated() -> None:
    s = from_options(opts(), environ={})
    assert s.model == settings.DEFAULT_MODEL
    assert (s.api_mode, s.path_prefix, s.headers) == ("direct", "", {})
    assert s.weights == {"generate": 6, "chat": 3, "tags": 1, "health": 1}
    assert s.slo.ttft_ms is None


def test_webui_mode_uses_the_proxy_prefix_and_a_bearer_key_from_env() -> None:
    s = from_options(opts(api_mode="webui"), environ={API_KEY_ENV: "sk-123"})
    assert s.path_prefix == "/ollama"
    assert s.headers == {"Authorization": "Bearer sk-123"}
    assert "sk-123" not in json.dumps(s.describe())


def test_api_listener_mode_sends_the_key_in_the_named_header() -> None:
    s = from_options(
        opts(api_mode="api-listener", auth_header="X-Ollama-Key"), environ={API_KEY_ENV: "k"}
    )
    assert (s.path_prefix, s.headers) == ("", {"X-Ollama-Key": "k"})


@pytest.mark.parametrize("mode", ["webui", "api-listener"])
def test_authenticated_modes_require_the_key_variable(mode: str) -> None:
    with pytest.raises(SettingsError, match=f"{API_KEY_ENV}.*never on the command line"):
        from_options(opts(api_mode=mode), environ={})


def test_there_is_no_command_line_option_for_the_key() -> None:
    flags = {a for action in parser()._actions for a in action.option_strings}
    assert not any("key" in f or "token" in f or "secret" in f for f in flags)


def test_options_have_environment_variables() -> None:
    ns = parser().parse_args([], env_vars={"OLLAMA_LOADTEST_NUM_PREDICT": "32"})
    assert from_options(ns, environ={}).num_predict == 32


def test_values_arrive_typed() -> None:
    ns = opts(num_predict=" 64 ", time_scale="0.5", observe_scaling="1", stack_env="dev")
    assert (ns.num_predict, ns.time_scale, ns.observe_scaling) == (64, 0.5, "1")
    assert from_options(ns, environ={}).observe_scaling is True


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"num_predict": "lots"}, r"--num-predict \(env OLLAMA_LOADTEST_NUM_PREDICT\) = 'lots'"),
        ({"num_predict": "0"}, "must be >= 1"),
        ({"seed": "1.5"}, "--seed .* must be an integer"),
        ({"api_mode": "open"}, "must be one of direct, webui, api-listener"),
        ({"prompt_distribution": "zipf"}, "must be one of fixed, uniform, normal"),
        ({"observe_scaling": "yes"}, "must be one of true, false, 1, 0"),
        ({"task_weights": "generate=1,embed=2"}, "names from generate, chat, tags, health"),
        ({"task_weights": "tags=1"}, "give generate or chat a positive weight"),
        ({"task_weights": "generate=-1"}, "must be >= 0"),
        ({"task_weights": "generate=x"}, "weight of 'generate' must be a number"),
        ({"scenario": "ramp"}, "--scenario"),
        ({"time_scale": "0"}, "must be > 0"),
        ({"wait_min": "soon"}, "--wait-min .* must be a number"),
        ({"auth_header": "X Bad"}, "HTTP header name"),
        ({"slo_ttft_ms": "-1"}, "--slo-ttft-ms"),
        ({"baseline": "qa"}, "neither one of dev, staging, production nor an existing file"),
        ({"stack_env": "prod"}, "--stack-env"),
        ({"read_timeout": "nan"}, "--read-timeout"),
        (
            {"ollama_model": ""},
            r"--ollama-model \(env OLLAMA_LOADTEST_MODEL\) = '': must be a model",
        ),
        ({"ollama_model": "  "}, "leave the option out to use the --baseline's workload.model"),
        ({"ollama_model": "bad model"}, "--ollama-model .* must be a model name"),
    ],
)
def test_bad_values_are_rejected_as_they_are_parsed(
    values: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        opts(**values)
    assert exited.value.code == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"env_vars": {"OLLAMA_LOADTEST_WAIT_MAX": "-2"}},
            "--wait-max (env OLLAMA_LOADTEST_WAIT_MAX) = '-2': must be >= 0.0",
        ),
        (
            {"env_vars": {"OLLAMA_LOADTEST_MODEL": ""}},
            "--ollama-model (env OLLAMA_LOADTEST_MODEL) = '': must be a model name",
        ),
        (
            {"env_vars": {}, "config_file_contents": "scenario = ramp\n"},
            "--scenario (env OLLAMA_LOADTEST_SCENARIO) = 'ramp': must be one of",
        ),
    ],
)
def test_environment_and_config_file_values_are_checked_too(
    source: dict[str, Any], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args([], **source)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"wait_min": "3", "wait_max": "1"}, "must be >= --wait-min"),
        ({"prompt_min_words": "500"}, "min <= mean <= max"),
        ({"observe_scaling": "true"}, "needs --stack-env"),
    ],
)
def test_values_that_only_fail_together_name_the_option_and_the_rule(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        from_options(opts(**values), environ={})


def test_bad_host_is_rejected() -> None:
    with pytest.raises(SettingsError, match="--host"):
        from_options(opts(), environ={}, host="ollama.example.com")


def outputs(tmp_path: Path, **values: str) -> str:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(values))
    return str(path)


def test_host_comes_from_the_stack_outputs_for_the_mode(tmp_path: Path) -> None:
    path = outputs(
        tmp_path,
        ollama_url="https://chat.example.com/",
        ollama_alb_dns_name="ollama-alb-dev-123.eu-west-1.elb.amazonaws.com",
        ollama_api_endpoint="https://api.example.com:8443",
    )
    env = {API_KEY_ENV: "k"}
    assert from_options(opts(stack_outputs=path, api_mode="webui"), env).host == (
        "https://chat.example.com"
    )
    assert from_options(opts(stack_outputs=path), env).host == (
        "http://ollama-alb-dev-123.eu-west-1.elb.amazonaws.com"
    )
    assert from_options(opts(stack_outputs=path, api_mode="api-listener"), env).host == (
        "https://api.example.com:8443"
    )
    explicit = from_options(opts(stack_outputs=path), env, host="http://10.0.0.5:11434")
    assert explicit.host == "http://10.0.0.5:11434"


def test_stack_outputs_without_the_needed_output_fail(tmp_path: Path) -> None:
    path = outputs(tmp_path, ollama_api_endpoint="https://chat.example.com/ollama")
    with pytest.raises(SettingsError, match="has no 'ollama_url' output"):
        from_options(opts(stack_outputs=path, api_mode="webui"), {API_KEY_ENV: "k"})
    with pytest.raises(SettingsError, match="no API listener"):
        from_options(opts(stack_outputs=path, api_mode="api-listener"), {API_KEY_ENV: "k"})
    with pytest.raises(SettingsError, match="cannot read"):
        from_options(opts(stack_outputs=str(tmp_path / "missing.json")), {})


@pytest.mark.parametrize(
    ("env", "model"),
    [("dev", "llama3.2:1b"), ("staging", "llama3.2:3b"), ("production", "llama3.1:8b")],
)
def test_model_defaults_to_the_baselines_workload(env: str, model: str) -> None:
    s = from_options(opts(baseline=env), environ={})
    assert s.baseline == settings.BASELINE_DIR / f"{env}.json"
    assert s.model == model
    assert from_options(opts(baseline=env, ollama_model="qwen2.5:0.5b"), {}).model == (
        "qwen2.5:0.5b"
    )
