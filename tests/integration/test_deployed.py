"""Integration tests against a deployed stack (seed 14.3), run by deploy.yml after `pulumi up`.

ALB-to-instance connectivity (every target healthy), instance-to-DynamoDB (every enabled
catalog model is served, which the instances can only know by reading the table), S3 upload
and download with encryption at rest, CloudFront caching of static assets, and the scaling
triggers (every step policy is an alarm action). Skipped with the reason when no stack or
credentials are configured (see conftest.py).
"""

from __future__ import annotations

import uuid

import pytest
import requests
from deployed_stack import DeployedStack
from integration_checks import (
    TIMEOUT,
    catalog_problems,
    cloudfront_cache_problems,
    s3_roundtrip_problems,
    scaling_problems,
    target_health_problems,
)

pytestmark = pytest.mark.integration


def test_alb_reaches_healthy_instances(deployed: DeployedStack, stack_config: object) -> None:
    webui, api = deployed.names.target_groups(stack_config.backend_tls)  # type: ignore[attr-defined]
    groups = [webui]
    if stack_config.ollama_api.enabled:  # type: ignore[attr-defined]
        groups.append(api)
    assert target_health_problems(deployed.client("elbv2"), groups) == []


def test_instances_read_the_model_catalog(deployed: DeployedStack, api_key: str) -> None:
    resp = requests.get(
        f"{deployed.url}/ollama/api/tags",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 200, resp.status_code
    served = {m.get("name") or m.get("model") for m in resp.json().get("models", [])}
    table = deployed.output("ollama_table_name", deployed.names.table)
    assert catalog_problems(deployed.client("dynamodb"), table, deployed.env, served) == []


def test_s3_upload_and_download(deployed: DeployedStack) -> None:
    bucket = deployed.output("ollama_storage_bucket_name", deployed.names.storage_bucket)
    key = f"open-webui/integration-tests/{uuid.uuid4()}.bin"
    assert s3_roundtrip_problems(deployed.client("s3"), bucket, key) == []


def test_cloudfront_caches_static_assets(deployed: DeployedStack) -> None:
    assert cloudfront_cache_problems(deployed.url) == []


def test_scaling_triggers_are_wired(deployed: DeployedStack) -> None:
    asg = deployed.output("ollama_asg_name", deployed.names.asg)
    problems = scaling_problems(deployed.client("autoscaling"), deployed.client("cloudwatch"), asg)
    assert problems == []
