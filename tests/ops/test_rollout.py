"""`ollama-ops rollout` and deploy's refresh follow-up, on moto plus injected answers for the
instance refresh APIs moto lacks (labelled fakes), and botocore's Stubber for a sequence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import ops_support
import pytest
from botocore.stub import Stubber
from ops_support import ACCOUNT, AwsRecorder, FakePulumi, answer, cli

from ollama_infra import naming
from ollama_infra.ops import aws, rollout
from ollama_infra.ops.common import (
    EXIT_FAILURE,
    EXIT_NOT_SELECTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNHEALTHY,
    EXIT_USAGE,
)

aws_env = ops_support.aws_env
pulumi = ops_support.pulumi
NOW = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def _refresh(status: str, **extra: Any) -> dict[str, Any]:
    """A fake DescribeInstanceRefreshes item (the botocore shape)."""
    return {
        "InstanceRefreshId": "r-1",
        "AutoScalingGroupName": naming.StackNames("dev", ACCOUNT).asg,
        "Status": status,
        "StartTime": NOW,
        "PercentageComplete": 50,
        "InstancesToUpdate": 1,
        **extra,
    }


ROLLED_BACK = _refresh(
    "RollbackSuccessful",
    StatusReason="alarm ollama-boot-failures-dev in ALARM",
    RollbackDetails={"RollbackReason": "alarm ollama-boot-failures-dev went to ALARM"},
)


def test_status_shows_the_rollback_reason(
    pulumi: FakePulumi, aws_env: AwsRecorder, capsys: Any
) -> None:
    aws_env.respond(
        "autoscaling", "DescribeInstanceRefreshes", {"InstanceRefreshes": [ROLLED_BACK]}
    )
    assert cli("rollout", "status", "--stack", "dev") == EXIT_FAILURE
    out = capsys.readouterr().out
    assert "RollbackSuccessful" in out
    assert "rolled back because: alarm ollama-boot-failures-dev went to ALARM" in out


def test_cancel_in_production_needs_the_flag_before_any_aws_call(
    pulumi: FakePulumi, aws_env: AwsRecorder
) -> None:
    assert cli("rollout", "cancel", "--stack", "production", "--yes") == EXIT_REFUSED
    assert aws_env.calls == []


def test_rollback_with_shared_database_is_refused_before_any_aws_call(
    pulumi: FakePulumi,
    aws_env: AwsRecorder,
) -> None:
    """staging's Open WebUI shares a database: a rollback could run an older Open WebUI on a
    schema the newer one migrated, so it needs the explicit flag."""
    pulumi.selected = "staging"
    assert cli("rollout", "rollback", "--stack", "staging", "--yes") == EXIT_REFUSED
    assert aws_env.calls == []


def test_cancel_reads_then_cancels_in_that_order(pulumi: FakePulumi, aws_env: AwsRecorder) -> None:
    aws_env.respond(
        "autoscaling", "DescribeInstanceRefreshes", {"InstanceRefreshes": [_refresh("InProgress")]}
    )
    aws_env.respond("autoscaling", "CancelInstanceRefresh", {"InstanceRefreshId": "r-1"})
    assert cli("rollout", "cancel", "--stack", "dev", "--yes") == EXIT_OK
    assert aws_env.operations() == [
        "sts:GetCallerIdentity",
        "autoscaling:DescribeInstanceRefreshes",
        "autoscaling:CancelInstanceRefresh",
    ]


def test_rollback_without_a_running_refresh_changes_nothing(
    pulumi: FakePulumi, aws_env: AwsRecorder
) -> None:
    aws_env.respond(
        "autoscaling", "DescribeInstanceRefreshes", {"InstanceRefreshes": [ROLLED_BACK]}
    )
    assert cli("rollout", "rollback", "--stack", "dev", "--yes") == EXIT_REFUSED
    assert "autoscaling:RollbackInstanceRefresh" not in aws_env.operations()


def test_a_wrong_typed_confirmation_changes_nothing(
    pulumi: FakePulumi, aws_env: AwsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_env.respond(
        "autoscaling", "DescribeInstanceRefreshes", {"InstanceRefreshes": [_refresh("InProgress")]}
    )
    prompts = answer(monkeypatch, "staging")
    assert cli("rollout", "rollback", "--stack", "dev") == EXIT_REFUSED
    assert "Type 'dev' to confirm" in prompts[0]
    assert "autoscaling:RollbackInstanceRefresh" not in aws_env.operations()


def test_deploy_refuses_a_negative_rollout_timeout_before_any_call(
    pulumi: FakePulumi, aws_env: AwsRecorder
) -> None:
    assert cli("deploy", "--stack", "dev", "--yes", "--rollout-timeout", "-1") == EXIT_USAGE
    assert aws_env.calls == []


def _stubbed(responses: list[dict[str, Any]]) -> tuple[Any, Stubber]:
    client = boto3.client(
        "autoscaling", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(client)
    for item in responses:
        stub.add_response("describe_instance_refreshes", {"InstanceRefreshes": [item]})
    stub.activate()
    return client, stub


@pytest.mark.parametrize(
    ("sequence", "code", "shown"),
    [
        (
            [_refresh("InProgress"), _refresh("RollbackInProgress"), ROLLED_BACK],
            EXIT_UNHEALTHY,
            "rolled back because: alarm ollama-boot-failures-dev went to ALARM",
        ),
        (
            [_refresh("InProgress"), _refresh("Successful", PercentageComplete=100)],
            EXIT_OK,
            "100 % done",
        ),
    ],
)
def test_follow_reports_progress_until_the_refresh_ends(
    sequence: list[dict[str, Any]], code: int, shown: str, capsys: Any
) -> None:
    client, stub = _stubbed(sequence)
    previous = aws.set_client_factory(lambda service, region: client)
    naps: list[float] = []
    try:
        target = aws.Target("dev", "us-east-1", ACCOUNT)
        assert rollout.follow(target, NOW - timedelta(minutes=1), 3600, 5, naps.append) == code
    finally:
        aws.set_client_factory(previous)
    stub.assert_no_pending_responses()
    assert len(naps) == len(sequence) - 1
    assert shown in capsys.readouterr().out


def test_follow_ignores_a_refresh_from_before_the_deployment(capsys: Any) -> None:
    client, _ = _stubbed([_refresh("Failed")])
    previous = aws.set_client_factory(lambda service, region: client)
    try:
        target = aws.Target("dev", "us-east-1", ACCOUNT)
        assert rollout.follow(target, NOW + timedelta(minutes=1), 0, 1, lambda _: None) == EXIT_OK
    finally:
        aws.set_client_factory(previous)
    assert "no instance refresh started" in capsys.readouterr().out


def test_another_selected_stack_is_refused_before_any_aws_call(
    pulumi: FakePulumi, aws_env: AwsRecorder
) -> None:
    """dev is selected: a rollback of staging is refused unless --force-cross-env."""
    assert cli("rollout", "cancel", "--stack", "staging", "--yes") == EXIT_NOT_SELECTED
    assert aws_env.calls == []


def test_dry_run_shows_the_refresh_and_changes_nothing(
    pulumi: FakePulumi, aws_env: AwsRecorder, capsys: Any
) -> None:
    """A dry run needs no --production (it changes nothing) and makes only reads."""
    pulumi.selected = "production"
    aws_env.respond(
        "autoscaling", "DescribeInstanceRefreshes", {"InstanceRefreshes": [_refresh("InProgress")]}
    )
    assert cli("rollout", "rollback", "--stack", "production", "--dry-run") == EXIT_REFUSED
    assert aws_env.calls == []  # production's shared database: refused before any call
    assert (
        cli(
            "rollout",
            "rollback",
            "--stack",
            "production",
            "--dry-run",
            "--allow-webui-downgrade",
        )
        == EXIT_OK
    )
    assert aws_env.mutations() == []
    assert "dry run: would rollback instance refresh r-1" in capsys.readouterr().out


RELEASE_CHANGE = {"MinHealthyPercentage": 0, "MaxHealthyPercentage": 100, "AutoRollback": False}


def test_release_change_refresh_is_never_rolled_back_under_a_shared_database(
    pulumi: FakePulumi, aws_env: AwsRecorder, capsys: Any
) -> None:
    """The all-at-once refresh of a release change (issue 14): even with
    --allow-webui-downgrade, a rollback is refused with the commands that undo it safely."""
    pulumi.selected = "staging"
    aws_env.respond(
        "autoscaling",
        "DescribeInstanceRefreshes",
        {"InstanceRefreshes": [_refresh("InProgress", Preferences=RELEASE_CHANGE)]},
    )
    argv = ("rollout", "rollback", "--stack", "staging", "--yes", "--allow-webui-downgrade")
    assert cli(*argv) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "ollama-ops rollout cancel --stack staging" in err
    assert "ollama-ops deploy --stack staging" in err
    assert aws_env.mutations() == []
    # The same command on an ordinary rolling refresh still rolls back (the flag given).
    aws_env.respond(
        "autoscaling",
        "DescribeInstanceRefreshes",
        {"InstanceRefreshes": [_refresh("InProgress", Preferences={"MinHealthyPercentage": 50})]},
    )
    aws_env.respond("autoscaling", "RollbackInstanceRefresh", {"InstanceRefreshId": "r-1"})
    assert cli(*argv) == EXIT_OK
    assert aws_env.mutations() == ["autoscaling:RollbackInstanceRefresh"]
