"""The deployed-stack checks, run offline: each passes on a healthy fake and reports a broken one.

Test doubles only: moto stands in for AWS and a local HTTP server (FakeEdge, below) for
CloudFront + ALB + Open WebUI. These tests carry no marker and run in the default suite,
so the checks the integration tests rely on are known to be able to fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from e2e_lifecycle import config_values, ephemeral_stack
from harness import CATALOG_TABLE
from integration_checks import (
    WS_GUID,
    catalog_problems,
    cloudfront_cache_problems,
    dashboard_problems,
    log_freshness_problems,
    model_management_problems,
    ollama_api_problems,
    s3_roundtrip_problems,
    scaling_problems,
    target_health_problems,
    wait_for,
    websocket_upgrade_problems,
    webui_health_problems,
)
from moto import mock_aws

REGION = "us-east-1"
KEY = "sk-test-key"
# One of moto's built-in AMIs; describe_images would load moto's whole catalogue (slow).
MOTO_AMI = "ami-12c6146b"


class FakeEdge(BaseHTTPRequestHandler):
    """Test double of the public edge; ``healthy`` False makes every answer wrong."""

    healthy = True
    hits: dict[str, int] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/health":
            body = {"status": True} if self.healthy else {"status": False}
            self._send(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        elif path == "/ollama/api/tags":
            authorised = self.headers.get("Authorization") == f"Bearer {KEY}"
            if not authorised and self.healthy:
                self._send(401)
            else:
                models = [{"name": "llama3.2:1b"}] if self.healthy else []
                self._send(200, json.dumps({"models": models}).encode())
        elif path == "/static/favicon.png":
            count = self.hits.get(path, 0)
            self.hits[path] = count + 1
            cache = "Hit from cloudfront" if count and self.healthy else "Miss from cloudfront"
            self._send(200, b"\x89PNG", {"X-Cache": cache})
        elif path == "/ws/socket.io/":
            key = self.headers.get("Sec-WebSocket-Key", "")
            if not self.healthy:
                self._send(400, b"Bad Request")
                return
            accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()  # noqa: S324
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
        else:
            self._send(200, b"<html>SPA</html>")

    def do_POST(self) -> None:
        self._send(403 if self.healthy else 200, b"{}")


@pytest.fixture(params=[True, False], ids=["healthy", "broken"])
def edge(request: pytest.FixtureRequest) -> Iterator[tuple[str, bool]]:
    handler = type("Edge", (FakeEdge,), {"healthy": request.param, "hits": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", request.param
    finally:
        server.shutdown()
        server.server_close()


def test_http_checks_pass_on_a_healthy_edge_and_fail_on_a_broken_one(
    edge: tuple[str, bool],
) -> None:
    url, healthy = edge
    results = {
        "health": webui_health_problems(url),
        "websocket": websocket_upgrade_problems(url),
        "api": ollama_api_problems(url, KEY, ["llama3.2:1b"]),
        "model management": model_management_problems(url, KEY),
        "cache": cloudfront_cache_problems(url),
    }
    if healthy:
        assert results == {k: [] for k in results}
    else:
        assert all(results.values()), results


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_log_freshness(aws: None) -> None:
    logs = boto3.client("logs", region_name=REGION)
    now = int(time.time() * 1000)
    logs.create_log_group(logGroupName="/aws/ec2/ollama-service-dev")
    logs.create_log_stream(logGroupName="/aws/ec2/ollama-service-dev", logStreamName="i-1")
    logs.put_log_events(
        logGroupName="/aws/ec2/ollama-service-dev",
        logStreamName="i-1",
        logEvents=[{"timestamp": now, "message": "ollama serving"}],
    )
    logs.create_log_group(logGroupName="/aws/ec2/ollama-app-dev")
    assert log_freshness_problems(logs, ["/aws/ec2/ollama-service-dev"], 900) == []
    stale = log_freshness_problems(logs, ["/aws/ec2/ollama-service-dev"], 900, now + 3_600_000)
    assert stale and "s old" in stale[0]
    assert "no events" in log_freshness_problems(logs, ["/aws/ec2/ollama-app-dev"], 900)[0]
    assert "does not exist" in log_freshness_problems(logs, ["/aws/ec2/ollama-x-dev"], 900)[0]


def test_dashboard(aws: None) -> None:
    cw = boto3.client("cloudwatch", region_name=REGION)
    widget = {"type": "metric", "properties": {"metrics": [["AWS/EC2", "CPUUtilization"]]}}
    cw.put_dashboard(
        DashboardName="ollama-dev", DashboardBody=json.dumps({"widgets": [widget] * 6})
    )
    cw.put_dashboard(DashboardName="ollama-thin", DashboardBody=json.dumps({"widgets": [widget]}))
    assert dashboard_problems(cw, "ollama-dev") == []
    assert dashboard_problems(cw, "ollama-thin")
    assert dashboard_problems(cw, "ollama-staging")


def test_target_health(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    instance = ec2.run_instances(ImageId=MOTO_AMI, MinCount=1, MaxCount=1)["Instances"][0]
    for name in ("ollama-tg-dev", "ollama-api-tg-dev"):
        elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc)
    tg = elbv2.describe_target_groups(Names=["ollama-tg-dev"])["TargetGroups"][0]
    elbv2.register_targets(
        TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": instance["InstanceId"]}]
    )
    problems = target_health_problems(elbv2, ["ollama-tg-dev", "ollama-api-tg-dev"])
    assert problems == ["target group ollama-api-tg-dev has no registered targets"]


def test_s3_roundtrip(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="ollama-storage-dev-123456789012")
    s3.put_bucket_encryption(
        Bucket="ollama-storage-dev-123456789012",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    assert s3_roundtrip_problems(s3, "ollama-storage-dev-123456789012", "open-webui/t.bin") == []
    assert s3.list_objects_v2(Bucket="ollama-storage-dev-123456789012").get("KeyCount") == 0
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3_roundtrip_problems(s3, "ollama-storage-staging-123456789012", "open-webui/t.bin")


def test_scaling_policies_must_be_alarm_actions(aws: None) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    asg = boto3.client("autoscaling", region_name=REGION)
    cw = boto3.client("cloudwatch", region_name=REGION)
    ec2.create_launch_template(
        LaunchTemplateName="ollama-lt-dev-1", LaunchTemplateData={"ImageId": MOTO_AMI}
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="ollama-asg-dev",
        LaunchTemplate={"LaunchTemplateName": "ollama-lt-dev-1"},
        MinSize=0,
        MaxSize=2,
        AvailabilityZones=[f"{REGION}a"],
    )
    assert scaling_problems(asg, cw, "ollama-asg-dev") == ["ollama-asg-dev has no scaling policies"]
    asg.put_scaling_policy(
        AutoScalingGroupName="ollama-asg-dev",
        PolicyName="ollama-scale-out-dev",
        PolicyType="StepScaling",
        AdjustmentType="ChangeInCapacity",
        StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    )
    # moto does not return PolicyARN from put_scaling_policy; describe_policies has it.
    arn = asg.describe_policies(AutoScalingGroupName="ollama-asg-dev")["ScalingPolicies"][0][
        "PolicyARN"
    ]
    assert scaling_problems(asg, cw, "ollama-asg-dev") == [
        "scaling policy ollama-scale-out-dev is not any alarm's action"
    ]
    cw.put_metric_alarm(
        AlarmName="ollama-high-cpu-dev",
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=300,
        EvaluationPeriods=2,
        Threshold=40,
        ComparisonOperator="GreaterThanThreshold",
        AlarmActions=[arn],
    )
    assert scaling_problems(asg, cw, "ollama-asg-dev") == []
    assert scaling_problems(asg, cw, "ollama-asg-staging")


def test_catalog_models_must_be_served(aws: None) -> None:
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(
        TableName="ollama-data-table-dev",
        **CATALOG_TABLE,
    )
    for model, enabled in (("llama3.2:1b", True), ("qwen2.5:7b", True), ("phi3:mini", False)):
        ddb.put_item(
            TableName="ollama-data-table-dev",
            Item={"environment": {"S": "dev"}, "model": {"S": model}, "enabled": {"BOOL": enabled}},
        )
    served = ["llama3.2:1b", "qwen2.5:7b"]
    assert catalog_problems(ddb, "ollama-data-table-dev", "dev", served) == []
    assert "qwen2.5:7b" in catalog_problems(ddb, "ollama-data-table-dev", "dev", served[:1])[0]


def test_wait_for_polls_until_clean_or_times_out() -> None:
    answers = iter([["not yet"], ["not yet"], []])
    assert wait_for(lambda: next(answers), timeout_s=5, interval_s=0) == []
    late = wait_for(lambda: ["never"], timeout_s=0.05, interval_s=0.01, what="ready")
    assert late and "ready not reached" in late[0]


class FakeAutomationStack:
    """Test double of an Automation API stack that records the lifecycle calls."""

    def __init__(self, fail_up: bool) -> None:
        self.fail_up = fail_up
        self.calls: list[str] = []
        self.workspace = self

    def set_all_config(self, config: dict[str, Any]) -> None:
        self.calls.append(f"config:{sorted(config)}")

    def up(self, on_output: Any) -> Any:
        self.calls.append("up")
        if self.fail_up:
            raise RuntimeError("up failed half-way")
        output = type("Output", (), {"value": "https://example.test"})()
        return type("Result", (), {"outputs": {"ollama_url": output}})()

    def destroy(self, on_output: Any) -> None:
        self.calls.append("destroy")

    def remove_stack(self, name: str) -> None:
        self.calls.append(f"remove:{name}")


@pytest.mark.parametrize("fail", ["none", "up", "check"])
def test_ephemeral_stack_is_always_destroyed(fail: str, tmp_path: Path) -> None:
    fake = FakeAutomationStack(fail_up=fail == "up")
    stack_file = tmp_path / "Pulumi.e2e-1.yaml"
    stack_file.write_text("config: {}\n")
    values = {"aws:region": "us-east-1", "ollama:compute": {"min_size": 1}}
    try:
        with ephemeral_stack(lambda _: fake, "e2e-1", values, tmp_path, log=lambda _: None) as out:
            assert out == {"ollama_url": "https://example.test"}
            if fail == "check":
                raise AssertionError("check failed")
    except (RuntimeError, AssertionError) as exc:
        assert fail != "none", exc
    assert fake.calls[-2:] == ["destroy", "remove:e2e-1"]
    assert not stack_file.exists()
    assert config_values(values) == {"aws:region": "us-east-1", "ollama:compute": '{"min_size": 1}'}
