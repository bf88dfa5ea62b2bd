"""`ollama-ops monitor scaling|metrics|ollama` against moto (metrics from put_metric_data)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import ops_support
import pytest
from ops_support import (
    ACCOUNT,
    AwsRecorder,
    FakePulumi,
    cli,
    make_alarm,
    make_asg,
    setup_client,
)

from ollama_infra import naming
from ollama_infra.ops import monitor
from ollama_infra.ops.common import EXIT_USAGE

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi

NAMES = naming.StackNames("dev", ACCOUNT)


def _put(namespace: str, metric: str, dims: dict[str, str], value: float) -> None:
    setup_client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                # moto excludes datapoints in the current second of EndTime: use the past
                "Timestamp": datetime.now(UTC) - timedelta(minutes=2),
                "Value": value,
            }
        ],
    )


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_scaling_once_json(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_asg(NAMES.asg, 1, 3, 2)
    elb = setup_client("elbv2")
    vpc = setup_client("ec2").describe_vpcs()["Vpcs"][0]["VpcId"]
    elb.create_target_group(Name=NAMES.webui_target_group, Protocol="HTTP", Port=8080, VpcId=vpc)
    assert cli("monitor", "scaling", "--stack", "dev", "--once", "--json") == 0
    (doc,) = _json_lines(capsys.readouterr().out)
    assert doc["view"] == "scaling" and doc["group"] == NAMES.asg
    assert doc["capacity"] == {"min": 1, "max": 3, "desired": 2}
    assert len(doc["instances"]) == 2
    assert {i["lifecycle"] for i in doc["instances"]} == {"InService"}
    assert aws_env.mutations() == []


def test_scaling_text_table(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_asg(NAMES.asg, 1, 1, 1)
    vpc = setup_client("ec2").describe_vpcs()["Vpcs"][0]["VpcId"]
    setup_client("elbv2").create_target_group(
        Name=NAMES.webui_target_group, Protocol="HTTP", Port=8080, VpcId=vpc
    )
    assert cli("monitor", "scaling", "--stack", "dev", "--once") == 0
    out = capsys.readouterr().out
    assert "ollama-asg-dev: min 1  desired 1  max 1" in out and "INSTANCE" in out


def test_scaling_missing_group(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("monitor", "scaling", "--stack", "dev", "--once") == 26
    assert "ollama-asg-dev not found" in capsys.readouterr().err


def test_metrics_reads_cpu_memory_and_alarms(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    asg = {"AutoScalingGroupName": NAMES.asg}
    _put("AWS/EC2", "CPUUtilization", asg, 42.5)
    _put("Ollama/dev", "mem_used_percent", asg, 61.0)
    make_alarm(NAMES.alarm("high-cpu"), "ALARM")
    make_alarm(NAMES.alarm("low-cpu"), "OK")
    assert cli("monitor", "metrics", "--stack", "dev", "--once", "--json") == 0
    (doc,) = _json_lines(capsys.readouterr().out)
    assert doc["metrics"]["cpu_percent"] == 42.5
    assert doc["metrics"]["memory_percent"] == 61.0
    assert doc["alarms"] == {"ollama-high-cpu-dev": "ALARM", "ollama-low-cpu-dev": "OK"}


def test_ollama_lists_the_stack_namespace(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    _put(NAMES.metric_namespace, "InferenceLatency", {}, 1.75)
    _put("Ollama/staging", "InferenceLatency", {}, 99.0)  # another stack: not shown
    assert cli("monitor", "ollama", "--stack", "dev", "--once", "--json") == 0
    (doc,) = _json_lines(capsys.readouterr().out)
    assert doc["namespace"] == "Ollama/dev"
    assert doc["metrics"] == {"InferenceLatency": 1.75}


def test_bounded_refresh_takes_the_expected_number_of_samples(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = [0.0]
    monkeypatch.setattr(monitor, "_clock", lambda: now[0])
    monkeypatch.setattr(monitor, "_sleep", lambda seconds: now.__setitem__(0, now[0] + seconds))
    argv = ("monitor", "ollama", "--stack", "dev", "--json", "--duration", "30", "--interval", "10")
    assert cli(*argv) == 0
    assert len(_json_lines(capsys.readouterr().out)) == 4  # t = 0, 10, 20, 30


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["--duration", "0"], "--duration 0.0"),
        (["--duration", "100000"], "--duration"),
        (["--interval", "0.1"], "--interval 0.1"),
        (["--once", "--minutes", "0"], "--minutes 0"),
    ],
)
def test_arguments_are_validated_before_any_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    text: str,
) -> None:
    assert cli("monitor", "metrics", "--stack", "dev", *argv) == EXIT_USAGE
    assert text in capsys.readouterr().err
    assert aws_env.calls == []


def test_throttled_metrics_read_is_clear(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    aws_env.inject("cloudwatch", "GetMetricData", "Throttling")
    assert cli("monitor", "metrics", "--stack", "dev", "--once") == 22
    err = capsys.readouterr().err
    assert "reading CloudWatch metrics" in err and "throttled" in err
