"""The generated part of docs/COSTS.md (``python -m ollama_infra.cost.doc`` rewrites it).

Only the text between the two markers is generated, from the estimator run on each stack's
offline plan; the reading guide and the cost controls around it are written by hand.
tests/test_cost.py fails when the file is out of step with the estimator.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ollama_infra.config import ENVIRONMENTS, PROJECT_ROOT, load_stack_values, parse_config
from ollama_infra.cost.estimate import Estimate, estimate
from ollama_infra.cost.prices import PriceBook, default_book
from ollama_infra.cost.rules import Line
from ollama_infra.offline.evaluate import evaluate

COSTS_MD = PROJECT_ROOT / "docs" / "COSTS.md"
BEGIN = "<!-- BEGIN GENERATED: python -m ollama_infra.cost.doc -->"
END = "<!-- END GENERATED -->"


def stack_estimates(root: Path = PROJECT_ROOT) -> dict[str, Estimate]:
    out = {}
    for stack in ENVIRONMENTS:
        values = load_stack_values(stack, root)
        out[stack] = estimate(evaluate(stack, values), parse_config(stack, values))
    return out


def _what(line: Line) -> str:
    """A resource as the docs name it: component and resource type (logical names are not
    AWS names, and docs only name resources by the naming scheme)."""
    return f"{line.component} {line.type.rsplit(':', 1)[-1]}"


def _largest(lines: list[Line]) -> list[dict[str, Any]]:
    """Priced lines summed by what they price (the three NAT gateways are one row)."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for x in lines:
        if not x.priced or not x.price_key:
            continue
        g = groups.setdefault(
            (_what(x), x.item, x.price_key),
            {
                "what": _what(x),
                "item": x.item,
                "key": x.price_key,
                "unit": x.unit,
                "price": x.unit_price,
                "quantity": 0.0,
                "monthly": 0.0,
                "count": 0,
            },
        )
        g["quantity"] += x.quantity
        g["monthly"] += x.monthly or 0.0
        g["count"] += 1
    for g in groups.values():
        if g["count"] > 1:
            g["what"] = f"{g['count']} x {g['what']}"
    return sorted(groups.values(), key=lambda g: -g["monthly"])


def _cell(value: float) -> str:
    return f"{value:,.2f}"


def render(estimates: dict[str, Estimate], book: PriceBook | None = None) -> str:
    book = book or default_book()
    stacks = list(estimates)
    head = "| | " + " | ".join(stacks) + " |"
    rule = "|---|" + "---:|" * len(stacks)
    lines = [
        BEGIN,
        "",
        f"Prices as of {book.prices_as_of} ({book.currency}, on-demand list prices, "
        f"730 hours a month). Regenerate with `python -m ollama_infra.cost.doc` after changing a "
        "stack file or the price file.",
        "",
        "### Estimate per stack (per month, by component)",
        "",
        head,
        rule,
    ]
    components = sorted({line.component for e in estimates.values() for line in e.lines})
    for comp in components:
        cells = [
            _cell(sum(x.monthly or 0.0 for x in e.lines if x.component == comp))
            for e in estimates.values()
        ]
        lines.append(f"| {comp} | " + " | ".join(cells) + " |")
    lines.append(
        "| **total (desired capacity)** | "
        + " | ".join(f"**{_cell(e.monthly_total)}**" for e in estimates.values())
        + " |"
    )
    lines.append(
        "| total at minimum scale | "
        + " | ".join(_cell(e.total_at("min")) for e in estimates.values())
        + " |"
    )
    lines.append(
        "| total at maximum scale | "
        + " | ".join(_cell(e.total_at("max")) for e in estimates.values())
        + " |"
    )
    lines.append(
        "| lines not priced | "
        + " | ".join(str(len(e.not_priced)) for e in estimates.values())
        + " |"
    )
    lines += [
        "",
        "### The largest lines",
        "",
        "| Stack | Resource | Item | Quantity | Unit price | Monthly |",
        "|---|---|---|---:|---:|---:|",
    ]
    for stack, e in estimates.items():
        for group in _largest(e.lines)[:6]:
            lines.append(
                f"| {stack} | {group['what']} | {group['item']} (`{group['key']}`) | "
                f"{group['quantity']:,.2f} {group['unit']} | {group['price']:g} | "
                f"{_cell(group['monthly'])} |"
            )
    lines += ["", "### Usage assumptions (`ollama:cost`)", "", head, rule]
    for key in next(iter(estimates.values())).assumptions:
        lines.append(
            f"| `{key}` | "
            + " | ".join(f"{e.assumptions[key]:g}" for e in estimates.values())
            + " |"
        )
    lines += ["", "### Not priced", ""]
    seen: dict[str, list[str]] = {}
    for stack, e in estimates.items():
        for x in e.not_priced:
            seen.setdefault(
                f"{_what(x)}: {x.item} ({x.region}): {x.note.split('not priced: ')[-1]}", []
            ).append(stack)
    lines += [f"- {text} [{', '.join(s)}]" for text, s in sorted(seen.items())] or ["- none"]
    lines += ["", "### Billing alarm check", ""]
    for stack, e in estimates.items():
        lines.append(
            f"- {stack}: "
            + (
                "; ".join(e.warnings)
                if e.warnings
                else "the threshold sits between the estimate at desired capacity and "
                "1.5 x the estimate at maximum scale"
            )
        )
    lines += [
        "",
        "### Prices used and their sources",
        "",
        "| Price key | Unit | us-east-1 | Source |",
        "|---|---|---:|---|",
    ]
    for key, meta in book.catalog.items():
        entry = book.regions["us-east-1"]["prices"][key]
        if entry.get("usd") is None:
            lines.append(f"| `{key}` | {meta['unit']} | not found | {entry['missing']} |")
        else:
            src = book.sources[entry["source"]]
            lines.append(
                f"| `{key}` | {meta['unit']} | {entry['usd']:g} | {src['url']} ({src['dated']}) |"
            )
    priced = {
        r: sum(1 for p in body["prices"].values() if p.get("usd") is not None)
        for r, body in book.regions.items()
    }
    lines += [
        "",
        "Prices per region in the file (of "
        + str(len(book.catalog))
        + "): "
        + ", ".join(f"{r} {n}" for r, n in sorted(priced.items()))
        + ". A resource in a region without its price is listed as not priced.",
        "",
        END,
    ]
    return "\n".join(lines)


def splice(text: str, block: str) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block + text[end:]


def main() -> int:
    text = COSTS_MD.read_text()
    COSTS_MD.write_text(splice(text, render(stack_estimates())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
