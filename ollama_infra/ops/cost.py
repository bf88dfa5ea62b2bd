"""``ollama-ops cost``: a stack's monthly estimate, what-ifs against it, and price refreshes.

  cost --stack S                      the estimate (the same block ``ollama-ops plan`` prints)
  cost --stack S --set K=V [...]      a what-if: the stack file with each section.key=value
                                      changed, validated like any stack file, evaluated offline
                                      and printed as a line-by-line diff against the stack
  cost refresh [--region R ...]       rewrite the price file from the AWS Price List API
                                      (needs AWS credentials; --dry-run shows the changes only)

Resources come from the offline plan; the usage no plan can know (data out, requests, log
and backup GB) comes from the stack's ``ollama:cost`` section, which ``--set cost.KEY=V``
changes too. Prices come from ollama_infra/cost/prices.json; see docs/COSTS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from ollama_infra.config import CONFIG_NAMESPACE, SECTIONS, load_stack_values
from ollama_infra.config import parse_config as validate_config
from ollama_infra.cost import prices, refresh
from ollama_infra.cost.estimate import Estimate, diff, estimate, money, render_text
from ollama_infra.offline.evaluate import evaluate
from ollama_infra.ops import aws
from ollama_infra.ops.common import (
    EXIT_OK,
    EXIT_USAGE,
    add_command,
    add_config_dir,
    add_dry_run,
    add_stack,
    fail,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "cost", "monthly estimate of a stack, what-ifs and price refresh", __doc__)
    add_stack(p, required=False)
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=(
            "what-if: change one stack setting (a YAML value), "
            "e.g. compute.instance_type=g6e.xlarge"
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    add_config_dir(p)
    p.set_defaults(func=run)
    csub = p.add_subparsers(dest="cost_command", metavar="ACTION", required=False)
    r = csub.add_parser("refresh", help="rewrite the price file from the AWS Price List API")
    r.add_argument(
        "--region",
        dest="regions",
        action="append",
        default=[],
        help="region to refresh (repeatable; default: every region in the price file)",
    )
    r.add_argument(
        "--output",
        metavar="PATH",
        type=Path,
        default=prices.PRICE_FILE,
        help="where to write the price file (default: the one the estimator reads)",
    )
    add_dry_run(r)
    r.set_defaults(func=run_refresh)


def parse_sets(sets: list[str]) -> list[tuple[str, str, Any]]:
    """``section.key=value`` -> (section, key, YAML value); errors name the fix."""
    out = []
    for item in sets:
        target, eq, raw = item.partition("=")
        section, dot, key = target.partition(".")
        if not eq or not dot or not key:
            fail(
                f"--set {item!r} is not SECTION.KEY=VALUE",
                "write it like --set compute.instance_type=g6e.xlarge",
                EXIT_USAGE,
            )
        if section not in SECTIONS:
            fail(
                f"--set {item!r}: unknown section '{section}'",
                f"use one of: {', '.join(SECTIONS)} (docs/configuration.md)",
                EXIT_USAGE,
            )
        if key not in SECTIONS[section].model_fields:
            fail(
                f"--set {item!r}: '{section}' has no key '{key}'",
                f"use one of: {', '.join(SECTIONS[section].model_fields)}",
                EXIT_USAGE,
            )
        out.append((section, key, yaml.safe_load(raw) if raw else None))
    return out


def apply_sets(values: dict[str, Any], sets: list[tuple[str, str, Any]]) -> dict[str, Any]:
    """A copy of a stack's config map with the what-if settings applied."""
    changed = json.loads(json.dumps(values))
    for section, key, value in sets:
        name = f"{CONFIG_NAMESPACE}:{section}"
        body = changed.get(name)
        body = json.loads(body) if isinstance(body, str) else dict(body or {})
        body[key] = value
        changed[name] = body
    return changed


def estimate_values(stack: str, values: dict[str, Any]) -> Estimate:
    """Validate, evaluate offline and price one stack config map."""
    cfg = validate_config(stack, values)  # a what-if is validated like any stack file
    try:
        return estimate(evaluate(stack, values), cfg)
    except prices.UnknownRegion as exc:
        fail(str(exc), "", EXIT_USAGE)


def run(args: argparse.Namespace) -> int:
    if not args.stack:
        fail(
            "ollama-ops cost needs --stack (or the refresh action)", "e.g. --stack dev", EXIT_USAGE
        )
    sets = parse_sets(args.sets)  # before any evaluation
    try:
        values = load_stack_values(args.stack, args.config_dir)
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc), "create the stack file or pick an existing stack", EXIT_USAGE)
    before = estimate_values(args.stack, values)
    if not sets:
        if args.json:
            json.dump(before.to_json(), sys.stdout, indent=2, sort_keys=True)
            sys.stdout.write("\n")
        else:
            print("\n".join(render_text(before.to_json())))
        return EXIT_OK
    after = estimate_values(args.stack, apply_sets(values, sets))
    doc = what_if_document(args.stack, args.sets, before, after)
    if args.json:
        json.dump(doc, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        print("\n".join(render_what_if(doc)))
    return EXIT_OK


def what_if_document(
    stack: str, sets: list[str], before: Estimate, after: Estimate
) -> dict[str, Any]:
    return {
        "stack": stack,
        "set": sets,
        "currency": after.currency,
        "prices_as_of": after.prices_as_of,
        "changes": diff(before, after),
        "monthly_total_before": before.monthly_total,
        "monthly_total_after": after.monthly_total,
        "delta": round(after.monthly_total - before.monthly_total, 2),
        "assumptions_after": after.assumptions,
        "warnings_after": after.warnings,
    }


def _describe(line: dict[str, Any] | None) -> str:
    if line is None:
        return "-"
    price = "" if line["unit_price"] is None else f" x {line['unit_price']:g}"
    return f"{line.get('price_key') or line['item']}: {line['quantity']:,.2f} {line['unit']}{price}"


def render_what_if(doc: dict[str, Any]) -> list[str]:
    out = [f"What-if for stack {doc['stack']}: {', '.join(doc['set'])} ({doc['currency']}/month)"]
    if not doc["changes"]:
        out.append("  no line changes")
    for c in doc["changes"]:
        before = c["before"]["monthly"] if c["before"] else None
        after = c["after"]["monthly"] if c["after"] else None
        out.append(
            f"  {c['change']:8} {c['name']}: {c['item']}  {money(before)} -> {money(after)} "
            f"({c['delta']:+,.2f})"
        )
        out.append(f"{'':11}{_describe(c['before'])}  ->  {_describe(c['after'])}")
    out.append(
        f"  monthly total: {doc['monthly_total_before']:,.2f} -> "
        f"{doc['monthly_total_after']:,.2f} ({doc['delta']:+,.2f})"
    )
    out += [f"  warning: {w}" for w in doc["warnings_after"]]
    return out


def run_refresh(args: argparse.Namespace) -> int:
    doc = json.loads(prices.PRICE_FILE.read_text())
    regions = [aws.check_region(r) for r in args.regions] or sorted(doc["regions"])
    api = aws.client("pricing", refresh.PRICING_API_REGION)
    with aws.aws_errors("reading prices from the AWS Price List API"):
        report = refresh.refresh(doc, api, regions)
    problems = prices.validate(doc)
    if problems:
        fail("the refreshed price file is not valid: " + "; ".join(problems), "", EXIT_USAGE)
    for region, key, old, new in report.updated:
        if old != new:
            print(f"  {region} {key}: {old} -> {new:g}")
    for region, key in report.not_found:
        print(f"  {region} {key}: no product found; kept as it was")
    if report.not_queried:
        print(f"  not queried (page-sourced values kept): {', '.join(report.not_queried)}")
    if args.dry_run:
        print(f"dry run: {args.output} not written")
        return EXIT_OK
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.output} ({len(report.updated)} price(s) from the API)")
    return EXIT_OK
