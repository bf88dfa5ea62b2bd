"""The CloudWatch agent config: valid against the agent's own schema, and complete."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from harness import STACKS, evaluated

from ollama_infra import cwagent
from ollama_infra.naming import StackNames

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "schemas" / "cloudwatch-agent.schema.json"


def _names(env: str = "dev") -> StackNames:
    return StackNames(env, "123456789012")


@pytest.fixture(scope="module")
def validator() -> Any:
    if not SCHEMA.is_file():
        pytest.skip(
            f"the CloudWatch agent schema is not checked out next to the repository "
            f"(expected at ../shared/schemas/{SCHEMA.name}); schema validation needs it"
        )
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(validator: Any, config: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(config)
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_the_deployed_agent_config_validates_against_the_agent_schema(
    stack: str, validator: Any
) -> None:
    """The exact JSON the stack stores in SSM (read back from the plan) is schema-valid."""
    record = evaluated(stack).named("ollama-observability-cwagent-config")
    config = json.loads(record.inputs["insecureValue"])
    assert schema_errors(validator, config) == []
    assert config == cwagent.agent_config(_names(stack), "us-east-1")


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (
            lambda c: c["metrics"].__setitem__("aggregation_dimensions", "AutoScalingGroupName"),
            "metrics",
        ),
        (lambda c: c["logs"]["logs_collected"]["files"].__setitem__("collect_list", []), "logs"),
        (lambda c: c["agent"].__setitem__("metrics_collection_interval", 0), "agent"),
        (lambda c: c["metrics"]["metrics_collected"]["mem"].pop("measurement"), "metrics"),
        (
            lambda c: c["logs"]["logs_collected"]["files"]["collect_list"][0].__setitem__(
                "log_group", "x"
            ),
            "logs",
        ),
    ],
)
def test_schema_validation_catches_broken_configs(mutate: Any, where: str, validator: Any) -> None:
    config = copy.deepcopy(cwagent.agent_config(_names(), "us-east-1"))
    mutate(config)
    errors = schema_errors(validator, config)
    assert errors, "a broken config passed the schema"
    assert any(e.startswith(where) for e in errors), errors


def test_memory_disk_swap_metrics_carry_the_asg_dimension() -> None:
    """The memory alarm reads mem_used_percent by AutoScalingGroupName only."""
    metrics = cwagent.agent_config(_names(), "us-east-1")["metrics"]
    assert metrics["namespace"] == "Ollama/dev"
    assert metrics["append_dimensions"]["AutoScalingGroupName"] == "${aws:AutoScalingGroupName}"
    assert ["AutoScalingGroupName"] in metrics["aggregation_dimensions"]
    collected = {
        name for section in metrics["metrics_collected"].values() for name in section["measurement"]
    }
    assert {"mem_used_percent", "disk_used_percent", "swap_used_percent"} <= collected


def test_every_log_source_is_shipped_once_to_its_group() -> None:
    names = _names("staging")
    collect = cwagent.agent_config(names, "us-east-1")["logs"]["logs_collected"]["files"][
        "collect_list"
    ]
    shipped = {e["file_path"]: e["log_group_name"] for e in collect}
    assert shipped == {
        cwagent.OLLAMA_LOG_FILE: names.service_log_group,
        cwagent.WEBUI_LOG_FILE: names.app_log_group,
        cwagent.BOOTSTRAP_LOG_FILE: names.bootstrap_log_group,
    }
    assert len(collect) == len(shipped)


def test_forwarders_copy_each_journal_stream_to_the_shipped_file() -> None:
    names = _names()
    units = cwagent.journald_forwarders(names, "script")
    assert set(units) == {
        "ollama-log-forward-ollama.service",
        "ollama-log-forward-open-webui.service",
    }
    ollama = units["ollama-log-forward-ollama.service"]
    assert "journalctl -u ollama.service --follow --output=cat" in ollama
    assert f"StandardOutput=append:{cwagent.OLLAMA_LOG_FILE}" in ollama
    webui = units["ollama-log-forward-open-webui.service"]
    # Docker's journald driver sets SYSLOG_IDENTIFIER to the --log-opt tag.
    assert "journalctl -t open-webui" in webui
    assert f"StandardOutput=append:{cwagent.WEBUI_LOG_FILE}" in webui
    for text in units.values():
        assert "--cursor-file=/var/lib/ollama-log-forward/" in text
        assert "Restart=always" in text
    rotate = cwagent.logrotate_config(names)
    assert cwagent.OLLAMA_LOG_FILE in rotate
    assert cwagent.WEBUI_LOG_FILE in rotate
    assert "copytruncate" in rotate


def test_parameter_tier_follows_the_4_kb_standard_limit() -> None:
    assert cwagent.parameter_tier("x" * 4096) == "Standard"
    assert cwagent.parameter_tier("x" * 4097) == "Advanced"
    assert cwagent.parameter_tier("é" * 2049) == "Advanced"  # bytes, not characters


@pytest.mark.parametrize("stack", STACKS)
def test_the_parameter_is_a_plain_string_in_the_standard_tier(stack: str) -> None:
    record = evaluated(stack).named("ollama-observability-cwagent-config")
    assert record.inputs["name"] == f"/ollama/{stack}/cloudwatch-agent/config"
    assert record.inputs["type"] == "String"
    value = record.inputs["insecureValue"]
    assert record.inputs["tier"] == cwagent.parameter_tier(value) == "Standard"


def test_the_shipped_files_match_what_the_instances_write() -> None:
    """Contract with the user data: the bootstrap log path, the docker journald tag and the
    ollama unit the forwarders select are the ones the boot scripts really use."""
    boot = (ROOT / "ollama_infra" / "userdata" / "ollama-boot.sh").read_text()
    install = (ROOT / "ollama_infra" / "userdata" / "ollama-install.sh").read_text()
    assert f'LOG="$ROOT{cwagent.BOOTSTRAP_LOG_FILE}"' in boot
    sources = {s.key: s for s in cwagent.log_sources(_names())}
    tag = sources["open-webui"].journal_selector
    assert tag == ("-t", "open-webui")
    assert "--log-driver journald --log-opt tag=open-webui" in boot
    assert sources["ollama"].journal_selector == ("-u", "ollama.service")
    assert "systemctl enable ollama" in install


@pytest.mark.parametrize(
    ("method", "unit"),
    [("script", "ollama.service"), ("snap", "snap.ollama.listener.service")],
)
def test_ollama_forwarder_follows_the_unit_of_the_install_method(method: str, unit: str) -> None:
    """The install script writes ollama.service; the snap's daemon app is `listener`, which
    systemd runs as snap.<snap>.<app>.service (docs/UPSTREAM.md). Following the wrong unit
    ships nothing, and every Ollama metric filter and alarm goes silent."""
    text = cwagent.journald_forwarders(_names(), method)["ollama-log-forward-ollama.service"]
    assert f"journalctl -u {unit} --follow" in text
    with pytest.raises(ValueError, match="no known Ollama unit"):
        cwagent.journald_forwarders(_names(), "apt")
