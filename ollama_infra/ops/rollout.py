"""``ollama-ops rollout``: the instance refresh that rolls a new launch template out.

  rollout status   --stack S           the latest refresh: state, progress, rollback reason
  rollout cancel   --stack S           stop the running refresh where it is (typed confirmation;
                                       --dry-run shows it and changes nothing)
  rollout rollback --stack S           undo the running refresh: back to the previous launch
                                       template version (typed confirmation)

``pulumi up`` starts a refresh when the launch template changes; the group's refresh
preferences roll it back by themselves when one of the stack's rollout alarms fires
(docs/runbooks/deployment.md). Production needs ``--production`` for cancel and rollback.
A rollback runs old and new instances side by side like the refresh did: on a stack whose
Open WebUI shares a database, an older Open WebUI may meet a schema the newer one migrated,
so rollback there also needs ``--allow-webui-downgrade`` (see the runbook first). The
refresh of a release change there (every instance at once) is never rolled back: cancel it
and deploy the previous release (docs/data.md).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ollama_infra.config import load_stack_values, parse_config
from ollama_infra.ops import aws, envs
from ollama_infra.ops.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNHEALTHY,
    OpsError,
    add_command,
    add_dry_run,
    add_production,
    add_region,
    add_yes,
    confirm,
)

ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")
BAD_ENDINGS = ("Failed", "Cancelled", "RollbackFailed", "RollbackSuccessful")
NO_ACTIVE_REFRESH = "ActiveInstanceRefreshNotFound"
IRREVERSIBLE = "IrreversibleInstanceRefresh"

Sleep = Callable[[float], None]
_sleep: Sleep = time.sleep


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "rollout", "instance refresh: status, cancel or roll back", __doc__)
    rsub = p.add_subparsers(dest="rollout_command", metavar="ACTION", required=True)
    status = rsub.add_parser("status", help="the latest instance refresh and its progress")
    envs.add_stack_args(status)
    add_region(status)
    status.set_defaults(func=run_status)
    for action, helptext in (
        ("cancel", "stop the running instance refresh where it is"),
        ("rollback", "undo the running instance refresh (previous launch template version)"),
    ):
        c = rsub.add_parser(action, help=helptext)
        envs.add_stack_args(c)
        add_region(c)
        add_yes(c)
        add_dry_run(c)
        add_production(c)
        if action == "rollback":
            c.add_argument(
                "--allow-webui-downgrade",
                action="store_true",
                help="roll back although Open WebUI shares a database (read the runbook first)",
            )
        c.set_defaults(func=run_cancel if action == "cancel" else run_rollback)


def latest(target: aws.Target) -> dict[str, Any] | None:
    """The group's most recent instance refresh (AWS lists the newest first)."""
    asg = target.client("autoscaling")
    with aws.aws_errors(f"reading instance refreshes of {target.names.asg}"):
        found = asg.describe_instance_refreshes(
            AutoScalingGroupName=target.names.asg, MaxRecords=1
        )["InstanceRefreshes"]
    return dict(found[0]) if found else None


def describe(refresh: dict[str, Any]) -> list[str]:
    """Human lines for one refresh: state, progress, reason, rollback details."""
    lines = [
        f"instance refresh {refresh['InstanceRefreshId']}: {refresh['Status']}, "
        f"{refresh.get('PercentageComplete', 0)} % done, "
        f"{refresh.get('InstancesToUpdate', 0)} instance(s) still to replace"
    ]
    if refresh.get("StatusReason"):
        lines.append(f"  reason: {refresh['StatusReason']}")
    rollback = refresh.get("RollbackDetails") or {}
    if rollback.get("RollbackReason"):
        lines.append(f"  rolled back because: {rollback['RollbackReason']}")
    if "PercentageCompleteOnRollback" in rollback:
        lines.append(f"  rollback {rollback['PercentageCompleteOnRollback']} % done")
    return lines


def follow(
    target: aws.Target, since: datetime, timeout: float, interval: float, sleep: Sleep | None = None
) -> int:
    """Show the refresh ``pulumi up`` started (if any) until it ends or ``timeout`` passes.

    EXIT_UNHEALTHY when it failed, was cancelled or rolled back (the reason is printed).
    """
    wait = sleep or _sleep
    deadline = time.monotonic() + timeout
    last: list[str] = []
    while True:
        refresh = latest(target)
        if refresh is None or refresh["StartTime"] < since:
            print(f"no instance refresh started on {target.names.asg}")
            return EXIT_OK
        lines = describe(refresh)
        if lines != last:
            print("\n".join(lines))
            last = lines
        status = refresh["Status"]
        if status == "Successful":
            return EXIT_OK
        if status in BAD_ENDINGS:
            print(f"the rollout did not complete ({status}); see `ollama-ops rollout status`")
            return EXIT_UNHEALTHY
        if time.monotonic() >= deadline:
            print(
                f"the refresh is still {status}; follow it with "
                f"`ollama-ops rollout status --stack {target.stack}`"
            )
            return EXIT_OK
        wait(interval)


def run_status(args: argparse.Namespace) -> int:
    envs.guard(args)
    target = aws.resolve_target(args.stack, args.region)
    refresh = latest(target)
    if refresh is None:
        print(f"{target.names.asg} has had no instance refresh")
        return EXIT_OK
    print("\n".join(describe(refresh)))
    return EXIT_FAILURE if refresh["Status"] in BAD_ENDINGS else EXIT_OK


def is_release_change(refresh: dict[str, Any]) -> bool:
    """The refresh the program starts for a release change under a shared database
    (compute._refresh): no instance kept, none launched before another is terminated."""
    prefs = refresh.get("Preferences") or {}
    return prefs.get("MinHealthyPercentage") == 0 and prefs.get("MaxHealthyPercentage") == 100


def _shares_database(stack: str) -> bool:
    cfg = parse_config(stack, load_stack_values(stack))
    return cfg.data.database_enabled


def _act(args: argparse.Namespace, action: str) -> int:
    target = aws.resolve_target(args.stack, args.region)
    refresh = latest(target)
    if refresh is None or refresh["Status"] not in ACTIVE:
        raise OpsError(
            f"{target.names.asg} has no instance refresh in progress; nothing to {action}",
            f"`ollama-ops rollout status --stack {args.stack}` shows the latest one",
            EXIT_REFUSED,
        )
    print("\n".join(describe(refresh)))
    if action == "rollback" and is_release_change(refresh) and _shares_database(args.stack):
        raise OpsError(
            f"instance refresh {refresh['InstanceRefreshId']} replaces every instance at once: "
            "it rolls out a release change on a stack whose Open WebUI shares a database, and "
            "rolling it back would start the previous Open WebUI on the schema the new one "
            "migrated, possibly beside it",
            f"stop it (`ollama-ops rollout cancel --stack {args.stack}`), restore the "
            "pre-upgrade snapshot, set the previous version in the stack file and run "
            f"`ollama-ops deploy --stack {args.stack}` (docs/data.md, 'Upgrading Open WebUI')",
            EXIT_REFUSED,
        )
    if args.dry_run:
        print(f"dry run: would {action} instance refresh {refresh['InstanceRefreshId']}")
        return EXIT_OK
    verb = "Stop" if action == "cancel" else "Roll back"
    confirm(
        f"{verb} instance refresh {refresh['InstanceRefreshId']} of {target.names.asg} "
        f"({target.region}).",
        yes=args.yes,
        typed=args.stack,
    )
    asg = target.client("autoscaling")
    with aws.aws_errors(f"{action} of the instance refresh of {target.names.asg}"):
        try:
            if action == "cancel":
                answer = asg.cancel_instance_refresh(AutoScalingGroupName=target.names.asg)
            else:
                answer = asg.rollback_instance_refresh(AutoScalingGroupName=target.names.asg)
        except ClientError as exc:
            code = aws.error_code(exc)
            if code not in (NO_ACTIVE_REFRESH, IRREVERSIBLE):
                raise
            raise OpsError(
                f"AWS refused the {action}: {exc.response['Error'].get('Message', code)}",
                "a refresh that ended, or one AWS cannot reverse (no previous "
                "configuration), cannot be changed; deploy the previous version instead",
                EXIT_REFUSED,
            ) from exc
    print(f"{action} requested: instance refresh {answer['InstanceRefreshId']}")
    return EXIT_OK


def run_cancel(args: argparse.Namespace) -> int:
    envs.guard(args, "cancel a rollout")
    return _act(args, "cancel")


def run_rollback(args: argparse.Namespace) -> int:
    envs.guard(args, "roll back a rollout")
    if _shares_database(args.stack) and not args.allow_webui_downgrade:
        raise OpsError(
            f"stack {args.stack}'s Open WebUI shares a database: rolling back runs the older "
            "Open WebUI against a schema the newer one may have migrated, beside it",
            "read docs/runbooks/deployment.md (Rollouts), then add --allow-webui-downgrade, or "
            "deploy the previous version with the one-instance upgrade procedure",
            EXIT_REFUSED,
        )
    return _act(args, "rollback")
