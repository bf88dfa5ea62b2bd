"""What the stack's last deployment left under ``/ollama/<env>/`` in SSM, read at deploy time.

Some decisions depend on what runs now: the release record (``ollama_infra.release``) and
the origin header rotation (``ollama_infra.origin_header``). The program reads the stack's
parameters once, through GetParametersByPath, which answers an empty list for a new stack
where GetParameter would fail the deployment. Values are not decrypted: only names and
plain String values are used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi_aws as aws

from ollama_infra.naming import StackNames


@dataclass(frozen=True)
class Deployed:
    parameters: dict[str, str] = field(default_factory=dict)
    """Name -> value of every parameter under the stack's path."""

    @property
    def exists(self) -> bool:
        """Every deployed stack holds parameters (the default models, the agent config)."""
        return bool(self.parameters)


def read(names: StackNames) -> Deployed:
    found = aws.ssm.get_parameters_by_path(
        path=names.parameter_path, recursive=True, with_decryption=False
    )
    return Deployed(dict(zip(found.names, found.values, strict=False)))
