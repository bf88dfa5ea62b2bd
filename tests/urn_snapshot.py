"""Write tests/snapshots/urns-<stack>.txt: the URNs a stack deployed from this commit has.

    python tests/urn_snapshot.py            # all three stacks

tests/test_urns.py then fails whenever a change makes one of these URNs unreachable (a
renamed component type, logical name or parent without an alias), because `pulumi up` would
replace that resource on a stack deployed from this commit. Rewrite the snapshot only at a
release, or delete a line when a resource is removed on purpose.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ollama_infra.config import ENVIRONMENTS
from ollama_infra.offline.evaluate import evaluate_stack

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"


def snapshot_path(stack: str) -> Path:
    return SNAPSHOTS / f"urns-{stack}.txt"


def current_urns(stack: str) -> list[str]:
    ev = evaluate_stack(stack)
    return sorted(r.urn for r in (*ev.resources, *ev.components))


def main() -> int:
    for stack in ENVIRONMENTS:
        path = snapshot_path(stack)
        urns = current_urns(stack)
        path.write_text("\n".join(urns) + "\n")
        print(f"tests/snapshots/{path.name}: {len(urns)} URNs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
