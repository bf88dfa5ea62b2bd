"""``ollama-ops plan``: evaluate a stack offline and print every resource it declares.

This runs the real program (``ollama_infra.stack.run``) against the real stack file,
with Pulumi's mock monitor standing in for AWS. It needs no credentials and no Pulumi
CLI; ids, ARNs and the account id in its output are placeholders.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from ollama_infra.config import load_stack_values, parse_config, stack_file
from ollama_infra.cost.estimate import Estimate, estimate, render_text
from ollama_infra.cost.prices import UnknownRegion
from ollama_infra.offline.evaluate import SECRET_MASK, Evaluation, evaluate
from ollama_infra.ops.common import (
    EXIT_OK,
    EXIT_POLICY,
    EXIT_USAGE,
    add_command,
    add_config_dir,
    add_stack,
    eprint,
    fail,
)
from ollama_infra.ops.plan_text import key_fields, plain_numbers, print_summary
from ollama_infra.policy.evaluate import PolicyReport, evaluate_policies

BANNER = (
    "OFFLINE EVALUATION of stack '{stack}': the program ran locally against placeholder "
    "AWS answers. This is not a preview against AWS; run `pulumi preview --stack {stack}` "
    "with credentials for that."
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "plan", "evaluate a stack offline and list the resources it would create", __doc__
    )
    add_stack(p)
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument("--output", metavar="PATH", help="also write the JSON document to PATH")
    add_config_dir(p)
    p.set_defaults(func=run)


def plan_document(
    ev: Evaluation, policy: PolicyReport | None = None, cost: Estimate | None = None
) -> dict[str, Any]:
    """The JSON document of a plan (keys: offline, stack, region, resources, outputs, ...).

    With ``policy``, the document also has a ``policy`` key: the policy pack's per-rule results;
    with ``cost``, a ``cost`` key: the monthly estimate (docs/COSTS.md explains it).
    """
    doc: dict[str, Any] = {
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
    if policy is not None:
        doc["policy"] = policy.to_json()
    if cost is not None:
        doc["cost"] = cost.to_json()
    return doc


def check_output_path(path: Path) -> None:
    """--output must name a file in an existing, writable folder: checked before evaluating."""
    folder = path.parent
    if path.is_dir():
        fail(f"--output {path} is a folder", "name a file, e.g. build/plan.json", EXIT_USAGE)
    if not folder.is_dir():
        fail(
            f"--output {path}: the folder {folder} does not exist",
            f"create it first (`mkdir -p {folder}`) or name a file in an existing folder",
            EXIT_USAGE,
        )
    if not os.access(folder, os.W_OK):
        fail(
            f"--output {path}: the folder {folder} is not writable", "pick another path", EXIT_USAGE
        )


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.output:
        check_output_path(Path(args.output))
    values = load_stack_values(args.stack, args.config_dir)
    source = str(stack_file(args.stack, args.config_dir).resolve())
    cfg = parse_config(args.stack, values, source)  # fail fast, before any resource is declared
    ev = evaluate(args.stack, values)
    report = evaluate_policies(ev, values)
    try:
        cost = estimate(ev, cfg)
    except UnknownRegion as exc:
        fail(str(exc), "", EXIT_USAGE)
    doc = plan_document(ev, report, cost)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True, default=str)
    if args.json:
        json.dump(doc, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        print_text(doc, time.monotonic() - started, source)
    if not report.passed:
        eprint(
            f"error: {len(report.mandatory_violations)} mandatory policy violation(s) in stack "
            f"'{args.stack}' (policy pack {report.pack}); see the Policy section above\n"
            "  fix: follow each violation's 'Fix:' hint; advisory findings do not block"
        )
        return EXIT_POLICY
    return EXIT_OK


def _short(value: Any, width: int = 110) -> str:
    text = json.dumps(plain_numbers(value), sort_keys=True, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


def print_text(doc: dict[str, Any], seconds: float, source: str | None = None) -> None:
    print(doc["notice"])
    if source:
        print(f"stack file: {source}")
    print()
    print_summary(doc)
    print()
    print(f"{doc['resource_count']} resources in {doc['region']}:")
    for r in doc["resources"]:
        inputs = {k: v for k, v in r["inputs"].items() if k != "tags"}
        print(f"  + {r['type']}  {r['name']}")
        if r["physical_name"]:
            print(f"      name:   {r['physical_name']}")
        for line in key_fields(inputs):  # never truncated: what a reviewer checks
            print(f"      key:    {line}")
        print(f"      inputs: {_short(inputs)}")
        if r["tags"] is not None:
            print(f"      tags:   {_short(r['tags'])}")
        print_options(r.get("options") or {})
    print()
    print("Outputs:")
    for key, value in sorted(doc["outputs"].items()):
        print(f"  {key} = {_short(value)}")
    for warning in doc["warnings"]:
        print(f"warning: {warning}")
    if "policy" in doc:
        print_policy(doc["policy"])
    print_cost(doc)
    print(f"\n(evaluated offline in {seconds:.1f}s)")


def print_options(options: dict[str, Any]) -> None:
    """The resource options line, for resources that set any (protect, deleteBeforeReplace...)."""
    shown = [
        key if value is True else f"{key}={','.join(map(str, value))}"
        for key, value in options.items()
        if value and key != "aliases"
    ]
    if options.get("aliases"):
        shown.append(f"aliases={len(options['aliases'])}")
    if shown:
        print(f"      options: {' '.join(shown)}")


def print_policy(policy: dict[str, Any]) -> None:
    """The policy section of the text plan: one line per rule, then each violation."""
    print()
    print(
        f"Policy pack {policy['pack']}: {len(policy['rules'])} rules, "
        f"{policy['mandatory_violations']} mandatory and "
        f"{policy['advisory_violations']} advisory violation(s)"
    )
    for rule in policy["rules"]:
        print(f"  [{rule['status'].upper():7}] {rule['name']} ({rule['level']})")
        for v in rule["violations"]:
            print(f"      {v['level']}: {v['message']}")
        for note in rule["unknown"]:
            print(f"      advisory: {note}")


def print_cost(doc: dict[str, Any]) -> None:
    """The cost block of the text plan (rendered by ollama_infra.cost.estimate.render_text)."""
    if "cost" in doc:
        print()
        print("\n".join(render_text(doc["cost"])))
