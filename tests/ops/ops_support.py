"""Test doubles for the ops CLI tests (moto-backed AWS, a fake Pulumi CLI, fault injection).

Everything here is a TEST DOUBLE: moto stands in for AWS, ``FakePulumi`` for the Pulumi
CLI, and ``inject_fault`` makes real botocore clients raise the errors moto cannot
produce (AccessDenied, Throttling, ExpiredToken, quotas). Nothing touches the network.

Import the fixtures into a test module with
``from ops_support import aws_env, pulumi  # noqa: F401``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from harness import CATALOG_TABLE
from moto import mock_aws

from ollama_infra.ops import aws, pulumi_cli
from ollama_infra.ops.cli import main

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account

# API calls that only read: anything else counts as a mutation in "changes nothing" tests.
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Simulate", "Scan", "Query")


class _Http:
    """The minimal HTTP response botocore needs to raise a ClientError from a before-call hook."""

    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


_CLIENTS: dict[tuple[str, str], Any] = {}
_ACTIVE: list[AwsRecorder] = []


def client(service: str, region: str = REGION) -> Any:
    """A cached boto3 client (building one costs ~0.5 s; moto intercepts every session's calls).

    The recording/fault hooks are attached once and act for the recorder of the running test.
    """
    key = (service, region)
    if key not in _CLIENTS:
        made = boto3.client(service, region_name=region)
        made.meta.events.register("before-parameter-build.*.*", _record)
        made.meta.events.register("before-call.*.*", _fault)
        _CLIENTS[key] = made
    return _CLIENTS[key]


_SETUP: dict[tuple[str, str], Any] = {}


def setup_client(service: str, region: str = REGION) -> Any:
    """A cached client for the tests' own setup and assertions (not recorded, no faults)."""
    key = (service, region)
    if key not in _SETUP:
        _SETUP[key] = boto3.client(service, region_name=region)
    return _SETUP[key]


def setup_resource(service: str) -> Any:
    key = (f"resource:{service}", REGION)
    if key not in _SETUP:
        _SETUP[key] = boto3.resource(service, region_name=REGION)  # type: ignore[call-overload]
    return _SETUP[key]


def _record(params: dict[str, Any], model: Any, **_: Any) -> None:
    if _ACTIVE:
        _ACTIVE[-1].calls.append((model.service_model.service_name, model.name, dict(params)))


def _fault(model: Any, **_: Any) -> Any:
    if not _ACTIVE:
        return None
    recorder = _ACTIVE[-1]
    key = (model.service_model.service_name, model.name)
    if key in recorder.answers:
        return _Http(200), recorder.answers[key]
    fault = recorder.faults.get(key)
    if fault is None:
        return None
    code, status = fault
    return _Http(status), {"Error": {"Code": code, "Message": f"injected {code}"}}


@dataclass
class AwsRecorder:
    """Every API call the CLI makes (service, operation, params), and injected faults.

    Only calls made through the CLI's client factory are recorded; the tests' own setup
    calls go through ``setup_client`` and are not.
    """

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    faults: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    answers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def factory(self, service: str, region: str) -> Any:
        return client(service, region)

    def inject(self, service: str, operation: str, code: str, status: int = 400) -> None:
        """Make ``service.operation`` fail with ``code`` (e.g. AccessDenied, Throttling)."""
        self.faults[(service, operation)] = (code, status)

    def respond(self, service: str, operation: str, parsed: dict[str, Any]) -> None:
        """Answer ``service.operation`` with ``parsed`` (for APIs moto does not implement)."""
        self.answers[(service, operation)] = parsed

    def operations(self) -> list[str]:
        return [f"{svc}:{op}" for svc, op, _ in self.calls]

    def mutations(self) -> list[str]:
        return [f"{svc}:{op}" for svc, op, _ in self.calls if not op.startswith(READ_PREFIXES)]

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsRecorder]:
    """moto for every AWS service, fake credentials, and a recording client factory."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    monkeypatch.delenv("PULUMI_BACKEND_URL", raising=False)
    recorder = AwsRecorder()
    # moto has no instance refresh APIs: this fake answer says "no refresh" unless a test
    # gives its own (deploy follows the refresh pulumi up started).
    recorder.respond("autoscaling", "DescribeInstanceRefreshes", {"InstanceRefreshes": []})
    with mock_aws():
        previous = aws.set_client_factory(recorder.factory)
        _ACTIVE.append(recorder)
        try:
            yield recorder
        finally:
            _ACTIVE.remove(recorder)
            aws.set_client_factory(previous)


@dataclass
class FakePulumi:
    """A stand-in for the Pulumi CLI: canned results per command, every invocation recorded."""

    selected: str | None = "dev"
    version: str = "v3.272.0"
    outputs: dict[str, Any] = field(default_factory=dict)
    results: dict[tuple[str, ...], pulumi_cli.Result] = field(default_factory=dict)
    installed: bool = True
    calls: list[list[str]] = field(default_factory=list)
    # What a command does to the (moto) account besides answering, e.g. what `up` deploys.
    hooks: dict[tuple[str, ...], Callable[[list[str]], None]] = field(default_factory=dict)

    def __call__(self, argv: list[str], **_: Any) -> pulumi_cli.Result:
        if not self.installed:
            raise FileNotFoundError(argv[0])
        args = list(argv[1:])
        self.calls.append(args)
        for prefix, hook in self.hooks.items():
            if tuple(args[: len(prefix)]) == prefix:
                hook(args)
        for prefix, result in self.results.items():
            if tuple(args[: len(prefix)]) == prefix:
                return result
        if args[:2] == ["stack", "--show-name"]:
            if self.selected is None:
                return pulumi_cli.Result(255, "", "error: no stack selected")
            return pulumi_cli.Result(0, self.selected + "\n")
        if args[:1] == ["version"]:
            return pulumi_cli.Result(0, self.version + "\n")
        if args[:2] == ["stack", "output"]:
            return pulumi_cli.Result(0, json.dumps(self.outputs))
        if args[:2] == ["stack", "export"]:
            return pulumi_cli.Result(0, json.dumps({"version": 3, "deployment": {"stack": "x"}}))
        return pulumi_cli.Result(0, "ok\n")

    def ran(self, *prefix: str) -> bool:
        return any(tuple(c[: len(prefix)]) == prefix for c in self.calls)


@pytest.fixture
def pulumi(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePulumi]:
    """Replace the Pulumi CLI with a recording fake; the selected stack is dev."""
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    fake = FakePulumi()
    previous = pulumi_cli.set_runner(fake)
    try:
        yield fake
    finally:
        pulumi_cli.set_runner(previous)


def cli(*argv: str) -> int:
    return main(list(argv))


def answer(monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    """Pretend a terminal is attached and the user types ``text``; returns the prompts."""
    from ollama_infra.ops import common

    prompts: list[str] = []
    monkeypatch.setattr(common, "_interactive", lambda: True)

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        return text

    monkeypatch.setattr("builtins.input", fake_input)
    return prompts


# --- AWS fixtures built in moto -------------------------------------------------------------


def make_asg(name: str, min_size: int, max_size: int, desired: int, region: str = REGION) -> None:
    ec2 = setup_client("ec2", region)
    image = ec2.register_image(
        Name="ollama-base-test",
        RootDeviceName="/dev/sda1",
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName=f"{name}-lt",
        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"},
    )
    setup_client("autoscaling", region).create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": f"{name}-lt", "Version": "$Latest"},
        MinSize=min_size,
        MaxSize=max_size,
        DesiredCapacity=desired,
        AvailabilityZones=[f"{region}a"],
    )


def asg_capacity(name: str) -> tuple[int, int, int]:
    group = setup_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
        "AutoScalingGroups"
    ][0]
    return group["MinSize"], group["MaxSize"], group["DesiredCapacity"]


def make_table(name: str, items: list[dict[str, Any]], pitr: bool = True) -> None:
    ddb = setup_client("dynamodb")
    ddb.create_table(
        TableName=name,
        **CATALOG_TABLE,
    )
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    table = setup_resource("dynamodb").Table(name)
    for item in items:
        table.put_item(Item=item)


def table_items(name: str) -> list[dict[str, Any]]:
    table = setup_resource("dynamodb").Table(name)
    return sorted(table.scan()["Items"], key=lambda i: (i["environment"], i["model"]))


CATALOG = [
    {
        "environment": "dev",
        "model": "llama3.2:1b",
        "added_by": "ops",
        "added_at": "2026-01-01T00:00:00Z",
        "enabled": True,
    },
    {
        "environment": "dev",
        "model": "qwen2.5:0.5b",
        "added_by": "ops",
        "added_at": "2026-01-02T00:00:00Z",
        "enabled": False,
    },
]


# --- a fake Open WebUI (TEST DOUBLE) on a loopback port ------------------------------------


@dataclass
class WebUIState:
    health_status: int = 200
    health_body: Any = field(default_factory=lambda: {"status": True})
    api_key: str = "test-key"
    models: list[str] = field(default_factory=lambda: ["llama3.2:1b"])
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def webui() -> Iterator[tuple[str, WebUIState]]:
    """A fake Open WebUI (test double): /health (always live), /ready (``health_status`` and
    ``health_body``) and the authenticated /ollama/api/tags proxy path."""
    state = WebUIState()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            return

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests.append(self.path)
            if self.path == "/health":
                self._send(200, {"status": True})  # liveness: true even with the database down
            elif self.path == "/ready":
                self._send(state.health_status, state.health_body)
            elif self.path == "/ollama/api/tags":
                if self.headers.get("Authorization") != f"Bearer {state.api_key}":
                    self._send(401, {"detail": "Not authenticated"})
                else:
                    self._send(200, {"models": [{"name": m} for m in state.models]})
            else:
                self._send(200, {"spa": True})  # Open WebUI answers 200 for any path

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def make_target_group(
    name: str,
    healthy_instances: int = 1,
    region: str = REGION,
    protocol: str = "HTTP",
    port: int = 8080,
) -> str:
    """A target group with registered (moto: healthy) instances; returns its ARN."""
    ec2 = setup_client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    elb = setup_client("elbv2", region)
    arn = elb.create_target_group(Name=name, Protocol=protocol, Port=port, VpcId=vpc)[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    if healthy_instances:
        image = ec2.register_image(Name="ollama-tg-test", RootDeviceName="/dev/sda1")["ImageId"]
        ids = [
            i["InstanceId"]
            for i in ec2.run_instances(
                ImageId=image, MinCount=healthy_instances, MaxCount=healthy_instances
            )["Instances"]
        ]
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": i} for i in ids])
    return arn


def replicate(source: str, dest: str, prefix: str = "", region: str = REGION) -> None:
    """A replication rule from ``source`` to ``dest`` like the stack's DR rule (both buckets
    exist and are versioned; moto records the rule, it does not copy objects)."""
    setup_client("s3", region).put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
            "Rules": [
                {
                    "ID": "dr",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {"Prefix": prefix},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{dest}"},
                }
            ],
        },
    )


def make_alarm(name: str, state: str = "OK") -> None:
    cw = setup_client("cloudwatch")
    cw.put_metric_alarm(
        AlarmName=name,
        MetricName="CPUUtilization",
        Namespace="AWS/EC2",
        Statistic="Average",
        Period=60,
        EvaluationPeriods=1,
        Threshold=80,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
