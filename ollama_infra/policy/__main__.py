"""Entry point of the policy pack: ``pulumi preview --policy-pack ollama_infra/policy``.

Pulumi runs this file with the pack directory on ``sys.path``; the project root is added so
the rule modules import as ``ollama_infra.policy.*`` (the same code the offline evaluator and
the tests run). Rules default to mandatory; an ``advisory_reason`` marks the advisory ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from ollama_infra.policy.pack import PACK_NAME, policies  # noqa: E402


def main() -> None:
    """Serve the pack to the Pulumi engine (blocks until the engine stops it)."""
    PolicyPack(
        name=PACK_NAME,
        policies=policies(),
        enforcement_level=EnforcementLevel.MANDATORY,
        description="Security rules for the Ollama + Open WebUI stack on AWS",
    )


if __name__ == "__main__":
    main()
