"""Smoke tests against a deployed stack (seed 14.2), run after every deploy by smoke.yml.

Ollama service running and its API served through the authenticated path, model-management
endpoints blocked, Open WebUI reachable (/health and a websocket upgrade), logs streaming into
the CloudWatch log groups, and the dashboard present. Skipped with the reason when no stack or
credentials are configured (see conftest.py).
"""

from __future__ import annotations

import pytest
from deployed_stack import DeployedStack
from integration_checks import (
    dashboard_problems,
    log_freshness_problems,
    model_management_problems,
    ollama_api_problems,
    websocket_upgrade_problems,
    webui_health_problems,
)

pytestmark = pytest.mark.integration

# The CloudWatch agent ships logs every few seconds; Open WebUI logs every health check.
LOG_MAX_AGE_S = 15 * 60


def test_open_webui_health(deployed: DeployedStack) -> None:
    assert webui_health_problems(deployed.url) == []


def test_open_webui_websocket_upgrade(deployed: DeployedStack) -> None:
    assert websocket_upgrade_problems(deployed.url) == []


def test_ollama_api_through_the_authenticated_path(
    deployed: DeployedStack, api_key: str, stack_config: object
) -> None:
    """Ollama is running and serves the stack's default models to an authenticated client."""
    models = stack_config.ollama.models  # type: ignore[attr-defined]
    assert ollama_api_problems(deployed.url, api_key, models) == []


def test_model_management_endpoints_are_blocked(deployed: DeployedStack, api_key: str) -> None:
    assert model_management_problems(deployed.url, api_key) == []


def test_logs_are_streaming(deployed: DeployedStack) -> None:
    groups = [
        deployed.output("ollama_service_log_group", deployed.names.service_log_group),
        deployed.output("ollama_app_log_group", deployed.names.app_log_group),
    ]
    assert log_freshness_problems(deployed.client("logs"), groups, LOG_MAX_AGE_S) == []


def test_dashboard_is_present(deployed: DeployedStack) -> None:
    assert dashboard_problems(deployed.client("cloudwatch"), deployed.names.dashboard) == []
