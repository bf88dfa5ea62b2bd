"""No plaintext secrets in user data, launch templates, parameters or stack outputs.

Two complementary checks:
- pattern scan (resource policy): content that looks like a credential (AWS keys, private
  keys, ``PASSWORD=<literal>``, ``WEBUI_SECRET_KEY=<literal>``, tokens) in user data, String
  parameters and plaintext password inputs;
- value tracking (stack policy): the values of the stack's own secrets (generated passwords,
  secret versions, auth tokens, SecureString parameters) must not be copied into user data,
  String parameters or stack outputs, where anyone with read access to the launch template,
  the parameter or the state would see them. Instances read secrets at boot instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ollama_infra.policy.common import (
    Report,
    ResourceLike,
    by_prop,
    decode_user_data,
    find_secrets,
    flag,
    get,
    of_type,
    policy,
    walk_strings,
)

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
PARAMETER = "aws:ssm/parameter:Parameter"
DB_INSTANCE = "aws:rds/instance:Instance"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"  # noqa: S105 (a type token)
REPLICATION_GROUP = "aws:elasticache/replicationGroup:ReplicationGroup"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"  # noqa: S105 (a type token)
RANDOM_STRING = "random:index/randomString:RandomString"
SECRET = "aws:secretsmanager/secret:Secret"  # noqa: S105 (a type token)
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"  # noqa: S105
STACK = "pulumi:pulumi:Stack"

SECRET_NAME_RE = re.compile(r"(?i)(password|passwd|secret|token|api[-_]?key|private[-_]?key)")
MIN_SECRET_LENGTH = 8  # shorter values are too likely to collide with ordinary text


def plain_places(res: ResourceLike) -> list[tuple[str, str]]:
    """(where, text) a resource exposes in plain text: user data and String parameter values."""
    p = res.props
    if res.resource_type in (LAUNCH_TEMPLATE, INSTANCE):
        return [("user_data", decode_user_data(p.get("userData")))]
    if res.resource_type == PARAMETER and p.get("type") != "SecureString":
        value = p.get("value") if p.get("value") is not None else p.get("insecureValue")
        return [("value", value)] if isinstance(value, str) else []
    return []


@policy(
    "no-plaintext-secrets",
    "No secret-looking content in user data, String parameters or plaintext password inputs.",
    LAUNCH_TEMPLATE,
    INSTANCE,
    PARAMETER,
    DB_INSTANCE,
    checkov=("CKV_AWS_46", "CKV2_AWS_34", "CKV_AWS_384"),
    trivy=("AVD-AWS-0129", "AVD-AWS-0029"),
)
def no_plaintext_secrets(args: Any, report: Report) -> None:
    for where, text in plain_places(args):
        found = find_secrets(text)
        if found:
            flag(
                report,
                args,
                f"{where} contains what looks like a secret ({', '.join(found)})",
                "store the value in Secrets Manager (ollama/<env>/...) and read it at boot "
                "with the instance role; never render it into user data or a String parameter",
            )
    p = args.props
    if args.resource_type == PARAMETER and p.get("type") != "SecureString":
        name = str(p.get("name") or "")
        if SECRET_NAME_RE.search(name.rsplit("/", 1)[-1]):
            flag(
                report,
                args,
                f"parameter {name!r} is named like a secret but is type {p.get('type')!r}",
                "use a SecureString parameter or a Secrets Manager secret",
            )
    if args.resource_type == DB_INSTANCE and p.get("password"):
        flag(
            report,
            args,
            "the master password is passed as an input (it lands in the state and plan)",
            "set manage_master_user_password=True and let RDS keep it in Secrets Manager",
        )


def secret_values(resources: Iterable[ResourceLike]) -> dict[str, str]:
    """value -> the resource that owns it, for every secret value the stack knows."""
    out: dict[str, str] = {}

    def add(value: Any, owner: ResourceLike) -> None:
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            out[value] = f"{owner.resource_type} '{owner.name}'"

    for r in resources:
        p = r.props
        if r.resource_type in (RANDOM_PASSWORD, RANDOM_STRING):
            add(p.get("result"), r)
        elif r.resource_type == SECRET_VERSION:
            text = p.get("secretString")
            add(text, r)
            try:
                parsed = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                parsed = None
            if isinstance(parsed, Mapping):
                for key, value in parsed.items():
                    if SECRET_NAME_RE.search(str(key)):
                        add(value, r)
        elif r.resource_type == DB_INSTANCE:
            add(p.get("password"), r)
        elif r.resource_type == REPLICATION_GROUP:
            add(p.get("authToken"), r)
        elif r.resource_type == PARAMETER and p.get("type") == "SecureString":
            add(p.get("value"), r)
    return out


@policy(
    "secrets-not-exposed",
    "Secret values are not copied into user data, String parameters or stack outputs.",
    STACK,
    LAUNCH_TEMPLATE,
    INSTANCE,
    PARAMETER,
    stack=True,
    checkov=("CKV_AWS_46",),
    trivy=("AVD-AWS-0129",),
)
def secrets_not_exposed(args: Any, report: Report) -> None:
    resources = list(args.resources)
    known = secret_values(resources)
    for res in resources:
        if res.resource_type == STACK:
            places = list(walk_strings(res.props, "outputs"))
        else:
            places = plain_places(res)
        for where, text in places:
            for value, owner in known.items():
                if value in text:
                    flag(
                        report,
                        res,
                        f"{where} contains the value of {owner}",
                        "export or pass the secret's ARN or name instead and read the "
                        "value where it is needed",
                    )
            if res.resource_type == STACK:
                found = find_secrets(text)
                if found:
                    flag(
                        report,
                        res,
                        f"stack output {where} looks like a secret ({', '.join(found)})",
                        "do not export credentials; export the secret's ARN",
                    )


# Secrets that do not rotate by themselves, by the last part of their name
# (ollama/<env>/<role>), with how they are rotated instead (docs/SECURITY.md, CKV2_AWS_57).
# The RDS-managed master secret is not declared by the program: RDS rotates it.
MANUAL_ROTATION: dict[str, str] = {
    "webui-secret-key": "`ollama-ops secrets rotate --secret webui-secret-key`: a new value "
    "that every instance follows within two hours (ollama-boot.sh follow-secrets); sessions "
    "signed with the old key end",
    "webui-admin": "the initial admin only: Open WebUI reads it while no user exists; later "
    "changes are made in Open WebUI and stored back (docs/SECURITY.md, Secret rotation)",
    "oidc-client": "the Cognito app client's secret is generated by Cognito; a new client "
    "replaces it",
    "redis-auth": "`ollama-ops secrets rotate --secret redis-auth`: a new token beside the "
    "old one (ROTATE), followed by the instances, then `--finish` (SET) retires the old one",
    "origin-header": "`ollama-ops secrets rotate --secret origin-header` and a deploy: the "
    "listener rule accepts the old and the new value while CloudFront switches, then "
    "`--finish` and a deploy drop the old one",
}
MAX_ROTATION_DAYS = 365


@policy(
    "secret-rotation",
    "Secrets rotate automatically within a year, or are a documented manual rotation.",
    SECRET,
    stack=True,
    checkov=("CKV2_AWS_57",),
)
def secret_rotation(args: Any, report: Report) -> None:
    rotations = by_prop(args, SECRET_ROTATION, "secretId")
    for secret in of_type(args, SECRET):
        rotation = rotations.get(str(secret.props.get("arn"))) or rotations.get(
            str(secret.props.get("id"))
        )
        role = str(secret.props.get("name") or "").rsplit("/", 1)[-1]
        if rotation is None:
            if role not in MANUAL_ROTATION:
                flag(
                    report,
                    secret,
                    "secret is never rotated and is not a documented manual rotation",
                    "add an aws.secretsmanager.SecretRotation with a rotation function, or "
                    "list it in rules_secrets.MANUAL_ROTATION with how it is rotated "
                    "(docs/SECURITY.md)",
                )
            continue
        days = get(rotation.props, "rotationRules", "automaticallyAfterDays")
        lambda_arn = rotation.props.get("rotationLambdaArn")
        if not lambda_arn or not isinstance(days, int | float) or days > MAX_ROTATION_DAYS:
            flag(
                report,
                secret,
                f"rotation has no function or an interval of {days} days",
                f"rotate it with a function at most every {MAX_ROTATION_DAYS} days "
                "(data.secret_rotation_days)",
            )
