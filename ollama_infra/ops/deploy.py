"""``ollama-ops deploy``: check prerequisites, validate, preview, confirm, ``pulumi up``, verify.

Prerequisites are checked in a fixed order before anything else runs, each with its own
message and exit code, so a missing tool or permission is reported before any change:

  10 Python too old           11 Pulumi CLI not on PATH    12 Pulumi CLI older than pinned
  20 no valid AWS credentials 21 missing IAM permissions   15 no stack file
  16 the stack is not the selected one (these are the codes of `ollama-ops --help`)

Then the stack config is validated offline (exit 2 on errors), ``pulumi preview`` shows
the changes, you confirm (``--yes`` in automation; production also needs ``--production``),
``pulumi up`` applies them, the instance refresh it started (a changed launch template) is
followed with its progress and, when it rolled back, the reason (exit 6 unless it
succeeded), and the post-deployment health checks run (exit 6 if unhealthy).

A release change (Open WebUI image or Ollama version) on a stack whose Open WebUI shares a
database, with instances running, is deployed by the upgrade procedure instead of a rolling
refresh: stop every instance, ``pulumi up`` with one instance, wait for its health, scale
back (docs/data.md; the waits use --rollout-timeout). Refused (exit 5) while an instance
refresh is in progress.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ollama_infra.config import (
    StackConfig,
    StackFileMissing,
    load_stack_values,
    parse_config,
    placeholder_values,
)
from ollama_infra.ops import aws, envs, health, pulumi_cli, rollout, upgrade
from ollama_infra.ops.common import (
    EXIT_NO_STACK_FILE,
    EXIT_OK,
    EXIT_PERMISSION,
    EXIT_PULUMI_MISSING,
    EXIT_PULUMI_OLD,
    EXIT_PYTHON,
    EXIT_UNHEALTHY,
    EXIT_USAGE,
    OpsError,
    add_command,
    confirm,
    eprint,
)
from ollama_infra.ops.envs import add_change_args
from ollama_infra.rotation import VENDOR_DIR as ROTATION_VENDOR

MIN_PYTHON = (3, 11)

# Actions the first deployment needs (one or more per service the stack creates).
REQUIRED_ACTIONS: tuple[str, ...] = (
    "ec2:CreateVpc",
    "ec2:CreateSubnet",
    "ec2:CreateNatGateway",
    "ec2:CreateSecurityGroup",
    "ec2:CreateLaunchTemplate",
    "ec2:RunInstances",
    "autoscaling:CreateAutoScalingGroup",
    # A release change under a shared database: the program reads the release record and
    # deploy holds the group's own launches while it upgrades (ollama_infra.ops.upgrade).
    "ssm:GetParametersByPath",
    "autoscaling:SuspendProcesses",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateTargetGroup",
    "cloudfront:CreateDistribution",
    "wafv2:CreateWebACL",
    "dynamodb:CreateTable",
    "s3:CreateBucket",
    "iam:CreateRole",
    "iam:PassRole",
    "secretsmanager:CreateSecret",
    "ssm:PutParameter",
    "logs:CreateLogGroup",
    "cloudwatch:PutMetricAlarm",
    "sns:CreateTopic",
    "backup:CreateBackupPlan",
    "rds:CreateDBInstance",
    "elasticache:CreateReplicationGroup",
)


def pinned_pulumi_version() -> tuple[int, int, int]:
    """The CLI must be at least as new as the pinned Pulumi SDK."""
    parsed = pulumi_cli.parse_version(importlib.metadata.version("pulumi"))
    assert parsed is not None
    return parsed


def check_python(version: tuple[int, ...] | None = None) -> None:
    current = tuple(version or sys.version_info[:3])
    if current[:2] < MIN_PYTHON:
        raise OpsError(
            f"Python {'.'.join(map(str, current))} is too old; the program needs "
            f"{'.'.join(map(str, MIN_PYTHON))}+",
            "install Python 3.11 or newer and recreate the virtualenv (`make install`)",
            EXIT_PYTHON,
        )


def check_pulumi() -> tuple[int, int, int]:
    try:
        result = pulumi_cli._runner(["pulumi", "version"])
    except FileNotFoundError as exc:
        raise OpsError(
            "the Pulumi CLI is not on PATH",
            "install it (https://www.pulumi.com/docs/install/) and open a new shell",
            EXIT_PULUMI_MISSING,
        ) from exc
    found = pulumi_cli.parse_version(result.stdout) if result.returncode == 0 else None
    pinned = pinned_pulumi_version()
    if found is None:
        raise OpsError(
            f"`pulumi version` did not print a version ({result.output.strip()[:200]!r})",
            "reinstall the Pulumi CLI",
            EXIT_PULUMI_MISSING,
        )
    if found < pinned:
        raise OpsError(
            f"Pulumi CLI {'.'.join(map(str, found))} is older than the pinned "
            f"{'.'.join(map(str, pinned))}",
            "upgrade the CLI (`pulumi self-update`, or your package manager)",
            EXIT_PULUMI_OLD,
        )
    return found


def check_credentials(region: str) -> dict[str, Any]:
    with aws.aws_errors("checking AWS credentials (sts:GetCallerIdentity)"):
        return dict(aws.client("sts", region).get_caller_identity())


def principal_arn(caller_arn: str) -> str | None:
    """The IAM ARN that SimulatePrincipalPolicy accepts for a caller ARN (None: unsupported)."""
    parts = caller_arn.split(":", 5)
    if len(parts) != 6:
        return None
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and resource.startswith(("user/", "role/")):
        return caller_arn
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1]
        return f"arn:{partition}:iam::{account}:role/{role}"
    return None


def check_permissions(region: str, caller_arn: str, actions: tuple[str, ...]) -> list[str]:
    """Denied actions; warnings (returned as text) when the check itself is not possible."""
    principal = principal_arn(caller_arn)
    if principal is None:
        eprint(f"warning: cannot simulate permissions for {caller_arn}; skipping the check")
        return []
    iam = aws.client("iam", region)
    denied: list[str] = []
    try:
        pages = iam.get_paginator("simulate_principal_policy").paginate(
            PolicySourceArn=principal, ActionNames=list(actions)
        )
        for page in pages:
            for result in page["EvaluationResults"]:
                if result["EvalDecision"] != "allowed":
                    denied.append(result["EvalActionName"])
    except ClientError as exc:
        code = aws.error_code(exc)
        if code in ("AccessDenied", "AccessDeniedException", "NoSuchEntity"):
            eprint(
                f"warning: cannot check permissions ({code}: not allowed to call "
                "iam:SimulatePrincipalPolicy or the role has a path); continuing"
            )
            return []
        raise aws.to_ops_error(exc, "checking permissions") from exc
    if denied:
        raise OpsError(
            f"{principal} is not allowed: {', '.join(sorted(denied))}",
            "grant these actions (see docs/runbooks/deployment.md, 'Permissions') or use "
            "a deployment role that has them",
            EXIT_PERMISSION,
        )
    return denied


def check_stack(args: argparse.Namespace) -> dict[str, Any]:
    try:
        values = load_stack_values(args.stack)
    except StackFileMissing as exc:
        raise OpsError(
            exc.message,
            f"create Pulumi.{args.stack}.yaml (see docs/runbooks/deployment.md)",
            EXIT_NO_STACK_FILE,
        ) from exc
    envs.guard(args, require_selected=True)
    return values


def check_own_resources(cfg: StackConfig, account: str) -> None:
    """Refuse config that points at another account's resources or at the example values the
    repository's stack files ship with: AWS would reject them halfway through ``pulumi up``.
    The same detection makes the offline plan warn about them (config.placeholder_values)."""
    problems = placeholder_values(cfg, account)
    if problems:
        raise OpsError(
            "; ".join(f"{p.key} {p.rule}" for p in problems),
            problems[0].fix,
            EXIT_USAGE,
        )


def check_rotation_bundle(values: dict[str, Any]) -> None:
    """A stack with a database deploys the login rotation function with its PostgreSQL driver
    from build/rotation-vendor, which the repository does not carry (a build output)."""
    data = values.get("ollama:data") or {}
    if not (isinstance(data, dict) and data.get("database_enabled")):
        return
    if not (ROTATION_VENDOR / "pg8000").is_dir():
        raise OpsError(
            f"the database login rotation function needs its PostgreSQL driver in "
            f"{ROTATION_VENDOR.name}/ (build/rotation-vendor), which does not exist",
            "run `make rotation-vendor` (installs the pinned ollama_infra/rotation/"
            "requirements.txt), then deploy again",
            EXIT_USAGE,
        )


def prerequisites(args: argparse.Namespace, region: str) -> dict[str, Any]:
    """Every prerequisite, in order; returns the stack values. Changes nothing."""
    check_python()
    version = check_pulumi()
    values = check_stack(args)  # needs no AWS: before the credentials are used
    check_rotation_bundle(values)
    identity = check_credentials(region)
    if not args.skip_permission_check:
        check_permissions(region, str(identity.get("Arn", "")), REQUIRED_ACTIONS)
    print(
        f"prerequisites ok: Pulumi {'.'.join(map(str, version))}, account "
        f"{identity.get('Account')}, stack {args.stack} in {region}"
    )
    return values


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "deploy",
        "check prerequisites, preview, confirm, pulumi up, then health-check the stack",
        __doc__,
    )
    add_change_args(p)
    p.add_argument(
        "--skip-permission-check",
        action="store_true",
        help="do not simulate the IAM permissions the deployment needs",
    )
    p.add_argument(
        "--skip-health", action="store_true", help="do not run the post-deployment health checks"
    )
    p.add_argument(
        "--rollout-timeout",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="how long to follow the instance refresh after pulumi up (0: report it once)",
    )
    health.add_health_args(p)
    p.add_argument("--json", action="store_true", help="print the health report as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    health.timing_from(args)  # validate arguments before any call
    if args.rollout_timeout < 0:
        raise OpsError(
            f"--rollout-timeout {args.rollout_timeout} is negative",
            "give seconds to follow the instance refresh (0 reports it once)",
            EXIT_USAGE,
        )
    envs.require_production(args, "deploy")
    region = aws.stack_region(args.stack, args.region)
    values = prerequisites(args, region)
    cfg = parse_config(args.stack, values)  # offline validation before Pulumi runs
    if not args.dry_run:
        check_own_resources(cfg, str(aws.account_id(region)))
    stack = args.stack
    target = aws.resolve_target(stack, region)
    release_change = upgrade.detect(target, cfg)  # refuses a change during a refresh
    if release_change is not None:
        print("release change on a shared database:\n  " + "\n  ".join(release_change.describe()))
    pulumi_cli.run(
        ["preview", "--stack", stack, "--diff", "--non-interactive"],
        f"pulumi preview ({stack})",
        stream=True,
    )
    if args.dry_run:
        if release_change is not None:
            print(f"dry run: deploy would run the {upgrade.STEPS}-step upgrade (docs/data.md)")
        print("dry run: preview only, nothing was changed")
        return EXIT_OK
    question = f"Apply the changes above to stack '{stack}' in {cfg.region}?"
    if release_change is not None:
        question = (
            f"Stop every instance of {target.names.asg}, start one on the new release, then "
            f"scale back (stack '{stack}' in {cfg.region})?"
        )
    confirm(question, yes=args.yes)
    if release_change is not None:
        code = upgrade.run(args, target, cfg, release_change, float(args.rollout_timeout))
        if code != EXIT_OK or args.skip_health:
            return code
        return health.check_stack(args, target, pulumi_cli.stack_outputs(stack))
    started = datetime.now(UTC)
    pulumi_cli.run(
        ["up", "--stack", stack, "--yes", "--non-interactive"], f"pulumi up ({stack})", stream=True
    )
    interval = max(1.0, min(30.0, float(args.rollout_timeout)))
    if rollout.follow(target, started, args.rollout_timeout, interval) != EXIT_OK:
        eprint(f"deployed, but the instance refresh did not complete on stack '{stack}'")
        return EXIT_UNHEALTHY
    if args.skip_health:
        print("deployed; health checks skipped (--skip-health)")
        return EXIT_OK
    return health.check_stack(args, target, pulumi_cli.stack_outputs(stack))
