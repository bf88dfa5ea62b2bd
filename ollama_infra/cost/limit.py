"""The default limit of the stack's AWS Budgets budget: its own cost estimate.

``observability.budget_limit_usd`` unset means "what this stack is estimated to cost at
maximum scale, rounded up to 10 USD". The estimate comes from the offline plan of the same
config, which needs the program itself: so it runs in a child process (``python -m
ollama_infra.cost.limit``, config on stdin). In that child the budget is declared with a
placeholder limit (a budget adds nothing to the estimate), which stops the recursion.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

PROBE_ENV = "OLLAMA_BUDGET_LIMIT_PROBE"
PROBE_LIMIT = 1.0
TIMEOUT_SECONDS = 300


class NoEstimate(ValueError):
    """The estimate cannot be computed (region without prices, lines not priced)."""


def in_probe() -> bool:
    return os.environ.get(PROBE_ENV) == "1"


def estimated_limit(stack: str, values: dict[str, Any]) -> float:
    """The budget limit from the estimate of ``values`` (full config keys)."""
    if in_probe():
        return PROBE_LIMIT
    result = subprocess.run(
        [sys.executable, "-m", "ollama_infra.cost.limit", stack],
        input=json.dumps(values),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        env={**os.environ, PROBE_ENV: "1"},
        check=False,
    )
    if result.returncode != 0:
        raise NoEstimate(result.stderr.strip().splitlines()[-1] if result.stderr else "failed")
    return float(json.loads(result.stdout)["limit_usd"])


def main(argv: list[str]) -> int:
    from ollama_infra.config import parse_config
    from ollama_infra.cost.estimate import estimate
    from ollama_infra.observability.budget import rounded_limit
    from ollama_infra.offline.evaluate import evaluate

    stack = argv[0]
    values = json.loads(sys.stdin.read())
    cfg = parse_config(stack, values)
    est = estimate(evaluate(stack, values), cfg)
    if est.unclassified:
        types = ", ".join(sorted({line.type for line in est.unclassified}))
        print(f"the estimate cannot classify resource types: {types}", file=sys.stderr)
        return 1
    # Lines the price file cannot price count as 0 here, as in the estimate's totals.
    print(json.dumps({"limit_usd": rounded_limit(est.total_at("max"))}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
