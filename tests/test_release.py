"""The program alone cannot run two Open WebUI versions against one database (issue 14, 3).

Each deployment records its release (Open WebUI image, Ollama release) in
``/ollama/<env>/release/versions``; the next one reads it at deploy time. The mocks (test
doubles) play the account: ``parameters`` are the SSM parameters it already holds.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from harness import STACKS, config_for, evaluated, replace_record, stack_values

from ollama_infra.naming import StackNames
from ollama_infra.offline.evaluate import Evaluation, evaluate
from ollama_infra.policy.evaluate import evaluate_policies
from ollama_infra.release import Release, record_name

ASG = "aws:autoscaling/group:Group"
PARAMETER = "aws:ssm/parameter:Parameter"
SHARED = ("staging", "production")  # the stacks whose Open WebUI shares a database


def _names(stack: str) -> StackNames:
    return StackNames(stack, "123456789012")


def _release(stack: str) -> Release:
    cfg = config_for(stack)
    return Release.from_config(cfg.ollama, cfg.webui)


def _deployed(stack: str, record: str | None) -> dict[str, str]:
    """The parameters of a deployed stack: the default models and, if given, the record."""
    names = _names(stack)
    found = {names.parameter("ollama/default-models"): '["llama3.2:1b"]'}
    if record is not None:
        found[record_name(names)] = record
    return found


def _prefs(ev: Evaluation) -> dict[str, Any]:
    (group,) = ev.of_type(ASG)
    return dict(group.inputs["instanceRefresh"]["preferences"])


def can_run_two_versions(prefs: dict[str, Any], desired: int) -> bool:
    """Whether a refresh with these preferences can keep an old instance in service while a
    new one runs: it keeps ceil(min % x desired) old instances healthy while replacing the
    rest, and above 100 % it launches replacements before terminating (AWS RefreshPreferences,
    docs/UPSTREAM.md)."""
    kept = math.ceil(float(prefs.get("minHealthyPercentage", 90)) * desired / 100)
    return kept > 0 or float(prefs.get("maxHealthyPercentage", 100)) > 100


def _other(stack: str, **changes: str) -> str:
    return dataclasses.replace(_release(stack), **changes).to_json()


STATES = {
    "webui image changed": lambda s: _deployed(
        s, _other(s, webui="ghcr.io/open-webui/open-webui:v0.9.5")
    ),
    "ollama changed": lambda s: _deployed(s, _other(s, ollama="script 0.31.0")),
    "no record (deployed before it existed)": lambda s: _deployed(s, None),
    "unreadable record": lambda s: _deployed(s, "not json"),
}


@pytest.mark.parametrize("stack", STACKS)
def test_every_deployment_records_its_release_after_the_group(stack: str) -> None:
    ev = evaluated(stack)
    (record,) = [r for r in ev.of_type(PARAMETER) if r.name == "ollama-compute-release"]
    assert record.inputs["name"] == f"/ollama/{stack}/release/versions"
    value = record.inputs["value"]
    value = value.get("value") if isinstance(value, dict) else value  # secret wrapper
    assert Release.parse(value) == _release(stack)
    # Written after the group's update (and the refresh it starts): a failed update leaves
    # the old record, so the next deployment still sees a change.
    assert "ollama-compute-asg" in record.options["dependsOn"]


@pytest.mark.parametrize("stack", SHARED)
@pytest.mark.parametrize("state", sorted(STATES))
def test_release_change_on_a_shared_database_replaces_all_at_once(stack: str, state: str) -> None:
    ev = evaluate(stack, stack_values(stack), STATES[state](stack))
    prefs = _prefs(ev)
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (0, 100)
    assert not prefs["autoRollback"] and "checkpointPercentages" not in prefs
    assert prefs["alarmSpecification"]["alarms"]  # the alarms still stop it
    cfg = config_for(stack)
    for desired in range(1, cfg.compute.max_size + 1):
        assert not can_run_two_versions(prefs, desired)
    # The production rule accepts this form (and only this form) without rollback.
    assert evaluate_policies(ev).result("production-refresh-rollback").status == "pass"


@pytest.mark.parametrize("stack", SHARED)
def test_same_release_and_first_deployment_keep_the_rolling_refresh(stack: str) -> None:
    cfg = config_for(stack)
    same = _prefs(evaluate(stack, stack_values(stack), _deployed(stack, _release(stack).to_json())))
    first = _prefs(evaluated(stack))  # no parameters: a new stack (creation starts no refresh)
    for prefs in (same, first):
        assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (50, 100)
        assert prefs["autoRollback"] == cfg.compute.refresh_auto_rollback
        assert can_run_two_versions(prefs, cfg.compute.max_size)  # fine: one version only


def test_without_a_shared_database_a_release_change_rolls_as_before() -> None:
    """dev: one instance with its own SQLite; nothing is shared, so the new instance may
    start before the old one stops (no downtime)."""
    ev = evaluate("dev", stack_values("dev"), STATES["webui image changed"]("dev"))
    prefs = _prefs(ev)
    assert (prefs["minHealthyPercentage"], prefs["maxHealthyPercentage"]) == (100, 200)


@pytest.mark.parametrize(
    "broken",
    [
        {"minHealthyPercentage": 50.0},  # half the old instances stay in service
        {"maxHealthyPercentage": 110.0},  # a replacement launches before the old one stops
    ],
)
def test_two_version_check_catches_a_rolling_refresh(broken: dict[str, Any]) -> None:
    ev = evaluate("production", stack_values("production"), STATES["ollama changed"]("production"))
    (group,) = ev.of_type(ASG)
    refresh = group.inputs["instanceRefresh"]
    bad = replace_record(
        ev,
        group.name,
        instanceRefresh={**refresh, "preferences": {**refresh["preferences"], **broken}},
    )
    assert can_run_two_versions(_prefs(bad), 2)
