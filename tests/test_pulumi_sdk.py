"""The SDK internals the project relies on behave as ollama_infra/pulumi_sdk.py expects.

Each test drives the installed SDK for real (a small program run under the mock monitor),
so an SDK upgrade that changes one of these internals fails here by name instead of the
offline plan going silently wrong. A scan keeps every internal name inside that module.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from ollama_infra import pulumi_sdk
from ollama_infra.offline.urns import resolve_aliases

ROOT = Path(__file__).resolve().parents[1]
ADAPTER = ROOT / "ollama_infra" / "pulumi_sdk.py"

# The SDK's documented testing API; everything else under pulumi.runtime, and any
# underscore name of the SDK, is internal.
PUBLIC_RUNTIME = {
    "Mocks",
    "MockResourceArgs",
    "MockCallArgs",
    "set_mocks",
    "test",
    "register_stack_transformation",
}
INTERNAL_USE = re.compile(
    r"from pulumi\.runtime\.\w+ import"
    r"|from pulumi\.runtime import (?P<names>[\w, ]+)"
    r"|pulumi\.runtime\.(?P<attr>\w+)"
    r"|from pulumi[\w.]* import .*\b_\w+"
)


def internal_uses(text: str) -> list[str]:
    found = []
    for m in INTERNAL_USE.finditer(text):
        names = m.group("names")
        if names is not None and {n.strip() for n in names.split(",")} <= PUBLIC_RUNTIME:
            continue
        if m.group("attr") in PUBLIC_RUNTIME:
            continue
        found.append(m.group(0))
    return found


def test_scan_finds_internal_names() -> None:
    assert internal_uses("from pulumi.runtime.sync_await import _sync_await")
    assert internal_uses("from pulumi.runtime import settings")
    assert internal_uses("x = pulumi.runtime.config.CONFIG")
    assert internal_uses("from pulumi.resource import _parse_resource_reference")
    assert not internal_uses("class M(pulumi.runtime.Mocks): ...")
    assert not internal_uses("def f(a: pulumi.runtime.MockResourceArgs): ...")


def test_only_the_adapter_uses_sdk_internals() -> None:
    offenders = []
    sources = ("*.py", "ollama_infra/**/*.py", "tests/**/*.py", "loadtest/**/*.py")
    for path in (p for pattern in sources for p in ROOT.glob(pattern)):
        if path == ADAPTER or path == Path(__file__).resolve():
            continue
        offenders += [f"{path.relative_to(ROOT)}: {u}" for u in internal_uses(path.read_text())]
    assert not offenders, "use ollama_infra/pulumi_sdk.py instead:\n" + "\n".join(offenders)


class _Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.inputs[args.name] = dict(args.inputs)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        return {}


class _Component(pulumi.ComponentResource):
    def __init__(self, type_: str, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__(type_, name, None, opts)
        self.register_outputs({})


def _run(build: Any, config: dict[str, str] | None = None) -> tuple[_Recorder, Any]:
    mocks = _Recorder()
    monitor = pulumi_sdk.use_mocks(mocks, project="proj", stack="test", logger=logging.getLogger())
    pulumi_sdk.set_config(config or {}, [])

    def program() -> Awaitable[None]:
        build()

        async def done() -> None:
            return None

        return done()

    pulumi_sdk.run_program(program)
    return mocks, monitor


def _thing(name: str, opts: pulumi.ResourceOptions | None = None, **props: Any) -> None:
    pulumi.CustomResource("test:index:Thing", name, props, opts)


def test_the_tested_version_is_the_pinned_one() -> None:
    """The import error names the version to install; it must be the one pyproject pins."""
    pin = re.search(r'"pulumi==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin, "pyproject.toml pins no pulumi version"
    assert f"pulumi {pin.group(1)} " in pulumi_sdk.TESTED_WITH


def test_run_program_waits_for_every_registration() -> None:
    def build() -> None:
        for i in range(20):
            _thing(f"thing-{i}", value=i)

    mocks, _ = _run(build)
    assert sorted(mocks.inputs) == sorted(f"thing-{i}" for i in range(20))


def test_stack_config_is_the_whole_map_set_config_wrote() -> None:
    seen: dict[str, Any] = {}
    _run(
        lambda: seen.update(pulumi_sdk.stack_config()),
        {"ollama:network": '{"az_count": 2}', "ollama:netwrok": "{}", "aws:region": "eu-west-1"},
    )
    assert seen == {
        "ollama:network": '{"az_count": 2}',
        "ollama:netwrok": "{}",
        "aws:region": "eu-west-1",
    }


def test_secret_inputs_are_recognised_and_plain_ones_are_not() -> None:
    mocks, _ = _run(lambda: _thing("t", secret=pulumi.Output.secret("s3cr3t"), plain="p"))
    assert pulumi_sdk.is_secret_value(mocks.inputs["t"]["secret"])
    assert mocks.inputs["t"]["secret"]["value"] == "s3cr3t"
    assert not pulumi_sdk.is_secret_value(mocks.inputs["t"]["plain"])
    assert not pulumi_sdk.is_secret_value({"value": "s3cr3t"})


def test_urns_follow_the_engine_format() -> None:
    def build() -> None:
        outer = _Component("test:index:Outer", "outer")
        inner = _Component("test:index:Inner", "inner", pulumi.ResourceOptions(parent=outer))
        _thing("nested", pulumi.ResourceOptions(parent=inner))
        _thing("top")

    _, monitor = _run(build)
    urns = {r.name: r.urn for r in monitor.registrations}
    # The root stack's type is left out; every other ancestor's type is in the chain.
    assert urns["top"] == "urn:pulumi:test::proj::test:index:Thing::top"
    assert urns["nested"] == (
        "urn:pulumi:test::proj::test:index:Outer$test:index:Inner$test:index:Thing::nested"
    )


def test_aliases_reach_the_old_urns_of_a_renamed_component_and_its_children() -> None:
    def build() -> None:
        new = _Component(
            "test:index:New",
            "renamed",
            pulumi.ResourceOptions(aliases=[pulumi.Alias(type_="test:index:Old", name="old")]),
        )
        _thing("renamed-child", pulumi.ResourceOptions(parent=new))
        _thing("moved", pulumi.ResourceOptions(parent=new, aliases=[pulumi.Alias(parent=None)]))

    _, monitor = _run(build)
    aliases = resolve_aliases(monitor.registrations)
    urns = {r.name: r.urn for r in monitor.registrations}
    assert "urn:pulumi:test::proj::test:index:Old::old" in aliases[urns["renamed"]]
    # The child inherits the parent's alias, with the parent's old name as its prefix.
    assert (
        "urn:pulumi:test::proj::test:index:Old$test:index:Thing::old-child"
        in aliases[urns["renamed-child"]]
    )
    # An alias to "no parent" names the top-level URN the resource had before it moved.
    assert "urn:pulumi:test::proj::test:index:Thing::moved" in aliases[urns["moved"]]


def test_resources_without_aliases_answer_to_no_other_urn() -> None:
    _, monitor = _run(lambda: _thing("plain"))
    assert all(a == () for a in resolve_aliases(monitor.registrations).values())


@pytest.fixture(autouse=True)
def _fresh_runtime() -> Any:
    """Each test sets up its own mock runtime; leave none behind for the next test."""
    yield
    pulumi_sdk.set_config({}, [])


def test_registrations_carry_the_resource_options() -> None:
    """What the mocks never see: protect, delete-before-replace, retain, replace/ignore, deps."""

    def build() -> None:
        first = pulumi.CustomResource("test:index:Thing", "first", {})
        opts = pulumi.ResourceOptions(
            protect=True,
            retain_on_delete=True,
            delete_before_replace=True,
            replace_on_changes=["key"],
            ignore_changes=["tags"],
            depends_on=[first],
        )
        pulumi.CustomResource("test:index:Thing", "second", {"ref": first.id}, opts)
        pulumi.CustomResource(
            "test:index:Thing", "third", {}, pulumi.ResourceOptions(depends_on=[first])
        )

    _, monitor = _run(build)
    options = {r.name: r.options for r in monitor.registrations}
    first_urn = next(r.urn for r in monitor.registrations if r.name == "first")
    second = options["second"]
    assert (second.protect, second.retain_on_delete, second.delete_before_replace) == (
        True,
        True,
        True,
    )
    assert second.replace_on_changes == ("key",) and second.ignore_changes == ("tags",)
    assert second.dependencies == (first_urn,) and second.input_dependencies == (first_urn,)
    third = options["third"]
    assert not (third.protect or third.retain_on_delete or third.delete_before_replace)
    assert third.dependencies == (first_urn,) and third.input_dependencies == ()
