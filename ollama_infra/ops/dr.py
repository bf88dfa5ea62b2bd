"""``ollama-ops dr deploy-region``: stand the stack up in another region (backup-and-restore DR).

1. Derive the DR stack config from the existing stack file: the new region, a
   certificate from that region (``--certificate-arn``), no replication/copy region
   (the DR stack is the copy), the copied AMI. It is validated like any stack file.
2. Check, changing nothing: the DR bucket (the storage bucket's replication destination)
   exists; there are backups to restore the table from (on-demand backups of the table,
   or an ``ollama-`` AWS Backup vault in the DR region); the DR stack's global S3 names
   do not collide with existing buckets (they do when DR is in the same account: use a
   separate DR account).
3. After confirmation: copy the baked AMI to the DR region, write Pulumi.<dr-stack>.yaml,
   select (create) the stack and run ``pulumi up``.

Data is then restored with ``ollama-ops restore`` against the DR stack; see
docs/runbooks/disaster-recovery.md for the whole procedure and the RTO/RPO per strategy.
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
    REGION_RE,
    StackFileMissing,
    load_stack_values,
    parse_config,
    stack_file,
)
from ollama_infra.ops import aws, backup, envs, pulumi_cli
from ollama_infra.ops.common import (
    EXIT_FAILURE,
    EXIT_NO_STACK_FILE,
    EXIT_OK,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_config_dir,
    add_dry_run,
    add_production,
    add_yes,
    confirm,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "dr", "disaster recovery: deploy the stack in another region", __doc__)
    dsub = p.add_subparsers(dest="dr_command", metavar="ACTION", required=True)
    d = dsub.add_parser("deploy-region", help="create and deploy a copy of a stack in a region")
    envs.add_stack_args(d)
    d.add_argument("--target-region", required=True, help="the DR region, e.g. us-west-2")
    d.add_argument("--dr-stack", help="name of the DR stack (default: <stack>-<target region>)")
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


def dr_values(
    values: dict[str, Any], region: str, env: str, certificate: str | None, ami: str | None
) -> dict[str, Any]:
    """The DR stack's config map, derived from the primary's."""
    out = copy.deepcopy(values)
    out["aws:region"] = region

    def section(name: str) -> dict[str, Any]:
        block = dict(out.get(f"ollama:{name}") or {})
        out[f"ollama:{name}"] = block
        return block

    section("environment")["name"] = env
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
    dr_stack = args.dr_stack or f"{args.stack}-{args.target_region}"
    if not naming.NAME_RE.match(f"ollama-{dr_stack}") or dr_stack in (
        "dev",
        "staging",
        "production",
    ):
        raise OpsError(
            f"--dr-stack {dr_stack!r} must be lowercase letters, digits and dashes, "
            "and not an existing environment name",
            "use e.g. production-us-west-2",
            EXIT_USAGE,
        )
    return dr_stack


def checks(target: aws.Target, dr_region: str) -> list[str]:
    """Problems that stop a DR deployment (empty: go). Read-only."""
    problems: list[str] = []
    names = target.names
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
        for bucket in (names.storage_bucket, names.log_bucket):
            if _bucket_exists(dr_s3, bucket):
                problems.append(
                    f"S3 bucket names are global and {bucket} already exists; deploy the DR "
                    "stack in a separate AWS account (AWS_PROFILE of the DR account)"
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


def run(args: argparse.Namespace) -> int:
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
            f"{path.name} already exists",
            f"deploy it with `pulumi up --stack {dr_stack}`, or remove it to regenerate",
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
    header = f"# DR copy of {args.stack} in {args.target_region}, written by ollama-ops dr.\n"
    path.write_text(header + yaml.safe_dump({"config": new_values}, sort_keys=False))
    print(f"wrote {path.name}")
    for argv, action in (
        (["stack", "select", "--create", dr_stack], f"pulumi stack select --create {dr_stack}"),
        (["up", "--stack", dr_stack, "--yes", "--non-interactive"], f"pulumi up ({dr_stack})"),
    ):
        pulumi_cli.run(argv, action, stream=True)
    print(
        f"DR stack {dr_stack} deployed in {args.target_region}; restore data next "
        "(docs/runbooks/disaster-recovery.md)"
    )
    return EXIT_OK
