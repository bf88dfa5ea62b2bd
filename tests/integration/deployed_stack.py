"""The deployed stack the integration tests run against (markers `integration` and `e2e`).

They run only when a stack is named and AWS credentials are present:

    OLLAMA_INTEGRATION_STACK=staging .venv/bin/pytest tests/integration -m integration

Otherwise every such test is skipped with the reason. In the deploy workflow
OLLAMA_INTEGRATION_REQUIRED=1 turns a missing prerequisite into a failure, so a
misconfigured pipeline cannot pass by skipping. Resource names come from the stack outputs
(`pulumi stack output --json`), falling back to the naming scheme (ollama_infra.naming).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ollama_infra.naming import StackNames

ROOT = Path(__file__).resolve().parents[2]
STACK_ENV = "OLLAMA_INTEGRATION_STACK"
REQUIRED_ENV = "OLLAMA_INTEGRATION_REQUIRED"


def missing_prerequisite(reason: str) -> None:
    """Skip with the reason, or fail when the pipeline says the tests must run."""
    if os.environ.get(REQUIRED_ENV) == "1":
        pytest.fail(f"integration prerequisite missing: {reason}")
    pytest.skip(reason)


def aws_credentials_available() -> bool:
    """Whether boto3 finds credentials (environment, profile, OIDC web identity, ...)."""
    import boto3

    return boto3.session.Session().get_credentials() is not None


@dataclass
class DeployedStack:
    """A deployed stack: its outputs, names and boto3 clients in its region."""

    stack: str
    outputs: dict[str, Any]
    region: str
    account_id: str
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> str:
        return str(self.outputs.get("ollama_environment", self.stack))

    @property
    def names(self) -> StackNames:
        return StackNames(env=self.env, account_id=self.account_id)

    def client(self, service: str) -> Any:
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def output(self, key: str, fallback: str | None = None) -> str:
        value = self.outputs.get(key, fallback)
        if not value:
            missing_prerequisite(f"stack output {key} is missing or empty for {self.stack}")
        return str(value)

    @property
    def url(self) -> str:
        """Public Open WebUI URL: the ollama_url output, else the edge's SSM parameter."""
        value = self.outputs.get("ollama_url")
        if not value:
            name = self.names.parameter("webui/public-url")
            value = self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        return str(value).rstrip("/")


def read_stack_outputs(stack: str) -> dict[str, Any]:
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        missing_prerequisite("the Pulumi CLI is not installed (needed for stack outputs)")
    assert pulumi is not None
    proc = subprocess.run(
        [pulumi, "stack", "output", "--json", "--stack", stack, "--cwd", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        missing_prerequisite(f"`pulumi stack output --stack {stack}` failed: {proc.stderr[-400:]}")
    outputs: dict[str, Any] = json.loads(proc.stdout)
    return outputs
