"""Read docs/UPSTREAM.md (the register of upstream facts) and collect the upstream names the
code uses, so tests can compare the two.

The register's tables have the header ``| Kind | Name | Checked against | Source | ... |``;
names are in backticks. The ELB account table is ``| Region | ELB account |``. Sample log lines
live in a fenced block tagged ``log-samples``, one ``[name expectation] line`` per line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGISTER = ROOT / "docs" / "UPSTREAM.md"
USERDATA = ROOT / "ollama_infra" / "userdata"

_ROW = re.compile(r"^\|(.+)\|\s*$")
_SAMPLE = re.compile(
    r"^\[(?P<name>[a-z0-9-]+) (?P<expect>request|none|load=[0-9.]+)\] (?P<line>.+)$"
)


@dataclass(frozen=True)
class Fact:
    kind: str
    name: str
    checked_against: str
    source: str
    relies: str


@dataclass(frozen=True)
class Sample:
    name: str
    expect: str
    line: str


def _cells(line: str) -> list[str] | None:
    found = _ROW.match(line)
    if not found:
        return None
    # Escaped pipes (\|) inside a cell are not separators.
    parts = re.split(r"(?<!\\)\|", found.group(1))
    return [p.strip().replace("\\|", "|") for p in parts]


def _unquote(cell: str) -> str:
    return cell[1:-1] if cell.startswith("`") and cell.endswith("`") else cell


def facts(text: str) -> list[Fact]:
    """Every row of every ``| Kind | Name | ...`` table."""
    out: list[Fact] = []
    in_table = False
    for line in text.splitlines():
        cells = _cells(line)
        if cells is None:
            in_table = False
            continue
        if cells[:2] == ["Kind", "Name"]:
            in_table = True
            continue
        if not in_table or set("".join(cells)) <= set("-: "):
            continue
        out.append(Fact(cells[0], _unquote(cells[1]), _unquote(cells[2]), cells[3], cells[4]))
    return out


def names(text: str, *kinds: str) -> set[str]:
    return {f.name for f in facts(text) if f.kind in kinds}


def account_table(text: str) -> dict[str, str]:
    """The ``| Region | ELB account |`` table."""
    out: dict[str, str] = {}
    in_table = False
    for line in text.splitlines():
        cells = _cells(line)
        if cells is None:
            in_table = False
            continue
        if cells[:2] == ["Region", "ELB account"]:
            in_table = True
            continue
        if in_table and not set("".join(cells)) <= set("-: "):
            out[_unquote(cells[0])] = _unquote(cells[1])
    return out


def samples(text: str) -> dict[str, Sample]:
    """The sample log lines, by name."""
    block = re.search(r"^```log-samples\n(.*?)^```", text, re.S | re.M)
    if block is None:
        raise ValueError("docs/UPSTREAM.md has no ```log-samples block")
    out: dict[str, Sample] = {}
    for raw in block.group(1).splitlines():
        found = _SAMPLE.match(raw)
        if found is None:
            raise ValueError(f"malformed sample line: {raw!r}")
        out[found["name"]] = Sample(found["name"], found["expect"], found["line"])
    return out


def register_text() -> str:
    return REGISTER.read_text()


# ------------------------------------------------------------------ names the code uses


def webui_env_names(boot_script: str) -> set[str]:
    """Variables the boot script writes into Open WebUI's env file."""
    return set(re.findall(r"^\s*env_line ([A-Z][A-Z0-9_]+) ", boot_script, re.M))


def ollama_env_names(install_script: str) -> set[str]:
    """OLLAMA_* variables the install script sets in the systemd drop-in."""
    return set(re.findall(r"^Environment=(OLLAMA_[A-Z_]+)=", install_script, re.M))


def snap_keys(install_script: str) -> set[str]:
    """Keys the install script passes to `snap set ollama`."""
    loops = re.findall(r"for key in (.*?); do", install_script, re.S)
    return {key for loop in loops for key in re.findall(r"([a-z][a-z-]*)=\$", loop)}


def endpoints(script: str) -> dict[str, set[str]]:
    """Paths the scripts call on Open WebUI (8080) and Ollama (11434 or $API)."""
    webui = set(re.findall(r"127\.0\.0\.1:8080(/[a-z/]+)", script))
    # Open WebUI's admin API through webui_call; a path parameter reads as {id}.
    for head, param, tail in re.findall(
        r'webui_call (?:GET|POST) "?(/api/v1/[a-z_/]*)(\$\(uri "\$\w+"\))?([a-z_/]*)', script
    ):
        webui.add(head + ("{id}" if param else "") + tail)
    ollama = set(re.findall(r"127\.0\.0\.1:11434(/[a-z/]+)", script))
    ollama |= set(re.findall(r"\$API(/[a-z/]+)", script))
    return {"webui_endpoint": webui, "ollama_endpoint": ollama}


def webui_settings(boot_script: str) -> set[str]:
    """Open WebUI admin-settings fields the boot writes (``.NAME = $value`` in jq)."""
    return set(re.findall(r"\.([A-Z][A-Z_]+) = \$", boot_script))


def apt_packages(boot_script: str) -> set[str]:
    lines = re.findall(
        r"apt-get install -y -q --no-install-recommends ([a-z0-9. -]+?) \|\|", boot_script
    )
    return {package for line in lines for package in line.split()}


def config_keys(config: Any, prefix: str = "") -> set[str]:
    """Dotted key paths of a JSON document; list items as ``[]``."""
    out: set[str] = set()
    if isinstance(config, dict):
        for key, value in config.items():
            path = f"{prefix}.{key}" if prefix else key
            out |= {path} | config_keys(value, path)
    elif isinstance(config, list):
        for item in config:
            out |= config_keys(item, prefix + "[]")
    return out


def iam_names(records: list[Any]) -> dict[str, set[str]]:
    """Actions and condition keys of every inline policy, and every managed policy name."""
    actions: set[str] = set()
    conditions: set[str] = set()
    managed: set[str] = set()
    for r in records:
        if r.type == "aws:iam/rolePolicy:RolePolicy":
            doc = r.inputs["policy"]
            doc = json.loads(doc) if isinstance(doc, str) else doc
            for statement in doc["Statement"]:
                action = statement.get("Action", [])
                actions |= set([action] if isinstance(action, str) else action)
                for block in (statement.get("Condition") or {}).values():
                    conditions |= set(block)
        elif r.type == "aws:iam/rolePolicyAttachment:RolePolicyAttachment":
            managed.add(r.inputs["policyArn"].split(":policy/", 1)[1])
    return {"iam_action": actions, "iam_condition": conditions, "managed_policy": managed}
