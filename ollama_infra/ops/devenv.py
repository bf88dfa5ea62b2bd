"""``ollama-ops dev``: stop paying for an idle non-production stack, and bring it back.

  shutdown  record the Auto Scaling group's min/max/desired capacity in the SSM parameter
            /ollama/<env>/ops/saved-capacity, then set min and desired to 0
  startup   restore exactly the recorded capacity, then delete the record
  schedule  create (or --remove) scheduled actions that do the same every evening and
            morning (cron in the given time zone)

All of them refuse the production stack. The stack's own schedule (compute.schedule_*
in the stack file) is managed by Pulumi; ``dev schedule`` adds separate, ad-hoc actions
named ollama-ops-scale-down-<env> and ollama-ops-scale-up-<env>.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from ollama_infra.config import environment_of
from ollama_infra.config.fields import check_cron, check_timezone
from ollama_infra.ops import aws, envs
from ollama_infra.ops.common import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_dry_run,
    add_region,
    add_yes,
    confirm,
)

SAVED_CAPACITY = "ops/saved-capacity"


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "dev", "shut down / start up a non-production stack, or schedule it", __doc__
    )
    dsub = p.add_subparsers(dest="dev_command", metavar="ACTION", required=True)
    for action, text, func in (
        ("shutdown", "record the capacity and scale the group to zero", run_shutdown),
        ("startup", "restore the recorded capacity", run_startup),
    ):
        a = dsub.add_parser(action, help=text)
        envs.add_stack_args(a)
        add_region(a)
        add_yes(a)
        add_dry_run(a)
        a.set_defaults(func=func)
    s = dsub.add_parser("schedule", help="create or remove the scale-down/up scheduled actions")
    envs.add_stack_args(s)
    add_region(s)
    add_yes(s)
    add_dry_run(s)
    s.add_argument("--down-cron", default="0 19 * * 1-5", help="cron of the scale-down")
    s.add_argument("--up-cron", default="0 7 * * 1-5", help="cron of the scale-up")
    s.add_argument("--timezone", default="UTC", help="IANA time zone of the crons")
    s.add_argument("--remove", action="store_true", help="delete the scheduled actions")
    s.set_defaults(func=run_schedule)


def _refuse_production(stack: str) -> None:
    if environment_of(stack) == "production":
        raise OpsError(
            "dev shutdown/startup/schedule never act on production",
            "scale production through its stack config and `ollama-ops deploy`",
            EXIT_REFUSED,
        )


def _target(args: argparse.Namespace) -> aws.Target:
    _refuse_production(args.stack)
    envs.guard(args, f"run `dev {args.dev_command}`")
    return aws.resolve_target(args.stack, args.region)


def describe_group(target: aws.Target) -> dict[str, Any]:
    name = target.names.asg
    with aws.aws_errors(f"describing Auto Scaling group {name}"):
        groups = target.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[name]
        )["AutoScalingGroups"]
    if not groups:
        raise OpsError(
            f"Auto Scaling group {name} not found in {target.region}",
            "is the stack deployed? check --stack and --region",
            EXIT_NOT_FOUND,
        )
    return dict(groups[0])


def capacity(group: dict[str, Any]) -> dict[str, int]:
    return {
        "min": int(group["MinSize"]),
        "max": int(group["MaxSize"]),
        "desired": int(group["DesiredCapacity"]),
    }


def read_saved(target: aws.Target) -> dict[str, int] | None:
    ssm = target.client("ssm")
    name = target.names.parameter(SAVED_CAPACITY)
    with aws.aws_errors(f"reading {name}"):
        try:
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            return None
    try:
        doc = json.loads(value)
        return {k: int(doc[k]) for k in ("min", "max", "desired")}
    except (ValueError, KeyError, TypeError) as exc:
        raise OpsError(
            f"{name} does not hold a capacity record ({value!r})",
            f"fix or delete it (`aws ssm delete-parameter --name {name}`), then retry",
        ) from exc


def run_shutdown(args: argparse.Namespace) -> int:
    target = _target(args)
    group = describe_group(target)
    current = capacity(group)
    saved = read_saved(target)
    if current["min"] == 0 and current["desired"] == 0:
        print(f"{target.names.asg} is already at zero; recorded capacity: {saved}")
        return EXIT_OK
    if args.dry_run:
        print(f"dry run: would record {current} and set min=0 desired=0 on {target.names.asg}")
        return EXIT_OK
    confirm(f"Scale {target.names.asg} from {current} to zero?", yes=args.yes)
    record = {**current, "saved_at": datetime.now(UTC).isoformat(timespec="seconds")}
    name = target.names.parameter(SAVED_CAPACITY)
    # Record first: if scaling then fails, nothing changed and the record is harmless.
    with aws.aws_errors(f"recording the capacity in {name}"):
        target.client("ssm").put_parameter(
            Name=name, Value=json.dumps(record), Type="String", Overwrite=True
        )
    with aws.aws_errors(f"scaling {target.names.asg} to zero"):
        target.client("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=target.names.asg, MinSize=0, DesiredCapacity=0
        )
    print(f"{target.names.asg}: {current} -> min=0 desired=0 (recorded in {name})")
    return EXIT_OK


def run_startup(args: argparse.Namespace) -> int:
    target = _target(args)
    saved = read_saved(target)
    name = target.names.parameter(SAVED_CAPACITY)
    if saved is None:
        raise OpsError(
            f"no recorded capacity in {name}: nothing to restore",
            "deploy the stack (`ollama-ops deploy`) to apply its configured capacity",
            EXIT_NOT_FOUND,
        )
    if not 0 <= saved["min"] <= saved["desired"] <= saved["max"]:
        raise OpsError(
            f"{name} holds an inconsistent capacity {saved} (need min <= desired <= max)",
            "fix or delete the parameter, then deploy the stack",
            EXIT_USAGE,
        )
    if args.dry_run:
        print(f"dry run: would restore {target.names.asg} to {saved}")
        return EXIT_OK
    confirm(f"Restore {target.names.asg} to {saved}?", yes=args.yes)
    with aws.aws_errors(f"restoring the capacity of {target.names.asg}"):
        target.client("autoscaling").update_auto_scaling_group(
            AutoScalingGroupName=target.names.asg,
            MinSize=saved["min"],
            MaxSize=saved["max"],
            DesiredCapacity=saved["desired"],
        )
    with aws.aws_errors(f"removing the record {name}"):
        target.client("ssm").delete_parameter(Name=name)
    print(f"{target.names.asg} restored to {saved}")
    return EXIT_OK


def schedule_names(env: str) -> tuple[str, str]:
    return f"ollama-ops-scale-down-{env}", f"ollama-ops-scale-up-{env}"


def run_schedule(args: argparse.Namespace) -> int:
    # The same checks as compute.schedule_* in the stack file (config.fields).
    checks = (
        ("--down-cron", args.down_cron, check_cron),
        ("--up-cron", args.up_cron, check_cron),
        ("--timezone", args.timezone, check_timezone),
    )
    for flag, value, check in checks:
        try:
            check(value.strip())
        except ValueError as exc:
            rule, _, fix = str(exc).rpartition("; ")
            raise OpsError(f"{flag}: {rule}", fix, EXIT_USAGE) from None
    target = _target(args)
    asg = target.names.asg
    down, up = schedule_names(target.stack)
    autoscaling = target.client("autoscaling")
    if args.remove:
        if args.dry_run:
            print(f"dry run: would delete {down} and {up} from {asg}")
            return EXIT_OK
        confirm(f"Delete the scheduled actions {down} and {up} of {asg}?", yes=args.yes)
        with aws.aws_errors(f"deleting the scheduled actions of {asg}"):
            existing = {
                a["ScheduledActionName"]
                for a in autoscaling.describe_scheduled_actions(AutoScalingGroupName=asg)[
                    "ScheduledUpdateGroupActions"
                ]
            }
            for action in (down, up):
                if action in existing:
                    autoscaling.delete_scheduled_action(
                        AutoScalingGroupName=asg, ScheduledActionName=action
                    )
        print(f"removed {down} and {up} from {asg}")
        return EXIT_OK
    current = capacity(describe_group(target))
    if current["desired"] == 0:
        raise OpsError(
            f"{asg} is at zero now; the scale-up action would restore zero",
            f"run `ollama-ops dev startup --stack {target.stack}` first",
            EXIT_USAGE,
        )
    if args.dry_run:
        print(
            f"dry run: would create {down} ({args.down_cron}) and {up} ({args.up_cron}) "
            f"in {args.timezone}, restoring {current}"
        )
        return EXIT_OK
    confirm(
        f"Scale {asg} to zero at '{args.down_cron}' and back to {current} at '{args.up_cron}' "
        f"({args.timezone})?",
        yes=args.yes,
    )
    with aws.aws_errors(f"creating the scheduled actions of {asg}"):
        autoscaling.put_scheduled_update_group_action(
            AutoScalingGroupName=asg,
            ScheduledActionName=down,
            Recurrence=args.down_cron,
            TimeZone=args.timezone,
            MinSize=0,
            DesiredCapacity=0,
        )
        autoscaling.put_scheduled_update_group_action(
            AutoScalingGroupName=asg,
            ScheduledActionName=up,
            Recurrence=args.up_cron,
            TimeZone=args.timezone,
            MinSize=current["min"],
            MaxSize=current["max"],
            DesiredCapacity=current["desired"],
        )
    print(f"{asg}: {down} at '{args.down_cron}', {up} at '{args.up_cron}' ({args.timezone})")
    return EXIT_OK
