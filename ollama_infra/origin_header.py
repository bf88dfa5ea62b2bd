"""Which origin header values the ALB accepts and which one CloudFront sends.

CloudFront adds ``X-Origin-Verify`` to every request it sends to the ALB, and the web
listener forwards only requests that carry it. Changing the value in one deployment would
refuse requests for as long as CloudFront's change takes to reach every edge location
(minutes), because some locations would still send the old value. So the values are
numbered generations (each a generated password in the Pulumi state) and a rotation takes
two deployments, driven by the SSM parameter ``/ollama/<env>/edge/origin-header-rotation``
that ``ollama-ops secrets rotate --secret origin-header`` writes and the program reads at
deploy time (``ollama_infra.deployed``):

  {"current": 0}                  first deployment: one value, generation 0
  {"current": 1, "previous": 0}   step 1: a new value; the listener rule accepts both (it is
                                  updated before the distribution), CloudFront sends the
                                  new one and ``ollama/<env>/origin-header`` holds it
  {"current": 1}                  step 2, once CloudFront is deployed everywhere: the rule
                                  accepts only the new value; the old one is deleted

The distribution's tag ``OriginHeaderGeneration`` names the generation it sends, so the ops
CLI can tell that the deployment after step 1 has reached CloudFront (the secret and the
distribution agree on the old value before it).

Plain data, no Pulumi: the program and the ops CLI share it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ollama_infra.naming import StackNames

HEADER = "X-Origin-Verify"
STATE_ROLE = "edge/origin-header-rotation"
# The distribution's tag naming the generation it sends: a deployment after step 1 has
# reached CloudFront when it names the current generation.
GENERATION_TAG = "OriginHeaderGeneration"
SECRET_ROLE = "origin-header"  # noqa: S105 (a secret name)


def state_name(names: StackNames) -> str:
    return names.parameter(STATE_ROLE)


class StateError(ValueError):
    """The state parameter holds something that is not a rotation state."""


@dataclass(frozen=True)
class RotationState:
    current: int = 0
    """The generation CloudFront sends and the secret holds."""
    previous: int | None = None
    """The generation the rule still accepts during a rotation (step 1 to step 2)."""

    @property
    def generations(self) -> tuple[int, ...]:
        """Every generation the rule accepts, oldest first."""
        return (self.current,) if self.previous is None else (self.previous, self.current)

    @property
    def rotating(self) -> bool:
        return self.previous is not None

    def start(self) -> RotationState:
        """Step 1: a new generation beside the current one."""
        if self.rotating:
            raise StateError(f"a rotation is in progress ({self.describe()})")
        return RotationState(current=self.current + 1, previous=self.current)

    def finish(self) -> RotationState:
        """Step 2: only the current generation."""
        if not self.rotating:
            raise StateError(f"no rotation is in progress ({self.describe()})")
        return RotationState(current=self.current)

    def describe(self) -> str:
        if self.previous is None:
            return f"generation {self.current} only"
        return f"generations {self.previous} and {self.current}, sending {self.current}"

    def to_json(self) -> str:
        data = {"current": self.current}
        if self.previous is not None:
            data["previous"] = self.previous
        return json.dumps(data, sort_keys=True)

    @classmethod
    def parse(cls, text: str) -> RotationState:
        """The parameter's value; StateError says what is wrong with anything else."""
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not set(data) <= {"current", "previous"}:
            raise StateError(f"{text!r} is not a rotation state")
        current, previous = data.get("current"), data.get("previous")
        if not isinstance(current, int) or not _generation(current):
            raise StateError(f"{text!r}: generations are whole numbers from 0")
        if previous is not None and (not _generation(previous) or previous != current - 1):
            raise StateError(f"{text!r}: the previous generation must be current - 1")
        return cls(current=current, previous=previous)


def _generation(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_stored(names: StackNames, text: str) -> RotationState:
    """The parameter's value; StateError names the parameter and the expected forms."""
    try:
        return RotationState.parse(text)
    except StateError as exc:
        raise StateError(
            f"{state_name(names)}: {exc}. Expected {RotationState(1).to_json()} or "
            f"{RotationState(1, 0).to_json()}"
        ) from None


def repair(names: StackNames) -> str:
    """How to set a broken state back by hand."""
    return (
        "set the generations the stack holds (the numbers ending the origin-header-value "
        "resources in `pulumi stack --show-urns`; no number is 0) with `aws ssm put-parameter "
        f"--overwrite --name {state_name(names)} --value ...`"
    )


def read(names: StackNames, parameters: dict[str, str]) -> RotationState:
    """The state among a deployed stack's parameters; generation 0 when there is none."""
    text = parameters.get(state_name(names))
    if text is None:
        return RotationState()
    try:
        return parse_stored(names, text)
    except StateError as exc:
        raise StateError(f"{exc}; fix: {repair(names)}") from None
