"""``ollama-ops users``: people in a stack's Cognito user pool (single sign-on).

  list    members of ollama-users-<env> and their groups
  add     create a user (Cognito e-mails a temporary password) in the user group,
          or in the admin group with --admin; an existing user just gains the group
  remove  delete a user from the pool (asks for confirmation unless --yes)

Only for stacks with auth.mode: oidc and provider: cognito; with an external provider,
manage people in that provider. Group membership is the Open WebUI role at the next sign-in
(docs/identity.md). The e-mail (and the stack's allowed domains) are checked before any AWS
call; changes to production need --production; --stack must be the selected stack unless
--force-cross-env.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from botocore.exceptions import ClientError

from ollama_infra.config import AuthConfig, load_stack_values, name_suffix, parse_config
from ollama_infra.config.fields import EMAIL_RE
from ollama_infra.ops import aws, envs
from ollama_infra.ops.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_region,
    confirm,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "users", "list, add or remove people in a stack's Cognito pool", __doc__)
    usub = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    ls = usub.add_parser("list", help="list the users of the stack's pool and their groups")
    envs.add_stack_args(ls)
    add_region(ls)
    ls.add_argument("--json", action="store_true", help="print the users as JSON")
    ls.set_defaults(func=run_list)

    add = usub.add_parser("add", help="create a user (or add an existing one to a group)")
    envs.add_change_args(add)
    add.add_argument("--email", required=True, help="the person's e-mail (their user name)")
    add.add_argument("--admin", action="store_true", help="put them in the admin group")
    add.set_defaults(func=run_add)

    rm = usub.add_parser("remove", help="delete a user from the pool")
    envs.add_change_args(rm)
    rm.add_argument("--email", required=True, help="e-mail of the user to delete")
    rm.set_defaults(func=run_remove)


def stack_auth(args: argparse.Namespace) -> AuthConfig:
    """The stack file's auth section (after --region); refuses stacks without their own pool."""
    if args.region is not None:
        aws.check_region(args.region)
    stack = args.stack
    auth = parse_config(stack, load_stack_values(stack)).auth
    if auth.mode != "oidc" or auth.provider != "cognito":
        where = "local accounts" if auth.mode == "local" else "an external OIDC provider"
        raise OpsError(
            f"stack {stack} signs users in with {where}, so it has no user pool",
            "set ollama:auth mode: oidc (provider: cognito) in the stack file and deploy, "
            "or manage users where they live (docs/identity.md)",
            EXIT_USAGE,
        )
    return auth


def checked_email(email: str, allowed: list[str]) -> str:
    """The e-mail as Cognito and Open WebUI will see it (lowercase), or a usage error."""
    value = email.strip().lower()
    if not EMAIL_RE.match(value):
        raise OpsError(
            f"--email {email!r} is not an e-mail address",
            "pass e.g. --email ada@example.com",
            EXIT_USAGE,
        )
    domain = value.rsplit("@", 1)[1]
    if allowed and domain not in allowed:
        raise OpsError(
            f"--email {value}: Open WebUI admits only {', '.join(allowed)} "
            "(auth.allowed_email_domains), so this user could never sign in",
            "use an address in an allowed domain, or add the domain to the stack file",
            EXIT_USAGE,
        )
    return value


def find_pool(target: aws.Target) -> str:
    """The id of the pool named ollama-users-<env> (exactly one)."""
    name = f"ollama-users-{target.names.env}"
    idp = target.client("cognito-idp")
    with aws.aws_errors("listing Cognito user pools"):
        pools = aws.paginate(idp, "list_user_pools", "UserPools", MaxResults=60)
    ids = [p["Id"] for p in pools if p.get("Name") == name]
    if not ids:
        raise OpsError(
            f"no Cognito user pool named {name} in {target.region}",
            "deploy the stack with auth.mode: oidc first (ollama-ops deploy)",
            EXIT_FAILURE,
        )
    if len(ids) > 1:
        raise OpsError(
            f"{len(ids)} Cognito user pools are named {name} in {target.region}: {', '.join(ids)}",
            "delete the one the stack does not manage (pulumi stack output ollama_user_pool_id)",
            EXIT_FAILURE,
        )
    return str(ids[0])


def _groups(idp: Any, pool: str, user: str) -> list[str]:
    return sorted(
        g["GroupName"]
        for g in aws.paginate(
            idp, "admin_list_groups_for_user", "Groups", UserPoolId=pool, Username=user
        )
    )


def _attribute(user: dict[str, Any], name: str) -> str:
    for attr in user.get("Attributes", []):
        if attr["Name"] == name:
            return str(attr["Value"])
    return ""


def run_list(args: argparse.Namespace) -> int:
    stack_auth(args)
    envs.guard(args)
    target = aws.resolve_target(args.stack, args.region)
    pool = find_pool(target)
    idp = target.client("cognito-idp")
    with aws.aws_errors(f"listing the users of {pool}"):
        users = [
            {
                "email": _attribute(u, "email") or u["Username"],
                "status": u.get("UserStatus", ""),
                "enabled": bool(u.get("Enabled", True)),
                "groups": _groups(idp, pool, u["Username"]),
            }
            for u in aws.paginate(idp, "list_users", "Users", UserPoolId=pool)
        ]
    users.sort(key=lambda u: str(u["email"]))
    if args.json:
        print(json.dumps(users, indent=2))
        return EXIT_OK
    print(f"ollama-users-{name_suffix(args.stack)} ({pool}): {len(users)} user(s)")
    for u in users:
        groups = ", ".join(u["groups"]) or "no group (Open WebUI role: pending)"
        print(f"  {u['email']}  {u['status']}  {groups}")
    return EXIT_OK


def run_add(args: argparse.Namespace) -> int:
    auth = stack_auth(args)
    email = checked_email(args.email, auth.allowed_email_domains)
    group = auth.admin_group if args.admin else auth.user_group
    envs.guard(args, "add a user")
    target = aws.resolve_target(args.stack, args.region)
    pool = find_pool(target)
    if args.dry_run:
        print(f"dry run: would add {email} to {pool} in group {group}")
        return EXIT_OK
    confirm(
        f"Add {email} to ollama-users-{name_suffix(args.stack)} in group {group}.", yes=args.yes
    )
    idp = target.client("cognito-idp")
    created = True
    with aws.aws_errors(f"creating {email} in {pool}"):
        try:
            idp.admin_create_user(
                UserPoolId=pool,
                Username=email,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                ],
                DesiredDeliveryMediums=["EMAIL"],
            )
        except ClientError as exc:
            if aws.error_code(exc) != "UsernameExistsException":
                raise
            created = False
    with aws.aws_errors(f"adding {email} to group {group}"):
        idp.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=group)
    what = "created (Cognito e-mails a temporary password)" if created else "already existed"
    print(f"{email} {what}; member of {group}: Open WebUI role at next sign-in")
    return EXIT_OK


def run_remove(args: argparse.Namespace) -> int:
    stack_auth(args)
    email = checked_email(args.email, [])  # anyone in the pool may be removed
    envs.guard(args, "remove a user")
    target = aws.resolve_target(args.stack, args.region)
    pool = find_pool(target)
    if args.dry_run:
        print(f"dry run: would delete {email} from {pool}")
        return EXIT_OK
    confirm(
        f"Delete {email} from ollama-users-{name_suffix(args.stack)}; their Open WebUI "
        "account stays but they can no longer sign in.",
        yes=args.yes,
        typed=email,
    )
    idp = target.client("cognito-idp")
    missing = OpsError(
        f"{email} is not a user of {pool}", "check `ollama-ops users list`", EXIT_FAILURE
    )
    with aws.aws_errors(f"deleting {email} from {pool}", {"UserNotFoundException": missing}):
        idp.admin_delete_user(UserPoolId=pool, Username=email)
    print(f"{email} deleted from {pool}")
    return EXIT_OK
