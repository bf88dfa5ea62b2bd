"""`ollama-ops dr deploy-region` against moto: config derivation, readiness checks, AMI copy."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import botocore.waiter
import ops_support
import pytest
import yaml
from ops_support import (
    ACCOUNT,
    REGION,
    AwsRecorder,
    FakePulumi,
    cli,
    make_table,
    replicate,
    setup_client,
)

from ollama_infra import naming
from ollama_infra.config import PROJECT_ROOT, load_stack_values, parse_config, stack_names
from ollama_infra.ops import aws, dr
from ollama_infra.ops.common import EXIT_REFUSED, EXIT_USAGE

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi

DR_REGION = "us-west-2"
NAMES = naming.StackNames("dev", ACCOUNT)
DR_NAMES = stack_names(f"dev-{DR_REGION}", ACCOUNT)
CERT = f"arn:aws:acm:{DR_REGION}:{ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    for stack in ("dev", "production"):
        shutil.copy(PROJECT_ROOT / f"Pulumi.{stack}.yaml", tmp_path)
    return tmp_path


def _replicated_primary(dest: str = "ollama-dr-copy-dev") -> None:
    s3 = setup_client("s3")
    s3.create_bucket(Bucket=NAMES.storage_bucket)
    s3.put_bucket_versioning(
        Bucket=NAMES.storage_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    replicate(NAMES.storage_bucket, dest)


@pytest.mark.parametrize("stack", ["dev", "staging", "production"])
def test_dr_values_are_a_valid_stack_in_the_new_region(stack: str) -> None:
    values = load_stack_values(stack)
    cfg = parse_config(stack, values)
    out = dr.dr_values(
        values,
        DR_REGION,
        cfg.env,
        CERT if cfg.edge.certificate_arn else None,
        "ami-0123456789abcdef0",
    )
    dr_cfg = parse_config(f"{stack}-{DR_REGION}", out)
    assert dr_cfg.region == DR_REGION and dr_cfg.env == stack
    assert dr_cfg.environment.primary == stack and dr_cfg.is_dr
    assert dr_cfg.name_suffix == {"dev": "dev", "staging": "stg", "production": "prod"}[stack] + (
        "-usw2"
    )
    assert dr_cfg.data.replication_region is None and dr_cfg.backup.copy_region is None
    assert dr_cfg.compute.ami_id == "ami-0123456789abcdef0"
    assert dr_cfg.edge.certificate_arn in (None, CERT)
    assert values["aws:region"] == REGION  # the primary's values are not modified


def test_checks_report_every_missing_piece(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    setup_client("s3").create_bucket(Bucket=NAMES.storage_bucket)  # no replication rule
    # A bucket of the DR stack left behind (destroy retains buckets): its name is taken.
    setup_client("s3", DR_REGION).create_bucket(
        Bucket=DR_NAMES.storage_bucket, CreateBucketConfiguration={"LocationConstraint": DR_REGION}
    )
    target = aws.Target("dev", REGION, ACCOUNT)
    problems = dr.checks(target, DR_REGION)
    text = "\n".join(problems)
    assert "no replication rule" in text
    assert f"no backups of {NAMES.table}" in text
    assert f"the bucket {DR_NAMES.storage_bucket} of stack dev-{DR_REGION} already exists" in text
    assert NAMES.storage_bucket not in text.split("has no replication rule")[1]
    assert aws_env.mutations() == []


def test_checks_find_the_dr_bucket_and_backups(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    _replicated_primary()
    setup_client("s3", DR_REGION).create_bucket(
        Bucket="ollama-dr-copy-dev",
        CreateBucketConfiguration={"LocationConstraint": DR_REGION},
    )
    make_table(NAMES.table, [])
    setup_client("dynamodb").create_backup(TableName=NAMES.table, BackupName="drill-1")
    problems = dr.checks(aws.Target("dev", REGION, ACCOUNT), DR_REGION)
    # The DR stack's names carry its region (ollama-storage-dev-usw2-<account>), so the
    # primary's buckets in the same account are no collision.
    assert problems == []


def test_missing_dr_bucket_is_reported(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    _replicated_primary("ollama-never-created")
    problems = dr.checks(aws.Target("dev", REGION, ACCOUNT), DR_REGION)
    assert any("s3://ollama-never-created does not exist" in p for p in problems)


def test_not_ready_changes_nothing(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    config_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["dr", "deploy-region", "--stack", "dev", "--target-region", DR_REGION, "--yes"]
    assert cli(*argv, "--config-dir", str(config_dir)) == 1
    assert "not ready" in capsys.readouterr().err
    assert not (config_dir / f"Pulumi.dev-{DR_REGION}.yaml").exists()
    assert aws_env.mutations() == []
    assert not pulumi.ran("up")


def test_ready_copies_the_ami_writes_the_stack_and_deploys(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The readiness checks are tested above; here they pass so the rest of the flow runs,
    # including the real offline plan of the DR stack.
    monkeypatch.setattr(dr, "checks", lambda target, region: [])
    ec2 = setup_client("ec2")
    ami = ec2.register_image(Name="ollama-base-1", RootDeviceName="/dev/sda1")["ImageId"]
    argv = ["dr", "deploy-region", "--stack", "dev", "--target-region", DR_REGION]
    assert cli(*argv, "--ami-id", ami, "--yes", "--config-dir", str(config_dir)) == 0
    written = yaml.safe_load((config_dir / f"Pulumi.dev-{DR_REGION}.yaml").read_text())["config"]
    assert written["aws:region"] == DR_REGION
    assert written["ollama:environment"]["primary"] == "dev"
    assert parse_config(f"dev-{DR_REGION}", written).name_suffix == "dev-usw2"
    copied = written["ollama:compute"]["ami_id"]
    assert copied != ami
    dr_images = setup_client("ec2", DR_REGION).describe_images(ImageIds=[copied])["Images"]
    assert dr_images[0]["Name"] == "ollama-base-1"
    assert pulumi.calls[-2:] == [
        ["stack", "select", "--create", f"dev-{DR_REGION}"],
        ["up", "--stack", f"dev-{DR_REGION}", "--yes", "--non-interactive"],
    ]


@pytest.mark.parametrize(("state", "sleeps"), [("failed", []), ("pending", [15] * 120)])
def test_ami_copy_that_never_becomes_available_deploys_nothing(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    state: str,
    sleeps: list[int],
) -> None:
    """The image waiter stops at once on a failed copy and after 30 minutes (every 15 s) on
    one still pending; moto's copies are available at once, so DescribeImages is answered."""
    monkeypatch.setattr(dr, "checks", lambda target, region: [])
    monkeypatch.setattr(dr, "offline_plan", lambda stack, values: "planned")
    slept: list[float] = []
    monkeypatch.setattr(botocore.waiter, "time", SimpleNamespace(sleep=slept.append))
    ami = setup_client("ec2").register_image(Name="ollama-base-1", RootDeviceName="/dev/sda1")[
        "ImageId"
    ]
    image = {"ImageId": ami, "Name": "ollama-base-1", "State": state}
    aws_env.respond("ec2", "DescribeImages", {"Images": [image]})
    argv = ["dr", "deploy-region", "--stack", "dev", "--target-region", DR_REGION]
    assert cli(*argv, "--ami-id", ami, "--yes", "--config-dir", str(config_dir)) == 1
    assert re.search(rf"AMI copy ami-\w+ is {state}\n", capsys.readouterr().err)
    assert slept == sleeps
    assert not (config_dir / f"Pulumi.dev-{DR_REGION}.yaml").exists()
    assert not pulumi.ran("up")


def test_dry_run_writes_nothing(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(dr, "checks", lambda target, region: [])
    monkeypatch.setattr(dr, "offline_plan", lambda stack, values: f"planned {stack}")
    argv = ["dr", "deploy-region", "--stack", "dev", "--target-region", DR_REGION, "--dry-run"]
    assert cli(*argv, "--config-dir", str(config_dir)) == 0
    out = capsys.readouterr().out
    assert f"aws:region: {DR_REGION}" in out and f"planned dev-{DR_REGION}" in out
    assert not (config_dir / f"Pulumi.dev-{DR_REGION}.yaml").exists()
    assert aws_env.mutations() == [] and not pulumi.ran("up")


@pytest.mark.parametrize(
    ("argv", "code", "text"),
    [
        (["--stack", "dev", "--target-region", REGION], EXIT_USAGE, "the stack's own region"),
        (["--stack", "dev", "--target-region", "west"], EXIT_USAGE, "not an AWS region"),
        (
            ["--stack", "production", "--target-region", DR_REGION, "--production"],
            EXIT_USAGE,
            "pass --certificate-arn",
        ),
        (
            [
                "--stack",
                "production",
                "--target-region",
                DR_REGION,
                "--production",
                "--certificate-arn",
                CERT.replace(DR_REGION, "us-east-1"),
            ],
            EXIT_USAGE,
            f"not an ACM certificate ARN in {DR_REGION}",
        ),
        (
            ["--stack", "production", "--target-region", DR_REGION, "--certificate-arn", CERT],
            EXIT_REFUSED,
            "without --production",
        ),
        (
            ["--stack", f"dev-{DR_REGION}", "--target-region", "eu-west-1"],
            EXIT_USAGE,
            "DR stacks are made from a primary stack",
        ),
    ],
)
def test_arguments_are_validated_before_any_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    config_dir: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    text: str,
) -> None:
    pulumi.selected = argv[1]
    assert cli("dr", "deploy-region", *argv, "--yes", "--config-dir", str(config_dir)) == code
    assert text in capsys.readouterr().err
    assert aws_env.calls == []
