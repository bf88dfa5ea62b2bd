"""``ollama-ops models``: list, add and remove entries of a stack's model catalog.

  list    the models the stack's instances pull at boot (table ollama-data-table-<env>)
  add     add or update a model, optionally pinned to a digest (--model, --digest)
  remove  remove a model

add and remove change the stack: they ask for confirmation unless --yes, production
also needs --production, and like every command they refuse a --stack other than the
selected stack unless --force-cross-env (see `ollama-ops env --help`).

Model names are validated before any AWS call: they end up in shell commands and URLs
on the instances. Running instances pick up catalog changes on their next boot (an
instance refresh rolls them); see docs/data.md.
"""

from __future__ import annotations

import argparse
import json

from botocore.exceptions import ClientError

from ollama_infra import catalog
from ollama_infra.config import environment_of
from ollama_infra.ops import aws, envs
from ollama_infra.ops.common import (
    EXIT_OK,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_region,
    confirm,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "models", "list, add or remove models in a stack's model catalog", __doc__)
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    ls = msub.add_parser("list", help="list the catalog of a stack")
    envs.add_stack_args(ls)
    add_region(ls)
    ls.add_argument("--json", action="store_true", help="print the entries as JSON")
    ls.set_defaults(func=run_list)

    add = msub.add_parser("add", help="add (or update) a model in the catalog")
    envs.add_change_args(add)
    add.add_argument("--model", required=True, help="Ollama model, e.g. llama3.2:1b")
    add.add_argument("--digest", help="pin to this digest (sha256:<64 hex>)")
    add.add_argument(
        "--disabled", action="store_true", help="add the entry disabled (instances skip it)"
    )
    add.set_defaults(func=run_add)

    rm = msub.add_parser("remove", help="remove a model from the catalog")
    envs.add_change_args(rm)
    rm.add_argument("--model", required=True, help="Ollama model to remove, e.g. llama3.2:1b")
    rm.set_defaults(func=run_remove)


def _validated(fn_args: argparse.Namespace) -> tuple[str, str | None]:
    """Check --model/--digest before anything talks to AWS."""
    try:
        return catalog.parse_model(fn_args.model, getattr(fn_args, "digest", None))
    except catalog.CatalogError as exc:
        raise OpsError(
            f"--model/--digest rejected: {exc}", "nothing was changed", EXIT_USAGE
        ) from None


def _key(args: argparse.Namespace) -> str:
    """The catalog's partition key: the environment (a DR copy serves its primary's models)."""
    return environment_of(args.stack)


def _table(args: argparse.Namespace) -> tuple[aws.Target, str]:
    """The catalog in use: the stack's table, or the one `restore switch` made active."""
    target = aws.resolve_target(args.stack, args.region)
    name = target.names.active_table_parameter
    with aws.aws_errors(f"reading {name}"):
        try:
            value = target.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterNotFound":
                raise
            return target, target.names.table
    return target, str(value)


def _describe(entry: catalog.CatalogEntry) -> str:
    pin = f" @{entry.digest}" if entry.digest else ""
    state = "enabled" if entry.enabled else "disabled"
    return f"{entry.model}{pin} ({state}; added by {entry.added_by} at {entry.added_at})"


def run_list(args: argparse.Namespace) -> int:
    envs.guard(args)
    target, table = _table(args)
    with aws.aws_errors(f"reading the model catalog {table}"):
        entries = catalog.list_entries(target.client("dynamodb"), table, _key(args))
    if args.json:
        print(json.dumps([e.__dict__ for e in entries], indent=2))
        return EXIT_OK
    if not entries:
        print(
            f"{table}: no models for {args.stack}; instances fall back to the "
            f"{target.names.parameter('ollama/default-models')} parameter"
        )
        return EXIT_OK
    print(f"{table} ({args.stack}):")
    for entry in entries:
        print(f"  {_describe(entry)}")
    return EXIT_OK


def run_add(args: argparse.Namespace) -> int:
    _validated(args)
    envs.guard(args, "add a model")
    target, table = _table(args)
    with aws.aws_errors("reading the caller identity (sts:GetCallerIdentity)"):
        who = str(target.client("sts").get_caller_identity()["Arn"])
    entry = catalog.new_entry(
        _key(args), args.model, who, digest=args.digest, enabled=not args.disabled
    )
    dynamodb = target.client("dynamodb")
    with aws.aws_errors(f"reading the model catalog {table}"):
        existing = catalog.get_entry(dynamodb, table, _key(args), entry.model)
    verb, done = ("update", "updated") if existing else ("add", "added")
    if args.dry_run:
        print(f"dry run: would {verb} {_describe(entry)} in {table}")
        return EXIT_OK
    confirm(
        f"{verb.capitalize()} {_describe(entry)} in the {args.stack} catalog ({table})?",
        yes=args.yes,
    )
    with aws.aws_errors(f"writing to the model catalog {table}"):
        catalog.put_entry(dynamodb, table, entry)
    print(f"{done} {_describe(entry)} in {table}")
    print("running instances pull it on their next boot (instance refresh)")
    return EXIT_OK


def run_remove(args: argparse.Namespace) -> int:
    name, _ = _validated(args)
    envs.guard(args, "remove a model")
    target, table = _table(args)
    dynamodb = target.client("dynamodb")
    with aws.aws_errors(f"reading the model catalog {table}"):
        existing = catalog.get_entry(dynamodb, table, _key(args), name)
    if existing is None:
        raise OpsError(
            f"{name} is not in the {args.stack} catalog ({table})",
            f"list the catalog with `ollama-ops models list --stack {args.stack}`",
            EXIT_USAGE,
        )
    if args.dry_run:
        print(f"dry run: would remove {_describe(existing)} from {table}")
        return EXIT_OK
    confirm(f"Remove {name} from the {args.stack} model catalog ({table})?", yes=args.yes)
    try:
        catalog.delete_entry(dynamodb, table, _key(args), name)
    except ClientError as exc:
        if aws.error_code(exc) != "ConditionalCheckFailedException":
            raise aws.to_ops_error(exc, f"removing {name} from {table}") from exc
        print(f"{name} was already removed from {table} (by someone else meanwhile)")
        return EXIT_OK
    print(f"removed {name} from {table}; instances stop pulling it on their next boot")
    return EXIT_OK
