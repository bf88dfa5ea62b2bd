"""`ollama-ops deploy` never runs two Open WebUI versions against one database (issue 14, 3).

AWS is moto, the Pulumi CLI a recording fake (TEST DOUBLES). The fake's `pulumi up` does to
the moto group what the real provider does: a new launch template version, the group's sizes
from the stack file (or the `--config-file` copy) with the desired capacity raised to the
minimum as AWS does, and the release record. Every instance runs the release its group had
when it launched; after every call the CLI makes to Auto Scaling, and before and after each
`pulumi up`, the test writes down which releases run at that moment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ops_support
import pytest
import yaml
from ops_support import (
    ACCOUNT,
    AwsRecorder,
    FakePulumi,
    WebUIState,
    cli,
    make_alarm,
    make_target_group,
    setup_client,
)
from test_deploy import _identity, _simulate

from ollama_infra import naming
from ollama_infra.config import load_stack_values, parse_config
from ollama_infra.ops import deploy, upgrade
from ollama_infra.ops.common import EXIT_REFUSED, EXIT_UNHEALTHY
from ollama_infra.release import Release, record_name

STACK = "staging"
NAMES = naming.StackNames(STACK, ACCOUNT)
FAST = ("--health-timeout", "0", "--health-interval", "0", "--rollout-timeout", "5")
OLD = Release(webui="ghcr.io/open-webui/open-webui:v0.9.5", ollama="script 0.31.0")

aws_env = ops_support.aws_env
pulumi = ops_support.pulumi
webui = ops_support.webui


def _values(stack: str = STACK, *_: Any) -> dict[str, Any]:
    """The staging stack file with a real domain (the shipped one is a placeholder)."""
    values = load_stack_values(stack)
    values["ollama:edge"] = {**values["ollama:edge"], "origin_domain_name": "origin.ollama.io"}
    return values


NEW = Release.from_config(
    parse_config(STACK, _values()).ollama, parse_config(STACK, _values()).webui
)


class Account:
    """The group's instances and the release each one runs (a model of the real account)."""

    def __init__(self, fake: FakePulumi) -> None:
        self.fake = fake
        self.current = OLD  # the release of the group's launch template
        self.runs: dict[str, Release] = {}
        self.timeline: list[tuple[str, set[Release]]] = []
        self.events: list[str] = []
        ec2, asg = setup_client("ec2"), setup_client("autoscaling")
        image = ec2.register_image(Name="ollama-upgrade-test", RootDeviceName="/dev/sda1")[
            "ImageId"
        ]
        self.template = ec2.create_launch_template(
            LaunchTemplateName="ollama-lt-staging-test",
            LaunchTemplateData={"ImageId": image, "InstanceType": "t3.large"},
        )["LaunchTemplate"]["LaunchTemplateId"]
        asg.create_auto_scaling_group(
            AutoScalingGroupName=NAMES.asg,
            LaunchTemplate={"LaunchTemplateId": self.template, "Version": "1"},
            MinSize=1,
            MaxSize=3,
            DesiredCapacity=2,  # scaled out above the stack file's 1
            AvailabilityZones=["us-east-1a"],
        )
        self.record(OLD)
        self.look("deployed")

    def record(self, release: Release) -> None:
        setup_client("ssm").put_parameter(
            Name=record_name(NAMES), Value=release.to_json(), Type="String", Overwrite=True
        )

    def look(self, when: str) -> None:
        group = setup_client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[NAMES.asg]
        )["AutoScalingGroups"][0]
        live = {i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] != "Terminated"}
        for instance in live:
            self.runs.setdefault(instance, self.current)
        self.timeline.append((when, {self.runs[i] for i in live}))

    def up(self, args: list[str]) -> None:
        """What `pulumi up` does to the group (the provider's UpdateAutoScalingGroup)."""
        self.events.append("pulumi up --config-file" if "--config-file" in args else "pulumi up")
        self.look("before pulumi up")
        if "--config-file" in args:
            path = Path(args[args.index("--config-file") + 1])
            compute = yaml.safe_load(path.read_text())["config"]["ollama:compute"]
        else:
            compute = deploy.load_stack_values(STACK)["ollama:compute"]
        asg = setup_client("autoscaling")
        desired = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[NAMES.asg])[
            "AutoScalingGroups"
        ][0]["DesiredCapacity"]
        if self.current != NEW:
            setup_client("ec2").create_launch_template_version(
                LaunchTemplateId=self.template,
                LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.large"},
            )
            self.current = NEW
        asg.update_auto_scaling_group(
            AutoScalingGroupName=NAMES.asg,
            LaunchTemplate={"LaunchTemplateId": self.template, "Version": "2"},
            MinSize=compute["min_size"],
            MaxSize=compute["max_size"],
            DesiredCapacity=min(max(desired, compute["min_size"]), compute["max_size"]),
        )
        self.record(NEW)
        self.look("after pulumi up")

    def two_versions(self) -> list[str]:
        return [when for when, running in self.timeline if len(running) > 1]


@pytest.fixture
def account(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    webui: tuple[str, WebUIState],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Account]:
    url, state = webui
    (tmp_path / "pg8000").mkdir()
    monkeypatch.setattr(deploy, "ROTATION_VENDOR", tmp_path)  # a built driver bundle
    _identity(aws_env)
    _simulate(aws_env)
    monkeypatch.setattr(deploy, "load_stack_values", _values)
    pulumi.selected = STACK
    pulumi.outputs = {"ollama_url": url}
    state.models = parse_config(STACK, _values()).ollama.models
    monkeypatch.setenv("OPEN_WEBUI_API_KEY", state.api_key)
    make_target_group(NAMES.webui_target_group)
    make_alarm(NAMES.alarm("high-cpu"))
    state_of = Account(pulumi)
    pulumi.hooks[("up",)] = state_of.up
    client = ops_support.client("autoscaling")

    def watch(model: Any, **_: Any) -> None:
        if not model.name.startswith("Describe"):
            state_of.events.append(f"autoscaling:{model.name}")
        state_of.look(f"after autoscaling:{model.name}")

    client.meta.events.register("after-call.autoscaling.*", watch)
    yield state_of
    client.meta.events.unregister("after-call.autoscaling.*", watch)


def _instances() -> list[dict[str, Any]]:
    return setup_client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[NAMES.asg]
    )["AutoScalingGroups"][0]["Instances"]


def test_image_change_runs_the_upgrade_in_order_and_never_two_versions(
    account: Account, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("deploy", "--stack", STACK, "--yes", *FAST) == 0
    out = capsys.readouterr().out
    assert account.events == [
        "autoscaling:SuspendProcesses",
        "autoscaling:UpdateAutoScalingGroup",  # to 0
        "pulumi up --config-file",  # one instance, on the new release
        "pulumi up",  # the stack file's sizes
        "autoscaling:UpdateAutoScalingGroup",  # the desired capacity from before
        "autoscaling:ResumeProcesses",
    ]
    assert account.two_versions() == []
    assert {r for _, running in account.timeline for r in running} == {OLD, NEW}
    # The one-instance update started from an empty group and launched exactly one instance.
    first_up = [s for w, s in account.timeline if w in ("before pulumi up", "after pulumi up")]
    assert first_up[0] == set() and first_up[1] == {NEW}
    assert len([i for i in _instances() if i["LifecycleState"] != "Terminated"]) == 2
    assert all(account.runs[i["InstanceId"]] == NEW for i in _instances())
    for step in (
        "[1/4]",
        "[2/4]",
        "[3/4]",
        "[4/4]",
        "Open WebUI ghcr.io/open-webui/open-webui:v0.9.5 ->",
    ):
        assert step in out
    assert pulumi.calls.index(["preview", "--stack", STACK, "--diff", "--non-interactive"]) < min(
        i for i, c in enumerate(pulumi.calls) if c[0] == "up"
    )


def test_the_two_version_check_catches_a_plain_rolling_update(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the upgrade, `pulumi up` on the running group launches the new release beside
    the old one (a refresh that keeps half, or AWS raising the desired to the minimum)."""
    monkeypatch.setattr(upgrade, "detect", lambda *_: None)
    monkeypatch.setattr(deploy, "load_stack_values", _rolling_values)
    assert cli("deploy", "--stack", STACK, "--yes", *FAST) == 0
    assert account.two_versions()[0] == "after pulumi up"


def _rolling_values(stack: str = STACK, *_: Any) -> dict[str, Any]:
    values = _values(stack)
    values["ollama:compute"] = {**values["ollama:compute"], "min_size": 3, "desired_capacity": 3}
    return values


def test_same_release_is_a_plain_deployment(account: Account, pulumi: FakePulumi) -> None:
    account.record(NEW)
    assert cli("deploy", "--stack", STACK, "--yes", *FAST) == 0
    assert account.events == ["pulumi up"]


def test_missing_record_counts_as_a_change(account: Account) -> None:
    setup_client("ssm").delete_parameter(Name=record_name(NAMES))
    assert cli("deploy", "--stack", STACK, "--yes", *FAST) == 0
    assert account.events[0] == "autoscaling:SuspendProcesses"
    assert account.two_versions() == []


def test_dry_run_shows_the_upgrade_and_changes_nothing(
    account: Account, aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("deploy", "--stack", STACK, "--dry-run", *FAST) == 0
    out = capsys.readouterr().out
    assert "4-step upgrade" in out and "Open WebUI ghcr.io/open-webui/open-webui:v0.9.5 ->" in out
    assert aws_env.mutations() == [] and not pulumi.ran("up")


def test_running_refresh_is_refused_before_any_change(
    account: Account, aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    aws_env.respond(
        "autoscaling",
        "DescribeInstanceRefreshes",
        {
            "InstanceRefreshes": [
                {"InstanceRefreshId": "r-1", "Status": "InProgress", "PercentageComplete": 50}
            ]
        },
    )
    assert cli("deploy", "--stack", STACK, "--yes", *FAST) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert f"ollama-ops rollout status --stack {STACK}" in err
    assert f"ollama-ops rollout cancel --stack {STACK}" in err
    assert aws_env.mutations() == [] and not pulumi.ran("preview") and not pulumi.ran("up")


def test_unhealthy_new_instance_stops_before_scaling_back(
    account: Account, webui: tuple[str, WebUIState], capsys: pytest.CaptureFixture[str]
) -> None:
    webui[1].health_status = 500
    assert cli("deploy", "--stack", STACK, "--yes", *FAST) == EXIT_UNHEALTHY
    out = capsys.readouterr().out
    assert account.events == [
        "autoscaling:SuspendProcesses",
        "autoscaling:UpdateAutoScalingGroup",
        "pulumi up --config-file",
        "autoscaling:ResumeProcesses",  # resumed although it stopped
    ]
    assert account.two_versions() == []
    assert f"ollama-ops deploy --stack {STACK}` scales back" in out


def test_one_instance_config_keeps_everything_but_the_sizes(account: Account) -> None:
    original = yaml.safe_load(Path("Pulumi.staging.yaml").read_text())
    with upgrade.one_instance_config(STACK) as path:
        copy = yaml.safe_load(path.read_text())
    compute = copy["config"].pop("ollama:compute")
    assert (compute["min_size"], compute["max_size"], compute["desired_capacity"]) == (1, 1, 1)
    assert {k: v for k, v in compute.items() if "size" not in k and k != "desired_capacity"} == {
        k: v
        for k, v in original["config"]["ollama:compute"].items()
        if "size" not in k and k != "desired_capacity"
    }
    original["config"].pop("ollama:compute")
    assert copy == original
    assert json.loads(Release.to_json(NEW))  # the record is JSON
