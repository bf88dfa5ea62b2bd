"""An ephemeral Pulumi stack through the Automation API that is always destroyed.

Pattern (see docs/production-readiness.md): a unique stack name per CI run, `up`, checks,
then `destroy` and `remove_stack` in a `finally`, so a failing `up` or check never orphans
resources. The stack file Pulumi writes for it is removed too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def config_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Stack-file values as Automation API config strings (structured values as JSON)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


@contextmanager
def ephemeral_stack(
    create: Callable[[str], Any],
    name: str,
    values: Mapping[str, Any],
    work_dir: Path,
    log: Callable[[str], None] = print,
) -> Iterator[dict[str, Any]]:
    """Create stack ``name``, set its config, `up`, yield its outputs; always destroy it.

    ``create(name)`` returns an Automation API stack (``auto.create_or_select_stack``).
    """
    from pulumi import automation as auto

    stack = create(name)
    stack_file = work_dir / f"Pulumi.{name}.yaml"
    try:
        stack.set_all_config(
            {k: auto.ConfigValue(value=v) for k, v in config_values(values).items()}
        )
        result = stack.up(on_output=log)
        yield {k: v.value for k, v in result.outputs.items()}
    finally:
        try:
            stack.destroy(on_output=log)
            stack.workspace.remove_stack(name)
        finally:
            stack_file.unlink(missing_ok=True)
