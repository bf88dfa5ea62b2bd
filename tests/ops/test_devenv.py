"""`ollama-ops dev shutdown|startup|schedule` against moto (Auto Scaling + SSM)."""

from __future__ import annotations

import json

import ops_support
import pytest
from ops_support import (
    AwsRecorder,
    FakePulumi,
    answer,
    asg_capacity,
    cli,
    make_asg,
    setup_client,
)

from ollama_infra import naming
from ollama_infra.ops import common
from ollama_infra.ops.common import EXIT_REFUSED

NAMES = naming.StackNames("dev", "123456789012")
ASG = NAMES.asg
SAVED = NAMES.parameter("ops/saved-capacity")

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi


def _param(name: str) -> dict[str, int] | None:
    ssm = setup_client("ssm")
    try:
        return json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


@pytest.mark.parametrize("capacity", [(1, 1, 1), (2, 5, 3), (0, 4, 2)])
def test_shutdown_then_startup_restores_the_exact_capacity(
    aws_env: AwsRecorder, pulumi: FakePulumi, capacity: tuple[int, int, int]
) -> None:
    make_asg(ASG, *capacity)
    assert cli("dev", "shutdown", "--stack", "dev", "--yes") == 0
    assert asg_capacity(ASG) == (0, capacity[1], 0)
    saved = _param(SAVED)
    assert saved is not None
    assert (saved["min"], saved["max"], saved["desired"]) == capacity
    assert cli("dev", "startup", "--stack", "dev", "--yes") == 0
    assert asg_capacity(ASG) == capacity
    assert _param(SAVED) is None  # the record is consumed


def test_second_shutdown_keeps_the_first_record(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    """Shutting down an already-stopped group must not record zeros over the real capacity."""
    make_asg(ASG, 2, 4, 3)
    assert cli("dev", "shutdown", "--stack", "dev", "--yes") == 0
    assert cli("dev", "shutdown", "--stack", "dev", "--yes") == 0
    assert cli("dev", "startup", "--stack", "dev", "--yes") == 0
    assert asg_capacity(ASG) == (2, 4, 3)


def test_startup_without_record_fails_clearly(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_asg(ASG, 0, 1, 0)
    assert cli("dev", "startup", "--stack", "dev", "--yes") == common.EXIT_NOT_FOUND
    assert "no recorded capacity" in capsys.readouterr().err
    assert asg_capacity(ASG) == (0, 1, 0)


@pytest.mark.parametrize("command", ["shutdown", "startup", "schedule"])
def test_production_is_refused_before_any_aws_call(
    aws_env: AwsRecorder, pulumi: FakePulumi, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.selected = "production"
    assert cli("dev", command, "--stack", "production", "--yes") == EXIT_REFUSED
    assert "never act on production" in capsys.readouterr().err
    assert aws_env.calls == []


def test_dry_run_changes_nothing(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    make_asg(ASG, 1, 2, 1)
    assert cli("dev", "shutdown", "--stack", "dev", "--dry-run") == 0
    assert asg_capacity(ASG) == (1, 2, 1)
    assert aws_env.mutations() == []


def test_shutdown_needs_confirmation_without_yes(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    make_asg(ASG, 1, 2, 1)
    assert cli("dev", "shutdown", "--stack", "dev") == EXIT_REFUSED  # no terminal, no --yes
    assert asg_capacity(ASG) == (1, 2, 1)
    assert _param(SAVED) is None


def test_shutdown_declined_at_the_prompt(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_asg(ASG, 1, 2, 1)
    prompts = answer(monkeypatch, "n")
    assert cli("dev", "shutdown", "--stack", "dev") == EXIT_REFUSED
    assert prompts and ASG in prompts[0]
    assert asg_capacity(ASG) == (1, 2, 1)


@pytest.mark.parametrize(
    ("service", "operation", "code", "exit_code", "text"),
    [
        (
            "ssm",
            "PutParameter",
            "AccessDeniedException",
            common.EXIT_PERMISSION,
            "lacks a permission",
        ),
        ("ssm", "PutParameter", "ThrottlingException", common.EXIT_THROTTLED, "throttled"),
        (
            "autoscaling",
            "UpdateAutoScalingGroup",
            "AccessDenied",
            common.EXIT_PERMISSION,
            "permission",
        ),
        ("autoscaling", "UpdateAutoScalingGroup", "Throttling", common.EXIT_THROTTLED, "throttled"),
    ],
)
def test_faults_leave_the_capacity_unchanged(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    service: str,
    operation: str,
    code: str,
    exit_code: int,
    text: str,
) -> None:
    make_asg(ASG, 2, 4, 2)
    aws_env.inject(service, operation, code)
    assert cli("dev", "shutdown", "--stack", "dev", "--yes") == exit_code
    err = capsys.readouterr().err
    assert text in err and code in err and "fix:" in err
    assert asg_capacity(ASG) == (2, 4, 2)
    # A record written before a failed scale-in is harmless: startup restores the same numbers.
    saved = _param(SAVED)
    assert saved is None or (saved["min"], saved["max"], saved["desired"]) == (2, 4, 2)


def test_schedule_create_and_remove(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    make_asg(ASG, 1, 3, 2)
    assert cli("dev", "schedule", "--stack", "dev", "--timezone", "Europe/London", "--yes") == 0
    autoscaling = setup_client("autoscaling")
    actions = {
        a["ScheduledActionName"]: a
        for a in autoscaling.describe_scheduled_actions(AutoScalingGroupName=ASG)[
            "ScheduledUpdateGroupActions"
        ]
    }
    down, up = actions["ollama-ops-scale-down-dev"], actions["ollama-ops-scale-up-dev"]
    assert (down["MinSize"], down["DesiredCapacity"], down["Recurrence"]) == (0, 0, "0 19 * * 1-5")
    assert (up["MinSize"], up["MaxSize"], up["DesiredCapacity"]) == (1, 3, 2)
    assert cli("dev", "schedule", "--stack", "dev", "--remove", "--yes") == 0
    assert (
        autoscaling.describe_scheduled_actions(AutoScalingGroupName=ASG)[
            "ScheduledUpdateGroupActions"
        ]
        == []
    )


def test_schedule_rejects_a_bad_cron_before_any_call(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("dev", "schedule", "--stack", "dev", "--down-cron", "7pm weekdays") == 2
    assert "--down-cron" in capsys.readouterr().err
    assert aws_env.calls == []


def test_cross_env_guard(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_asg(naming.StackNames("staging", "123456789012").asg, 1, 1, 1)
    pulumi.selected = "dev"
    assert cli("dev", "shutdown", "--stack", "staging", "--yes") == common.EXIT_NOT_SELECTED
    assert "differs from the selected stack 'dev'" in capsys.readouterr().err
    assert aws_env.calls == []
    assert cli("dev", "shutdown", "--stack", "staging", "--yes", "--force-cross-env") == 0
