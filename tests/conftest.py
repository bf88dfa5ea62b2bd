"""Shared fixtures.

The Pulumi mocks live in ollama_infra.offline because `ollama-ops plan` uses them too.
"""

from __future__ import annotations

import os

import pytest
from harness import STACKS, evaluated
from hypothesis import HealthCheck, settings

# Deterministic property tests in CI; a different seed locally with HYPOTHESIS_PROFILE=explore.
settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stack_eval(stack: str):
    return evaluated(stack)
