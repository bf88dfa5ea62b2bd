"""Run the Pulumi program in-process under the offline mocks and collect what it declares."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from ollama_infra import pulumi_sdk
from ollama_infra.config.stackfile import PROJECT_ROOT, load_stack_values
from ollama_infra.offline.mocks import (
    EXAMPLE_ACCOUNT_ID,
    MockedResource,
    OfflineMocks,
    physical_name,
)
from ollama_infra.offline.urns import resolve_aliases
from ollama_infra.pulumi_sdk import is_secret_value

SECRET_MASK = "[secret]"  # noqa: S105 (a mask, not a secret)


def _map_secrets(value: Any, replace: Callable[[Any], Any]) -> Any:
    if is_secret_value(value):
        return replace(value)
    if isinstance(value, dict):
        return {k: _map_secrets(v, replace) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_secrets(v, replace) for v in value]
    return value


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with every Pulumi secret replaced by SECRET_MASK (for printing)."""
    return _map_secrets(value, lambda _: SECRET_MASK)


def unwrap_secrets(value: Any) -> Any:
    """A copy of ``value`` with every Pulumi secret replaced by its plain value (for checks)."""
    return _map_secrets(value, lambda secret: unwrap_secrets(secret.get("value")))


@dataclass(frozen=True)
class ResourceRecord(MockedResource):
    """One declared resource: what the plan prints and what tests and policies check."""

    urn: str = ""
    """The URN the engine would give it (parent type chain, type, logical name)."""
    aliases: tuple[str, ...] = ()
    """Former URNs it answers to (its own aliases and those inherited from its parents)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Its resource options as the plan prints them (see ``options_json``)."""

    @property
    def physical_name(self) -> str | None:
        return physical_name(self.inputs)

    @property
    def tags(self) -> dict[str, str] | None:
        tags = self.inputs.get("tags")
        return tags if isinstance(tags, dict) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "physical_name": self.physical_name,
            "inputs": mask_secrets(self.inputs),
            "tags": self.tags,
            "provider": self.provider,
            "options": self.options,
        }


def options_json(
    options: pulumi_sdk.ResourceOptionsRecord, aliases: tuple[str, ...], names: dict[str, str]
) -> dict[str, Any]:
    """A resource's options under the plan's keys; ``names`` maps URNs to logical names.

    ``dependsOn`` lists what it waits for beyond what its inputs imply (explicit
    ``depends_on``, expanded to a component's children as the engine sees it).
    """
    explicit = set(options.dependencies) - set(options.input_dependencies)
    return {
        "protect": options.protect,
        "retainOnDelete": options.retain_on_delete,
        "deleteBeforeReplace": options.delete_before_replace,
        "replaceOnChanges": list(options.replace_on_changes),
        "ignoreChanges": list(options.ignore_changes),
        "aliases": list(aliases),
        "dependsOn": sorted(names.get(urn, urn) for urn in explicit),
    }


@dataclass
class Evaluation:
    stack: str
    region: str
    resources: list[ResourceRecord]
    components: list[ResourceRecord]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, logical_name: str) -> ResourceRecord:
        for r in self.resources:
            if r.name == logical_name:
                return r
        raise KeyError(logical_name)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def evaluate(
    stack: str, values: dict[str, Any], parameters: dict[str, str] | None = None
) -> Evaluation:
    """Run the program for ``stack`` with config ``values`` (full keys, e.g. ``ollama:network``).

    ``parameters``: SSM parameters the account already holds (a deployed stack's release
    record); none by default, as for a first deployment.
    """
    from ollama_infra.stack import run  # imported late: it imports pulumi_aws (slow)

    region = values.get("aws:region") if isinstance(values.get("aws:region"), str) else "us-east-1"
    mocks = OfflineMocks(
        region=str(region), account_id=EXAMPLE_ACCOUNT_ID, parameters=dict(parameters or {})
    )
    collector = _Collector()
    logger = logging.getLogger(f"ollama.offline.{stack}")
    logger.propagate = False
    logger.handlers = [collector]
    logger.setLevel(logging.WARNING)

    monitor = pulumi_sdk.use_mocks(mocks, project="ollama", stack=stack, logger=logger)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in values.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = SECRET_MASK  # ciphertext cannot be decrypted offline
            secret_keys.append(key)
        else:
            config[key] = value if isinstance(value, str) else json.dumps(value)
    pulumi_sdk.set_config(config, secret_keys)

    resolved: dict[str, Any] = {}
    secret: set[str] = set()

    def program() -> Awaitable[None]:
        outputs = run()

        # Awaited on the program's own loop; a nested synchronous wait per output would
        # spin the loop while the mock monitor's executor threads work.
        async def collect() -> None:
            for key, value in outputs.items():
                out = pulumi.Output.from_input(value)
                resolved[key] = await out.future()
                if await out.is_secret():
                    secret.add(key)

        return collect()

    pulumi_sdk.run_program(program)

    registered = {(r.type, r.name): r for r in monitor.registrations}
    if len(registered) != len(monitor.registrations):
        raise ValueError("two resources share a type and logical name; records would be ambiguous")
    aliases = resolve_aliases(monitor.registrations)
    names = {r.urn: r.name for r in monitor.registrations}
    records = []
    for r in mocks.resources:
        reg = registered[(r.type, r.name)]
        options = options_json(reg.options, aliases[reg.urn], names)
        records.append(
            ResourceRecord(**vars(r), urn=reg.urn, aliases=aliases[reg.urn], options=options)
        )
    return Evaluation(
        stack=stack,
        region=str(region),
        resources=[r for r in records if r.custom],
        components=[r for r in records if not r.custom],
        outputs=resolved,
        secret_outputs=secret,
        warnings=collector.messages,
        calls=list(mocks.calls),
    )


def evaluate_stack(stack: str, root: Path = PROJECT_ROOT) -> Evaluation:
    """Evaluate the real stack file ``Pulumi.<stack>.yaml``."""
    return evaluate(stack, load_stack_values(stack, root))
