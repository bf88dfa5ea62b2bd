"""``ollama-ops destroy``: delete every resource of a stack, with guards.

You type the stack name to confirm (``--yes`` for automation). Production also needs
``--production``. While deletion protection is on (the table, the ALB, the database)
the command refuses: ``pulumi destroy`` would fail half-way and leave a partly deleted
stack. Turn protection off in the stack file and deploy first, after a backup
(``--backup-first`` takes an on-demand table backup before destroying).
``--dry-run`` lists what would be deleted and deletes nothing.
"""

from __future__ import annotations

import argparse

from ollama_infra.ops import aws, backup, envs, pulumi_cli
from ollama_infra.ops.common import (
    EXIT_OK,
    EXIT_REFUSED,
    OpsError,
    add_command,
    confirm,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "destroy",
        "delete every resource of a stack (typed confirmation; production needs more)",
        __doc__,
    )
    envs.add_change_args(p)
    p.add_argument(
        "--backup-first",
        action="store_true",
        help="take an on-demand backup of the model catalog table before destroying",
    )
    p.set_defaults(func=run)


def protected_resources(target: aws.Target) -> list[str]:
    """Resources of the stack whose deletion protection is on (absent ones are skipped)."""
    names = target.names
    found: list[str] = []
    ddb = target.client("dynamodb")
    with aws.aws_errors(f"reading table {names.table}"):
        try:
            table = ddb.describe_table(TableName=names.table)["Table"]
            if table.get("DeletionProtectionEnabled"):
                found.append(f"DynamoDB table {names.table}")
        except ddb.exceptions.ResourceNotFoundException:
            pass
    elb = target.client("elbv2")
    with aws.aws_errors(f"reading load balancer {names.alb}"):
        try:
            lbs = elb.describe_load_balancers(Names=[names.alb])["LoadBalancers"]
        except elb.exceptions.LoadBalancerNotFoundException:
            lbs = []
        for lb in lbs:
            attrs = elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])
            for attr in attrs["Attributes"]:
                if attr["Key"] == "deletion_protection.enabled" and attr["Value"] == "true":
                    found.append(f"load balancer {names.alb}")
    rds = target.client("rds")
    with aws.aws_errors(f"reading database {names.database}"):
        try:
            dbs = rds.describe_db_instances(DBInstanceIdentifier=names.database)["DBInstances"]
        except rds.exceptions.DBInstanceNotFoundFault:
            dbs = []
        found.extend(f"RDS instance {names.database}" for d in dbs if d.get("DeletionProtection"))
    return found


def run(args: argparse.Namespace) -> int:
    stack = args.stack
    envs.guard(args, "destroy")
    target = aws.resolve_target(stack, args.region)
    if args.dry_run:
        pulumi_cli.run(
            ["destroy", "--stack", stack, "--preview-only", "--non-interactive"],
            f"pulumi destroy --preview-only ({stack})",
            stream=True,
        )
        print("dry run: the resources above would be deleted; nothing was changed")
        return EXIT_OK
    protected = protected_resources(target)
    if protected:
        raise OpsError(
            f"deletion protection is on for: {', '.join(protected)}",
            f"back up first (`ollama-ops backup dynamodb --stack {stack}`), set "
            f"data.deletion_protection: false and edge.deletion_protection: false in "
            f"Pulumi.{stack}.yaml, run `ollama-ops deploy --stack {stack}`, then destroy",
            EXIT_REFUSED,
        )
    confirm(
        f"This deletes EVERY resource of stack '{stack}' in {target.region} "
        f"(account {target.account_id}).",
        yes=args.yes,
        typed=stack,
    )
    if args.backup_first:
        arn = backup.create_table_backup(target, label="pre-destroy")
        print(f"backup taken: {arn}")
    pulumi_cli.run(
        ["destroy", "--stack", stack, "--yes", "--non-interactive"],
        f"pulumi destroy ({stack})",
        stream=True,
    )
    print(f"stack '{stack}' destroyed; its config file Pulumi.{stack}.yaml is kept")
    return EXIT_OK
