"""``ollama-ops env``: which stack is selected, switching it, and the cross-environment guard.

Every command that acts on the AWS resources of ``--stack`` compares it with the selected
Pulumi stack ($PULUMI_STACK, else ``pulumi stack --show-name``) and refuses a mismatch
(exit 16) unless ``--force-cross-env`` is given: typing ``--stack production`` while
``dev`` is selected is far more often a slip than an intent. Commands that change a stack
also need ``--production`` to change production (exit 5 without it; dry runs excepted).
The offline ``plan`` reads only the stack file and is not guarded.

A command acts on exactly the stack it names, in that stack's region: a ``--region``
that disagrees with the stack's ``aws:region`` is refused (exit 2) before any Pulumi or
AWS call. A DR copy in another region is its own stack, ``<env>-<region>``
(docs/environments.md).
"""

from __future__ import annotations

import argparse
import json
import os

from ollama_infra.config import (
    ENVIRONMENTS,
    StackFileMissing,
    environment_of,
    known_stacks,
    load_stack_values,
    parse_config,
    parse_stack_name,
)
from ollama_infra.ops import aws, pulumi_cli
from ollama_infra.ops.common import (
    EXIT_NO_STACK_FILE,
    EXIT_NOT_SELECTED,
    EXIT_OK,
    OpsError,
    add_command,
    add_dry_run,
    add_production,
    add_region,
    add_stack,
    add_yes,
    eprint,
    require_production_flag,
)


def add_stack_args(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """--stack plus the --force-cross-env escape hatch."""
    add_stack(parser, required=required)
    parser.add_argument(
        "--force-cross-env",
        action="store_true",
        help="act on --stack even though a different stack is selected",
    )


def add_change_args(parser: argparse.ArgumentParser) -> None:
    """The flags of every command that changes a stack: which one, where, and the guards."""
    add_stack_args(parser)
    add_region(parser)
    add_yes(parser)
    add_dry_run(parser)
    add_production(parser)


def require_production(args: argparse.Namespace, change: str) -> None:
    """Changing production needs --production; a dry run changes nothing and does not."""
    if not getattr(args, "dry_run", False):
        require_production_flag(args.stack, getattr(args, "production", False), change)


def guard(
    args: argparse.Namespace, change: str | None = None, *, require_selected: bool = False
) -> None:
    """The one check before a command acts on the AWS resources of ``args.stack``.

    ``change`` (what the command does, e.g. "add a model") marks a command that writes to
    the stack: production then needs --production. Every guarded command refuses a
    ``--stack`` other than the selected stack unless --force-cross-env is given;
    ``require_selected`` also refuses when no stack is selected at all (deploy).
    First of all, a --region must agree with the stack's own region (``aws.stack_region``).
    Needs no AWS: it runs before any credential is used.
    """
    stack = args.stack
    if getattr(args, "region", None):
        aws.stack_region(stack, args.region, getattr(args, "config_dir", None))
    if change is not None:
        require_production(args, change)
    selected = pulumi_cli.selected_stack()
    if selected is None:
        if require_selected:
            raise OpsError(
                "no Pulumi stack is selected",
                f"run `ollama-ops env switch --stack {stack}` (or `pulumi stack init {stack}`)",
                EXIT_NOT_SELECTED,
            )
        return
    if selected == stack:
        return
    if args.force_cross_env:
        eprint(f"warning: acting on '{stack}' while '{selected}' is selected (--force-cross-env)")
        return
    raise OpsError(
        f"--stack {stack} differs from the selected stack '{selected}'",
        f"run `ollama-ops env switch --stack {stack}` first, or add --force-cross-env",
        EXIT_NOT_SELECTED,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "env", "show the selected stack or switch to another one", __doc__)
    env_sub = p.add_subparsers(dest="env_command", metavar="ACTION", required=True)
    show = env_sub.add_parser("show", help="show the selected stack prominently")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=run_show)
    switch = env_sub.add_parser(
        "switch", help="validate a stack's config and select it (`pulumi stack select`)"
    )
    add_stack(switch)
    switch.set_defaults(func=run_switch)


def _summary(stack: str | None) -> dict[str, object]:
    known = known_stacks()
    doc: dict[str, object] = {
        "selected": stack,
        "source": "PULUMI_STACK" if os.environ.get("PULUMI_STACK") else "pulumi",
        "stacks": known,
    }
    if stack in known:
        values = load_stack_values(stack)
        doc["region"] = values.get("aws:region")
        doc["production"] = environment_of(stack) == "production"
        doc["dr_copy_of"] = (values.get("ollama:environment") or {}).get("primary")
    return doc


def run_show(args: argparse.Namespace) -> int:
    doc = _summary(pulumi_cli.selected_stack())
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
        return EXIT_OK
    stack = doc["selected"]
    bar = "=" * 60
    print(bar)
    if stack is None:
        print("  NO STACK SELECTED")
        print("  select one with: ollama-ops env switch --stack dev")
    else:
        label = str(stack).upper()
        warn = "   *** PRODUCTION ***" if doc.get("production") else ""
        print(f"  CURRENT STACK: {label}{warn}")
        print(f"  region: {doc.get('region', 'unknown (no stack file)')}")
        print(f"  selected via: {doc['source']}")
    print(bar)
    print(f"available stacks: {', '.join(doc['stacks'])}")  # type: ignore[arg-type]
    return EXIT_OK


def run_switch(args: argparse.Namespace) -> int:
    stack = args.stack
    try:
        values = load_stack_values(stack)
    except StackFileMissing as exc:
        message = exc.message
        raise OpsError(message, f"create Pulumi.{stack}.yaml first", EXIT_NO_STACK_FILE) from exc
    parse_config(stack, values)  # refuse to select a stack whose config is invalid
    env_stack = os.environ.get("PULUMI_STACK")
    pulumi_cli.run(["stack", "select", stack], f"`pulumi stack select {stack}`")
    if env_stack and env_stack != stack:
        eprint(f"warning: PULUMI_STACK={env_stack} is set and overrides the selection; unset it")
    print(f"switched to stack '{stack}' ({values.get('aws:region')})")
    parsed = parse_stack_name(stack)
    if parsed.is_dr:
        print(f"'{stack}' is the DR copy of '{parsed.env}' in {parsed.dr_region}")
    elif stack not in ENVIRONMENTS:
        eprint(f"note: '{stack}' is not one of {', '.join(ENVIRONMENTS)}")
    if parsed.env == "production":
        print("*** PRODUCTION is now selected: destructive commands need --production ***")
    return EXIT_OK
