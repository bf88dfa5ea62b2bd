"""``ollama-ops destroy``: delete every resource of a stack, with guards.

You type the stack name to confirm (``--yes`` for automation). Production also needs
``--production``. While deletion protection is on (the table, the ALB, the database)
the command refuses: ``pulumi destroy`` would fail half-way and leave a partly deleted
stack. Turn protection off in the stack file and deploy first, after a backup
(``--backup-first`` takes an on-demand table backup before destroying).
``--dry-run`` lists what would be deleted and deletes nothing.

Outside dev, Pulumi protects the stateful resources (catalog table, buckets, database,
backup vaults, KMS keys, secrets; see ollama_infra/lifecycle.py), so ``pulumi destroy``
would stop at the first one. Destroying them is a decision you make on purpose:
``--unprotect`` clears the protect bit (``pulumi state unprotect --all``) after you type the
stack name, even with ``--yes``. Table, buckets, database, vaults and keys are also retained
on delete: Pulumi forgets them and they stay in the account until you delete them yourself.
"""

from __future__ import annotations

import argparse

from ollama_infra import lifecycle
from ollama_infra.config import environment_of
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
    p.add_argument(
        "--unprotect",
        action="store_true",
        help="clear Pulumi's protect bit on every resource of the stack before destroying "
        "(pulumi state unprotect --all); always asks for the typed stack name",
    )
    p.set_defaults(func=run)


def retained_kinds() -> str:
    """What stays in the account after a destroy outside dev (retained on delete)."""
    return ", ".join(
        t.split(":")[-1] for t, s in sorted(lifecycle.STATEFUL.items()) if s.retain_on_delete
    )


def refuse_protected(stack: str) -> None:
    """Outside dev without --unprotect: say how to unprotect on purpose, change nothing."""
    raise OpsError(
        f"stack '{stack}' protects its stateful resources (protect=True outside dev); "
        "pulumi destroy would stop at the first one",
        f"back up first (`ollama-ops backup dynamodb --stack {stack}`), then re-run with "
        f"--unprotect, which runs `pulumi state unprotect --stack {stack} --all` after you "
        "type the stack name; to unprotect single resources instead, run "
        f"`pulumi state unprotect --stack {stack} <urn>` (URNs: `pulumi stack --stack {stack} "
        "--show-urns`)",
        EXIT_REFUSED,
    )


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
    target = aws.resolve_target(stack, args.region)  # --region was checked by the guard
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
    protects = lifecycle.protected(environment_of(stack))
    if protects and not args.unprotect:
        refuse_protected(stack)
    retained = (
        f" Retained on delete, so left in the account for you to delete: {retained_kinds()}."
        if protects
        else ""
    )
    confirm(
        f"This deletes EVERY resource of stack '{stack}' in {target.region} "
        f"(account {target.account_id}).{retained}",
        # clearing protection is never automated: the typed stack name is needed even with --yes
        yes=args.yes and not args.unprotect,
        typed=stack,
    )
    if args.backup_first:
        arn = backup.create_table_backup(target, label="pre-destroy")
        print(f"backup taken: {arn}")
    if args.unprotect:
        pulumi_cli.run(
            ["state", "unprotect", "--stack", stack, "--all", "--yes"],
            f"pulumi state unprotect --all ({stack})",
        )
    pulumi_cli.run(
        ["destroy", "--stack", stack, "--yes", "--non-interactive"],
        f"pulumi destroy ({stack})",
        stream=True,
    )
    print(f"stack '{stack}' destroyed; its config file Pulumi.{stack}.yaml is kept")
    return EXIT_OK
