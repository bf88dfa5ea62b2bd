"""The origin header rotates without refusing CloudFront's requests (issue 16, CKV2_AWS_57).

CloudFront adds ``X-Origin-Verify``; the ALB's web rule forwards only requests carrying an
accepted value. A rotation is two deployments driven by the state parameter the ops CLI
writes (``ollama_infra.origin_header``). What must hold at every deployment of the
sequence: while CloudFront's change propagates, edge locations send either the value of
the distribution before the deployment or the one after it, so the rule after the
deployment must accept both. The mocks (test doubles) play the account: ``parameters`` are
the SSM parameters it already holds; generated passwords are stable per logical name, as
they are in a real stack's state.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from harness import replace_record, stack_values
from test_edge import DIST, RULE, inputs, listener_on, route

from ollama_infra import origin_header
from ollama_infra.edge.alb import ORIGIN_HEADER
from ollama_infra.naming import StackNames
from ollama_infra.offline.evaluate import Evaluation, evaluate
from ollama_infra.origin_header import RotationState, StateError

SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD = "random:index/randomPassword:RandomPassword"
STACK = "dev"  # the smallest program; the web listener is the HTTP one (port 80)
NAMES = StackNames(STACK, "123456789012")


def deployed(state: RotationState | str | None) -> dict[str, str]:
    """A deployed stack's parameters with the rotation state (None: from before it existed)."""
    found = {NAMES.parameter("ollama/default-models"): '["llama3.2:1b"]'}
    if state is not None:
        text = state if isinstance(state, str) else state.to_json()
        found[origin_header.state_name(NAMES)] = text
    return found


def run(state: RotationState | str | None) -> Evaluation:
    return evaluate(STACK, stack_values(STACK), deployed(state))


def sent(ev: Evaluation) -> str:
    """The value CloudFront adds to every origin request."""
    (dist,) = ev.of_type(DIST)
    (origin,) = inputs(dist)["origins"]
    headers = {h["name"]: h["value"] for h in origin["customHeaders"]}
    return str(headers[ORIGIN_HEADER])


def web_rule(ev: Evaluation) -> Any:
    return next(r for r in ev.of_type(RULE) if r.name.endswith("web-origin-header"))


def accepted(ev: Evaluation) -> list[str]:
    (condition,) = [c for c in inputs(web_rule(ev))["conditions"] if "httpHeader" in c]
    return list(condition["httpHeader"]["values"])


def stored(ev: Evaluation) -> str:
    """The value ollama/<env>/origin-header holds."""
    version = next(
        v for v in ev.of_type(SECRET_VERSION) if v.name.endswith("-origin-header-version")
    )
    return str(inputs(version)["secretString"])


def generation(ev: Evaluation) -> int:
    """The generation of the value CloudFront sends, from its password resource's name."""
    (password,) = [p for p in ev.of_type(PASSWORD) if p.state["result"] == sent(ev)]
    number = password.name.rsplit("origin-header-value", 1)[1]
    return int(number.lstrip("-") or 0)


def forwarded(ev: Evaluation, value: str) -> bool:
    return route(ev, listener_on(ev, 80), "/", {ORIGIN_HEADER: value}).kind == "forward"


def switch_problems(before: Evaluation, after: Evaluation) -> list[str]:
    """What a deployment from ``before`` to ``after`` would refuse while CloudFront propagates,
    and whether the rule is updated before the distribution."""
    out = []
    for label, value in (("old", sent(before)), ("new", sent(after))):
        if not forwarded(after, value):
            out.append(f"the rule after the deployment refuses the {label} CloudFront value")
    if sent(after) != stored(after):
        out.append("the secret does not hold the value CloudFront sends")
    (dist,) = after.of_type(DIST)
    if dist.inputs["tags"][origin_header.GENERATION_TAG] != str(generation(after)):
        out.append("the distribution's tag does not name the generation it sends")
    if sent(before) != sent(after) and web_rule(after).name not in dist.options["dependsOn"]:
        out.append("the distribution may change before the rule accepts its new value")
    return out


# 0 -> step 1 -> step 2 -> step 1 -> step 2: every deployment of two rotations.
SEQUENCE = [RotationState()]
for _ in range(2):
    SEQUENCE += [SEQUENCE[-1].start(), SEQUENCE[-1].start().finish()]


@pytest.fixture(scope="module")
def rotations() -> list[Evaluation]:
    return [run(None), *(run(state) for state in SEQUENCE[1:])]


def test_every_deployment_of_two_rotations_keeps_cloudfront_accepted(
    rotations: list[Evaluation],
) -> None:
    for before, after in itertools.pairwise(rotations):
        assert switch_problems(before, after) == []
    values = [sent(ev) for ev in rotations]
    # Each step 1 sends a new value, each step 2 keeps it and drops the old one.
    assert len(set(values)) == 3 and values[1] == values[2] and values[3] == values[4]
    assert [len(accepted(ev)) for ev in rotations] == [1, 2, 1, 2, 1]
    assert not forwarded(rotations[2], values[0])
    assert not forwarded(rotations[4], values[2])


def test_a_one_step_switch_is_caught(rotations: list[Evaluation]) -> None:
    """The check above fails when the rule drops the old value in the same deployment, or
    when the distribution does not wait for the rule."""
    step1 = rotations[1]
    only_new = [{"httpHeader": {"httpHeaderName": ORIGIN_HEADER, "values": [sent(step1)]}}]
    broken = replace_record(step1, web_rule(step1).name, conditions=only_new)
    assert switch_problems(rotations[0], broken) == [
        "the rule after the deployment refuses the old CloudFront value"
    ]
    (dist,) = step1.of_type(DIST)
    unordered = _without_depends_on(step1, dist.name)
    assert switch_problems(rotations[0], unordered) == [
        "the distribution may change before the rule accepts its new value"
    ]


def test_generation_0_keeps_the_first_release_resources() -> None:
    """A stack deployed before rotation existed: same password resource, one value."""
    ev = run(None)
    passwords = [p.name for p in ev.of_type(PASSWORD) if "origin-header" in p.name]
    assert passwords == ["ollama-edge-alb-origin-header-value"]
    assert accepted(ev) == [sent(ev)] == [stored(ev)]
    rotated = run(RotationState(3, 2))
    names = sorted(p.name for p in rotated.of_type(PASSWORD) if "origin-header" in p.name)
    assert names == [
        "ollama-edge-alb-origin-header-value-2",
        "ollama-edge-alb-origin-header-value-3",
    ]


def test_the_state_parameter_is_created_at_generation_0_and_left_to_the_cli() -> None:
    ev = run(None)
    (param,) = [p for p in ev.of_type("aws:ssm/parameter:Parameter") if "rotation" in p.name]
    assert param.inputs["name"] == "/ollama/dev/edge/origin-header-rotation"
    assert RotationState.parse(inputs(param)["value"]) == RotationState()
    assert param.options["ignoreChanges"] == ["value"]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json", "is not a rotation state"),
        ('{"current": -1}', "whole numbers from 0"),
        ('{"current": true}', "whole numbers from 0"),
        ('{"current": 2, "previous": 0}', "must be current - 1"),
        ('{"current": 1, "next": 2}', "is not a rotation state"),
    ],
)
def test_a_broken_state_stops_the_program_before_any_resource(text: str, why: str) -> None:
    with pytest.raises(Exception, match=why) as caught:
        run(text)
    assert "/ollama/dev/edge/origin-header-rotation" in str(caught.value)


def test_state_steps_refuse_the_wrong_order() -> None:
    assert RotationState().start() == RotationState(1, 0)
    assert RotationState(1, 0).finish() == RotationState(1)
    with pytest.raises(StateError, match="in progress"):
        RotationState(1, 0).start()
    with pytest.raises(StateError, match="no rotation"):
        RotationState(1).finish()
    for state in (RotationState(), RotationState(5, 4)):
        assert RotationState.parse(state.to_json()) == state


def _without_depends_on(ev: Evaluation, name: str) -> Evaluation:
    resources = [
        dataclasses.replace(r, options={**r.options, "dependsOn": []}) if r.name == name else r
        for r in ev.resources
    ]
    return dataclasses.replace(ev, resources=resources)
