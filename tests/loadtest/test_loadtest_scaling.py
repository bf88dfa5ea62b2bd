"""Scaling observations of ollama-asg-<env> and its CPU alarms, against moto (emulated AWS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fakes.fake_ollama import FakeOllama
from locust_runner import run_locust
from moto.server import ThreadedMotoServer

from loadtest import scaling

REGION = "us-east-1"
CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def make_stack(env: str, endpoint_url: str) -> None:
    """The group and the two alarms in emulated AWS, named as the stack names them."""
    kwargs = {
        "region_name": REGION,
        "endpoint_url": endpoint_url,
        "aws_access_key_id": CREDS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDS["AWS_SECRET_ACCESS_KEY"],
    }
    asg = boto3.client("autoscaling", **kwargs)
    asg.create_launch_configuration(
        LaunchConfigurationName=f"ollama-lc-{env}", ImageId="ami-12c6146b", InstanceType="t3.xlarge"
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName=scaling.asg_name(env),
        LaunchConfigurationName=f"ollama-lc-{env}",
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=0,
        AvailabilityZones=[f"{REGION}a"],
    )
    cw = boto3.client("cloudwatch", **kwargs)
    for name in scaling.alarm_names(env):
        cw.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/EC2",
            MetricName="CPUUtilization",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=3,
            Threshold=40.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    cw.set_alarm_state(
        AlarmName=scaling.alarm_names(env)[0], StateValue="ALARM", StateReason="load test"
    )


class StubAutoScaling:
    """Test double returning DescribeAutoScalingGroups-shaped answers."""

    def __init__(self, groups: dict[str, dict[str, Any]]) -> None:
        self.groups = groups

    def describe_auto_scaling_groups(self, AutoScalingGroupNames: list[str]) -> dict:
        return {
            "AutoScalingGroups": [self.groups[n] for n in AutoScalingGroupNames if n in self.groups]
        }


class StubCloudWatch:
    """Test double returning DescribeAlarms-shaped answers."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states

    def describe_alarms(self, AlarmNames: list[str]) -> dict:
        return {
            "MetricAlarms": [
                {"AlarmName": n, "StateValue": self.states[n]}
                for n in AlarmNames
                if n in self.states
            ]
        }


def group(desired: int, in_service: int, pending: int = 0) -> dict[str, Any]:
    instances = [{"LifecycleState": "InService"}] * in_service + [
        {"LifecycleState": "Pending"}
    ] * pending
    return {"DesiredCapacity": desired, "MinSize": 1, "MaxSize": 3, "Instances": instances}


def test_sample_reads_the_group_and_its_alarms() -> None:
    asg = StubAutoScaling({"ollama-asg-staging": group(2, 1, pending=1)})
    cw = StubCloudWatch({"ollama-high-cpu-staging": "ALARM", "ollama-low-cpu-staging": "OK"})
    s = scaling.sample(asg, cw, "staging", now=1.0)
    assert (s["desired"], s["min"], s["max"], s["in_service"]) == (2, 1, 3, 1)
    assert s["alarms"] == {"ollama-high-cpu-staging": "ALARM", "ollama-low-cpu-staging": "OK"}


def test_missing_group_or_alarm_is_reported_by_name() -> None:
    asg = StubAutoScaling({"ollama-asg-staging": group(1, 1)})
    cw = StubCloudWatch({"ollama-high-cpu-staging": "OK"})
    with pytest.raises(scaling.ScalingError, match="ollama-asg-production not found"):
        scaling.sample(asg, cw, "production")
    assert scaling.sample(asg, cw, "staging")["alarms"]["ollama-low-cpu-staging"] == "MISSING"


def test_observer_keeps_a_timeline_and_survives_errors() -> None:
    groups = {"ollama-asg-dev": group(1, 1)}
    asg = StubAutoScaling(groups)
    cw = StubCloudWatch({"ollama-high-cpu-dev": "ALARM", "ollama-low-cpu-dev": "OK"})
    observer = scaling.ScalingObserver("dev", asg, cw, interval_s=1, sleep=lambda _: None)
    observer.observe_once()
    groups["ollama-asg-dev"] = group(2, 2)
    observer.observe_once()
    broken = scaling.ScalingObserver("production", asg, cw)
    broken.observe_once()
    summary = observer.summary()
    assert (summary["desired_first"], summary["desired_last"], summary["in_service_max"]) == (
        1,
        2,
        2,
    )
    assert summary["scale_out_alarm_fired"] is True
    assert summary["scale_in_alarm_fired"] is False
    assert broken.summary()["samples"] == 0
    assert "ollama-asg-production" in broken.summary()["errors"][0]
    with pytest.raises(ValueError, match="interval"):
        scaling.ScalingObserver("dev", asg, cw, interval_s=0)


def test_observe_loop_stops_when_told() -> None:
    asg = StubAutoScaling({"ollama-asg-dev": group(1, 1)})
    cw = StubCloudWatch({})
    observer = scaling.ScalingObserver("dev", asg, cw, interval_s=5)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            observer.running = False

    observer._sleep = sleep
    observer.observe()
    assert (observer.summary()["samples"], sleeps) == (3, [5, 5, 5])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """Emulated AWS (moto) on 127.0.0.1, for the locust subprocess to call."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_locust_run_records_the_scaling_timeline(
    moto_server: str, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    make_stack("dev", moto_server)
    env = {**CREDS, "AWS_ENDPOINT_URL": moto_server}
    run = run_locust(
        fake_ollama.url,
        tmp_path,
        "--stack-env",
        "dev",
        "--observe-scaling",
        "true",
        "--scaling-interval",
        "0.5",
        "--wait-min",
        "0",
        "--wait-max",
        "0.1",
        users=2,
        run_time="2s",
        env=env,
    )
    assert run.returncode == 0, run.output
    observed = run.summary["scaling_observed"]
    assert observed["asg"] == "ollama-asg-dev"
    assert observed["samples"] >= 4  # every 0.5 s for 2 s, plus the final one
    assert observed["scale_out_alarm_fired"] is True


def test_locust_stops_early_when_the_group_is_missing(
    moto_server: str, fake_ollama: FakeOllama, tmp_path: Path
) -> None:
    env = {**CREDS, "AWS_ENDPOINT_URL": moto_server}
    run = run_locust(
        fake_ollama.url,
        tmp_path,
        "--stack-env",
        "production",
        "--observe-scaling",
        "true",
        users=1,
        env=env,
    )
    assert run.returncode == 2
    assert "ollama-asg-production not found" in run.output
    assert fake_ollama.truth == []
