"""Test helpers: run the Pulumi program for a stack under the offline mocks, get records back.

The mocks (ollama_infra.offline.mocks) are test doubles for AWS; every evaluation here is
a fresh run of the real program, and the helpers return plain resolved values, so no
assertion ever depends on an un-awaited Output.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import ipaddress
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import seed, settings

from ollama_infra.config import StackConfig, load_stack_values, parse_config
from ollama_infra.offline.evaluate import Evaluation, ResourceRecord, evaluate

STACKS: tuple[str, ...] = ("dev", "staging", "production")


def stack_values(stack: str) -> dict[str, Any]:
    """A deep copy of the real stack file's config map, safe to modify."""
    return copy.deepcopy(load_stack_values(stack))


def override(values: dict[str, Any], section: str, **changes: Any) -> dict[str, Any]:
    """Copy of ``values`` with keys of ``ollama:<section>`` replaced (None deletes a key)."""
    out = copy.deepcopy(values)
    block = dict(out.get(f"ollama:{section}") or {})
    for key, value in changes.items():
        if value is None:
            block.pop(key, None)
        else:
            block[key] = value
    out[f"ollama:{section}"] = block
    return out


def config_for(stack: str, values: dict[str, Any] | None = None) -> StackConfig:
    return parse_config(stack, stack_values(stack) if values is None else values)


def run_program(stack: str, values: dict[str, Any] | None = None) -> Evaluation:
    """A fresh evaluation of the program (real stack file unless ``values`` is given)."""
    return evaluate(stack, stack_values(stack) if values is None else values)


@functools.cache
def evaluated(stack: str) -> Evaluation:
    """The evaluation of a real stack file, once per session (records are read-only)."""
    return run_program(stack)


# ------------------------------------------------------------------ generated configs
#
# The cross-cutting property tests (test_properties, test_security_properties, test_lifecycle,
# test_compute) each check their invariants over hypothesis-generated valid configs, and each
# example is a whole program run. In the deterministic "ci" profile they draw the same
# GENERATED_EXAMPLES configs (one seed) and a worker evaluates each config once for all of
# them (they run in one xdist group): every property sees as many configs as the largest
# count did before, for a third of the program runs. Other profiles ("explore") keep
# independent random draws per test; the cache then simply misses.

GENERATED_EXAMPLES = 12
GENERATED_GROUP = pytest.mark.xdist_group("generated-configs")
_GENERATED_SEED = 20261202
_generated_runs: dict[tuple[str, str], Evaluation] = {}


F = TypeVar("F", bound=Callable[..., Any])


def shared_examples(test: F) -> F:
    """Same examples for every generated-config property under the ci profile (derandomized);
    apply it above ``@given``."""
    return seed(_GENERATED_SEED)(test) if settings.default.derandomize else test


def run_generated(stack: str, values: dict[str, Any]) -> Evaluation:
    """``run_program`` for a generated config, once per worker (records are read-only)."""
    key = (stack, json.dumps(values, sort_keys=True))
    if key not in _generated_runs:
        _generated_runs[key] = run_program(stack, values)
    return _generated_runs[key]


def custom(ev: Evaluation, type_token: str) -> list[ResourceRecord]:
    return ev.of_type(type_token)


def replace_record(ev: Evaluation, logical_name: str, /, **input_changes: Any) -> Evaluation:
    """Copy of ``ev`` with inputs of ``logical_name`` changed (``name`` too): a broken plan."""
    resources = []
    for r in ev.resources:
        if r.name == logical_name:
            inputs = {**copy.deepcopy(r.inputs), **input_changes}
            r = dataclasses.replace(r, inputs=inputs)
        resources.append(r)
    return Evaluation(
        ev.stack, ev.region, resources, ev.components, dict(ev.outputs), set(ev.secret_outputs)
    )


def is_world(cidr: str | None) -> bool:
    return cidr is not None and ipaddress.ip_network(cidr).prefixlen == 0


def tool(name: str) -> str:
    """A command-line tool from PATH, else beside the running interpreter (its venv's bin)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed: `make install-dev` installs it")
    return found


# The catalog table's keys and billing as ollama_infra/data.py declares them, for the tables
# tests create in moto (a test double of the stack's table).
CATALOG_TABLE: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "environment", "KeyType": "HASH"},
        {"AttributeName": "model", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "environment", "AttributeType": "S"},
        {"AttributeName": "model", "AttributeType": "S"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
