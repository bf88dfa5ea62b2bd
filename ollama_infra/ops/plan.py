"""``ollama-ops plan``: evaluate a stack offline and print every resource it declares.

This runs the real program (``ollama_infra.stack.run``) against the real stack file,
with Pulumi's mock monitor standing in for AWS. It needs no credentials and no Pulumi
CLI; ids, ARNs and the account id in its output are placeholders.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ollama_infra.config import parse_config
from ollama_infra.offline.evaluate import (
    PROJECT_ROOT,
    SECRET_MASK,
    Evaluation,
    evaluate,
    load_stack_values,
)
from ollama_infra.ops.common import EXIT_OK, EXIT_USAGE, add_stack, fail

BANNER = (
    "OFFLINE EVALUATION of stack '{stack}': the program ran locally against placeholder "
    "AWS answers. This is not a preview against AWS; run `pulumi preview --stack {stack}` "
    "with credentials for that."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan",
        help="evaluate a stack offline and list the resources it would create",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stack(p)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument("--output", metavar="PATH", help="also write the JSON document to PATH")
    p.add_argument(
        "--config-dir",
        metavar="DIR",
        type=Path,
        default=PROJECT_ROOT,
        help="directory holding Pulumi.<stack>.yaml (default: the project root)",
    )
    p.set_defaults(func=run)


def plan_document(ev: Evaluation) -> dict[str, Any]:
    """The JSON document of a plan (keys: offline, stack, region, resources, outputs, ...)."""
    return {
        "offline": True,
        "notice": BANNER.format(stack=ev.stack),
        "stack": ev.stack,
        "region": ev.region,
        "resource_count": len(ev.resources),
        "resources": [r.to_json() for r in ev.resources],
        "outputs": {
            k: (SECRET_MASK if k in ev.secret_outputs else v) for k, v in ev.outputs.items()
        },
        "warnings": ev.warnings,
    }


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        values = load_stack_values(args.stack, args.config_dir)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc), "create the stack file or pick an existing stack", EXIT_USAGE)
    parse_config(args.stack, values)  # fail fast, before any resource is declared
    ev = evaluate(args.stack, values)
    doc = plan_document(ev)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True, default=str)
    if args.json:
        json.dump(doc, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        print_text(doc, time.monotonic() - started)
    return EXIT_OK


def _short(value: Any, width: int = 110) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def print_text(doc: dict[str, Any], seconds: float) -> None:
    print(doc["notice"])
    print()
    print(f"{doc['resource_count']} resources in {doc['region']}:")
    for r in doc["resources"]:
        inputs = {k: v for k, v in r["inputs"].items() if k != "tags"}
        print(f"  + {r['type']}  {r['name']}")
        if r["physical_name"]:
            print(f"      name:   {r['physical_name']}")
        print(f"      inputs: {_short(inputs)}")
        if r["tags"] is not None:
            print(f"      tags:   {_short(r['tags'])}")
    print()
    print("Outputs:")
    for key, value in sorted(doc["outputs"].items()):
        print(f"  {key} = {_short(value)}")
    for warning in doc["warnings"]:
        print(f"warning: {warning}")
    print(f"\n(evaluated offline in {seconds:.1f}s)")
