"""Reading stack files (``Pulumi.<stack>.yaml``) from the project root or another folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def known_stacks(root: Path = PROJECT_ROOT) -> list[str]:
    """The stacks that have a stack file in ``root``, sorted."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def load_stack_values(stack: str, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The ``config:`` map of ``Pulumi.<stack>.yaml``. Raises FileNotFoundError if absent."""
    path = stack_file(stack, root)
    if not path.is_file():
        raise FileNotFoundError(
            f"no stack file {path.name}; known stacks: {', '.join(known_stacks(root)) or 'none'}"
        )
    data = yaml.safe_load(path.read_text()) or {}
    values = data.get("config") or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path.name}: 'config' must be a mapping")
    return values
