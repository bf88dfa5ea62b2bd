"""The stack's monthly AWS Budgets cost budget: actual and forecast alerts before the bill.

The billing alarm watches the whole account's estimated charges after they accrue; the
budget watches this stack's own costs (cost-allocation tags ``Project`` and ``Environment``,
both required, so other projects and environments in the account do not count) and also
alerts when AWS forecasts the month to end above the limit. AWS only filters by a tag
once it is activated as a cost-allocation tag in the billing console (once per account,
by the management account); see docs/COSTS.md.
"""

from __future__ import annotations

import math

import pulumi
import pulumi_aws as aws

from ollama_infra import naming
from ollama_infra.context import StackContext

# (notification type, percent of the limit): actual spend at 80 % and 100 %, and a
# forecast of the month's end above the limit.
NOTIFICATIONS: tuple[tuple[str, float], ...] = (
    ("ACTUAL", 80.0),
    ("ACTUAL", 100.0),
    ("FORECASTED", 100.0),
)
# Cost-allocation tag keys the budget filters on (user-defined tags are "user:<key>").
TAG_KEYS = ("Project", "Environment")
ROUND_TO_USD = 10


def rounded_limit(estimate_usd: float) -> float:
    """A limit from an estimate: rounded up to the next ROUND_TO_USD (never below it)."""
    return float(max(ROUND_TO_USD, math.ceil(estimate_usd / ROUND_TO_USD) * ROUND_TO_USD))


def monthly_budget(
    resource_name: str,
    ctx: StackContext,
    limit_usd: float,
    topic_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> aws.budgets.Budget:
    """``ollama-budget-<env>``: the stack's tagged costs per month against ``limit_usd``."""
    values = {"Project": naming.PROJECT, "Environment": ctx.env}
    budget_name = ctx.name("budget")
    return aws.budgets.Budget(
        resource_name,
        name=budget_name,
        budget_type="COST",
        time_unit="MONTHLY",
        limit_amount=f"{limit_usd:.2f}",
        limit_unit="USD",
        # Two tag expressions under And: both tags must match (values inside one tag
        # filter are alternatives, which would count every environment).
        metrics="UnblendedCost",
        filter_expression={
            "ands": [
                {"tags": {"key": key, "values": [values[key]], "match_options": ["EQUALS"]}}
                for key in TAG_KEYS
            ]
        },
        notifications=[
            aws.budgets.BudgetNotificationArgs(
                notification_type=kind,
                comparison_operator="GREATER_THAN",
                threshold=percent,
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[topic_arn],
            )
            for kind, percent in NOTIFICATIONS
        ],
        tags=ctx.tags("observability", budget_name),
        opts=opts,
    )
