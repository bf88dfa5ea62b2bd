"""``ollama-ops dr``: DR copies of a stack in another region, as stacks of their own.

A DR stack is an ordinary Pulumi stack named ``<env>-<region>`` (``production-us-west-2``)
with its own stack file; ``environment.primary`` names the stack it copies. Every command
takes it as ``--stack``; its physical names end in a region-coded suffix (``prod-usw2``), so
it can live in the primary's account (docs/environments.md).

deploy-region  create the DR stack of ``--stack`` in ``--target-region``:
  1. derive its stack file from the primary's (the new region, ``environment.primary``, a
     certificate from that region, the copied AMI, no replication or backup-copy region)
     and validate it like any stack file;
  2. check, changing nothing: the primary's storage bucket replicates to a DR bucket that
     exists; there are backups to restore the table from; the DR stack's bucket names are
     free; then plan the DR stack offline (the same evaluation and policy pack as
     ``ollama-ops plan``) and stop on a mandatory violation;
  3. after confirmation: copy the baked AMI to the DR region, write
     ``Pulumi.<env>-<region>.yaml``, select (create) the stack and run ``pulumi up``.
sync-uploads   copy Open WebUI's uploads into a stack's storage bucket: on fail-over from
  the primary's cross-region replica (``--from-replica``), on fail-back from the DR stack's
  bucket (``--from-stack``). Objects are added or updated, never deleted.

See docs/runbooks/disaster-recovery.md for the whole procedure, command by command.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

from ollama_infra import naming
from ollama_infra.config import (
    ACM_ARN_RE,
    ENVIRONMENTS,
    REGION_RE,
    StackFileMissing,
    environment_of,
    load_stack_values,
    parse_config,
    parse_stack_name,
    stack_file,
    stack_names,
)
from ollama_infra.ops import aws, backup, envs, pulumi_cli
from ollama_infra.ops.common import (
    EXIT_FAILURE,
    EXIT_NO_STACK_FILE,
    EXIT_OK,
    EXIT_POLICY,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_config_dir,
    add_dry_run,
    add_production,
    add_yes,
    confirm,
    stack_name,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "dr", "disaster recovery: DR stacks in another region", __doc__)
    dsub = p.add_subparsers(dest="dr_command", metavar="ACTION", required=True)
    d = dsub.add_parser(
        "deploy-region",
        help="create, plan offline and deploy the DR stack <env>-<region> of a primary stack",
    )
    envs.add_stack_args(d)
    d.add_argument("--target-region", required=True, help="the DR region, e.g. us-west-2")
    d.add_argument(
        "--certificate-arn",
        help="ACM certificate in the DR region for the ALB (needed when the stack has one)",
    )
    d.add_argument("--ami-id", help="baked AMI to copy (default: compute.ami_id of the stack)")
    add_config_dir(d)
    add_yes(d)
    add_dry_run(d)
    add_production(d)
    d.set_defaults(func=run)

    u = dsub.add_parser(
        "sync-uploads",
        help="copy Open WebUI uploads into a stack's storage bucket (fail-over, fail-back)",
    )
    envs.add_change_args(u)
    source = u.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--from-replica",
        action="store_true",
        help="from the primary's cross-region replica bucket (--stack is a DR stack)",
    )
    source.add_argument(
        "--from-stack",
        metavar="STACK",
        type=stack_name,
        help="from this stack's storage bucket (same environment: the primary or a DR copy)",
    )
    u.set_defaults(func=run_sync_uploads)


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
        return True
    except ClientError as exc:
        code = aws.error_code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            return False
        if code in ("403", "AccessDenied"):
            return True  # exists, owned by someone else
        raise


def dr_stack_name(stack: str, region: str) -> str:
    """The DR stack of a primary: ``<env>-<region>``."""
    return f"{environment_of(stack)}-{region}"


def dr_values(
    values: dict[str, Any], region: str, env: str, certificate: str | None, ami: str | None
) -> dict[str, Any]:
    """The DR stack's config map, derived from the primary's (which it names)."""
    out = copy.deepcopy(values)
    out["aws:region"] = region

    def section(name: str) -> dict[str, Any]:
        block = dict(out.get(f"ollama:{name}") or {})
        out[f"ollama:{name}"] = block
        return block

    environment = section("environment")
    environment["name"] = env
    environment["primary"] = env
    edge = section("edge")
    edge.pop("certificate_arn", None)
    if certificate:
        edge["certificate_arn"] = certificate
    section("data").pop("replication_region", None)
    section("backup").pop("copy_region", None)
    if ami:
        section("compute")["ami_id"] = ami
    return {k: v for k, v in out.items() if v != {}}


def validate_args(args: argparse.Namespace, source_region: str, values: dict[str, Any]) -> str:
    """Check the arguments (no AWS); the DR stack's name."""
    if not REGION_RE.match(args.target_region):
        raise OpsError(
            f"--target-region {args.target_region!r} is not an AWS region",
            "use e.g. us-west-2",
            EXIT_USAGE,
        )
    if args.target_region == source_region:
        raise OpsError(
            f"--target-region {args.target_region} is the stack's own region",
            "pick another region for DR",
            EXIT_USAGE,
        )
    has_cert = bool((values.get("ollama:edge") or {}).get("certificate_arn"))
    if args.certificate_arn:
        match = ACM_ARN_RE.match(args.certificate_arn)
        if not match or match.group(1) != args.target_region:
            raise OpsError(
                f"--certificate-arn {args.certificate_arn!r} is not an ACM certificate ARN in "
                f"{args.target_region}",
                "ALB certificates must be in the ALB's region; request one there",
                EXIT_USAGE,
            )
    elif has_cert:
        raise OpsError(
            f"stack {args.stack} uses an ALB certificate, which is regional",
            f"pass --certificate-arn with an ACM certificate in {args.target_region}",
            EXIT_USAGE,
        )
    return dr_stack_name(args.stack, args.target_region)


def checks(target: aws.Target, dr_region: str) -> list[str]:
    """Problems that stop a DR deployment of ``target`` (empty: go). Read-only."""
    problems: list[str] = []
    names = target.names
    dr_stack = dr_stack_name(target.stack, dr_region)
    dr_names = stack_names(dr_stack, target.account_id)
    src_s3 = target.client("s3")
    dr_s3 = aws.client("s3", dr_region)
    with aws.aws_errors("checking the DR bucket"):
        dests = [
            backup.rule_bucket(r) for r in backup.replication_rules(src_s3, names.storage_bucket)
        ]
        if not dests:
            problems.append(
                f"s3://{names.storage_bucket} has no replication rule, so there is no DR bucket; "
                "set data.replication_region and deploy the primary stack"
            )
        for dest in dests:
            if not _bucket_exists(dr_s3, dest):
                problems.append(f"the DR bucket s3://{dest} does not exist")
        for bucket in (dr_names.storage_bucket, dr_names.log_bucket):
            if _bucket_exists(dr_s3, bucket):
                problems.append(
                    f"the bucket {bucket} of stack {dr_stack} already exists (S3 names are "
                    f"global; an earlier {dr_stack} was destroyed and its buckets retained?): "
                    "empty and delete it, or import it into the stack"
                )
    with aws.aws_errors("looking for backups"):
        try:
            table_backups = target.client("dynamodb").list_backups(TableName=names.table)[
                "BackupSummaries"
            ]
        except ClientError as exc:
            if aws.error_code(exc) != "ResourceNotFoundException":
                raise
            table_backups = []
        vaults = [
            v["BackupVaultName"]
            for v in aws.client("backup", dr_region).list_backup_vaults()["BackupVaultList"]
            if v["BackupVaultName"].startswith("ollama-")
        ]
    if not table_backups and not vaults:
        problems.append(
            f"no backups of {names.table} and no ollama- backup vault in {dr_region}: "
            f"take one with `ollama-ops backup dynamodb --stack {target.stack}`"
        )
    return problems


def offline_plan(stack: str, values: dict[str, Any]) -> str:
    """Plan ``stack`` offline (program under mocks + policy pack); a one-line summary.

    Raises OpsError (exit 3) on a mandatory policy violation, listing them.
    """
    from ollama_infra.offline.evaluate import evaluate  # slow imports: only when planning
    from ollama_infra.policy.evaluate import evaluate_policies

    ev = evaluate(stack, values)
    report = evaluate_policies(ev, values)
    if not report.passed:
        lines = "\n".join(f"  - {v.message}" for v in report.mandatory_violations)
        raise OpsError(
            f"the offline plan of {stack} violates {len(report.mandatory_violations)} "
            f"mandatory policy(ies):\n{lines}",
            "fix the primary's stack file or the arguments; nothing was changed",
            EXIT_POLICY,
        )
    return (
        f"offline plan of {stack}: {len(ev.resources)} resources in {ev.region}, policy pack "
        f"passed ({len(report.advisory_violations)} advisory finding(s)); "
        f"`ollama-ops plan --stack {stack}` shows them"
    )


def copy_ami(target: aws.Target, ami: str, dr_region: str, wait: float = 1800.0) -> str:
    dr_ec2 = aws.client("ec2", dr_region)
    with aws.aws_errors(f"copying AMI {ami} to {dr_region}"):
        image = target.client("ec2").describe_images(ImageIds=[ami])["Images"][0]
        new = dr_ec2.copy_image(
            SourceImageId=ami,
            SourceRegion=target.region,
            Name=image["Name"],
            Description=f"DR copy of {ami} from {target.region}",
            Encrypted=True,
        )["ImageId"]
        last = aws.wait_for(dr_ec2.get_waiter("image_available"), wait, 15, ImageIds=[new])
    if last is not None:
        state = next((i["State"] for i in last.get("Images", [])), None)
        raise OpsError(f"AMI copy {new} is {state}", "check it in the EC2 console of the DR region")
    return str(new)


def _stack_file_text(stack: str, dr_stack: str, region: str, values: dict[str, Any]) -> str:
    header = (
        f"# {dr_stack}: the DR copy of stack {stack} in {region}, written by "
        "`ollama-ops dr deploy-region` (docs/environments.md, DR stacks).\n"
    )
    return header + yaml.safe_dump({"config": values}, sort_keys=False)


def run(args: argparse.Namespace) -> int:
    if args.stack not in ENVIRONMENTS:
        raise OpsError(
            f"--stack {args.stack} is a DR stack; DR stacks are made from a primary stack",
            f"pass --stack {parse_stack_name(args.stack).env}",
            EXIT_USAGE,
        )
    try:
        values = load_stack_values(args.stack, args.config_dir)
    except StackFileMissing as exc:
        message = exc.message
        raise OpsError(message, "pick an existing stack", EXIT_NO_STACK_FILE) from exc
    source_region = aws.stack_region(args.stack, root=args.config_dir)
    dr_stack = validate_args(args, source_region, values)
    envs.guard(args, "deploy a production DR stack")
    cfg = parse_config(args.stack, values)
    ami = args.ami_id or cfg.compute.ami_id
    new_values = dr_values(values, args.target_region, cfg.env, args.certificate_arn, ami)
    parse_config(dr_stack, new_values)  # the DR stack file must be valid before anything runs
    path: Path = stack_file(dr_stack, args.config_dir)
    if path.exists():
        raise OpsError(
            f"{path.name} already exists: the DR stack {dr_stack} was created before",
            f"plan it with `ollama-ops plan --stack {dr_stack}` and deploy it with "
            f"`ollama-ops deploy --stack {dr_stack}`, or remove the file to derive it again",
            EXIT_USAGE,
        )
    target = aws.Target(args.stack, source_region, aws.account_id(source_region))
    problems = checks(target, args.target_region)
    for problem in problems:
        print(f"problem: {problem}")
    if problems:
        raise OpsError(
            f"the DR deployment of {args.stack} to {args.target_region} is not ready "
            f"({len(problems)} problem(s) above)",
            "fix them and re-run; nothing was changed",
            EXIT_FAILURE,
        )
    # Planned with the primary's AMI id: the copy made below differs only in that id.
    print(offline_plan(dr_stack, new_values))
    if args.dry_run:
        print(f"dry run: would copy AMI {ami or '(none: Ubuntu from SSM)'} to {args.target_region}")
        print(f"dry run: would write {path.name} and run `pulumi up --stack {dr_stack}`")
        print(yaml.safe_dump({"config": new_values}, sort_keys=False))
        return EXIT_OK
    confirm(
        f"Deploy a copy of '{args.stack}' as stack '{dr_stack}' in {args.target_region}?",
        yes=args.yes,
    )
    if ami:
        new_values = dr_values(
            values,
            args.target_region,
            cfg.env,
            args.certificate_arn,
            copy_ami(target, ami, args.target_region),
        )
    path.write_text(_stack_file_text(args.stack, dr_stack, args.target_region, new_values))
    print(f"wrote {path.name}")
    for argv, action in (
        (["stack", "select", "--create", dr_stack], f"pulumi stack select --create {dr_stack}"),
        (["up", "--stack", dr_stack, "--yes", "--non-interactive"], f"pulumi up ({dr_stack})"),
    ):
        pulumi_cli.run(argv, action, stream=True)
    print(
        f"DR stack {dr_stack} deployed in {args.target_region}; copy the uploads next "
        f"(`ollama-ops dr sync-uploads --stack {dr_stack} --from-replica`; "
        "docs/runbooks/disaster-recovery.md)"
    )
    return EXIT_OK


# --- sync-uploads ---------------------------------------------------------------------------


def _uploads(s3: Any, bucket: str) -> dict[str, str]:
    """Open WebUI's objects in ``bucket`` (key -> ETag)."""
    return {
        o["Key"]: o["ETag"]
        for o in aws.paginate(
            s3, "list_objects_v2", "Contents", Bucket=bucket, Prefix=naming.STORAGE_PREFIX
        )
    }


def upload_source(args: argparse.Namespace, target: aws.Target) -> tuple[str, str]:
    """(bucket, region) to copy the uploads of ``target`` from; refuses a source that is not."""
    parsed = parse_stack_name(target.stack)
    if args.from_replica:
        if not parsed.is_dr:
            raise OpsError(
                f"--from-replica copies a primary's replica into its DR stack; {target.stack} "
                "is a primary stack",
                f"use --from-stack {parsed.env}-<region> to copy a DR stack's uploads back",
                EXIT_USAGE,
            )
        primary = load_stack_values(parsed.env)
        replica_region = (primary.get("ollama:data") or {}).get("replication_region")
        if replica_region != target.region:
            raise OpsError(
                f"the primary {parsed.env} replicates its uploads to {replica_region or 'nowhere'}"
                f", not to {target.region} where {target.stack} lives",
                f"copy them with --from-stack {parsed.env} while the primary is reachable, or "
                f"set data.replication_region: {target.region} in Pulumi.{parsed.env}.yaml",
                EXIT_USAGE,
            )
        return stack_names(parsed.env, target.account_id).storage_dr_bucket, target.region
    source = args.from_stack
    if source == target.stack or environment_of(source) != parsed.env:
        raise OpsError(
            f"--from-stack {source} is not another stack of the {parsed.env} environment",
            f"copy between {parsed.env} and its DR stacks ({parsed.env}-<region>) only",
            EXIT_USAGE,
        )
    region = aws.stack_region(source)
    return stack_names(source, target.account_id).storage_bucket, region


def run_sync_uploads(args: argparse.Namespace) -> int:
    envs.guard(args, "copy uploads into")
    target = aws.resolve_target(args.stack, args.region)
    source_bucket, source_region = upload_source(args, target)
    dest = target.names.storage_bucket
    src_s3 = aws.client("s3", source_region)
    dst_s3 = target.client("s3")
    with aws.aws_errors(f"listing s3://{source_bucket} and s3://{dest}"):
        have = _uploads(dst_s3, dest)
        wanted = {k: e for k, e in _uploads(src_s3, source_bucket).items() if have.get(k) != e}
    where = f"s3://{source_bucket} ({source_region}) into s3://{dest} ({target.region})"
    if not wanted:
        print(f"nothing to copy from {where}: every upload is there")
        return EXIT_OK
    if args.dry_run:
        for key in sorted(wanted):
            print(f"dry run: would copy {key}")
        print(f"dry run: {len(wanted)} object(s) from {where}; nothing was changed")
        return EXIT_OK
    confirm(
        f"Copy {len(wanted)} upload(s) from {where}? Existing objects that differ get a new "
        "version; nothing is deleted.",
        yes=args.yes,
    )
    with aws.aws_errors(f"copying uploads from {where}"):
        for key in sorted(wanted):
            dst_s3.copy({"Bucket": source_bucket, "Key": key}, dest, key, SourceClient=src_s3)
    print(f"copied {len(wanted)} upload(s) from {where}")
    return EXIT_OK
