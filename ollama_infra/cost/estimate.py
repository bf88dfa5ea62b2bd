"""The monthly estimate of a stack, computed from its offline plan's resource records.

What is declared is what is billed: the estimator walks ``Evaluation.resources`` (the same
records ``ollama-ops plan`` prints), prices each with its rule from ``rules.RULES`` at the
resource's own region, and adds the usage the plan cannot know from the stack's validated
``ollama:cost`` section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ollama_infra.config import CostConfig, StackConfig
from ollama_infra.cost.prices import PriceBook, default_book
from ollama_infra.cost.rules import NO_CHARGE, RULES, Context, Line
from ollama_infra.cost.schedule import HOURS_PER_MONTH
from ollama_infra.offline.evaluate import Evaluation

# The billing alarm is "too high" when it exceeds the maximum scale's estimate by this factor.
BILLING_ALARM_MARGIN = 1.5
INSTANCE_TYPE = "aws:autoscaling/group:Group"


class UnpricedTypes(AssertionError):
    """The plan declares a resource type that has neither a price rule nor a no-charge reason."""


@dataclass
class Estimate:
    stack: str
    region: str
    currency: str
    prices_as_of: str
    assumptions: dict[str, Any]
    lines: list[Line]
    warnings: list[str] = field(default_factory=list)

    @property
    def monthly_total(self) -> float:
        return round(sum(line.monthly or 0.0 for line in self.lines), 2)

    def total_at(self, scale: str) -> float:
        """The monthly total with the instance lines at ``min``, ``desired`` or ``max`` scale."""
        total = 0.0
        for line in self.lines:
            if line.scale is not None and line.priced:
                total += round(line.scale[scale], 2)
            else:
                total += line.monthly or 0.0
        return round(total, 2)

    @property
    def not_priced(self) -> list[Line]:
        return [line for line in self.lines if not line.priced]

    @property
    def unclassified(self) -> list[Line]:
        return [line for line in self.lines if line.unclassified]

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "prices_as_of": self.prices_as_of,
            "region": self.region,
            "assumptions": self.assumptions,
            "lines": [line.to_json() for line in self.lines],
            "monthly_total": self.monthly_total,
            "monthly_total_at_scale": {s: self.total_at(s) for s in ("min", "desired", "max")},
            "not_priced": len(self.not_priced),
            "warnings": self.warnings,
        }


def assumptions_of(usage: CostConfig) -> dict[str, Any]:
    return {"hours_per_month": HOURS_PER_MONTH, **usage.model_dump()}


def estimate(ev: Evaluation, cfg: StackConfig, book: PriceBook | None = None) -> Estimate:
    """Price every resource of ``ev``; raises UnknownRegion for a region the price file lacks."""
    book = book or default_book()
    book.check_region(ev.region)
    providers = {
        r.name: str(r.inputs.get("region", ev.region))
        for r in ev.resources
        if r.type.startswith("pulumi:providers:")
    }
    ctx = Context(ev.region, book, cfg.cost, ev.resources, providers)
    lines: list[Line] = []
    for record in ev.resources:
        rule = RULES.get(record.type)
        if rule is not None:
            lines += rule(record, ctx)
        elif record.type not in NO_CHARGE:
            lines.append(
                Line.of(
                    record,
                    ctx.region_of(record),
                    "unclassified type",
                    quantity=1,
                    unit="resource",
                    unit_price=None,
                    note="not priced: no price rule and no no-charge reason for this type "
                    "(add one to ollama_infra/cost/rules.py)",
                    unclassified=True,
                )
            )
    lines.sort(key=lambda x: (x.component, x.name, x.item))
    result = Estimate(
        stack=ev.stack,
        region=ev.region,
        currency=book.currency,
        prices_as_of=book.prices_as_of,
        assumptions=assumptions_of(cfg.cost),
        lines=lines,
    )
    result.warnings = billing_alarm_warnings(ev, result) + budget_warnings(ev, result)
    return result


def check_coverage(est: Estimate) -> None:
    """Raise when a plan declares a type no rule classifies (the test of every new type)."""
    if est.unclassified:
        types = sorted({line.type for line in est.unclassified})
        raise UnpricedTypes(
            f"stack '{est.stack}' declares resource type(s) with no price rule: "
            f"{', '.join(types)}; add a rule to RULES or a reason to NO_CHARGE in "
            "ollama_infra/cost/rules.py"
        )


def billing_threshold(ev: Evaluation) -> float | None:
    for alarm in ev.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        if alarm.inputs.get("metricName") == "EstimatedCharges":
            value = alarm.inputs.get("threshold")
            return float(value) if isinstance(value, int | float) else None
    return None


def billing_alarm_warnings(ev: Evaluation, est: Estimate) -> list[str]:
    """The billing alarm should fire above normal spend and well before a runaway."""
    threshold = billing_threshold(ev)
    if threshold is None:
        return []
    desired, maximum = est.total_at("desired"), est.total_at("max")
    key = "observability.billing_alarm_threshold_usd"
    if threshold < desired:
        return [
            f"billing alarm threshold {threshold:,.0f} {est.currency} is below the estimate at "
            f"desired capacity ({desired:,.2f}): it would fire every month; raise {key}"
        ]
    if threshold > maximum * BILLING_ALARM_MARGIN:
        return [
            f"billing alarm threshold {threshold:,.0f} {est.currency} is more than "
            f"{BILLING_ALARM_MARGIN:g} x the estimate at maximum scale ({maximum:,.2f}): a "
            f"runaway would go unnoticed; lower {key}"
        ]
    return []


def budget_warnings(ev: Evaluation, est: Estimate) -> list[str]:
    """A budget below the usual month's estimate would alert (and forecast) every month."""
    out = []
    desired = est.total_at("desired")
    for budget in ev.of_type("aws:budgets/budget:Budget"):
        try:
            limit = float(budget.inputs.get("limitAmount", ""))
        except ValueError:
            continue
        if limit < desired:
            out.append(
                f"budget {budget.inputs.get('name')} limit {limit:,.0f} {est.currency} is below "
                f"the estimate at desired capacity ({desired:,.2f}): its forecast alert would "
                "fire every month; raise observability.budget_limit_usd or unset it"
            )
    return out


def money(value: float | None) -> str:
    return "not priced" if value is None else f"{value:,.2f}"


def render_text(cost: dict[str, Any]) -> list[str]:
    """The cost block of the text plan, from the plan's ``cost`` JSON: lines grouped by
    component, the instance line's min/desired/max scale, totals, assumptions, warnings."""
    region, currency = cost["region"], cost["currency"]
    out = [
        f"Estimated monthly cost ({currency}, prices as of {cost['prices_as_of']}, "
        f"stack region {region}; an estimate, not a quote):"
    ]
    for comp in sorted({line["component"] for line in cost["lines"]}):
        lines = [line for line in cost["lines"] if line["component"] == comp]
        subtotal = sum(line["monthly"] or 0.0 for line in lines)
        out.append(f"  {comp}: {subtotal:,.2f}")
        for line in lines:
            qty = f"{line['quantity']:,.2f} {line['unit']}"
            price = "" if line["unit_price"] is None else f" x {line['unit_price']:g}"
            where = "" if line["region"] == region else f" [{line['region']}]"
            key = f" [{line['price_key']}]" if line.get("price_key") else ""
            out.append(
                f"    {money(line['monthly']):>12}  {line['name']}: {line['item']}{key}{where} "
                f"({qty}{price})"
            )
            if "scale" in line:
                s = line["scale"]
                out.append(
                    f"{'':18}scale: min {s['min']:,.2f} / desired {s['desired']:,.2f} / "
                    f"max {s['max']:,.2f}"
                )
            if not line["priced"] and line.get("note"):
                out.append(f"{'':18}{line['note']}")
    at = cost["monthly_total_at_scale"]
    out.append(
        f"  total: {cost['monthly_total']:,.2f} {currency}/month (min scale {at['min']:,.2f}, "
        f"max scale {at['max']:,.2f}); {cost['not_priced']} line(s) not priced"
    )
    usage = ", ".join(f"{k}={v:g}" for k, v in cost["assumptions"].items())
    out.append(f"  assumptions: {usage}")
    out += [f"  warning: {w}" for w in cost["warnings"]]
    return out


def diff(before: Estimate, after: Estimate) -> list[dict[str, Any]]:
    """Line-by-line changes from ``before`` to ``after`` (added, removed or changed lines)."""

    def keyed(est: Estimate) -> dict[tuple[str, str, str], Line]:
        return {(line.name, line.item, line.region): line for line in est.lines}

    old, new = keyed(before), keyed(after)
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and a.to_json() == b.to_json():
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        changes.append(
            {
                "change": change,
                "name": key[0],
                "item": key[1],
                "region": key[2],
                "before": None if a is None else a.to_json(),
                "after": None if b is None else b.to_json(),
                "delta": round(
                    (b.monthly or 0.0 if b else 0.0) - (a.monthly or 0.0 if a else 0.0), 2
                ),
            }
        )
    return changes
