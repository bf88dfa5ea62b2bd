"""``ollama-ops backup``: on-demand backups of the table, the storage bucket and the Pulumi state.

  dynamodb  on-demand backup of the model catalog table (``CreateBackup``), optionally
            also a full export to S3 (``ExportTableToPointInTime``, needs PITR on)
  s3        replication status of the storage bucket to its DR bucket; ``--sync`` copies
            objects the DR bucket is missing (replication never copies existing objects)
  state     export every stack's Pulumi checkpoint (``pulumi stack export``) to the state
            bucket under ``state-backups/<stack>/<UTC timestamp>.json``

Scheduled backups are AWS Backup's job (the stack's backup plan); these are for before a
risky change and for restore drills.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ollama_infra.config import known_stacks
from ollama_infra.ops import aws, envs, pulumi_cli
from ollama_infra.ops.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_dry_run,
    add_region,
    stack_name,
)

LABEL_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
STATE_PREFIX = "state-backups"


def timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "backup", "on-demand backups: the table, the storage bucket, the Pulumi state", __doc__
    )
    bsub = p.add_subparsers(dest="backup_command", metavar="WHAT", required=True)

    ddb = bsub.add_parser("dynamodb", help="on-demand backup (and optional S3 export) of the table")
    envs.add_stack_args(ddb)
    add_region(ddb)
    add_dry_run(ddb)
    ddb.add_argument(
        "--label",
        default="manual",
        help="word in the backup name ollama-data-backup-<label>-<time>-<env> (default manual)",
    )
    ddb.add_argument(
        "--export-bucket",
        metavar="BUCKET",
        help="also export the table to this S3 bucket (needs point-in-time recovery on)",
    )
    ddb.add_argument(
        "--wait-seconds",
        type=float,
        default=300.0,
        help="how long to wait for the backup to become AVAILABLE (default 300)",
    )
    ddb.set_defaults(func=run_dynamodb)

    s3 = bsub.add_parser("s3", help="replication status of the storage bucket; --sync to copy")
    envs.add_stack_args(s3)
    add_region(s3)
    add_dry_run(s3)
    s3.add_argument(
        "--dest-bucket",
        metavar="BUCKET",
        help="DR bucket (default: the replication destination of the storage bucket)",
    )
    s3.add_argument("--dest-region", metavar="REGION", help="region of the DR bucket")
    s3.add_argument(
        "--sync", action="store_true", help="copy objects missing or different in the DR bucket"
    )
    s3.add_argument("--json", action="store_true", help="print JSON instead of text")
    s3.set_defaults(func=run_s3)

    state = bsub.add_parser("state", help="export every stack's Pulumi checkpoint to S3")
    state.add_argument(
        "--stack",
        action="append",
        dest="stacks",
        metavar="STACK",
        type=stack_name,
        help="stack to export (repeatable; default: every Pulumi.<stack>.yaml)",
    )
    state.add_argument(
        "--region", help="region of the state bucket (default: the first stack's aws:region)"
    )
    add_dry_run(state)
    state.add_argument(
        "--bucket",
        metavar="BUCKET",
        help="state bucket (default: the bucket of an s3:// PULUMI_BACKEND_URL)",
    )
    state.set_defaults(func=run_state)


# --- dynamodb ------------------------------------------------------------------------------


def check_label(label: str) -> None:
    if not LABEL_RE.match(label) or len(label) > 40:
        raise OpsError(
            f"--label {label!r}: lowercase letters, digits and single dashes only (1-40 chars)",
            "use e.g. --label pre-upgrade",
            EXIT_USAGE,
        )


def create_table_backup(target: aws.Target, label: str = "manual", wait: float = 300.0) -> str:
    """Take an on-demand backup of the stack's table and wait until it is AVAILABLE."""
    check_label(label)
    table = target.names.table
    ddb = target.client("dynamodb")
    # ollama-<role>-<env>, like every other name the stack owns
    name = f"ollama-data-backup-{label}-{timestamp().lower()}-{target.names.env}"
    with aws.aws_errors(f"backing up table {table}"):
        details = ddb.create_backup(TableName=table, BackupName=name)["BackupDetails"]
        arn = str(details["BackupArn"])
        deadline = time.monotonic() + wait
        status = details["BackupStatus"]
        while status == "CREATING" and time.monotonic() < deadline:
            time.sleep(5)
            desc = ddb.describe_backup(BackupArn=arn)["BackupDescription"]
            status = desc["BackupDetails"]["BackupStatus"]
    if status != "AVAILABLE":
        raise OpsError(
            f"backup {arn} is {status} after {wait:.0f}s",
            "check it with `aws dynamodb describe-backup`; it may still complete",
        )
    return arn


def export_table(target: aws.Target, bucket: str) -> str:
    table = target.names.table
    ddb = target.client("dynamodb")
    with aws.aws_errors(f"exporting table {table} to s3://{bucket}"):
        desc = ddb.describe_table(TableName=table)["Table"]
        pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        status = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
        if status != "ENABLED":
            raise OpsError(
                f"table {table} has point-in-time recovery {status or 'DISABLED'}; "
                "an S3 export needs it",
                "PITR is on in the stack's data component; deploy the stack, or drop "
                "--export-bucket to take only the on-demand backup",
                EXIT_FAILURE,
            )
        export = ddb.export_table_to_point_in_time(
            TableArn=desc["TableArn"],
            S3Bucket=bucket,
            S3Prefix=f"dynamodb-exports/{table}/{timestamp()}",
            S3SseAlgorithm="AES256",
            ExportFormat="DYNAMODB_JSON",
        )["ExportDescription"]
    return str(export["ExportArn"])


def run_dynamodb(args: argparse.Namespace) -> int:
    if args.wait_seconds < 0:
        raise OpsError("--wait-seconds must be >= 0", "pass a number of seconds", EXIT_USAGE)
    check_label(args.label)
    if args.export_bucket:
        aws.check_bucket_name(args.export_bucket, "--export-bucket")
    envs.guard(args)
    target = aws.resolve_target(args.stack, args.region)
    table = target.names.table
    if args.dry_run:
        extra = f" and export it to s3://{args.export_bucket}" if args.export_bucket else ""
        print(f"dry run: would back up table {table} in {target.region}{extra}")
        return EXIT_OK
    arn = create_table_backup(target, args.label, args.wait_seconds)
    print(f"backup AVAILABLE: {arn}")
    if args.export_bucket:
        export_arn = export_table(target, args.export_bucket)
        print(f"export started: {export_arn} (check with `aws dynamodb describe-export`)")
    return EXIT_OK


# --- s3 ------------------------------------------------------------------------------------


def replication_rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The bucket's replication rules: none without a configuration or without the bucket."""
    try:
        return list(s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"])
    except ClientError as exc:
        if aws.error_code(exc) not in ("ReplicationConfigurationNotFoundError", "NoSuchBucket"):
            raise
        return []


def rule_bucket(rule: dict[str, Any]) -> str:
    """The destination bucket name of a replication rule (the rule holds its ARN)."""
    return str(rule["Destination"]["Bucket"]).split(":::")[-1]


def _objects(s3: Any, bucket: str) -> dict[str, tuple[int, str]]:
    return {
        o["Key"]: (o["Size"], o["ETag"])
        for o in aws.paginate(s3, "list_objects_v2", "Contents", Bucket=bucket)
    }


def s3_status(
    target: aws.Target, dest_bucket: str | None, dest_region: str | None
) -> dict[str, Any]:
    source = target.names.storage_bucket
    s3 = target.client("s3")
    with aws.aws_errors(f"reading replication of s3://{source}"):
        rules = replication_rules(s3, source)
        versioning = s3.get_bucket_versioning(Bucket=source).get("Status", "Disabled")
        src_objects = _objects(s3, source)
    enabled = [rule_bucket(r) for r in rules if r.get("Status") == "Enabled"]
    dest = dest_bucket or next(iter(enabled), None)
    doc: dict[str, Any] = {
        "source": source,
        "source_versioning": versioning,
        "replication_rules": [
            {
                "id": r.get("ID"),
                "status": r.get("Status"),
                "destination": r["Destination"]["Bucket"],
            }
            for r in rules
        ],
        "destination": dest,
        "source_objects": len(src_objects),
    }
    if dest is None:
        doc["problems"] = ["no replication rule and no --dest-bucket: there is no DR copy"]
        return doc
    d3 = aws.client("s3", dest_region or target.region)
    with aws.aws_errors(f"reading the DR bucket s3://{dest}"):
        dest_versioning = d3.get_bucket_versioning(Bucket=dest).get("Status", "Disabled")
        dest_objects = _objects(d3, dest)
    missing = sorted(k for k, v in src_objects.items() if dest_objects.get(k) != v)
    problems = []
    if versioning != "Enabled" or dest_versioning != "Enabled":
        problems.append("replication needs versioning Enabled on both buckets")
    if missing:
        problems.append(f"{len(missing)} object(s) missing or different in the DR bucket")
    doc.update(
        destination_versioning=dest_versioning,
        destination_objects=len(dest_objects),
        missing=missing,
        problems=problems,
    )
    return doc


def sync_missing(target: aws.Target, doc: dict[str, Any], dest_region: str | None) -> int:
    d3 = aws.client("s3", dest_region or target.region)
    copied = 0
    for key in doc["missing"]:
        with aws.aws_errors(f"copying {key} to s3://{doc['destination']}"):
            d3.copy_object(
                Bucket=doc["destination"],
                Key=key,
                CopySource={"Bucket": doc["source"], "Key": key},
                ServerSideEncryption="AES256",
            )
        copied += 1
    return copied


def run_s3(args: argparse.Namespace) -> int:
    if args.dest_region:
        aws.check_region(args.dest_region)
    if args.dest_bucket:
        aws.check_bucket_name(args.dest_bucket, "--dest-bucket")
    envs.guard(args)
    target = aws.resolve_target(args.stack, args.region)
    doc = s3_status(target, args.dest_bucket, args.dest_region)
    if args.sync and doc.get("destination") and doc["missing"]:
        if args.dry_run:
            doc["would_copy"] = doc["missing"]
        else:
            doc["copied"] = sync_missing(target, doc, args.dest_region)
            doc["problems"] = [p for p in doc["problems"] if "missing" not in p]
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(f"source:      s3://{doc['source']} (versioning {doc['source_versioning']})")
        for rule in doc["replication_rules"]:
            print(f"  rule {rule['id']}: {rule['status']} -> {rule['destination']}")
        print(f"destination: {doc['destination'] or 'none'}")
        print(f"objects:     {doc['source_objects']} in source, {doc.get('destination_objects')}")
        for key in doc.get("would_copy", []):
            print(f"  would copy {key}")
        if "copied" in doc:
            print(f"copied {doc['copied']} object(s)")
        for problem in doc["problems"]:
            print(f"problem: {problem}")
    return EXIT_OK if not doc["problems"] else EXIT_FAILURE


# --- state ---------------------------------------------------------------------------------


def state_bucket(explicit: str | None) -> str:
    if explicit:
        return aws.check_bucket_name(explicit, "--bucket")
    url = os.environ.get("PULUMI_BACKEND_URL", "")
    match = re.match(r"^s3://([^/?]+)", url)
    if match:
        return match.group(1)
    raise OpsError(
        "no state bucket: --bucket not given and PULUMI_BACKEND_URL is not an s3:// URL",
        "pass --bucket <state bucket> (the one `ollama-ops state bootstrap` created)",
        EXIT_USAGE,
    )


def export_state(stack: str) -> str:
    result = pulumi_cli.run(["stack", "export", "--stack", stack], f"pulumi stack export ({stack})")
    try:
        json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        raise OpsError(
            f"`pulumi stack export --stack {stack}` did not print JSON ({exc})",
            "run it by hand to see what it prints",
        ) from exc
    return result.stdout


def run_state(args: argparse.Namespace) -> int:
    bucket = state_bucket(args.bucket)
    stacks = args.stacks or known_stacks()
    # --region here is the state bucket's region, not a stack's
    region = aws.check_region(args.region) if args.region else aws.stack_region(stacks[0])
    stamp = timestamp()
    keys = {stack: f"{STATE_PREFIX}/{stack}/{stamp}.json" for stack in stacks}
    if args.dry_run:
        for stack, key in keys.items():
            print(f"dry run: would export {stack} to s3://{bucket}/{key}")
        return EXIT_OK
    exports = {stack: export_state(stack) for stack in stacks}  # all exports before any upload
    s3 = aws.client("s3", region)
    for stack, body in exports.items():
        with aws.aws_errors(f"uploading the {stack} checkpoint to s3://{bucket}"):
            s3.put_object(
                Bucket=bucket,
                Key=keys[stack],
                Body=body.encode(),
                ServerSideEncryption="AES256",
                ContentType="application/json",
            )
        print(f"{stack}: s3://{bucket}/{keys[stack]}")
    return EXIT_OK
