"""End-to-end: deploy an ephemeral stack with the Automation API, check it, destroy it.

Marker `e2e`. It creates real resources with dev-sized settings under the environment name
`dev`, so run it only in an account without a dev stack (the deploy workflow's e2e job uses
a sandbox account role). Needs OLLAMA_E2E=1, AWS credentials and the Pulumi CLI; skipped
with the reason otherwise. The stack is destroyed in a `finally`, whatever fails.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from deployed_stack import ROOT, aws_credentials_available, missing_prerequisite
from e2e_lifecycle import ephemeral_stack
from integration_checks import wait_for, websocket_upgrade_problems, webui_health_problems

from ollama_infra.config import load_stack_values

pytestmark = pytest.mark.e2e

BOOT_TIMEOUT_S = 30 * 60


def test_ephemeral_stack_deploys_serves_and_is_destroyed() -> None:
    if os.environ.get("OLLAMA_E2E") != "1":
        pytest.skip("OLLAMA_E2E=1 not set: this test deploys and destroys real AWS resources")
    if not aws_credentials_available():
        missing_prerequisite("no AWS credentials (environment, profile or OIDC role)")
    if shutil.which("pulumi") is None:
        missing_prerequisite("the Pulumi CLI is not installed (the Automation API drives it)")
    from pulumi import automation as auto

    run_id = os.environ.get("OLLAMA_E2E_RUN_ID") or uuid.uuid4().hex[:8]
    name = f"e2e-{run_id}"
    values = load_stack_values("dev")

    def create(stack_name: str) -> auto.Stack:
        return auto.create_or_select_stack(stack_name=stack_name, work_dir=str(ROOT))

    with ephemeral_stack(create, name, values, ROOT) as outputs:
        url = str(outputs["ollama_url"]).rstrip("/")
        assert wait_for(lambda: webui_health_problems(url), BOOT_TIMEOUT_S, 30, "healthy") == []
        assert websocket_upgrade_problems(url) == []
