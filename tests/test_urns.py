"""A stack deployed from the snapshot's commit keeps every resource through later changes.

Pulumi identifies a deployed resource by URN. A refactor that renames a component type, a
logical name or a parent gives the resource a new URN, and `pulumi up` would then create a
new one and delete the old (for a table or a bucket: data loss; for a named resource: a
duplicate-name failure halfway through). Each URN in tests/snapshots/urns-<stack>.txt must
still exist, or be named by an alias of the resource that replaced it.
"""

from __future__ import annotations

import dataclasses

import pytest
from harness import STACKS, evaluated
from urn_snapshot import snapshot_path

from ollama_infra.offline.evaluate import Evaluation


def unreachable(snapshot: set[str], ev: Evaluation) -> set[str]:
    """Snapshot URNs that no resource of ``ev`` has or answers to through an alias."""
    records = (*ev.resources, *ev.components)
    reachable = {r.urn for r in records} | {a for r in records for a in r.aliases}
    return snapshot - reachable


def snapshot(stack: str) -> set[str]:
    return set(snapshot_path(stack).read_text().split())


@pytest.mark.parametrize("stack", STACKS)
def test_urns_of_deployed_stacks_survive(stack: str) -> None:
    lost = unreachable(snapshot(stack), evaluated(stack))
    assert not lost, (
        "these resources of a deployed stack would be replaced (new URN, no alias):\n  "
        + "\n  ".join(sorted(lost))
        + "\nadd ResourceOptions(aliases=[pulumi.Alias(...)]) naming the old type, name or "
        "parent; if a resource is removed on purpose, delete its line from "
        f"{snapshot_path(stack).name}"
    )


def test_a_rename_without_alias_is_caught() -> None:
    ev = evaluated("dev")
    table = ev.named("ollama-data-table")
    renamed = dataclasses.replace(table, urn=table.urn.replace("ollama-data-table", "catalog"))
    broken = dataclasses.replace(ev, resources=[renamed if r is table else r for r in ev.resources])
    assert unreachable(snapshot("dev"), broken) == {table.urn}
    aliased = dataclasses.replace(renamed, aliases=(table.urn,))
    fixed = dataclasses.replace(ev, resources=[aliased if r is table else r for r in ev.resources])
    assert unreachable(snapshot("dev"), fixed) == set()
