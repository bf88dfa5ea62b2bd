"""Property 35 (state versioning): ``ollama-ops state bootstrap`` against moto (a test
double for S3, KMS and STS).

Creates a versioned, encrypted, public-access-blocked, TLS-only bucket and a rotating key;
a second run makes no change at all; a name owned by another account, an invalid name and
a bucket in another region fail with a clear error and change nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from test_models import Recorder

from ollama_infra.ops import aws, common
from ollama_infra.ops.cli import main
from ollama_infra.ops.state import KEY_ALIAS, LIFECYCLE_ID, NONCURRENT_DAYS, login_commands

REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = f"ollama-pulumi-state-{ACCOUNT}-{REGION}"
READS = ("Get", "Head", "List", "Describe")


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("MOTO_ACCOUNT_ID", raising=False)
    recorder = Recorder()
    with mock_aws():
        previous = aws.set_client_factory(recorder.factory)
        try:
            yield recorder
        finally:
            aws.set_client_factory(previous)


def mutations(recorder: Recorder) -> list[str]:
    return [c for c in recorder.calls if not c.split(":")[1].startswith(READS)]


def bootstrap(*extra: str) -> int:
    return main(["state", "bootstrap", "--region", REGION, "--yes", *extra])


def state_violations(bucket: str, region: str = REGION) -> list[str]:
    """What is wrong with a state bucket and key, read back from (emulated) AWS."""
    s3 = boto3.client("s3", region_name=region)
    kms = boto3.client("kms", region_name=region)
    out = []
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        out.append("versioning is not enabled")
    try:
        pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        if not all(pab.values()) or len(pab) != 4:
            out.append(f"public access block incomplete: {pab}")
    except s3.exceptions.ClientError:
        out.append("no public access block")
    key = kms.describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]
    if not kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]:
        out.append("key rotation is off")
    try:
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]["ApplyServerSideEncryptionByDefault"]
        if rule != {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}:
            out.append(f"not encrypted with the state key: {rule}")
    except s3.exceptions.ClientError:
        out.append("no default encryption")
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        tls = [
            s
            for s in policy["Statement"]
            if s["Effect"] == "Deny"
            and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        if not tls:
            out.append("policy does not deny non-TLS requests")
    except s3.exceptions.ClientError:
        out.append("no bucket policy")
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        ours = [r for r in rules if r["ID"] == LIFECYCLE_ID]
        if not ours or ours[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] != NONCURRENT_DAYS:
            out.append("noncurrent versions do not expire")
    except s3.exceptions.ClientError:
        out.append("no lifecycle")
    return out


def test_property_35_bootstrap_creates_a_versioned_encrypted_private_bucket_and_key(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """Property 35 (state versioning): the state bucket keeps every version of the state."""
    assert bootstrap() == 0
    assert state_violations(BUCKET) == []
    location = boto3.client("s3", region_name=REGION).get_bucket_location(Bucket=BUCKET)
    assert location["LocationConstraint"] == REGION
    out = capsys.readouterr().out
    assert f"pulumi login 's3://{BUCKET}?region={REGION}'" in out
    assert (
        f'pulumi stack init production --secrets-provider "awskms://{KEY_ALIAS}?region={REGION}"'
        in out
    )


def test_second_run_changes_nothing(moto_aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert bootstrap() == 0
    first = mutations(moto_aws)
    assert "s3:CreateBucket" in first and "kms:CreateKey" in first
    moto_aws.calls.clear()
    capsys.readouterr()
    assert bootstrap() == 0
    assert moto_aws.calls, "the second run must still inspect everything"
    assert mutations(moto_aws) == []
    assert "nothing to change" in capsys.readouterr().out
    assert len(boto3.client("kms", region_name=REGION).list_keys()["Keys"]) == 1


def test_drift_is_repaired_and_other_statements_are_kept(moto_aws: Recorder) -> None:
    assert bootstrap() == 0
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_public_access_block(Bucket=BUCKET)
    ci_statement = {
        "Sid": "CiCanUnlock",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ci"},
        "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/.pulumi/locks/*",
    }
    s3.put_bucket_policy(
        Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [ci_statement]})
    )
    assert "versioning is not enabled" in state_violations(BUCKET)
    moto_aws.calls.clear()
    assert bootstrap() == 0
    assert set(mutations(moto_aws)) == {
        "s3:PutBucketVersioning",
        "s3:PutPublicAccessBlock",
        "s3:PutBucketPolicy",
    }
    assert state_violations(BUCKET) == []
    sids = [
        s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    ]
    assert sids == ["CiCanUnlock", "DenyInsecureTransport"]


def test_dry_run_changes_nothing(moto_aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert bootstrap("--dry-run") == 0
    assert mutations(moto_aws) == []
    out = capsys.readouterr().out
    assert f"dry run: would create bucket {BUCKET}" in out
    assert f"dry run: would create KMS key {KEY_ALIAS}" in out
    assert boto3.client("s3", region_name=REGION).list_buckets()["Buckets"] == []


def test_bucket_owned_by_another_account_is_refused(
    moto_aws: Recorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket="shared-name-state", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    monkeypatch.delenv("MOTO_ACCOUNT_ID")
    moto_aws.calls.clear()
    assert bootstrap("--bucket", "shared-name-state") == common.EXIT_USAGE
    err = capsys.readouterr().err
    assert "shared-name-state already exists and belongs to another AWS account" in err
    assert f"ollama-pulumi-state-{ACCOUNT}-{REGION}" in err  # the suggested fix
    assert mutations(moto_aws) == []


def test_name_taken_between_check_and_create_is_refused(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    moto_aws.faults["s3:CreateBucket"] = "BucketAlreadyExists"
    assert bootstrap() == common.EXIT_USAGE
    assert "belongs to another AWS account" in capsys.readouterr().err
    assert "s3:PutBucketVersioning" not in moto_aws.calls


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("Ollama_State", "lowercase letters"),
        ("ab", "3-63 characters"),
        ("state..bucket", "adjacent dots"),
        ("192.168.10.12", "IP address"),
        ("xn--state-bucket", "reserved prefix"),
        ("my-state-s3alias", "reserved prefix"),
        ("a" * 64, "3-63 characters"),
    ],
)
def test_invalid_bucket_name_fails_before_any_aws_call(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str], name: str, words: str
) -> None:
    assert bootstrap("--bucket", name) == common.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"--bucket {name!r} is not a valid S3 bucket name" in err
    assert words in err and "fix:" in err
    assert moto_aws.calls == []


def test_bucket_in_another_region_is_refused(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="ollama-state-elsewhere")
    assert bootstrap("--bucket", "ollama-state-elsewhere") == common.EXIT_USAGE
    assert "exists in us-east-1, not eu-west-1" in capsys.readouterr().err
    assert "s3:PutBucketVersioning" not in moto_aws.calls


def test_key_pending_deletion_is_explained(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert bootstrap() == common.EXIT_USAGE
    assert "cancel its deletion" in capsys.readouterr().err
    assert mutations(moto_aws) == []


def test_without_yes_and_without_a_terminal_nothing_is_created(
    moto_aws: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "_interactive", lambda: False)
    assert main(["state", "bootstrap", "--region", REGION]) == common.EXIT_REFUSED
    assert mutations(moto_aws) == []


def test_bad_region_and_us_east_1_location() -> None:
    assert main(["state", "bootstrap", "--region", "mars-1"]) == common.EXIT_USAGE
    commands = login_commands("b", "us-east-1")
    assert commands[0] == "pulumi login 's3://b?region=us-east-1'"
    assert [c.split()[3] for c in commands[1:]] == ["dev", "staging", "production"]
    assert os.environ.get("MOTO_ACCOUNT_ID") is None


def test_us_east_1_bucket_needs_no_location_constraint(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["state", "bootstrap", "--region", "us-east-1", "--bucket", "team-state-bucket"]
    assert main([*argv, "--yes"]) == 0
    assert state_violations("team-state-bucket", "us-east-1") == []
    location = boto3.client("s3", region_name="us-east-1").get_bucket_location(
        Bucket="team-state-bucket"
    )
    assert location["LocationConstraint"] is None  # how S3 reports us-east-1
    assert "pulumi login 's3://team-state-bucket?region=us-east-1'" in capsys.readouterr().out
    moto_aws.calls.clear()
    assert main([*argv, "--yes"]) == 0
    assert mutations(moto_aws) == []
