"""The text plan tells a reviewer what they will pay for: a summary by type, key fields in
full, whole numbers as integers, and warnings about placeholder values."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from harness import STACKS, config_for, evaluated

from ollama_infra.config import placeholder_values
from ollama_infra.ops.plan import plan_document, print_text


def _text(stack: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, dict[str, Any]]:
    doc = plan_document(evaluated(stack))
    capsys.readouterr()
    print_text(doc, 0.0)
    return capsys.readouterr().out, doc


def _blocks(text: str) -> dict[str, str]:
    """Logical name -> the lines the text plan prints for that resource."""
    blocks: dict[str, str] = {}
    for chunk in re.split(r"^  \+ ", text, flags=re.M)[1:]:
        head, _, _ = chunk.partition("\n")
        blocks[head.split()[1]] = chunk.split("\n\n")[0]
    return blocks


@pytest.mark.parametrize("stack", STACKS)
def test_summary_counts_every_resource_by_type(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, doc = _text(stack, capsys)
    summary = text.split("Summary: ", 1)[1].split("\n\n", 1)[0].splitlines()
    counts = Counter(r["type"] for r in doc["resources"])
    assert summary[0] == f"{len(doc['resources'])} resources of {len(counts)} types"
    listed = {line.split()[1]: int(line.split()[0]) for line in summary[1:]}
    assert listed == dict(counts)


# Input fields a reviewer checks, pinned here (not taken from the product's own list).
REVIEWED = (
    "instanceType",
    "minSize",
    "maxSize",
    "desiredCapacity",
    "volumeSize",
    "allocatedStorage",
    "maxAllocatedStorage",
    "engine",
    "engineVersion",
    "instanceClass",
    "nodeType",
    "port",
    "fromPort",
    "toPort",
    "cidrBlock",
    "cidrIpv4",
)


def _find(value: Any, key: str) -> list[Any]:
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == key and not isinstance(v, dict | list)] + [
            x for v in value.values() for x in _find(v, key)
        ]
    if isinstance(value, list):
        return [x for v in value for x in _find(v, key)]
    return []


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f'"{value}"' if isinstance(value, str) else str(value).lower()


@pytest.mark.parametrize("stack", STACKS)
def test_key_fields_are_never_truncated(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Before, inputs were cut at ~110 characters: the launch template's instance type and
    the group's sizes never appeared."""
    text, doc = _text(stack, capsys)
    blocks = _blocks(text)
    checked = 0
    for r in doc["resources"]:
        for key in REVIEWED:
            for value in _find(r["inputs"], key):
                assert f"{key}={_shown(value)}" in blocks[r["name"]], (r["name"], key, value)
                checked += 1
    assert checked > 40


def test_the_production_plan_shows_what_it_pays_for(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _blocks(_text("production", capsys)[0])
    assert 'instanceType="m7i.4xlarge"' in blocks["ollama-compute-lt"]
    assert "blockDeviceMappings.ebs.volumeSize=150" in blocks["ollama-compute-lt"]
    asg = blocks["ollama-compute-asg"]
    assert "minSize=2" in asg and "maxSize=6" in asg and "desiredCapacity=2" in asg
    db = next(b for b in blocks.values() if "aws:rds/instance:Instance" in b)
    assert 'engine="postgres"' in db and 'instanceClass="db.m7g.large"' in db
    assert "allocatedStorage=50" in db and "maxAllocatedStorage=500" in db


@pytest.mark.parametrize("stack", STACKS)
def test_whole_numbers_print_as_integers(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    text, _ = _text(stack, capsys)
    body = text.split("(evaluated offline")[0]
    assert not re.findall(r"(?<![\w.\"])\d+\.0(?![\w.\"])", body)
    if stack == "dev":
        assert '"retentionInDays": 14' in body


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_plan_warns_about_placeholders_the_deploy_refuses(
    stack: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped stack files carry an example-account certificate and an example.com origin:
    the plan says so, with the same detection `ollama-ops deploy` refuses them with."""
    text, doc = _text(stack, capsys)
    expected = [p.render() for p in placeholder_values(config_for(stack))]
    assert {p.split(" = ")[0] for p in expected} == {
        "ollama:edge.certificate_arn",
        "ollama:edge.origin_domain_name",
    }
    for warning in expected:
        assert warning in doc["warnings"]
        assert f"warning: {warning}" in text
    assert "example account 123456789012" in text and "placeholder under example.com" in text


def test_dev_plan_has_no_placeholder_warning(capsys: pytest.CaptureFixture[str]) -> None:
    text, _ = _text("dev", capsys)
    assert "placeholder in the example account" not in text
    assert "placeholder under example.com" not in text


def test_placeholder_detection_is_deploys() -> None:
    """One mechanism: without an account (plan) the example account is the placeholder; with
    the caller's account (deploy) any other account is refused."""
    cfg = config_for("staging")
    offline = {p.key: p.rule for p in placeholder_values(cfg)}
    assert "example account 123456789012" in offline["ollama:edge.certificate_arn"]
    assert placeholder_values(cfg, "123456789012")[0].key == "ollama:edge.origin_domain_name"
    foreign = {p.key: p.rule for p in placeholder_values(cfg, "210987654321")}
    assert foreign["ollama:edge.certificate_arn"] == "is in account 123456789012, not 210987654321"
