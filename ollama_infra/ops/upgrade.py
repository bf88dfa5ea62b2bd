"""The upgrade ``ollama-ops deploy`` runs when a release changes under a shared database.

Open WebUI migrates its schema when a new version starts; two versions against one database
are not supported, and an old one must not meet a migrated schema. So when the Open WebUI
image or the Ollama release of a stack whose Open WebUI shares a database differs from the
record of the last deployment (SSM ``/ollama/<env>/release/versions``, ollama_infra.release)
and instances are running, deploy does not let a rolling refresh replace them. It runs:

  1. stop: suspend the processes that could launch an instance on their own (AZRebalance,
     AlarmNotification, ScheduledActions), set the group to 0 and wait until no instance is
     left (not even a terminating one);
  2. update: ``pulumi up`` with a copy of the stack file whose sizes are 1, so exactly one
     instance starts, on the new release, and migrates the schema alone;
  3. wait for health: the group's instance in service, then the health checks;
  4. scale back: ``pulumi up`` with the stack file itself, the desired capacity from before,
     and the suspended processes resumed (also when a step fails).

Old and new never run at the same time: the new instance is launched only after the last
old one has terminated. The program refuses the same on its own (a plain ``pulumi up``
replaces every instance in one batch, compute._refresh).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

from ollama_infra import release
from ollama_infra.config import StackConfig, stack_file
from ollama_infra.ops import aws, health, pulumi_cli, rollout
from ollama_infra.ops.common import EXIT_OK, EXIT_REFUSED, EXIT_UNHEALTHY, OpsError

# Processes that launch instances without being asked for this upgrade. Launch, Terminate,
# HealthCheck and ReplaceUnhealthy stay: the steps need them.
SUSPENDED = ("AZRebalance", "AlarmNotification", "ScheduledActions")
STEPS = 4
GONE = ("Terminated",)

Sleep = Callable[[float], None]
_sleep: Sleep = time.sleep


@dataclass(frozen=True)
class Group:
    """The Auto Scaling group as it is now."""

    min_size: int
    max_size: int
    desired: int
    instances: list[dict[str, Any]]

    def running(self) -> list[dict[str, Any]]:
        return [i for i in self.instances if i.get("LifecycleState") not in GONE]


@dataclass(frozen=True)
class Upgrade:
    """A release change on a stack whose running instances share one database."""

    stack: str
    wanted: release.Release
    deployed: release.Release | None
    group: Group

    def describe(self) -> list[str]:
        count = len(self.group.running())
        return [
            *self.wanted.changes(self.deployed),
            f"{count} instance(s) running against one database: two versions must not run "
            "at once, so every instance stops before one starts on the new release, then "
            f"the group scales back to {self.group.desired}. Open WebUI is unavailable "
            "until the new instance is healthy.",
        ]


def deployed_release(target: aws.Target) -> release.Release | None:
    """The release the last deployment recorded; None when there is no record."""
    ssm = target.client("ssm")
    name = release.record_name(target.names)
    with aws.aws_errors(f"reading {name}"):
        try:
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as exc:
            if aws.error_code(exc) == "ParameterNotFound":
                return None
            raise
    return release.Release.parse(str(value))


def read_group(target: aws.Target) -> Group | None:
    asg = target.client("autoscaling")
    with aws.aws_errors(f"reading {target.names.asg}"):
        found = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[target.names.asg])[
            "AutoScalingGroups"
        ]
    if not found:
        return None
    g = found[0]
    return Group(g["MinSize"], g["MaxSize"], g["DesiredCapacity"], list(g.get("Instances", [])))


def detect(target: aws.Target, cfg: StackConfig) -> Upgrade | None:
    """The upgrade this deployment needs, or None when a plain ``pulumi up`` is safe:
    no shared database, the same release as recorded, or no instance running."""
    if not cfg.data.database_enabled:
        return None
    wanted = release.Release.from_config(cfg.ollama, cfg.webui)
    deployed = deployed_release(target)
    if not release.is_upgrade(wanted, deployed):
        return None
    group = read_group(target)
    if group is None or (not group.running() and group.desired == 0):
        return None
    refresh = rollout.latest(target)
    if refresh is not None and refresh["Status"] in rollout.ACTIVE:
        raise OpsError(
            f"{target.names.asg} has an instance refresh in progress "
            f"({refresh['InstanceRefreshId']}, {refresh['Status']}); a release change must "
            "start from a settled group",
            f"wait for it (`ollama-ops rollout status --stack {target.stack}`) or stop it "
            f"(`ollama-ops rollout cancel --stack {target.stack}`), then deploy again",
            EXIT_REFUSED,
        )
    return Upgrade(target.stack, wanted, deployed, group)


@contextmanager
def one_instance_config(stack: str) -> Iterator[Path]:
    """A copy of the stack file (secrets provider and encrypted values included) whose
    compute sizes are 1, for ``pulumi up --config-file``; the stack file is not touched."""
    document = yaml.safe_load(stack_file(stack).read_text()) or {}
    config = document.setdefault("config", {})
    compute = dict(config.get("ollama:compute") or {})
    compute.update(min_size=1, max_size=1, desired_capacity=1)
    config["ollama:compute"] = compute
    with tempfile.TemporaryDirectory(prefix="ollama-upgrade-") as folder:
        path = Path(folder) / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        yield path


def _step(number: int, text: str) -> None:
    print(f"[{number}/{STEPS}] {text}", flush=True)


def _wait(
    target: aws.Target,
    done: Callable[[Group], bool],
    what: str,
    timeout: float,
    interval: float,
    sleep: Sleep,
) -> Group:
    """Poll the group until ``done``; prints each change of its instances (progress)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        group = read_group(target)
        if group is None:
            raise OpsError(
                f"{target.names.asg} disappeared while {what}",
                f"check the stack with `ollama-ops health --stack {target.stack}`",
            )
        states = ", ".join(f"{i['InstanceId']} {i.get('LifecycleState')}" for i in group.running())
        line = f"  {len(group.running())} instance(s): {states or 'none'}"
        if line != last:
            print(line, flush=True)
            last = line
        if done(group):
            return group
        if time.monotonic() >= deadline:
            raise OpsError(
                f"timed out after {timeout:g} s {what} ({last.strip()})",
                f"follow it with `aws autoscaling describe-auto-scaling-groups "
                f"--auto-scaling-group-names {target.names.asg}`, then deploy again "
                f"(`ollama-ops deploy --stack {target.stack}`): it resumes from here",
                EXIT_UNHEALTHY,
            )
        sleep(interval)


def run(
    args: argparse.Namespace,
    target: aws.Target,
    cfg: StackConfig,
    upgrade: Upgrade,
    timeout: float,
    sleep: Sleep | None = None,
) -> int:
    """Steps 1-4 of the module docstring; the return value is deploy's exit code."""
    wait = sleep or _sleep
    interval = max(1.0, min(15.0, timeout / 20)) if timeout else 0.0
    stack, name = target.stack, target.names.asg
    asg = target.client("autoscaling")
    up = ["up", "--stack", stack, "--yes", "--non-interactive"]
    with aws.aws_errors(f"suspending {', '.join(SUSPENDED)} on {name}"):
        asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=list(SUSPENDED))
    try:
        _step(1, f"stopping every instance of {name} (processes {', '.join(SUSPENDED)} held)")
        with aws.aws_errors(f"scaling {name} to 0"):
            asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, DesiredCapacity=0)
        _wait(target, lambda g: not g.running(), "stopping the instances", timeout, interval, wait)

        _step(2, f"pulumi up with one instance on {upgrade.wanted.webui}, {upgrade.wanted.ollama}")
        started = datetime.now(UTC)
        with one_instance_config(stack) as config_file:
            pulumi_cli.run(
                [*up, "--config-file", str(config_file)], f"pulumi up ({stack})", stream=True
            )
        if rollout.follow(target, started, timeout, interval or 1.0, wait) != EXIT_OK:
            return _stopped(target, "the instance refresh of the one-instance update failed")

        _step(3, "waiting for the new instance to serve (it migrates the database alone)")
        _wait(
            target,
            lambda g: any(i.get("LifecycleState") == "InService" for i in g.running()),
            "waiting for the new instance",
            timeout,
            interval,
            wait,
        )
        if not args.skip_health:
            code = health.check_stack(args, target, pulumi_cli.stack_outputs(stack))
            if code != EXIT_OK:
                return _stopped(target, "the new instance is not healthy")

        desired = min(max(upgrade.group.desired, cfg.compute.min_size), cfg.compute.max_size)
        _step(4, f"scaling back: pulumi up with Pulumi.{stack}.yaml, desired capacity {desired}")
        pulumi_cli.run(up, f"pulumi up ({stack})", stream=True)
        with aws.aws_errors(f"setting the desired capacity of {name}"):
            asg.update_auto_scaling_group(AutoScalingGroupName=name, DesiredCapacity=desired)
    finally:
        with aws.aws_errors(f"resuming {', '.join(SUSPENDED)} on {name}"):
            asg.resume_processes(AutoScalingGroupName=name, ScalingProcesses=list(SUSPENDED))
    print(f"upgraded {stack}: {'; '.join(upgrade.wanted.changes(upgrade.deployed))}")
    return EXIT_OK


def _stopped(target: aws.Target, why: str) -> int:
    print(
        f"{why}; the group stays at one instance on the new release (no old instance runs).\n"
        f"  look: `ollama-ops rollout status --stack {target.stack}`, "
        f"`ollama-ops health --stack {target.stack}`, log group "
        f"{target.names.bootstrap_log_group}\n"
        f"  fixed: `ollama-ops deploy --stack {target.stack}` scales back\n"
        "  back to the previous release: restore the pre-upgrade database snapshot and deploy "
        "the previous version (docs/data.md, 'Upgrading Open WebUI')"
    )
    return EXIT_UNHEALTHY
