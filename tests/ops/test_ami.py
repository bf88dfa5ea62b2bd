"""`ollama-ops ami cleanup` against moto (EC2 images and snapshots)."""

from __future__ import annotations

import json

import ops_support
import pytest
from ops_support import (
    REGION,
    AwsRecorder,
    FakePulumi,
    cli,
    setup_client,
)

from ollama_infra.ops import common
from ollama_infra.ops.common import EXIT_REFUSED, EXIT_USAGE

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi


def _ami(name: str) -> tuple[str, str]:
    """A registered AMI and the EBS snapshot behind it: (image id, snapshot id)."""
    ec2 = setup_client("ec2")
    image = ec2.register_image(Name=name, RootDeviceName="/dev/sda1")["ImageId"]
    mapping = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"]
    return image, mapping[0]["Ebs"]["SnapshotId"]


def _unrelated_snapshot() -> str:
    ec2 = setup_client("ec2")
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
    return str(ec2.create_snapshot(VolumeId=volume)["SnapshotId"])


def _images() -> set[str]:
    ec2 = setup_client("ec2")
    return {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}


def _snapshots() -> set[str]:
    ec2 = setup_client("ec2")
    return {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def _newest_order(amis: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """moto stamps creation dates to the second; sort exactly like the command does."""
    ec2 = setup_client("ec2")
    dates = {
        i["ImageId"]: i["CreationDate"] for i in ec2.describe_images(Owners=["self"])["Images"]
    }
    return sorted(amis, key=lambda a: (dates[a[0]], a[0]), reverse=True)


@pytest.mark.parametrize("keep", [1, 2, 4])
def test_cleanup_keeps_exactly_n_and_deletes_their_snapshots(
    aws_env: AwsRecorder, pulumi: FakePulumi, keep: int
) -> None:
    amis = _newest_order([_ami(f"ollama-base-{i}") for i in range(5)])
    other = _ami("someone-elses-image")
    loose = _unrelated_snapshot()
    assert cli("ami", "cleanup", "--region", REGION, "--keep", str(keep), "--apply", "--yes") == 0
    kept, gone = amis[:keep], amis[keep:]
    assert _images() == {a for a, _ in kept} | {other[0]}
    assert _snapshots() == {s for _, s in kept} | {other[1], loose}
    assert not ({a for a, _ in gone} & _images())


def test_cleanup_is_a_dry_run_by_default(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    amis = [_ami(f"ollama-base-{i}") for i in range(3)]
    assert cli("ami", "cleanup", "--region", REGION, "--keep", "1", "--json") == 0
    out = capsys.readouterr().out
    doc = json.loads(out[: out.rindex("}") + 1])
    assert len(doc["delete"]) == 2 and len(doc["keep"]) == 1
    assert _images() == {a for a, _ in amis}
    assert aws_env.mutations() == []


def test_cleanup_keeps_an_image_that_is_in_use(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    amis = _newest_order([_ami(f"ollama-base-{i}") for i in range(3)])
    oldest = amis[-1][0]
    setup_client("ec2").create_launch_template(
        LaunchTemplateName="ollama-lt-dev-1", LaunchTemplateData={"ImageId": oldest}
    )
    assert cli("ami", "cleanup", "--region", REGION, "--keep", "1", "--apply", "--yes") == 0
    assert _images() == {amis[0][0], oldest}


@pytest.mark.parametrize(
    ("operation", "code", "exit_code", "text"),
    [
        ("DeregisterImage", "UnauthorizedOperation", common.EXIT_PERMISSION, "lacks a permission"),
        ("DeleteSnapshot", "UnauthorizedOperation", common.EXIT_PERMISSION, "lacks a permission"),
        ("DeregisterImage", "RequestLimitExceeded", common.EXIT_THROTTLED, "throttled"),
    ],
)
def test_a_denied_deletion_stops_before_anything_is_deleted(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    operation: str,
    code: str,
    exit_code: int,
    text: str,
) -> None:
    amis = [_ami(f"ollama-base-{i}") for i in range(4)]
    aws_env.inject("ec2", operation, code)
    assert cli("ami", "cleanup", "--region", REGION, "--keep", "1", "--apply", "--yes") == exit_code
    err = capsys.readouterr().err
    assert text in err and "(dry run)" in err
    assert _images() == {a for a, _ in amis}
    assert _snapshots() == {s for _, s in amis}


def test_apply_needs_confirmation(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    amis = [_ami(f"ollama-base-{i}") for i in range(2)]
    assert cli("ami", "cleanup", "--region", REGION, "--keep", "1", "--apply") == EXIT_REFUSED
    assert _images() == {a for a, _ in amis}


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["--region", REGION, "--keep", "0"], "at least 1 AMI"),
        (["--region", REGION, "--prefix", "ubuntu-"], "must start with 'ollama-'"),
        ([], "--region or --stack is required"),
        (["--region", "mars-north-1"], "not an AWS region"),
    ],
)
def test_arguments_are_validated_before_any_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    text: str,
) -> None:
    assert cli("ami", "cleanup", *argv) == EXIT_USAGE
    assert text in capsys.readouterr().err
    assert aws_env.calls == []
