"""Resource URNs and aliases as the Pulumi engine resolves them.

A deployed stack knows its resources by URN: stack, project, the parent chain's types, the
resource's type and logical name. Renaming a component type, a logical name or a parent
changes the URN, and ``pulumi up`` then replaces the resource unless an alias names the old
URN. These functions turn what the program sent (``pulumi_sdk.Registration``) into every
URN a resource answers to, following the engine's rules, so tests can prove that the URNs
of a deployed stack survive a refactor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ollama_infra.pulumi_sdk import Registration, make_urn


def split_urn(urn: str) -> tuple[str, str, str, str]:
    """(stack, project, qualified type, name) of a URN."""
    head, project, qualified, name = urn.split("::", 3)
    return head.removeprefix("urn:pulumi:"), project, qualified, name


def _collapse(reg: Registration, spec: dict[str, Any]) -> str:
    """One alias as a URN: unset spec fields default to the resource's own."""
    if spec.get("urn"):
        return str(spec["urn"])
    stack, project, _, _ = split_urn(reg.urn)
    parent = "" if spec.get("noParent") else (spec.get("parentUrn") or reg.parent)
    return make_urn(
        spec.get("stack") or stack,
        spec.get("project") or project,
        parent,
        spec.get("type") or reg.type,
        spec.get("name") or reg.name,
    )


def _inherited(child_urn: str, parent_name: str, parent_alias: str) -> str:
    """The child's URN under a former parent: its name prefix follows the parent's old name."""
    stack, project, qualified, name = split_urn(child_urn)
    if name.startswith(parent_name):
        name = split_urn(parent_alias)[3] + name[len(parent_name) :]
    return make_urn(stack, project, parent_alias, qualified.rsplit("$", 1)[-1], name)


def resolve_aliases(registrations: Iterable[Registration]) -> dict[str, tuple[str, ...]]:
    """URN -> every other URN the resource answers to (its own aliases and its parents')."""
    by_urn = {r.urn: r for r in registrations}
    resolved: dict[str, tuple[str, ...]] = {}

    def aliases(urn: str) -> tuple[str, ...]:
        if urn not in resolved:
            reg = by_urn[urn]
            own = [_collapse(reg, spec) for spec in reg.alias_specs]
            found = list(own)
            parent = by_urn.get(reg.parent)
            if parent is not None:
                for parent_alias in aliases(parent.urn):
                    found += [_inherited(u, parent.name, parent_alias) for u in (urn, *own)]
            resolved[urn] = tuple(dict.fromkeys(a for a in found if a != urn))
        return resolved[urn]

    for urn in by_urn:
        aliases(urn)
    return resolved
