"""Every use of a non-public Pulumi SDK name, in one module.

Two things this project needs have no public SDK API:
- the program validates its whole ``ollama:`` namespace at once (unknown and mistyped keys
  included), which needs the full config map, not one ``pulumi.Config`` key at a time;
- the offline plan runs the real program in-process under the mock monitor and must wait
  for it, read secret markers in what it declared, and know each resource's URN, aliases
  and resource options (protect, delete-before-replace...: what the registration request
  carries and the mocks never see).

Only this module touches those internals. If an SDK upgrade renames one, importing this
module fails and says which name and which version the project is tested with, instead of
the plan silently going wrong; tests/test_pulumi_sdk.py exercises each function against
the installed SDK.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as _mocks

TESTED_WITH = "pulumi 3.272.0 (pinned in pyproject.toml)"

try:
    from pulumi.runtime.config import CONFIG as _CONFIG
    from pulumi.runtime.config import set_all_config as _set_all_config
    from pulumi.runtime.mocks import MockMonitor as _MockMonitor
    from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key
    from pulumi.runtime.settings import set_root_resource as _set_root_resource
    from pulumi.runtime.stack import run_pulumi_func as _run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await
except ImportError as exc:  # pragma: no cover - only with another SDK version
    raise ImportError(
        f"the installed Pulumi SDK lacks an internal name this project relies on ({exc}); "
        f"it is tested with {TESTED_WITH}: install that version, or adapt "
        "ollama_infra/pulumi_sdk.py and run tests/test_pulumi_sdk.py"
    ) from exc

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


def stack_config() -> dict[str, Any]:
    """The running stack's whole config map (full keys such as ``ollama:network``)."""
    return dict(_CONFIG.get())


def is_secret_value(value: Any) -> bool:
    """Whether ``value`` is a serialized Pulumi secret (how secret inputs reach the mocks)."""
    return isinstance(value, dict) and value.get(_special_sig_key) == _special_secret_sig


@dataclass(frozen=True)
class ResourceOptionsRecord:
    """Resource options as the engine receives them in the registration request."""

    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    replace_on_changes: tuple[str, ...] = ()
    """Pulumi property names (camelCase), as the engine compares them."""
    ignore_changes: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    """URNs of everything it waits for: explicit ``depends_on`` and inputs from resources."""
    input_dependencies: tuple[str, ...] = ()
    """The part of ``dependencies`` its inputs imply."""

    @classmethod
    def from_request(cls, request: Any) -> ResourceOptionsRecord:
        implied = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
        return cls(
            protect=request.HasField("protect") and request.protect,
            retain_on_delete=request.HasField("retainOnDelete") and request.retainOnDelete,
            delete_before_replace=request.deleteBeforeReplace,
            replace_on_changes=tuple(request.replaceOnChanges),
            ignore_changes=tuple(request.ignoreChanges),
            dependencies=tuple(sorted(set(request.dependencies))),
            input_dependencies=tuple(sorted(implied)),
        )


@dataclass(frozen=True)
class Registration:
    """What the engine would learn about one resource: its URN, parent and aliases."""

    urn: str
    type: str
    name: str
    parent: str
    """URN of the parent ("" for the root stack itself)."""
    alias_specs: tuple[dict[str, Any], ...]
    """Aliases as the SDK sent them: ``{"urn": ...}`` or a spec (name/type/parentUrn/noParent)."""
    options: ResourceOptionsRecord = field(default_factory=lambda: ResourceOptionsRecord())
    """The resource options the engine would act on."""


def make_urn(stack: str, project: str, parent: str, type_: str, name: str) -> str:
    """A URN in the engine's format: the parent's qualified type chain, minus the root stack."""
    if parent:
        qualified = parent.split("::")[2]
        if qualified != ROOT_STACK_TYPE:
            type_ = f"{qualified}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


class RecordingMonitor(_MockMonitor):
    """Pulumi's mock monitor, answering with engine-format URNs and recording registrations.

    The stock mock monitor qualifies a type with its immediate parent only; the engine uses
    the whole chain, and URN continuity (aliases) is only meaningful in the engine's format.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        return make_urn(pulumi.get_stack(), pulumi.get_project(), parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
        specs = []
        for alias in request.aliases:
            if alias.urn:
                specs.append({"urn": alias.urn})
            else:
                s = alias.spec
                specs.append(
                    {
                        "name": s.name,
                        "type": s.type,
                        "stack": s.stack,
                        "project": s.project,
                        "parentUrn": s.parentUrn,
                        "noParent": s.noParent,
                    }
                )
        self.registrations.append(
            Registration(
                urn=self.make_urn(request.parent, request.type, request.name),
                type=request.type,
                name=request.name,
                parent=request.parent,
                alias_specs=tuple(specs),
                options=ResourceOptionsRecord.from_request(request),
            )
        )
        return super().RegisterResource(request)


def use_mocks(
    mocks: pulumi.runtime.Mocks, project: str, stack: str, logger: logging.Logger
) -> RecordingMonitor:
    """Point the SDK at ``mocks`` for a fresh program run; returns the recording monitor."""
    _set_root_resource(None)  # type: ignore[arg-type]  # a new root stack per run
    monitor = RecordingMonitor(mocks)
    _mocks.set_mocks(
        mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor
    )
    return monitor


def set_config(values: dict[str, str], secret_keys: list[str]) -> None:
    """Replace the whole config map the program will read (values as the CLI passes them)."""
    _set_all_config(values, secret_keys)


def run_program(program: Callable[[], Awaitable[None]]) -> None:
    """Run ``program`` as the stack's main function and wait until every registration is done."""
    _sync_await(_run_pulumi_func(program))
