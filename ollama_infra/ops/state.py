"""``ollama-ops state bootstrap``: the S3 bucket and KMS key behind Pulumi's S3 backend.

Creates (or brings into line) a state bucket that is versioned, encrypted with the state
key, closed to public access, TLS-only, with old object versions expiring, and a KMS key
with the alias ``alias/ollama-pulumi-state`` for the ``awskms://`` secrets provider.
Every step reads first and changes only what differs, so a second run changes nothing.
It then prints the ``pulumi login`` and ``pulumi stack init`` commands to use them.

The bucket is deliberately not part of any Pulumi stack: a stack cannot safely manage
the bucket its own state lives in. Pulumi locks stacks with lock objects inside this
bucket; there is no DynamoDB lock table (see docs/state.md).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ollama_infra.config import ENVIRONMENTS
from ollama_infra.naming import BUCKET_RE
from ollama_infra.ops import aws
from ollama_infra.ops.common import (
    EXIT_OK,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_dry_run,
    add_yes,
    confirm,
)

KEY_ALIAS = "alias/ollama-pulumi-state"
TLS_SID = "DenyInsecureTransport"
LIFECYCLE_ID = "ollama-state-noncurrent-versions"
NONCURRENT_DAYS = 90
ABORT_UPLOAD_DAYS = 7
TAGS = {"Project": "ollama", "ManagedBy": "ollama-ops", "Service": "pulumi-state"}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "state", "bootstrap the S3 bucket and KMS key for Pulumi's S3 backend", __doc__
    )
    ssub = p.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    boot = ssub.add_parser(
        "bootstrap", help="create or verify the state bucket and key (idempotent)"
    )
    boot.add_argument("--region", required=True, help="AWS region of the bucket and the key")
    boot.add_argument(
        "--bucket",
        help="state bucket name (default: ollama-pulumi-state-<account id>-<region>)",
    )
    add_yes(boot)
    add_dry_run(boot)
    boot.set_defaults(func=run_bootstrap)


def check_bucket_name(name: str) -> str:
    """S3 bucket naming rules, checked before any AWS call."""
    problems = []
    if not BUCKET_RE.match(name):
        problems.append("3-63 characters of lowercase letters, digits, dots and hyphens")
    if ".." in name or ".-" in name or "-." in name:
        problems.append("no adjacent dots or dot-hyphen pairs")
    try:
        ipaddress.ip_address(name)
        problems.append("not formatted as an IP address")
    except ValueError:
        pass
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        problems.append("no reserved prefix (xn--, sthree-) or suffix (-s3alias, --ol-s3)")
    if problems:
        raise OpsError(
            f"--bucket {name!r} is not a valid S3 bucket name: it must have " + "; ".join(problems),
            "pick a name such as ollama-pulumi-state-<account id>-<region>, "
            "or omit --bucket to use that default",
            EXIT_USAGE,
        )
    return name


@dataclass
class Step:
    description: str
    apply: Callable[[], None]


@dataclass
class Bootstrap:
    """Reads the current state and lists the steps that would bring it in line."""

    s3: Any
    kms: Any
    bucket: str
    region: str
    account: str
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    key_arn: str | None = None

    # ---------------------------------------------------------------- key

    def plan_key(self) -> None:
        try:
            meta = self.kms.describe_key(KeyId=KEY_ALIAS)["KeyMetadata"]
        except ClientError as exc:
            if aws.error_code(exc) != "NotFoundException":
                raise
            self.steps.append(Step(f"create KMS key {KEY_ALIAS} (rotation on)", self._create_key))
            return
        if meta.get("KeyState") != "Enabled":
            raise OpsError(
                f"{KEY_ALIAS} points at key {meta['KeyId']} in state {meta.get('KeyState')}",
                "cancel its deletion (`aws kms cancel-key-deletion`) and enable it, or delete "
                "the alias to let bootstrap create a new key",
                EXIT_USAGE,
            )
        self.key_arn = meta["Arn"]
        self.notes.append(f"KMS key {KEY_ALIAS} exists ({meta['Arn']})")
        if not self.kms.get_key_rotation_status(KeyId=meta["KeyId"]).get("KeyRotationEnabled"):
            self.steps.append(
                Step(
                    f"enable rotation of {KEY_ALIAS}",
                    lambda: self.kms.enable_key_rotation(KeyId=meta["KeyId"]),
                )
            )

    def _create_key(self) -> None:
        meta = self.kms.create_key(
            Description="Pulumi state secrets provider (awskms://) and state bucket encryption",
            KeyUsage="ENCRYPT_DECRYPT",
            Tags=[{"TagKey": k, "TagValue": v} for k, v in TAGS.items()],
        )["KeyMetadata"]
        self.kms.create_alias(AliasName=KEY_ALIAS, TargetKeyId=meta["KeyId"])
        self.kms.enable_key_rotation(KeyId=meta["KeyId"])
        self.key_arn = meta["Arn"]

    # ---------------------------------------------------------------- bucket

    def plan_bucket(self) -> None:
        owned = {b["Name"] for b in self.s3.list_buckets(Prefix=self.bucket).get("Buckets", [])}
        if self.bucket in owned:
            location = self.s3.get_bucket_location(Bucket=self.bucket).get("LocationConstraint")
            where = location or "us-east-1"
            if where != self.region:
                raise OpsError(
                    f"bucket {self.bucket} exists in {where}, not {self.region}",
                    f"re-run with --region {where}, or pick another --bucket",
                    EXIT_USAGE,
                )
            self.notes.append(f"bucket {self.bucket} exists in {where}")
            self._plan_settings(exists=True)
            return
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if aws.error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                raise self._taken() from exc
            self.steps.append(Step(f"create bucket {self.bucket} in {self.region}", self._create))
            self._plan_settings(exists=False)
            return
        raise self._taken()

    def _taken(self) -> OpsError:
        return OpsError(
            f"bucket {self.bucket} already exists and belongs to another AWS account "
            f"(bucket names are global; this account is {self.account})",
            "pick another name with --bucket, e.g. ollama-pulumi-state-"
            f"{self.account}-{self.region}",
            EXIT_USAGE,
        )

    def _create(self) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.s3.create_bucket(**kwargs)
        except ClientError as exc:
            if aws.error_code(exc) == "BucketAlreadyExists":
                raise self._taken() from exc
            if aws.error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        self.s3.put_bucket_tagging(
            Bucket=self.bucket,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in TAGS.items()]},
        )

    def _read(self, call: Callable[[], dict[str, Any]], *missing: str) -> dict[str, Any] | None:
        """A bucket setting, or None when it is not configured."""
        try:
            return call()
        except ClientError as exc:
            if aws.error_code(exc) in missing:
                return None
            raise

    def _plan_settings(self, exists: bool) -> None:
        s3, b = self.s3, self.bucket
        add = self.steps.append

        versioning = s3.get_bucket_versioning(Bucket=b) if exists else {}
        if versioning.get("Status") != "Enabled":
            add(
                Step(
                    "enable versioning",
                    lambda: s3.put_bucket_versioning(
                        Bucket=b, VersioningConfiguration={"Status": "Enabled"}
                    ),
                )
            )

        pab = (
            self._read(
                lambda: s3.get_public_access_block(Bucket=b),
                "NoSuchPublicAccessBlockConfiguration",
            )
            if exists
            else None
        )
        flags = (
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        )
        current = (pab or {}).get("PublicAccessBlockConfiguration", {})
        if not all(current.get(f) for f in flags):
            add(
                Step(
                    "block all public access",
                    lambda: s3.put_public_access_block(
                        Bucket=b, PublicAccessBlockConfiguration=dict.fromkeys(flags, True)
                    ),
                )
            )

        owner = (
            self._read(
                lambda: s3.get_bucket_ownership_controls(Bucket=b),
                "OwnershipControlsNotFoundError",
            )
            if exists
            else None
        )
        rules = (owner or {}).get("OwnershipControls", {}).get("Rules", [])
        if [r.get("ObjectOwnership") for r in rules] != ["BucketOwnerEnforced"]:
            add(
                Step(
                    "disable ACLs (BucketOwnerEnforced)",
                    lambda: s3.put_bucket_ownership_controls(
                        Bucket=b,
                        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
                    ),
                )
            )

        self._plan_encryption(exists)
        self._plan_policy(exists)
        self._plan_lifecycle(exists)

    def _plan_encryption(self, exists: bool) -> None:
        enc = (
            self._read(
                lambda: self.s3.get_bucket_encryption(Bucket=self.bucket),
                "ServerSideEncryptionConfigurationNotFoundError",
            )
            if exists
            else None
        )
        rules = (enc or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        defaults = [r.get("ApplyServerSideEncryptionByDefault", {}) for r in rules]
        kms = [d for d in defaults if d.get("SSEAlgorithm") == "aws:kms"]
        if kms and self.key_arn and kms[0].get("KMSMasterKeyID") not in (self.key_arn, None):
            self.notes.append(
                f"bucket encryption uses KMS key {kms[0]['KMSMasterKeyID']}; left unchanged"
            )
            return
        if kms and kms[0].get("KMSMasterKeyID") == self.key_arn:
            return

        def put() -> None:
            self.s3.put_bucket_encryption(
                Bucket=self.bucket,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": str(self.key_arn),
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                },
            )

        self.steps.append(Step(f"encrypt new objects with {KEY_ALIAS} (SSE-KMS)", put))

    def _plan_policy(self, exists: bool) -> None:
        raw = (
            self._read(lambda: self.s3.get_bucket_policy(Bucket=self.bucket), "NoSuchBucketPolicy")
            if exists
            else None
        )
        policy: dict[str, Any] = (
            json.loads(raw["Policy"]) if raw else {"Version": "2012-10-17", "Statement": []}
        )
        statements = policy.get("Statement", [])
        if isinstance(statements, dict):  # a single statement may be given without a list
            statements = [statements]
        if any(s.get("Sid") == TLS_SID and s.get("Effect") == "Deny" for s in statements):
            return
        arn = f"arn:aws:s3:::{self.bucket}"
        policy["Statement"] = [
            *statements,
            {
                "Sid": TLS_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ]
        self.steps.append(
            Step(
                "deny requests without TLS (bucket policy)",
                lambda: self.s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps(policy)),
            )
        )

    def _plan_lifecycle(self, exists: bool) -> None:
        current = (
            self._read(
                lambda: self.s3.get_bucket_lifecycle_configuration(Bucket=self.bucket),
                "NoSuchLifecycleConfiguration",
            )
            if exists
            else None
        )
        rules = (current or {}).get("Rules", [])
        ours = [r for r in rules if r.get("ID") == LIFECYCLE_ID]
        if ours and (
            ours[0].get("Status") == "Enabled"
            and ours[0].get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
            == NONCURRENT_DAYS
            and ours[0].get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
            == ABORT_UPLOAD_DAYS
        ):
            return
        rule = {
            "ID": LIFECYCLE_ID,
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_UPLOAD_DAYS},
        }
        others = [r for r in rules if r.get("ID") != LIFECYCLE_ID]
        self.steps.append(
            Step(
                f"expire noncurrent state versions after {NONCURRENT_DAYS} days",
                lambda: self.s3.put_bucket_lifecycle_configuration(
                    Bucket=self.bucket, LifecycleConfiguration={"Rules": [*others, rule]}
                ),
            )
        )


def login_commands(bucket: str, region: str) -> list[str]:
    """The commands that point Pulumi at the bootstrapped backend."""
    provider = f"awskms://{KEY_ALIAS}?region={region}"
    return [
        f"pulumi login 's3://{bucket}?region={region}'",
        *(f'pulumi stack init {env} --secrets-provider "{provider}"' for env in ENVIRONMENTS),
    ]


def run_bootstrap(args: argparse.Namespace) -> int:
    aws.check_region(args.region)
    if args.bucket is not None:
        check_bucket_name(args.bucket)
    account = aws.account_id(args.region)
    bucket = check_bucket_name(args.bucket or f"ollama-pulumi-state-{account}-{args.region}")
    boot = Bootstrap(
        s3=aws.client("s3", args.region),
        kms=aws.client("kms", args.region),
        bucket=bucket,
        region=args.region,
        account=account,
    )
    with aws.aws_errors(f"inspecting the state key and bucket {bucket}"):
        boot.plan_key()
        boot.plan_bucket()
    for note in boot.notes:
        print(f"ok: {note}")
    if not boot.steps:
        print("nothing to change: the state bucket and key are already set up")
    elif args.dry_run:
        for step in boot.steps:
            print(f"dry run: would {step.description}")
        return EXIT_OK
    else:
        confirm(
            f"Bootstrap the Pulumi state backend in account {account} ({args.region}): "
            + "; ".join(s.description for s in boot.steps),
            yes=args.yes,
        )
        with aws.aws_errors(f"bootstrapping the state key and bucket {bucket}"):
            for step in boot.steps:
                step.apply()
                print(f"done: {step.description}")
    print("\nPoint Pulumi at this backend (once per machine), then create each stack once:")
    for command in login_commands(bucket, args.region):
        print(f"  {command}")
    return EXIT_OK
