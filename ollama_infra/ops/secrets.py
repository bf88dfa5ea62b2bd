"""``ollama-ops secrets rotate``: replace a secret every Open WebUI instance shares.

  secrets rotate --stack S --secret webui-secret-key
        a new random WEBUI_SECRET_KEY in ollama/<env>/webui-secret-key; every session
        signed with the old key ends when its instance follows (typed confirmation)
  secrets rotate --stack S --secret redis-auth
        step 1: the cache accepts a new AUTH token beside the old one
        (AuthTokenUpdateStrategy ROTATE), then ollama/<env>/redis-auth holds the new one
  secrets rotate --stack S --secret redis-auth --finish
        step 2, once every instance follows: only the current token works (SET)
  secrets rotate --stack S --secret origin-header
        step 1: record a new origin header value; the next `ollama-ops deploy` makes the
        ALB accept it beside the old one, then CloudFront sends it
  secrets rotate --stack S --secret origin-header --finish
        step 2, once CloudFront is deployed with it: the next deploy drops the old value

Instances follow the Open WebUI secrets by themselves within two hours (`ollama-boot.sh
follow-secrets`, hourly plus a random delay); an instance refresh makes them follow now.
Step 2 is refused until two hours have passed since step 1, and when the cache and the
secret visibly disagree (docs/SECURITY.md, "Secret rotation"). Production needs
--production; --stack must be the selected stack unless --force-cross-env; --dry-run
changes nothing.
"""

from __future__ import annotations

import argparse
import secrets as _random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ollama_infra import origin_header
from ollama_infra.config import load_stack_values, parse_config
from ollama_infra.ops import aws, envs
from ollama_infra.ops.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
    OpsError,
    add_command,
    confirm,
)
from ollama_infra.origin_header import RotationState, StateError

NOT_FOUND = "ResourceNotFoundException"
WEBUI_KEY = "webui-secret-key"
REDIS_AUTH = "redis-auth"
ORIGIN = origin_header.SECRET_ROLE
SECRETS = (WEBUI_KEY, REDIS_AUTH, ORIGIN)
TWO_STEPS = (REDIS_AUTH, ORIGIN)
# Like the stack's own values (data.py): 64 letters and digits, valid as an ElastiCache
# AUTH token (16-128 printable characters without / " @ %) and safe inside REDIS_URL.
TOKEN_LENGTH = 64
_ALPHABET = string.ascii_letters + string.digits
# ollama-follow-secrets.timer fires an hour after its last run plus a random delay of up to
# 50 minutes (OnUnitActiveSec=1h, RandomizedDelaySec=50min, ollama_infra/userdata), so two
# checks of one instance can be 1 h 50 min apart; ten more minutes cover the restart.
FOLLOW_WINDOW = timedelta(hours=2)
# How long step 1 waits for the cache to apply a token change (minutes, usually).
CACHE_WAIT_SECONDS = 30 * 60


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "secrets", "rotate a secret the Open WebUI instances share", __doc__)
    ssub = p.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    rot = ssub.add_parser("rotate", help="store a new value (and, for redis-auth, on the cache)")
    envs.add_change_args(rot)
    rot.add_argument(
        "--secret",
        required=True,
        choices=SECRETS,
        help="which secret: webui-secret-key (ends sessions), redis-auth or origin-header "
        "(two steps each)",
    )
    rot.add_argument(
        "--finish",
        action="store_true",
        help="step 2 of redis-auth (after every instance follows) or origin-header (after "
        "CloudFront is deployed with the new value): the old value stops working",
    )
    rot.set_defaults(func=run_rotate)


def new_token() -> str:
    return "".join(_random.choice(_ALPHABET) for _ in range(TOKEN_LENGTH))


def _check_args(args: argparse.Namespace) -> None:
    """Everything the stack file can tell, before any AWS call."""
    if args.finish and args.secret not in TWO_STEPS:
        raise OpsError(
            f"--finish belongs to --secret {' or '.join(TWO_STEPS)}; {args.secret} is "
            "rotated in one step",
            f"run `ollama-ops secrets rotate --stack {args.stack} --secret {args.secret}`",
            EXIT_USAGE,
        )
    if args.secret == REDIS_AUTH:
        cfg = parse_config(args.stack, load_stack_values(args.stack))
        if not cfg.data.cache_enabled:
            raise OpsError(
                f"stack {args.stack} has no cache (data.cache_enabled is false), "
                "so it has no redis-auth token",
                "rotate a stack with a cache, or --secret webui-secret-key",
                EXIT_USAGE,
            )


def run_rotate(args: argparse.Namespace) -> int:
    _check_args(args)
    what = f"rotate {args.secret}" + (" (finish)" if args.finish else "")
    envs.guard(args, what)
    target = aws.resolve_target(args.stack, args.region)
    if args.secret == WEBUI_KEY:
        return _rotate_webui_key(args, target)
    if args.secret == ORIGIN:
        return _finish_origin(args, target) if args.finish else _start_origin(args, target)
    if args.finish:
        return _finish_redis(args, target)
    return _start_redis(args, target)


# ------------------------------------------------------------------ Secrets Manager


def _versions(sm: Any, secret_id: str) -> list[dict[str, Any]]:
    """The secret's versions (with their stages), or EXIT_NOT_FOUND with the fix."""
    with aws.aws_errors(f"reading the versions of {secret_id}", _missing(secret_id)):
        sm.describe_secret(SecretId=secret_id)
        versions: list[dict[str, Any]] = []
        page: dict[str, Any] = {}
        while True:  # botocore has no paginator for this call
            page = sm.list_secret_version_ids(SecretId=secret_id, **_next(page))
            versions += page.get("Versions", [])
            if not page.get("NextToken"):
                return versions


def _missing(secret_id: str) -> dict[str, OpsError]:
    return {
        NOT_FOUND: OpsError(
            f"no secret {secret_id}",
            "deploy the stack first (`ollama-ops deploy`); it creates the secret",
            EXIT_NOT_FOUND,
        )
    }


def _current_value(sm: Any, secret_id: str) -> str:
    with aws.aws_errors(f"reading {secret_id}", _missing(secret_id)):
        found = sm.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    return str(found["SecretString"])


def _next(page: dict[str, Any]) -> dict[str, Any]:
    return {"NextToken": page["NextToken"]} if page.get("NextToken") else {}


def _staged(versions: list[dict[str, Any]], stage: str) -> dict[str, Any] | None:
    return next((v for v in versions if stage in v.get("VersionStages", [])), None)


def _follow_hint(target: aws.Target) -> str:
    return (
        "Every instance follows within two hours (ollama-boot.sh follow-secrets, hourly plus a "
        "random delay of up to 50 minutes). To make them "
        "follow now, refresh the instances: `aws autoscaling start-instance-refresh "
        f"--auto-scaling-group-name {target.names.asg} --region {target.region}` "
        f"(progress: `ollama-ops rollout status --stack {target.stack}`)."
    )


def _rotate_webui_key(args: argparse.Namespace, target: aws.Target) -> int:
    sm = target.client("secretsmanager")
    secret_id = target.names.secret(WEBUI_KEY)
    _versions(sm, secret_id)
    if args.dry_run:
        print(f"dry run: would store a new WEBUI_SECRET_KEY in {secret_id}")
        return EXIT_OK
    confirm(
        f"Store a new WEBUI_SECRET_KEY in {secret_id}. Every session signed with the old key "
        "ends when its instance follows (within two hours), and users sign in again; while "
        "instances disagree (up to two hours) a user may be signed out more than once.",
        yes=args.yes,
        typed=args.stack,
    )
    with aws.aws_errors(f"storing a new value in {secret_id}"):
        sm.put_secret_value(SecretId=secret_id, SecretString=new_token())
    print(f"{secret_id}: new WEBUI_SECRET_KEY stored.")
    print(
        "Users: every session signed with the old key ends when the instance serving it "
        "follows; they sign in again. Instances may disagree for up to two hours, so a user "
        "may be signed out more than once."
    )
    print(_follow_hint(target))
    return EXIT_OK


# ------------------------------------------------------------------ ElastiCache


def _group(target: aws.Target) -> dict[str, Any]:
    """The stack's replication group; refuses one whose token cannot rotate now."""
    cache_id = target.names.cache
    ec = target.client("elasticache")
    missing = OpsError(
        f"no cache {cache_id} in {target.region}",
        "deploy the stack first (`ollama-ops deploy`)",
        EXIT_NOT_FOUND,
    )
    with aws.aws_errors(
        f"describing the cache {cache_id}", {"ReplicationGroupNotFoundFault": missing}
    ):
        found = ec.describe_replication_groups(ReplicationGroupId=cache_id)
        group = found["ReplicationGroups"][0]
    if not (group.get("TransitEncryptionEnabled") and group.get("AuthTokenEnabled")):
        raise OpsError(
            f"cache {cache_id} has no AUTH token with in-transit encryption, "
            "so there is no token to rotate",
            "deploy the stack (`ollama-ops deploy`): the program turns both on",
            EXIT_FAILURE,
        )
    pending = group.get("PendingModifiedValues", {}).get("AuthTokenStatus")
    if group.get("Status") != "available" or pending:
        state = f"status {group.get('Status')}" + (f", token {pending}" if pending else "")
        raise OpsError(
            f"cache {cache_id} is changing ({state})",
            "wait until it is available (`aws elasticache describe-replication-groups "
            f"--replication-group-id {cache_id}`) and run the command again",
            EXIT_REFUSED,
        )
    return dict(group)


def _modify(target: aws.Target, token: str, strategy: str) -> None:
    cache_id = target.names.cache
    with aws.aws_errors(f"setting the AUTH token of {cache_id} ({strategy})"):
        target.client("elasticache").modify_replication_group(
            ReplicationGroupId=cache_id,
            AuthToken=token,
            AuthTokenUpdateStrategy=strategy,
            ApplyImmediately=True,
        )


def _wait_available(target: aws.Target) -> None:
    """Until the cache has applied the token change; the secret changes only after it."""
    cache_id = target.names.cache
    ec = target.client("elasticache")
    with aws.aws_errors(f"waiting for the cache {cache_id}"):
        last = aws.wait_for(
            ec.get_waiter("replication_group_available"),
            CACHE_WAIT_SECONDS,
            15,
            ReplicationGroupId=cache_id,
        )
    if last is not None:
        raise OpsError(
            f"cache {cache_id} did not apply the new token within {CACHE_WAIT_SECONDS // 60} "
            "minutes; the instances keep the old token (it still works)",
            "once the cache is available, run step 1 again: "
            f"`ollama-ops secrets rotate --stack {target.stack} --secret redis-auth`",
            EXIT_FAILURE,
        )


def _start_redis(args: argparse.Namespace, target: aws.Target) -> int:
    sm = target.client("secretsmanager")
    secret_id = target.names.secret(REDIS_AUTH)
    cache_id = target.names.cache
    versions = _versions(sm, secret_id)
    current = _staged(versions, "AWSCURRENT")
    if current is None:
        raise OpsError(
            f"{secret_id} has no current value", "deploy the stack (`ollama-ops deploy`)"
        )
    _group(target)
    if args.dry_run:
        print(
            f"dry run: would add a new AUTH token to {cache_id} beside the old one (ROTATE) "
            f"and store it in {secret_id}"
        )
        return EXIT_OK
    confirm(
        f"Add a new AUTH token to {cache_id} (the old one keeps working) and store it in "
        f"{secret_id}; no session ends.",
        yes=args.yes,
    )
    token = new_token()
    # Staged first: if the cache refuses the token, the instances' value is untouched, and
    # if anything stops later, the staged version still holds the token the cache got.
    with aws.aws_errors(f"staging a new value in {secret_id}"):
        staged = sm.put_secret_value(
            SecretId=secret_id, SecretString=token, VersionStages=["AWSPENDING"]
        )["VersionId"]
    _modify(target, token, "ROTATE")
    _wait_available(target)
    # A new version made current after the cache finished: its CreatedDate is later than the
    # cache's AuthTokenLastModifiedDate, which is what --finish checks.
    with aws.aws_errors(f"making the new value of {secret_id} current"):
        sm.put_secret_value(SecretId=secret_id, SecretString=token)  # AWSCURRENT
        sm.update_secret_version_stage(
            SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=staged
        )
    print(f"step 1 done: {cache_id} accepts the old and the new token; {secret_id} holds the new.")
    print(_follow_hint(target))
    done_after = datetime.now(UTC) + FOLLOW_WINDOW
    print(
        f"Step 2, after {done_after:%Y-%m-%d %H:%M} UTC (refused earlier; a refresh makes the "
        f"instances follow sooner but does not shorten the wait): `ollama-ops secrets rotate "
        f"--stack {args.stack} --secret redis-auth --finish`."
    )
    return EXIT_OK


def _finish_redis(args: argparse.Namespace, target: aws.Target) -> int:
    sm = target.client("secretsmanager")
    secret_id = target.names.secret(REDIS_AUTH)
    cache_id = target.names.cache
    versions = _versions(sm, secret_id)
    current = _staged(versions, "AWSCURRENT")
    if _staged(versions, "AWSPENDING") is not None or current is None:
        raise OpsError(
            f"{secret_id} has a staged value that never became current: step 1 did not finish",
            f"run step 1 again: `ollama-ops secrets rotate --stack {args.stack} "
            "--secret redis-auth`",
            EXIT_REFUSED,
        )
    group = _group(target)
    stored = current["CreatedDate"]
    changed = group.get("AuthTokenLastModifiedDate")
    # Whole seconds: Secrets Manager dates may carry no fraction (a change within the
    # second the value was stored counts as before it).
    if changed is not None and changed.replace(microsecond=0) > stored.replace(microsecond=0):
        raise OpsError(
            f"the AUTH token of {cache_id} changed ({changed:%Y-%m-%d %H:%M} UTC) after "
            f"{secret_id} got its current value ({stored:%Y-%m-%d %H:%M} UTC): the secret "
            "may not hold the token the cache accepts, and SET would lock out the instances",
            f"run step 1 again: `ollama-ops secrets rotate --stack {args.stack} "
            "--secret redis-auth`",
            EXIT_REFUSED,
        )
    ready = stored + FOLLOW_WINDOW
    if datetime.now(UTC) < ready:
        raise OpsError(
            f"{secret_id} changed at {stored:%H:%M} UTC; instances may still use the old token "
            f"until {ready:%Y-%m-%d %H:%M} UTC",
            "run --finish after that time (an instance refresh only makes them follow sooner; "
            "the command still waits the two hours)",
            EXIT_REFUSED,
        )
    if args.dry_run:
        print(f"dry run: would make the value of {secret_id} the only token of {cache_id} (SET)")
        return EXIT_OK
    confirm(
        f"Make the value of {secret_id} the only AUTH token of {cache_id}; an instance still "
        "using the old token loses the cache (websockets, shared state) until it follows.",
        yes=args.yes,
        typed=args.stack,
    )
    token = _current_value(sm, secret_id)
    _modify(target, token, "SET")
    print(f"step 2 done: {cache_id} accepts only the token in {secret_id}; the old one is gone.")
    return EXIT_OK


# ------------------------------------------------------------------ origin header


def _origin_state(target: aws.Target) -> RotationState:
    """The rotation state the program reads at deploy time."""
    name = origin_header.state_name(target.names)
    missing = OpsError(
        f"no parameter {name}: the stack was not deployed by a release that rotates "
        "the origin header",
        f"deploy it first (`ollama-ops deploy --stack {target.stack}`); that creates "
        "the parameter at generation 0",
        EXIT_NOT_FOUND,
    )
    with aws.aws_errors(f"reading {name}", {"ParameterNotFound": missing}):
        found = target.client("ssm").get_parameter(Name=name)["Parameter"]
    try:
        return origin_header.parse_stored(target.names, found["Value"])
    except StateError as exc:
        raise OpsError(str(exc), origin_header.repair(target.names), EXIT_FAILURE) from None


def _write_origin_state(target: aws.Target, state: RotationState) -> None:
    name = origin_header.state_name(target.names)
    with aws.aws_errors(f"writing {name}"):
        target.client("ssm").put_parameter(
            Name=name, Value=state.to_json(), Type="String", Overwrite=True
        )


def _deploy_hint(stack: str, what: str) -> str:
    return f"Next: `ollama-ops deploy --stack {stack}` ({what})."


def _start_origin(args: argparse.Namespace, target: aws.Target) -> int:
    state = _origin_state(target)
    try:
        new = state.start()
    except StateError:
        raise OpsError(
            f"an origin header rotation is in progress ({state.describe()})",
            f"deploy it if that is not done (`ollama-ops deploy --stack {args.stack}`), then "
            f"finish it: `ollama-ops secrets rotate --stack {args.stack} --secret "
            "origin-header --finish`",
            EXIT_REFUSED,
        ) from None
    if args.dry_run:
        print(f"dry run: would record {new.describe()} in {origin_header.state_name(target.names)}")
        return EXIT_OK
    confirm(
        f"Record a new origin header value (generation {new.current}) for stack "
        f"{args.stack}. The next deployment makes the ALB accept it beside the current one, "
        "then CloudFront sends it; no request is refused.",
        yes=args.yes,
    )
    _write_origin_state(target, new)
    print(f"step 1 recorded: {new.describe()}.")
    print(
        _deploy_hint(
            args.stack,
            "the listener rule accepts both values, then the distribution sends the new one "
            f"and {target.names.secret(ORIGIN)} holds it; pulumi waits until CloudFront has "
            "deployed it",
        )
    )
    print(
        f"Then step 2: `ollama-ops secrets rotate --stack {args.stack} --secret origin-header "
        "--finish` (refused until that deployment is complete everywhere)."
    )
    return EXIT_OK


@dataclass(frozen=True)
class _Distribution:
    id: str
    status: str
    generation: str | None
    """Its OriginHeaderGeneration tag: the generation the last deployment gave it."""
    sent: str | None
    """The origin header value it adds (None: none)."""


def _distribution(target: aws.Target) -> _Distribution:
    """The stack's distribution, found by its Name tag."""
    cf = target.client("cloudfront")
    wanted = target.names.distribution
    with aws.aws_errors("finding the stack's CloudFront distribution"):
        for page in cf.get_paginator("list_distributions").paginate():
            for item in page.get("DistributionList", {}).get("Items", []):
                listed = cf.list_tags_for_resource(Resource=item["ARN"])["Tags"].get("Items", [])
                tags = {t["Key"]: t.get("Value") for t in listed}
                if tags.get("Name") != wanted:
                    continue
                dist = cf.get_distribution(Id=item["Id"])["Distribution"]
                origins = dist["DistributionConfig"]["Origins"].get("Items", [])
                sent = [
                    h["HeaderValue"]
                    for o in origins
                    for h in o.get("CustomHeaders", {}).get("Items", [])
                    if h["HeaderName"].lower() == origin_header.HEADER.lower()
                ]
                return _Distribution(
                    id=str(item["Id"]),
                    status=str(dist["Status"]),
                    generation=tags.get(origin_header.GENERATION_TAG),
                    sent=sent[0] if sent else None,
                )
    raise OpsError(
        f"no CloudFront distribution tagged Name={wanted}",
        "check --stack (is the stack deployed?)",
        EXIT_NOT_FOUND,
    )


def _accepted(target: aws.Target) -> list[str]:
    """Every origin header value a forward rule of the stack's ALB accepts."""
    elb = target.client("elbv2")
    missing = OpsError(
        f"no load balancer {target.names.alb}", "check --stack and --region", EXIT_NOT_FOUND
    )
    with aws.aws_errors(
        f"reading the listener rules of {target.names.alb}", {"LoadBalancerNotFound": missing}
    ):
        (lb,) = elb.describe_load_balancers(Names=[target.names.alb])["LoadBalancers"]
        listeners = aws.paginate(
            elb, "describe_listeners", "Listeners", LoadBalancerArn=lb["LoadBalancerArn"]
        )
        values: list[str] = []
        for listener in listeners:
            for rule in aws.paginate(
                elb, "describe_rules", "Rules", ListenerArn=listener["ListenerArn"]
            ):
                if not any(a["Type"] == "forward" for a in rule.get("Actions", [])):
                    continue
                for condition in rule.get("Conditions", []):
                    header = condition.get("HttpHeaderConfig", {})
                    if header.get("HttpHeaderName", "").lower() == origin_header.HEADER.lower():
                        values += header.get("Values", [])
    return values


def _finish_origin(args: argparse.Namespace, target: aws.Target) -> int:
    state = _origin_state(target)
    if not state.rotating:
        raise OpsError(
            f"no origin header rotation is in progress ({state.describe()})",
            f"start one: `ollama-ops secrets rotate --stack {args.stack} --secret origin-header`",
            EXIT_REFUSED,
        )
    deploy = f"`ollama-ops deploy --stack {args.stack}`, then run --finish again"
    dist = _distribution(target)
    # The deployment after step 1 tags the distribution with the new generation; until then
    # CloudFront and the secret may well agree, on the old value.
    if dist.generation != str(state.current):
        raise OpsError(
            f"CloudFront distribution {dist.id} is tagged {origin_header.GENERATION_TAG}="
            f"{dist.generation}, not {state.current}: the stack was not deployed since step 1",
            deploy,
            EXIT_REFUSED,
        )
    secret_id = target.names.secret(ORIGIN)
    value = _current_value(target.client("secretsmanager"), secret_id)
    if dist.sent != value:
        raise OpsError(
            f"CloudFront distribution {dist.id} does not send the value in {secret_id}: the "
            "deployment after step 1 did not finish",
            deploy,
            EXIT_REFUSED,
        )
    if value not in _accepted(target):
        raise OpsError(
            f"no listener rule of {target.names.alb} accepts the value in {secret_id}",
            deploy,
            EXIT_REFUSED,
        )
    if dist.status != "Deployed":
        raise OpsError(
            f"CloudFront distribution {dist.id} is {dist.status}: some edge locations may "
            "still send the old value",
            f"wait (`aws cloudfront wait distribution-deployed --id {dist.id}`), then run "
            "--finish again",
            EXIT_REFUSED,
        )
    new = state.finish()
    if args.dry_run:
        print(f"dry run: would record {new.describe()}; the next deploy drops the old value")
        return EXIT_OK
    confirm(
        f"Record that the ALB of stack {args.stack} accepts only the new origin header value "
        f"(generation {new.current}); the next deployment drops the old one.",
        yes=args.yes,
    )
    _write_origin_state(target, new)
    print(f"step 2 recorded: {new.describe()}.")
    print(_deploy_hint(args.stack, "the listener rule accepts only the new value"))
    return EXIT_OK
