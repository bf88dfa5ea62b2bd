"""Fixtures for the tests against a deployed stack; see deployed_stack.py for the rules."""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest
from deployed_stack import (
    STACK_ENV,
    DeployedStack,
    aws_credentials_available,
    missing_prerequisite,
    read_stack_outputs,
)


@pytest.fixture(scope="session")
def deployed() -> DeployedStack:
    stack = os.environ.get(STACK_ENV, "").strip()
    if not stack:
        missing_prerequisite(f"{STACK_ENV} is not set: no deployed stack to test")
    if not aws_credentials_available():
        missing_prerequisite("no AWS credentials (environment, profile or OIDC role)")
    outputs = read_stack_outputs(stack)
    region = str(outputs.get("ollama_region") or boto3.session.Session().region_name or "")
    if not region:
        missing_prerequisite("no region: the stack has no ollama_region output and none is set")
    account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    return DeployedStack(stack=stack, outputs=outputs, region=region, account_id=account)


@pytest.fixture(scope="session")
def api_key() -> str:
    key = os.environ.get("OLLAMA_API_KEY", "").strip()
    if not key:
        missing_prerequisite("OLLAMA_API_KEY (an Open WebUI API key) is not set")
    return key


@pytest.fixture(scope="session")
def stack_config(deployed: DeployedStack) -> Any:
    """The stack's validated config, read from its stack file in the repository."""
    from ollama_infra.config import load_stack_values, parse_config

    return parse_config(deployed.stack, load_stack_values(deployed.stack))
