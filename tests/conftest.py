"""Shared fixtures.

The Pulumi mocks live in ollama_infra.offline because `ollama-ops plan` uses them too.
"""

from __future__ import annotations

import gc
import os

import pytest
from harness import STACKS, evaluated
from hypothesis import HealthCheck, settings

# moto's EC2 backend loads its catalogue of public AMIs (each with an EBS snapshot) unless this
# is "false" when the backend is built. Tests that mock AWS without our aws_env fixture would
# otherwise leave a backend that lists those snapshots to a later test in the same worker.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

# Collector thresholds for the test processes only. A program run under the mocks allocates
# tens of thousands of short-lived objects (Outputs, futures, asyncio handles) while the
# process holds hundreds of thousands of long-lived ones (pulumi_aws, moto, boto3). With the
# interpreter's default thresholds (700, 10, 10) the resulting full passes over that heap
# took more CPU than the program runs themselves (a program run cost about twice its time
# with the collector off). Rarer passes collect the same garbage; nothing a test checks
# depends on when.
gc.set_threshold(10_000, 50, 100)

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
