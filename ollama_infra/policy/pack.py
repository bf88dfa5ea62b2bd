"""The pack: every rule the rules modules declare, in a fixed order.

Each rule is declared with ``common.policy`` above its validation function, with its level
and the scanner checks it mirrors. ``policies()`` builds the ``pulumi_policy`` objects that
``__main__.py`` hands to ``PolicyPack`` and that the offline evaluator runs. Everything is
mandatory unless ``advisory_reason`` says why the rule would block a legitimate configuration.
"""

from __future__ import annotations

from pulumi_policy import Policy

from ollama_infra.policy import (
    rules_auth,
    rules_compute,
    rules_data,
    rules_identity,
    rules_network,
    rules_secrets,
    rules_storage,
    rules_tags,
)
from ollama_infra.policy.common import Rule

PACK_NAME = "ollama-security"
# The order the plan reports rules in: by module, then as each module declares them.
MODULES = (
    rules_storage,
    rules_compute,
    rules_network,
    rules_identity,
    rules_auth,
    rules_data,
    rules_secrets,
    rules_tags,
)
RULES: tuple[Rule, ...] = tuple(
    value for module in MODULES for value in vars(module).values() if isinstance(value, Rule)
)


def rule(name: str) -> Rule:
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(f"no policy named {name!r}; known: {', '.join(r.name for r in RULES)}")


def policies() -> list[Policy]:
    """The pulumi_policy objects of every rule (what the PolicyPack is made of)."""
    return [r.build() for r in RULES]
