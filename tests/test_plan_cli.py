"""`ollama-ops plan`: offline, reads the real stack file, JSON shape, and config errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from harness import STACKS, evaluated

from ollama_infra.offline.evaluate import is_secret_value
from ollama_infra.ops.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("stack", STACKS)
def test_plan_json_for_every_stack(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", stack, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"stack", "resources", "outputs"} <= set(doc)
    assert doc["stack"] == stack
    assert doc["offline"] is True
    assert "not a preview against AWS" in doc["notice"]
    assert doc["resources"] and all({"type", "name", "inputs"} <= set(r) for r in doc["resources"])
    assert doc["outputs"]["ollama_environment"] == stack


def test_plan_text_says_it_is_offline(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OFFLINE EVALUATION of stack 'dev'")
    assert "aws:ec2/vpc:Vpc" in out and "ollama-vpc-dev" in out


def _bad_stack_dir(tmp_path: Path, section: str, **changes: object) -> Path:
    data = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    data["config"][f"ollama:{section}"].update(changes)
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


@pytest.mark.parametrize(
    ("section", "changes", "key"),
    [
        ("compute", {"min_size": 2, "max_size": 1}, "ollama:compute.min_size"),
        (
            "network",
            {
                "public_subnet_cidrs": ["10.10.0.0/20", "10.10.16.0/20"],
                "private_subnet_cidrs": ["10.10.0.0/24", "10.10.200.0/24"],
            },
            "ollama:network.private_subnet_cidrs",
        ),
        ("environment", {"name": "qa"}, "ollama:environment.name"),
    ],
)
def test_plan_rejects_bad_stack_file_naming_the_key(
    tmp_path: Path, section: str, changes: dict, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg_dir = _bad_stack_dir(tmp_path, section, **changes)
    assert main(["plan", "--stack", "dev", "--config-dir", str(cfg_dir)]) == 2
    err = capsys.readouterr().err
    assert key in err and "Fix:" in err


def test_plan_missing_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "staging", "--config-dir", str(tmp_path)]) == 15
    err = capsys.readouterr().err
    assert f"no stack file Pulumi.staging.yaml in {tmp_path}; known stacks: none" in err


def test_console_script_runs_without_credentials(tmp_path: Path) -> None:
    """The installed entry point works with no AWS or Pulumi environment at all."""
    exe = shutil.which("ollama-ops", path=str(Path(sys.executable).parent))
    assert exe, "ollama-ops console script is not installed"
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    result = subprocess.run(
        [exe, "plan", "--stack", "dev", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["stack"] == "dev"


def test_plan_masks_secret_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    """Secret inputs (generated passwords, the origin header) never appear in the plan."""
    ev = evaluated("staging")
    secret_values = [
        v["value"]
        for r in ev.resources
        for v in _walk(r.inputs)
        # generated passwords and keys (the offline mocks answer them as mock-<hex>)
        if is_secret_value(v) and isinstance(v.get("value"), str) and v["value"].startswith("mock-")
    ]
    assert secret_values, "no secret inputs found: the check would be vacuous"
    assert main(["plan", "--stack", "staging", "--json"]) == 0
    out = capsys.readouterr().out
    assert "[secret]" in out
    for value in secret_values:
        assert value not in out


def _walk(value: object):  # type: ignore[no-untyped-def]
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


OPTION_KEYS = {
    "protect",
    "retainOnDelete",
    "deleteBeforeReplace",
    "replaceOnChanges",
    "ignoreChanges",
    "aliases",
    "dependsOn",
}


def test_plan_shows_each_resources_options(capsys: pytest.CaptureFixture[str]) -> None:
    """JSON: every resource has all option keys; text: one line for those that set any."""
    assert main(["plan", "--stack", "production", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r["options"] for r in doc["resources"]}
    assert all(set(options) == OPTION_KEYS for options in by_name.values())
    table = by_name["ollama-data-table"]
    assert table["protect"] and table["retainOnDelete"] and table["deleteBeforeReplace"]
    assert "hashKey" in table["replaceOnChanges"]
    assert by_name["ollama-network-nat-us-east-1a"]["dependsOn"] == ["ollama-network-igw"]
    assert by_name["ollama-network-vpc"] == {
        k: (False if k in {"protect", "retainOnDelete", "deleteBeforeReplace"} else [])
        for k in OPTION_KEYS
    }

    assert main(["plan", "--stack", "production"]) == 0
    text = capsys.readouterr().out
    table_block = text.split("  ollama-data-table\n", 1)[1].split("\n  + ", 1)[0]
    assert "options: protect retainOnDelete deleteBeforeReplace replaceOnChanges=name,hashKey" in (
        table_block
    )
    vpc_block = text.split("  ollama-network-vpc\n", 1)[1].split("\n  + ", 1)[0]
    assert "options:" not in vpc_block
