"""``ollama-ops restore``: bring data back, always into new resources first.

  dynamodb  restore the model catalog from an on-demand backup (``--backup-arn``) or a
            point in time (``--point-in-time`` / ``--latest``) into a NEW table; with
            ``--switch`` the stack then uses it
  switch    point the stack at a table (the restored one, or back to the original)
  s3        restore objects of the storage bucket to a previous version (copied over as a
            new current version, so the version it replaces is kept)
  state     import a Pulumi checkpoint export (the current state is exported first)

The active table: the SSM parameter /ollama/<env>/data/active-table names the table the
instances and the ops CLI use; when it is absent they use ollama-data-table-<env>. The
Pulumi-managed table itself is never overwritten or deleted by a restore.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ollama_infra.config import name_suffix
from ollama_infra.ops import aws, backup, envs, pulumi_cli
from ollama_infra.ops.common import (
    EXIT_CONFLICT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    OpsError,
    add_command,
    confirm,
    require_production_flag,
)

TABLE_NAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")


def check_table_name(table: str, flag: str) -> None:
    if not TABLE_NAME_RE.match(table):
        raise OpsError(
            f"{flag} {table!r} is not a valid DynamoDB table name",
            "use 3-255 letters, digits, '_', '.', '-'",
            EXIT_USAGE,
        )


def check_switchable(stack: str, table: str, flag: str) -> None:
    """Only the stack's own table or one of its restored copies can become active: the
    instance role can read no other (ollama-data-table-restored-*-<env>)."""
    suffix = name_suffix(stack)
    if not re.match(rf"^ollama-data-table(-restored-[a-z0-9-]+)?-{suffix}$", table):
        raise OpsError(
            f"{flag} {table!r} cannot become the active catalog of {stack}",
            f"use ollama-data-table-{suffix} or a restored copy named "
            f"ollama-data-table-restored-<label>-{suffix} (the instances may read only those)",
            EXIT_USAGE,
        )


def parse_time(value: str, flag: str) -> datetime:
    """ISO 8601 with a zone (``2026-01-31T12:00:00Z``), in the past."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise OpsError(
            f"{flag} {value!r} is not an ISO 8601 time",
            "use e.g. 2026-01-31T12:00:00Z",
            EXIT_USAGE,
        ) from exc
    if parsed.tzinfo is None:
        raise OpsError(
            f"{flag} {value!r} has no time zone", "append Z for UTC, e.g. ...T12:00:00Z", EXIT_USAGE
        )
    if parsed > datetime.now(UTC):
        raise OpsError(f"{flag} {value!r} is in the future", "pick a past time", EXIT_USAGE)
    return parsed


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "restore",
        "restore the table, storage objects or Pulumi state (into new resources first)",
        __doc__,
    )
    rsub = p.add_subparsers(dest="restore_command", metavar="WHAT", required=True)

    ddb = rsub.add_parser("dynamodb", help="restore the table into a new table")
    envs.add_change_args(ddb)
    source = ddb.add_mutually_exclusive_group(required=True)
    source.add_argument("--backup-arn", metavar="ARN", help="on-demand backup to restore")
    source.add_argument(
        "--point-in-time", metavar="ISO8601", help="restore the table as it was at this time"
    )
    source.add_argument(
        "--latest", action="store_true", help="restore to the latest restorable time"
    )
    ddb.add_argument(
        "--target-table",
        metavar="NAME",
        help="new table name (default: ollama-data-table-restored-<time>-<env>); must not exist",
    )
    ddb.add_argument(
        "--switch", action="store_true", help="make the restored table the active table"
    )
    ddb.add_argument(
        "--wait-seconds", type=float, default=1800.0, help="wait for ACTIVE (default 1800)"
    )
    ddb.set_defaults(func=run_dynamodb)

    sw = rsub.add_parser("switch", help="set the active table of the stack")
    envs.add_change_args(sw)
    sw.add_argument("--table", required=True, metavar="NAME", help="table to make active")
    sw.set_defaults(func=run_switch)

    s3 = rsub.add_parser("s3", help="restore storage objects to a previous version")
    envs.add_change_args(s3)
    what = s3.add_mutually_exclusive_group(required=True)
    what.add_argument("--key", help="one object key")
    what.add_argument("--prefix", help="every object under this key prefix")
    when = s3.add_mutually_exclusive_group(required=True)
    when.add_argument("--version-id", help="the version to restore (with --key)")
    when.add_argument(
        "--before", metavar="ISO8601", help="restore each object to its state at this time"
    )
    s3.set_defaults(func=run_s3)

    st = rsub.add_parser("state", help="import a Pulumi checkpoint export into a stack")
    envs.add_change_args(st)
    src = st.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", type=Path, help="local checkpoint file (pulumi stack export)")
    src.add_argument("--s3-uri", metavar="S3URI", help="s3://bucket/key of a checkpoint export")
    st.set_defaults(func=run_state)


# --- dynamodb ------------------------------------------------------------------------------


def _table_status(ddb: Any, name: str) -> str | None:
    try:
        return str(ddb.describe_table(TableName=name)["Table"]["TableStatus"])
    except ddb.exceptions.ResourceNotFoundException:
        return None


def _wait_active(ddb: Any, name: str, wait: float) -> None:
    last = aws.wait_for(ddb.get_waiter("table_exists"), wait, 10, TableName=name)
    if last is not None:
        status = last.get("Table", {}).get("TableStatus")  # None: the table is not there yet
        raise OpsError(
            f"table {name} is {status} after {wait:.0f}s",
            f"wait, then run `ollama-ops restore switch --table {name}` if you meant to switch",
        )


def count_items(ddb: Any, name: str) -> int:
    return sum(
        page["Count"] for page in ddb.get_paginator("scan").paginate(TableName=name, Select="COUNT")
    )


def switch_table(target: aws.Target, table: str, yes: bool, production: bool) -> None:
    require_production_flag(target.stack, production, "switch the active table")
    parameter = target.names.active_table_parameter
    confirm(f"Make {table} the active table of stack '{target.stack}' ({parameter})?", yes=yes)
    with aws.aws_errors(f"writing {parameter}"):
        target.client("ssm").put_parameter(
            Name=parameter,
            Value=table,
            Type="String",
            Overwrite=True,
            Description="Active model catalog table (set by ollama-ops restore)",
        )
    print(f"active table of {target.stack} is now {table} ({parameter})")
    print("instances read it at boot: start an instance refresh to apply it everywhere")


def run_dynamodb(args: argparse.Namespace) -> int:
    when = parse_time(args.point_in_time, "--point-in-time") if args.point_in_time else None
    if args.wait_seconds < 0:
        raise OpsError("--wait-seconds must be >= 0", "pass a number of seconds", EXIT_USAGE)
    if args.target_table:
        check_table_name(args.target_table, "--target-table")
        if args.switch:
            check_switchable(args.stack, args.target_table, "--target-table")
    envs.guard(args, "switch the active table" if args.switch else None)
    target = aws.resolve_target(args.stack, args.region)
    source = target.names.table
    new = (
        args.target_table
        or f"ollama-data-table-restored-{backup.timestamp().lower()}-{name_suffix(args.stack)}"
    )
    ddb = target.client("dynamodb")
    with aws.aws_errors(f"checking table {new}"):
        if new == source or _table_status(ddb, new) is not None:
            raise OpsError(
                f"table {new} already exists; restores always go to a new table",
                "pick another --target-table",
                EXIT_CONFLICT,
            )
    origin = args.backup_arn or (when.isoformat() if when else "latest restorable time")
    if args.dry_run:
        print(f"dry run: would restore {source} ({origin}) into new table {new}")
        if args.switch:
            print(f"dry run: would set {target.names.active_table_parameter} = {new}")
        return EXIT_OK
    with aws.aws_errors(f"restoring {source} into {new}"):
        if args.backup_arn:
            ddb.restore_table_from_backup(TargetTableName=new, BackupArn=args.backup_arn)
        elif when is not None:
            ddb.restore_table_to_point_in_time(
                SourceTableName=source, TargetTableName=new, RestoreDateTime=when
            )
        else:
            ddb.restore_table_to_point_in_time(
                SourceTableName=source, TargetTableName=new, UseLatestRestorableTime=True
            )
        _wait_active(ddb, new, args.wait_seconds)
        # Restored tables do not inherit PITR; turn it back on so the copy is protected too.
        ddb.update_continuous_backups(
            TableName=new, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        items = count_items(ddb, new)
    print(f"restored {source} ({origin}) into {new}: {items} item(s), PITR on")
    if args.switch:
        switch_table(target, new, args.yes, args.production)
    else:
        print(f"to use it: ollama-ops restore switch --stack {args.stack} --table {new}")
    return EXIT_OK


def run_switch(args: argparse.Namespace) -> int:
    check_table_name(args.table, "--table")
    check_switchable(args.stack, args.table, "--table")
    envs.guard(args, "switch the active table")
    target = aws.resolve_target(args.stack, args.region)
    with aws.aws_errors(f"checking table {args.table}"):
        status = _table_status(target.client("dynamodb"), args.table)
    if status != "ACTIVE":
        raise OpsError(
            f"table {args.table} is {status or 'missing'}; only an ACTIVE table can be made active",
            "check the name (and --region)",
            EXIT_NOT_FOUND,
        )
    if args.dry_run:
        print(f"dry run: would set {target.names.active_table_parameter} = {args.table}")
        return EXIT_OK
    switch_table(target, args.table, args.yes, args.production)
    return EXIT_OK


# --- s3 ------------------------------------------------------------------------------------


def plan_object_restores(
    s3: Any,
    bucket: str,
    key: str | None,
    prefix: str | None,
    version_id: str | None,
    before: datetime | None,
) -> list[tuple[str, str]]:
    """(key, version id to copy back) for every object that needs it."""
    listing = aws.paginate(
        s3, "list_object_versions", "Versions", Bucket=bucket, Prefix=key or prefix or ""
    )
    markers = aws.paginate(
        s3, "list_object_versions", "DeleteMarkers", Bucket=bucket, Prefix=key or prefix or ""
    )
    by_key: dict[str, list[dict[str, Any]]] = {}
    for item in listing:
        by_key.setdefault(item["Key"], []).append({**item, "marker": False})
    for item in markers:
        by_key.setdefault(item["Key"], []).append({**item, "marker": True})
    if key is not None:
        by_key = {k: v for k, v in by_key.items() if k == key}
        if not by_key:
            raise OpsError(f"s3://{bucket}/{key} has no versions", "check --key", EXIT_NOT_FOUND)
    plan: list[tuple[str, str]] = []
    for obj_key, events in sorted(by_key.items()):
        current = next((e for e in events if e.get("IsLatest")), None)
        if version_id is not None:
            chosen = next((e for e in events if e["VersionId"] == version_id), None)
            if chosen is None or chosen["marker"]:
                raise OpsError(
                    f"s3://{bucket}/{obj_key} has no object version {version_id}",
                    "list versions with `aws s3api list-object-versions`",
                    EXIT_NOT_FOUND,
                )
        else:
            assert before is not None
            earlier = [e for e in events if e["LastModified"] <= before]
            chosen = max(earlier, key=lambda e: e["LastModified"], default=None)
            if chosen is None or chosen["marker"]:
                continue  # the object did not exist then; leave it as it is
        if current is not None and current["VersionId"] == chosen["VersionId"]:
            continue
        plan.append((obj_key, chosen["VersionId"]))
    return plan


def run_s3(args: argparse.Namespace) -> int:
    if args.version_id and not args.key:
        raise OpsError("--version-id needs --key", "name the object with --key", EXIT_USAGE)
    before = parse_time(args.before, "--before") if args.before else None
    envs.guard(args, "restore objects")
    target = aws.resolve_target(args.stack, args.region)
    bucket = target.names.storage_bucket
    s3 = target.client("s3")
    with aws.aws_errors(f"listing versions in s3://{bucket}"):
        plan = plan_object_restores(s3, bucket, args.key, args.prefix, args.version_id, before)
    if not plan:
        print("nothing to restore: every object is already at the requested version")
        return EXIT_OK
    for obj_key, version in plan:
        print(f"  {obj_key} <- version {version}")
    if args.dry_run:
        print(f"dry run: would restore {len(plan)} object(s); nothing was changed")
        return EXIT_OK
    confirm(
        f"Restore {len(plan)} object(s) in s3://{bucket} (current versions are kept as "
        "noncurrent versions)?",
        yes=args.yes,
    )
    for done, (obj_key, version) in enumerate(plan):
        try:
            with aws.aws_errors(f"restoring s3://{bucket}/{obj_key}"):
                s3.copy_object(
                    Bucket=bucket,
                    Key=obj_key,
                    CopySource={"Bucket": bucket, "Key": obj_key, "VersionId": version},
                )
        except OpsError as exc:
            exc.message += f" (restored {done} of {len(plan)} before this; re-run to continue)"
            raise
    print(f"restored {len(plan)} object(s)")
    return EXIT_OK


# --- state ---------------------------------------------------------------------------------


def _s3_location(uri: str) -> tuple[str, str]:
    match = re.match(r"^s3://([^/]+)/(.+)$", uri)
    if not match:
        raise OpsError(
            f"--s3-uri {uri!r} is not s3://bucket/key",
            "e.g. s3://my-state-bucket/state-backups/dev/20260101T000000Z.json",
            EXIT_USAGE,
        )
    return aws.check_bucket_name(match.group(1), "--s3-uri bucket"), match.group(2)


def _checked_checkpoint(text: str) -> str:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OpsError(
            f"the checkpoint is not JSON ({exc})", "use a `pulumi stack export` file", EXIT_USAGE
        ) from exc
    if not isinstance(doc, dict) or "deployment" not in doc or "version" not in doc:
        raise OpsError(
            "the file is not a Pulumi checkpoint export (no 'version'/'deployment' keys)",
            "use a file written by `pulumi stack export` or `ollama-ops backup state`",
            EXIT_USAGE,
        )
    return text


def _local_checkpoint(path: Path) -> str:
    try:
        return _checked_checkpoint(path.read_text())
    except OSError as exc:
        raise OpsError(
            f"--file {path}: {exc.strerror or exc}", "check the path", EXIT_USAGE
        ) from exc


def run_state(args: argparse.Namespace) -> int:
    envs.guard(args, "import state")
    # Everything that needs no AWS is checked before the credentials are used.
    text = _local_checkpoint(args.file) if args.file is not None else None
    location = _s3_location(args.s3_uri) if args.s3_uri else None
    target = aws.resolve_target(args.stack, args.region)
    if text is None:
        assert location is not None
        with aws.aws_errors(f"downloading {args.s3_uri}"):
            body = target.client("s3").get_object(Bucket=location[0], Key=location[1])
            text = _checked_checkpoint(body["Body"].read().decode())
    if args.dry_run:
        print(f"dry run: checkpoint is valid; would import it into stack {args.stack}")
        return EXIT_OK
    confirm(
        f"Replace the Pulumi state of stack '{args.stack}' with this checkpoint "
        "(the current state is exported first)?",
        yes=args.yes,
        typed=args.stack,
    )
    current = backup.export_state(args.stack)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path.cwd() / f"state-before-import-{args.stack}-{backup.timestamp()}.json"
        saved.write_text(current)
        print(f"current state saved to {saved}")
        path = Path(tmp) / "checkpoint.json"
        path.write_text(text)
        pulumi_cli.run(
            ["stack", "import", "--stack", args.stack, "--file", str(path)],
            f"pulumi stack import ({args.stack})",
        )
    print(f"imported; run `pulumi refresh --stack {args.stack}` to reconcile with AWS")
    return EXIT_OK
