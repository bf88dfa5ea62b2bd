"""AWS access for the ops CLI: one client factory, one error table, stack targeting.

Every boto3 client the CLI uses comes from ``client()``, so tests can swap the factory
(moto, or a patched client that raises faults moto cannot produce). Every AWS and
Pulumi failure is translated through ``ERROR_RULES``: one place that says what went
wrong and what to do about it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    WaiterError,
)

from ollama_infra import naming
from ollama_infra.config import (
    REGION_RE,
    StackFileMissing,
    load_stack_values,
    parse_stack_name,
    stack_names,
)
from ollama_infra.ops.common import (
    EXIT_AWS,
    EXIT_CERTIFICATE,
    EXIT_CONFLICT,
    EXIT_CREDENTIALS,
    EXIT_LOCKED,
    EXIT_NO_STACK_FILE,
    EXIT_NOT_FOUND,
    EXIT_PERMISSION,
    EXIT_QUOTA,
    EXIT_THROTTLED,
    EXIT_USAGE,
    OpsError,
)

ClientFactory = Callable[[str, str], Any]

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10)


def default_factory(service: str, region: str) -> Any:
    """A boto3 client from the default credential chain (env, profile, SSO, instance role)."""
    return boto3.session.Session().client(service, region_name=region, config=_RETRIES)  # type: ignore[call-overload]


_factory: ClientFactory = default_factory


def set_client_factory(factory: ClientFactory | None) -> ClientFactory:
    """Replace the client factory (None restores the default); returns the previous one."""
    global _factory
    previous = _factory
    _factory = factory or default_factory
    return previous


def client(service: str, region: str) -> Any:
    return _factory(service, region)


# --- the error table (Property 16) ---------------------------------------------------------


@dataclass(frozen=True)
class ErrorRule:
    """A class of failure: AWS error codes and/or output patterns, and what to do about it."""

    key: str
    codes: tuple[str, ...]
    patterns: tuple[str, ...]
    message: str
    remedy: str
    exit_code: int

    def matches(self, code: str | None, text: str) -> bool:
        if code and code in self.codes:
            return True
        return any(re.search(p, text, re.IGNORECASE) for p in self.patterns)


ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(
        "expired-credentials",
        ("ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"),
        (r"ExpiredToken", r"security token included in the request is expired"),
        "the AWS credentials have expired",
        "refresh them (`aws sso login --profile <profile>` or a new session) and re-run",
        EXIT_CREDENTIALS,
    ),
    ErrorRule(
        "invalid-credentials",
        (
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
            "AuthFailure",
            "NoCredentials",
        ),
        (r"InvalidClientTokenId", r"no valid credential sources", r"NoCredentialProviders"),
        "no valid AWS credentials were found",
        "set AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and check "
        "`aws sts get-caller-identity`",
        EXIT_CREDENTIALS,
    ),
    ErrorRule(
        "stack-locked",
        (),
        (r"stack is currently locked", r"the stack is locked", r"conflict: Another update"),
        "the Pulumi stack is locked by another update",
        "wait for the other update to finish; if it crashed: `pulumi cancel --stack <stack>` "
        "on Pulumi Cloud, or delete the stale lock object under .pulumi/locks/ in the state "
        "bucket (docs/runbooks/troubleshooting.md)",
        EXIT_LOCKED,
    ),
    ErrorRule(
        "certificate-region",
        ("InvalidViewerCertificate",),
        (r"InvalidViewerCertificate", r"certificate.*(must be|isn't) in (the )?us-east-1"),
        "CloudFront rejected the certificate: CloudFront certificates must be in us-east-1",
        "request or import the certificate in ACM in us-east-1 and set "
        "edge.cloudfront_certificate_arn to it (the ALB certificate stays in the stack's region)",
        EXIT_CERTIFICATE,
    ),
    ErrorRule(
        "permission",
        (
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "AuthorizationError",
            "Forbidden",
        ),
        (r"AccessDenied", r"is not authorized to perform", r"UnauthorizedOperation"),
        "the AWS identity lacks a permission this operation needs",
        "grant the action named above to your role (see docs/runbooks/deployment.md, "
        "'Permissions'), or run with a role that has it",
        EXIT_PERMISSION,
    ),
    ErrorRule(
        "throttled",
        (
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TooManyRequestsException",
            "ProvisionedThroughputExceededException",
            "SlowDown",
        ),
        (r"Rate exceeded", r"ThrottlingException", r"RequestLimitExceeded"),
        "AWS throttled the requests (rate exceeded) even after retries",
        "wait a minute and re-run; nothing was changed after the failing call",
        EXIT_THROTTLED,
    ),
    ErrorRule(
        "quota",
        (
            "LimitExceededException",
            "LimitExceeded",
            "ServiceQuotaExceededException",
            "VcpuLimitExceeded",
            "InstanceLimitExceeded",
            "TooManyBuckets",
            "AddressLimitExceeded",
        ),
        (r"VcpuLimitExceeded", r"LimitExceeded", r"quota", r"TooManyBuckets"),
        "an AWS service quota was reached",
        "request an increase in the Service Quotas console for the quota named above, "
        "or lower the capacity in the stack config",
        EXIT_QUOTA,
    ),
    ErrorRule(
        "not-found",
        (
            "ResourceNotFoundException",
            "TableNotFoundException",
            "BackupNotFoundException",
            "NoSuchBucket",
            "NoSuchKey",
            "NoSuchVersion",
            "ParameterNotFound",
            "InvalidAMIID.NotFound",
            "InvalidSnapshot.NotFound",
            "LoadBalancerNotFound",
            "TargetGroupNotFound",
        ),
        (),
        "a resource the operation needs does not exist",
        "check --stack and --region (is the stack deployed there?) and the name above",
        EXIT_NOT_FOUND,
    ),
    ErrorRule(
        "conflict",
        (
            "ResourceInUseException",
            "TableAlreadyExistsException",
            "BucketAlreadyExists",
            "BucketAlreadyOwnedByYou",
            "AlreadyExistsException",
        ),
        (),
        "the target already exists or is busy",
        "pick a new target name (restores never overwrite), or wait for the resource to settle",
        EXIT_CONFLICT,
    ),
)


def classify(code: str | None, text: str = "") -> ErrorRule | None:
    """The first rule matching an AWS error code or a piece of Pulumi/AWS output."""
    for rule in ERROR_RULES:
        if rule.matches(code, text):
            return rule
    return None


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "") or None
    if isinstance(exc, NoCredentialsError):
        return "NoCredentials"
    return None


def to_ops_error(exc: BaseException, action: str) -> OpsError:
    """Translate a botocore failure during ``action`` into an OpsError with a remedy."""
    code = error_code(exc)
    detail = str(exc)
    rule = classify(code, detail)
    if rule is not None:
        return OpsError(f"{action}: {rule.message} ({detail})", rule.remedy, rule.exit_code)
    if isinstance(exc, NoRegionError):
        return OpsError(f"{action}: no AWS region", "pass --region", EXIT_USAGE)
    if isinstance(exc, EndpointConnectionError):
        return OpsError(
            f"{action}: cannot reach the AWS endpoint ({detail})",
            "check network access/proxy settings and the region name",
            EXIT_AWS,
        )
    return OpsError(f"{action}: AWS call failed ({detail})", "see the AWS message above", EXIT_AWS)


@contextmanager
def aws_errors(action: str, known: Mapping[str, OpsError] | None = None) -> Iterator[None]:
    """Run AWS calls, turning botocore failures into OpsError (with the action named);
    ``known`` gives the command's own error for an error code it expects (e.g. not found)."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        if known and code is not None and code in known:
            raise known[code] from None
        raise to_ops_error(exc, action) from exc
    except BotoCoreError as exc:
        raise to_ops_error(exc, action) from exc


# --- which stack, region and account -------------------------------------------------------


def check_region(region: str) -> str:
    """A --region value, checked before it reaches boto3 (which accepts any string)."""
    if not REGION_RE.match(region):
        raise OpsError(
            f"--region {region!r} is not an AWS region name",
            "use a region such as us-east-1",
            EXIT_USAGE,
        )
    return region


def check_bucket_name(bucket: str, flag: str) -> str:
    """An S3 bucket name argument, checked before any AWS call (S3 would only say 'invalid')."""
    ip_like = re.match(r"^\d+\.\d+\.\d+\.\d+$", bucket)
    if not naming.BUCKET_RE.match(bucket) or ".." in bucket or ip_like:
        raise OpsError(
            f"{flag} {bucket!r} is not a valid S3 bucket name",
            "use 3-63 lowercase letters, digits, '-' and '.', starting and ending with a "
            "letter or digit (a bucket name, not an s3:// URL or ARN)",
            EXIT_USAGE,
        )
    return bucket


def _file_region(stack: str, root: Path | None) -> str:
    """The stack file's aws:region (StackFileMissing when there is no stack file)."""
    region = load_stack_values(stack, root).get("aws:region")
    if not isinstance(region, str) or not region:
        raise OpsError(
            f"Pulumi.{stack}.yaml has no aws:region",
            f"run `pulumi config set aws:region <region> --stack {stack}`",
            EXIT_USAGE,
        )
    return region


def stack_region(stack: str, override: str | None = None, root: Path | None = None) -> str:
    """The stack's own region; a --region ``override`` must agree with it.

    --region never redirects a command to another region (or stack): a DR copy is its own
    stack (``production-us-west-2``), so a --region that disagrees is refused, naming the
    stack's real region. The stack's region is its stack file's aws:region, else the region
    in a DR stack's name; only a stack without either takes --region as given. Needs no AWS.
    """
    if override:
        check_region(override)
    try:
        own = _file_region(stack, root)
    except StackFileMissing as exc:
        dr_region = parse_stack_name(stack).dr_region if stack else None
        if dr_region is None:
            if override:
                return override
            fix = f"pass --region, or {exc.fix}"
            raise OpsError(exc.message, fix, EXIT_NO_STACK_FILE) from exc
        own = dr_region
    if override and override != own:
        env = parse_stack_name(stack).env
        raise OpsError(
            f"--region {override} disagrees with stack '{stack}', which lives in {own} "
            "(its aws:region); --region never redirects a command to another region or stack",
            f"drop --region (or pass --region {own}); to act on a DR copy in {override}, "
            f"name its stack: --stack {env}-{override}",
            EXIT_USAGE,
        )
    return own


def account_id(region: str) -> str:
    with aws_errors("reading the caller identity (sts:GetCallerIdentity)"):
        return str(client("sts", region).get_caller_identity()["Account"])


@dataclass(frozen=True)
class Target:
    """The stack a command acts on, where it lives, and its resource names."""

    stack: str
    region: str
    account_id: str

    @property
    def names(self) -> naming.StackNames:
        return stack_names(self.stack, self.account_id)

    def client(self, service: str) -> Any:
        return client(service, self.region)


def resolve_target(stack: str, region: str | None = None) -> Target:
    reg = stack_region(stack, region)
    return Target(stack=stack, region=reg, account_id=account_id(reg))


def paginate(api: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """All items of a paginated list call."""
    items: list[Any] = []
    for page in api.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def wait_for(waiter: Any, seconds: float, delay: float, **params: Any) -> dict[str, Any] | None:
    """Run a boto3 waiter for about ``seconds``, polling every ``delay`` seconds.

    None once it succeeds; else its last response (timed out, or a failure state) for the
    caller's message. An AWS error that no acceptor expects is raised as the ClientError
    it was, so ``aws_errors`` maps it like any other failed call.
    """
    config = {"Delay": delay, "MaxAttempts": math.ceil(seconds / delay) + 1}
    try:
        waiter.wait(WaiterConfig=config, **params)
    except WaiterError as exc:
        last = exc.last_response
        if "Error" in last and not any(a.matcher_func(last) for a in waiter.config.acceptors):
            raise ClientError(last, waiter.config.operation) from exc
        return dict(last)
    return None
