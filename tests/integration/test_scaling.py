"""Scale-up and scale-down observation on a deployed stack (seed 14.5).

Raises the ASG's desired capacity by one, waits until the new instance is InService and
healthy behind the ALB, then restores the original capacity and waits for the scale-in.
It changes capacity, so it runs only with OLLAMA_SCALE_TEST=1 in addition to the
integration prerequisites, and only on stacks whose max_size allows a second instance.
"""

from __future__ import annotations

import os

import pytest
from deployed_stack import DeployedStack
from integration_checks import target_health_problems, wait_for

pytestmark = pytest.mark.integration

SCALE_TIMEOUT_S = 25 * 60  # boot + model pull + health check grace


def in_service(autoscaling: object, asg: str) -> tuple[int, int]:
    group = autoscaling.describe_auto_scaling_groups(  # type: ignore[attr-defined]
        AutoScalingGroupNames=[asg]
    )["AutoScalingGroups"][0]
    healthy = [
        i
        for i in group["Instances"]
        if i["LifecycleState"] == "InService" and i["HealthStatus"] == "Healthy"
    ]
    return len(healthy), int(group["DesiredCapacity"])


def test_scale_out_and_in_is_observed(deployed: DeployedStack, stack_config: object) -> None:
    if os.environ.get("OLLAMA_SCALE_TEST") != "1":
        pytest.skip("OLLAMA_SCALE_TEST=1 not set: this test changes the ASG's capacity")
    max_size = stack_config.compute.max_size  # type: ignore[attr-defined]
    autoscaling = deployed.client("autoscaling")
    asg = deployed.output("ollama_asg_name", deployed.names.asg)
    _, desired = in_service(autoscaling, asg)
    if desired + 1 > max_size:
        pytest.skip(f"{asg} is at max_size {max_size}: no room to observe a scale-out")
    autoscaling.set_desired_capacity(AutoScalingGroupName=asg, DesiredCapacity=desired + 1)
    try:
        grown = wait_for(
            lambda: (
                []
                if in_service(autoscaling, asg)[0] >= desired + 1
                else [f"{in_service(autoscaling, asg)[0]} healthy instances"]
            ),
            SCALE_TIMEOUT_S,
            what=f"{desired + 1} InService instances",
        )
        assert grown == []
        elbv2 = deployed.client("elbv2")
        webui, _ = deployed.names.target_groups(stack_config.backend_tls)  # type: ignore[attr-defined]
        assert (
            wait_for(
                lambda: target_health_problems(elbv2, [webui]),
                SCALE_TIMEOUT_S,
                what="all targets healthy",
            )
            == []
        )
    finally:
        autoscaling.set_desired_capacity(AutoScalingGroupName=asg, DesiredCapacity=desired)
    shrunk = wait_for(
        lambda: (
            []
            if in_service(autoscaling, asg)[0] <= desired
            else [f"{in_service(autoscaling, asg)[0]} instances still in service"]
        ),
        SCALE_TIMEOUT_S,
        what=f"scale-in to {desired}",
    )
    assert shrunk == []
