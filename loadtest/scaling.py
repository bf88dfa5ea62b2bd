"""Observe ``ollama-asg-<env>`` and its CPU alarms while a load test runs (no locust import).

CPU-based step scaling reacts in minutes, so the useful record is a timeline: desired and
in-service capacity and the state of ``ollama-high-cpu-<env>`` / ``ollama-low-cpu-<env>``,
sampled every ``interval`` seconds, next to the load test's own stages. Uses the caller's AWS
credentials (read-only calls: DescribeAutoScalingGroups, DescribeAlarms).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class ScalingError(RuntimeError):
    """The group or its alarms cannot be read; the message says what to check."""


def asg_name(env: str) -> str:
    return f"ollama-asg-{env}"


def alarm_names(env: str) -> tuple[str, str]:
    return f"ollama-high-cpu-{env}", f"ollama-low-cpu-{env}"


def sample(autoscaling: Any, cloudwatch: Any, env: str, now: float | None = None) -> dict:
    """One observation of the group and its two CPU alarms."""
    name = asg_name(env)
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    if not groups["AutoScalingGroups"]:
        raise ScalingError(
            f"Auto Scaling group {name} not found in this account/region; check --stack-env, "
            "AWS_REGION and that the stack is deployed"
        )
    group = groups["AutoScalingGroups"][0]
    states = {
        alarm["AlarmName"]: alarm["StateValue"]
        for alarm in cloudwatch.describe_alarms(AlarmNames=list(alarm_names(env)))["MetricAlarms"]
    }
    return {
        "t": time.time() if now is None else now,
        "desired": group["DesiredCapacity"],
        "min": group["MinSize"],
        "max": group["MaxSize"],
        "in_service": sum(
            1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService"
        ),
        "alarms": {name: states.get(name, "MISSING") for name in alarm_names(env)},
    }


class ScalingObserver:
    """Collects samples; ``observe`` is meant to run in its own greenlet or thread."""

    def __init__(
        self,
        env: str,
        autoscaling: Any,
        cloudwatch: Any,
        interval_s: float = 30.0,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"scaling sample interval must be > 0 s, got {interval_s}")
        self.env = env
        self.samples: list[dict] = []
        self.errors: list[str] = []
        self.autoscaling = autoscaling
        self.cloudwatch = cloudwatch
        self._interval = interval_s
        self._sleep = sleep
        self.running = True

    def observe_once(self) -> None:
        try:
            self.samples.append(sample(self.autoscaling, self.cloudwatch, self.env))
        except Exception as exc:  # a monitoring hiccup must not stop the load test
            self.errors.append(f"{type(exc).__name__}: {exc}"[:300])

    def observe(self) -> None:
        while self.running:
            self.observe_once()
            self._sleep(self._interval)

    def summary(self) -> dict:
        high, low = alarm_names(self.env)
        out: dict[str, Any] = {
            "asg": asg_name(self.env),
            "samples": len(self.samples),
            "errors": self.errors[:10],
            "timeline": self.samples,
        }
        if self.samples:
            out.update(
                desired_first=self.samples[0]["desired"],
                desired_last=self.samples[-1]["desired"],
                desired_max=max(s["desired"] for s in self.samples),
                in_service_max=max(s["in_service"] for s in self.samples),
                scale_out_alarm_fired=any(s["alarms"][high] == "ALARM" for s in self.samples),
                scale_in_alarm_fired=any(s["alarms"][low] == "ALARM" for s in self.samples),
            )
        return out
