"""`ollama-ops backup` and `ollama-ops restore` against moto (DynamoDB, S3, SSM)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import botocore.waiter
import ops_support
import pytest
from ops_support import (
    ACCOUNT,
    CATALOG,
    AwsRecorder,
    FakePulumi,
    cli,
    make_table,
    replicate,
    setup_client,
    setup_resource,
    table_items,
)

from ollama_infra import naming
from ollama_infra.ops import common, restore
from ollama_infra.ops.common import EXIT_FAILURE, EXIT_REFUSED, EXIT_USAGE

NAMES = naming.StackNames("dev", ACCOUNT)
TABLE = NAMES.table
ACTIVE = NAMES.parameter("data/active-table")

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi


def _backup_arns() -> list[str]:
    ddb = setup_client("dynamodb")
    return [b["BackupArn"] for b in ddb.list_backups(TableName=TABLE)["BackupSummaries"]]


def _active_table() -> str | None:
    ssm = setup_client("ssm")
    try:
        return ssm.get_parameter(Name=ACTIVE)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def _delete_all_items(name: str) -> None:
    table = setup_resource("dynamodb").Table(name)
    for item in table.scan()["Items"]:
        table.delete_item(Key={"environment": item["environment"], "model": item["model"]})


# --- DynamoDB ------------------------------------------------------------------------------


def test_backup_then_delete_then_restore_returns_equal_items(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    make_table(TABLE, CATALOG)
    before = table_items(TABLE)
    assert cli("backup", "dynamodb", "--stack", "dev", "--label", "drill") == 0
    (arn,) = _backup_arns()
    _delete_all_items(TABLE)
    assert table_items(TABLE) == []
    new = "ollama-data-table-restored-test-dev"
    assert (
        cli(
            "restore",
            "dynamodb",
            "--stack",
            "dev",
            "--backup-arn",
            arn,
            "--target-table",
            new,
            "--switch",
            "--yes",
        )
        == 0
    )
    assert table_items(new) == before
    assert table_items(TABLE) == []  # the original is never overwritten
    assert _active_table() == new
    pitr = setup_client("dynamodb").describe_continuous_backups(TableName=new)
    status = pitr["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert status["PointInTimeRecoveryStatus"] == "ENABLED"


def test_restore_counts_the_items_of_every_scan_page(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """DynamoDB returns a scan in pages of at most 1 MB; moto's page limit is shrunk so the
    restored table's 30 items take several pages, and the reported count covers them all."""
    import moto.dynamodb.models.table as moto_table

    items = [{**CATALOG[0], "model": f"model-{i:02d}:1b"} for i in range(30)]
    make_table(TABLE, items)
    monkeypatch.setattr(moto_table, "RESULT_SIZE_LIMIT", 1000)  # about 8 items a page
    new = "ollama-data-table-restored-test-dev"
    code = cli("restore", "dynamodb", "--stack", "dev", "--latest", "--target-table", new)
    assert code == 0
    assert f"into {new}: 30 item(s)" in capsys.readouterr().out
    scans = [op for op in aws_env.operations() if op == "dynamodb:Scan"]
    assert len(scans) >= 3, scans  # the count really spanned several pages


def test_point_in_time_restore_goes_to_a_new_table(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    make_table(TABLE, CATALOG)
    when = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cli("restore", "dynamodb", "--stack", "dev", "--point-in-time", when) == 0
    tables = setup_client("dynamodb").list_tables()["TableNames"]
    restored = [t for t in tables if t.startswith("ollama-data-table-restored-")]
    assert restored and restored[0].endswith("-dev")
    assert len(restored) == 1
    assert table_items(restored[0]) == table_items(TABLE)
    assert _active_table() is None  # no --switch: the stack keeps its table


def test_restore_refuses_an_existing_target(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_table(TABLE, CATALOG)
    make_table("taken", [])
    code = cli("restore", "dynamodb", "--stack", "dev", "--latest", "--target-table", "taken")
    assert code == common.EXIT_CONFLICT
    assert "restores always go to a new table" in capsys.readouterr().err
    assert table_items("taken") == []
    assert not any(op.startswith("dynamodb:Restore") for op in aws_env.operations())


RESTORED = "ollama-data-table-restored-test-dev"


@pytest.fixture
def slow_restore(
    aws_env: AwsRecorder, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], list[float]]:
    """A restore whose new table the waiter sees through DescribeTable answers set by the test
    (moto's restored tables are ACTIVE at once); returns the restore argv and the waiter's
    sleeps (recorded, not slept)."""
    make_table(TABLE, CATALOG)
    monkeypatch.setattr(restore, "_table_status", lambda ddb, name: None)  # the target is new
    sleeps: list[float] = []
    monkeypatch.setattr(botocore.waiter, "time", SimpleNamespace(sleep=sleeps.append))
    argv = ["restore", "dynamodb", "--stack", "dev", "--latest", "--target-table", RESTORED]
    return argv, sleeps


@pytest.mark.parametrize(
    ("status", "seconds", "sleeps"),
    [("CREATING", "0", []), ("CREATING", "25", [10, 10, 10]), (None, "0", [])],
)
def test_restore_that_never_becomes_active_is_a_clear_error(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    slow_restore: tuple[list[str], list[float]],
    status: str | None,
    seconds: str,
    sleeps: list[float],
) -> None:
    """The table waiter polls every 10 s for --wait-seconds (at 0, 10, 20 and 30 s for 25),
    then stops with the message and exit code of before, and leaves the copy unswitched."""
    argv, slept = slow_restore
    if status is None:
        aws_env.inject("dynamodb", "DescribeTable", "ResourceNotFoundException")
    else:
        aws_env.respond("dynamodb", "DescribeTable", {"Table": {"TableStatus": status}})
    assert cli(*argv, "--switch", "--yes", "--wait-seconds", seconds) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert f"table {RESTORED} is {status} after {seconds}s" in err
    assert f"restore switch --table {RESTORED}" in err
    assert slept == sleeps
    assert "dynamodb:UpdateContinuousBackups" not in aws_env.operations()
    assert _active_table() is None


def test_restore_wait_maps_an_aws_error_like_any_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    slow_restore: tuple[list[str], list[float]],
) -> None:
    argv, slept = slow_restore
    aws_env.inject("dynamodb", "DescribeTable", "AccessDeniedException")
    assert cli(*argv) == common.EXIT_PERMISSION
    err = capsys.readouterr().err
    assert f"restoring {TABLE} into {RESTORED}: the AWS identity lacks a permission" in err
    assert "when calling the DescribeTable operation" in err
    assert slept == []


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["--point-in-time", "yesterday"], "not an ISO 8601 time"),
        (["--point-in-time", "2026-01-01T00:00:00"], "no time zone"),
        (["--point-in-time", "2999-01-01T00:00:00Z"], "in the future"),
        (["--latest", "--target-table", "bad name!"], "not a valid DynamoDB table name"),
    ],
)
def test_restore_arguments_are_validated_before_any_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    text: str,
) -> None:
    assert cli("restore", "dynamodb", "--stack", "dev", *argv) == EXIT_USAGE
    assert text in capsys.readouterr().err
    assert aws_env.calls == []


def test_switch_on_production_needs_the_flag(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.selected = "production"
    code = cli("restore", "dynamodb", "--stack", "production", "--latest", "--switch", "--yes")
    assert code == EXIT_REFUSED
    assert "--production" in capsys.readouterr().err
    assert aws_env.calls == []


def test_switch_command_points_back_to_the_original(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    make_table(TABLE, CATALOG)
    assert cli("restore", "switch", "--stack", "dev", "--table", TABLE, "--yes") == 0
    assert _active_table() == TABLE
    missing = "ollama-data-table-restored-missing-dev"
    assert cli("restore", "switch", "--stack", "dev", "--table", missing, "--yes") == (
        common.EXIT_NOT_FOUND
    )
    assert _active_table() == TABLE


def test_switch_checks_the_table_name_before_any_call(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("restore", "switch", "--stack", "dev", "--table", "bad name!") == EXIT_USAGE
    assert "--table 'bad name!' is not a valid DynamoDB table name" in capsys.readouterr().err
    assert aws_env.calls == []


@pytest.mark.parametrize(
    "table", ["customer-table", "ollama-data-table-staging", "ollama-data-table-restored-x-staging"]
)
def test_switch_refuses_tables_the_instances_cannot_read(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str], table: str
) -> None:
    """The instance role reads only the stack's table and its restored copies."""
    make_table(table, CATALOG)
    assert cli("restore", "switch", "--stack", "dev", "--table", table, "--yes") == EXIT_USAGE
    assert "cannot become the active catalog of dev" in capsys.readouterr().err


def test_backup_access_denied_is_clear_and_creates_nothing(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_table(TABLE, CATALOG)
    aws_env.inject("dynamodb", "CreateBackup", "AccessDeniedException")
    assert cli("backup", "dynamodb", "--stack", "dev") == common.EXIT_PERMISSION
    err = capsys.readouterr().err
    assert f"backing up table {TABLE}" in err and "lacks a permission" in err
    assert _backup_arns() == []


def test_restore_throttled_is_clear_and_creates_nothing(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_table(TABLE, CATALOG)
    aws_env.inject("dynamodb", "RestoreTableToPointInTime", "ThrottlingException")
    assert cli("restore", "dynamodb", "--stack", "dev", "--latest", "--switch", "--yes") == (
        common.EXIT_THROTTLED
    )
    assert "throttled" in capsys.readouterr().err
    tables = setup_client("dynamodb").list_tables()["TableNames"]
    assert tables == [TABLE]
    assert _active_table() is None


def test_export_needs_pitr(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_table(TABLE, CATALOG, pitr=False)
    setup_client("s3").create_bucket(Bucket="exports")
    assert cli("backup", "dynamodb", "--stack", "dev", "--export-bucket", "exports") == 1
    assert "point-in-time recovery DISABLED" in capsys.readouterr().err


def test_export_to_s3(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    make_table(TABLE, CATALOG)
    setup_client("s3").create_bucket(Bucket="exports")
    assert cli("backup", "dynamodb", "--stack", "dev", "--export-bucket", "exports") == 0
    (call,) = [p for s, op, p in aws_env.calls if op == "ExportTableToPointInTime"]
    assert call["S3Bucket"] == "exports"
    assert call["S3Prefix"].startswith(f"dynamodb-exports/{TABLE}/")


def test_backup_dry_run_changes_nothing(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    make_table(TABLE, CATALOG)
    assert cli("backup", "dynamodb", "--stack", "dev", "--dry-run") == 0
    assert _backup_arns() == []
    assert aws_env.mutations() == []


# --- S3 ------------------------------------------------------------------------------------


def _versioned_bucket(name: str) -> None:
    s3 = setup_client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def _body(bucket: str, key: str) -> bytes:
    return setup_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def test_s3_restore_to_a_previous_version_keeps_the_current_one(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    bucket = NAMES.storage_bucket
    _versioned_bucket(bucket)
    s3 = setup_client("s3")
    first = s3.put_object(Bucket=bucket, Key="open-webui/a.txt", Body=b"good")["VersionId"]
    s3.put_object(Bucket=bucket, Key="open-webui/a.txt", Body=b"bad")
    code = cli(
        "restore",
        "s3",
        "--stack",
        "dev",
        "--key",
        "open-webui/a.txt",
        "--version-id",
        first,
        "--yes",
    )
    assert code == 0
    assert _body(bucket, "open-webui/a.txt") == b"good"
    versions = s3.list_object_versions(Bucket=bucket, Prefix="open-webui/a.txt")["Versions"]
    assert len(versions) == 3  # good, bad (kept), restored copy


class _Versions:
    """TEST DOUBLE: an S3 client answering list_object_versions with fixed, distinct times."""

    def __init__(self, versions: list[dict], markers: list[dict]) -> None:
        self.pages = [{"Versions": versions, "DeleteMarkers": markers}]

    def get_paginator(self, operation: str) -> _Versions:
        assert operation == "list_object_versions"
        return self

    def paginate(self, **_: object) -> list[dict]:
        return self.pages


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _v(key: str, vid: str, minute: int, latest: bool = False) -> dict:
    return {
        "Key": key,
        "VersionId": vid,
        "LastModified": T0 + timedelta(minutes=minute),
        "IsLatest": latest,
    }


def test_s3_restore_plan_at_a_point_in_time() -> None:
    fake = _Versions(
        versions=[
            _v("deleted", "d1", 1),
            _v("changed", "c2", 3, latest=True),
            _v("changed", "c1", 1),
            _v("created-later", "n1", 3, latest=True),
            _v("unchanged", "u1", 1, latest=True),
        ],
        markers=[_v("deleted", "dm", 3, latest=True)],
    )
    plan = restore.plan_object_restores(fake, "b", None, "", None, T0 + timedelta(minutes=2))
    assert plan == [("changed", "c1"), ("deleted", "d1")]
    # after every change: nothing to do; before anything existed: nothing to do
    assert restore.plan_object_restores(fake, "b", None, "", None, T0 + timedelta(hours=1)) == []
    assert restore.plan_object_restores(fake, "b", None, "", None, T0) == []


def test_s3_restore_before_a_time_with_moto(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    bucket = NAMES.storage_bucket
    _versioned_bucket(bucket)
    s3 = setup_client("s3")
    s3.put_object(Bucket=bucket, Key="open-webui/x", Body=b"x1")
    later = (datetime.now(UTC) + timedelta(seconds=-1) + timedelta(seconds=1)).isoformat()
    assert (
        cli(
            "restore", "s3", "--stack", "dev", "--prefix", "open-webui/", "--before", later, "--yes"
        )
        == 0
    )
    assert aws_env.mutations() == []  # everything is already at that state


def test_s3_restore_unknown_version(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = NAMES.storage_bucket
    _versioned_bucket(bucket)
    setup_client("s3").put_object(Bucket=bucket, Key="k", Body=b"1")
    code = cli("restore", "s3", "--stack", "dev", "--key", "k", "--version-id", "nope", "--yes")
    assert code == common.EXIT_NOT_FOUND
    assert "no object version nope" in capsys.readouterr().err


def test_s3_backup_status_and_sync(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    source, dest = NAMES.storage_bucket, "ollama-storage-dr-test"
    _versioned_bucket(source)
    _versioned_bucket(dest)
    s3 = setup_client("s3")
    replicate(source, dest)
    s3.put_object(Bucket=source, Key="open-webui/1", Body=b"1")
    s3.put_object(Bucket=source, Key="open-webui/2", Body=b"2")
    s3.put_object(Bucket=source, Key="open-webui/3", Body=b"3")  # changed since the DR copy
    s3.put_object(Bucket=dest, Key="open-webui/1", Body=b"1")
    s3.put_object(Bucket=dest, Key="open-webui/3", Body=b"9")  # same size, other content
    assert cli("backup", "s3", "--stack", "dev", "--json") == 1  # one missing, one changed
    doc = json.loads(capsys.readouterr().out)
    assert doc["destination"] == dest and doc["missing"] == ["open-webui/2", "open-webui/3"]
    assert cli("backup", "s3", "--stack", "dev", "--sync", "--dry-run", "--json") == 1
    assert "open-webui/2" not in {o["Key"] for o in s3.list_objects_v2(Bucket=dest)["Contents"]}
    assert _body(dest, "open-webui/3") == b"9"
    capsys.readouterr()
    assert cli("backup", "s3", "--stack", "dev", "--sync", "--json") == 0
    assert json.loads(capsys.readouterr().out)["copied"] == 2  # the identical one is not copied
    assert _body(dest, "open-webui/2") == b"2"
    assert _body(dest, "open-webui/3") == b"3"  # --sync copies changed objects, not only missing


def test_s3_backup_checks_the_dest_region_before_any_call(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("backup", "s3", "--stack", "dev", "--dest-region", "Europe") == EXIT_USAGE
    assert "'Europe' is not an AWS region name" in capsys.readouterr().err
    assert aws_env.calls == [] and pulumi.calls == []


def test_s3_backup_of_a_missing_bucket_is_not_found(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("backup", "s3", "--stack", "dev") == common.EXIT_NOT_FOUND
    err = capsys.readouterr().err
    assert f"reading replication of s3://{NAMES.storage_bucket}: a resource" in err
    assert "NoSuchBucket" in err


def test_s3_backup_without_dr_copy_is_a_problem(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    _versioned_bucket(NAMES.storage_bucket)
    assert cli("backup", "s3", "--stack", "dev") == 1
    assert "there is no DR copy" in capsys.readouterr().out


# --- Pulumi state --------------------------------------------------------------------------


def test_state_backup_exports_every_stack_with_a_timestamp(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    setup_client("s3").create_bucket(Bucket="state-bucket")
    assert cli("backup", "state", "--bucket", "state-bucket") == 0
    keys = [o["Key"] for o in setup_client("s3").list_objects_v2(Bucket="state-bucket")["Contents"]]
    assert sorted(k.split("/")[1] for k in keys) == ["dev", "production", "staging"]
    assert all(k.startswith("state-backups/") and k.endswith("Z.json") for k in keys)
    assert [c[:3] for c in pulumi.calls] == [["stack", "export", "--stack"]] * 3


def test_state_backup_bucket_from_backend_url(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_client("s3").create_bucket(Bucket="from-env")
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://from-env?region=us-east-1")
    assert cli("backup", "state", "--stack", "dev") == 0
    assert setup_client("s3").list_objects_v2(Bucket="from-env")["KeyCount"] == 1


def test_state_backup_export_failure_uploads_nothing(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_infra.ops.pulumi_cli import Result

    setup_client("s3").create_bucket(Bucket="state-bucket")
    pulumi.results[("stack", "export", "--stack", "staging")] = Result(
        255, "", "error: the stack is currently locked by 1 lock(s)"
    )
    assert cli("backup", "state", "--bucket", "state-bucket") == common.EXIT_LOCKED
    assert "locked" in capsys.readouterr().err
    listing = setup_client("s3").list_objects_v2(Bucket="state-bucket")
    assert listing["KeyCount"] == 0


def test_state_backup_without_bucket_is_a_usage_error(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    assert cli("backup", "state") == EXIT_USAGE
    assert pulumi.calls == []


def test_state_restore_imports_after_saving_the_current_state(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    checkpoint = tmp_path / "cp.json"
    checkpoint.write_text(json.dumps({"version": 3, "deployment": {"resources": []}}))
    assert cli("restore", "state", "--stack", "dev", "--file", str(checkpoint), "--yes") == 0
    assert pulumi.ran("stack", "export", "--stack", "dev")
    assert pulumi.ran("stack", "import", "--stack", "dev", "--file")
    assert list(tmp_path.glob("state-before-import-dev-*.json"))


def test_state_restore_rejects_a_non_checkpoint(
    aws_env: AwsRecorder, pulumi: FakePulumi, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": "world"}))
    assert cli("restore", "state", "--stack", "dev", "--file", str(bad), "--yes") == EXIT_USAGE
    assert not pulumi.ran("stack", "import")


def test_state_restore_needs_the_typed_stack_name(
    aws_env: AwsRecorder, pulumi: FakePulumi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops_support import answer

    checkpoint = tmp_path / "cp.json"
    checkpoint.write_text(json.dumps({"version": 3, "deployment": {}}))
    answer(monkeypatch, "yes")  # not the stack name
    assert cli("restore", "state", "--stack", "dev", "--file", str(checkpoint)) == EXIT_REFUSED
    assert not pulumi.ran("stack", "import")


@pytest.mark.parametrize("label", ["Pre Upgrade", "UPPER", "lead-", "x" * 41])
def test_backup_label_is_validated_before_any_backup(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str], label: str
) -> None:
    make_table(TABLE, CATALOG)
    assert cli("backup", "dynamodb", "--stack", "dev", "--label", label) == EXIT_USAGE
    assert "--label" in capsys.readouterr().err
    assert aws_env.calls == []


def test_backup_name_follows_the_naming_scheme(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    make_table(TABLE, CATALOG)
    assert cli("backup", "dynamodb", "--stack", "dev", "--label", "pre-upgrade") == 0
    summaries = setup_client("dynamodb").list_backups(TableName=TABLE)["BackupSummaries"]
    name = summaries[0]["BackupName"]
    assert name.startswith("ollama-data-backup-pre-upgrade-") and name.endswith("-dev")
    assert naming.NAME_RE.match(name)
