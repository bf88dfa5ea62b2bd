"""Components follow one convention, so a reader finds their way around any of them.

``XComponent(pulumi.ComponentResource)`` with type token ``ollama:<module>:<Type>``, built from
an ``XArgs`` dataclass whose every field says what it is for (Pulumi's component guidance).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from harness import evaluated

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "ollama_infra"


def undocumented_args_fields(source: str) -> list[str]:
    """``Class.field`` for each field of an ``*Args`` class without a docstring under it."""
    missing = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name.endswith("Args"):
            for field, after in zip(node.body, [*node.body[1:], None], strict=True):
                if not isinstance(field, ast.AnnAssign):
                    continue
                documented = (
                    isinstance(after, ast.Expr)
                    and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)
                )
                if not documented:
                    missing.append(f"{node.name}.{ast.unparse(field.target)}")
    return missing


def test_every_args_field_is_documented() -> None:
    missing = [
        f"{path.relative_to(ROOT)}: {field}"
        for path in sorted(LIBRARY.rglob("*.py"))
        for field in undocumented_args_fields(path.read_text())
    ]
    assert not missing, "add a docstring under each field:\n" + "\n".join(missing)


def test_the_check_finds_an_undocumented_field() -> None:
    source = 'class FooArgs:\n    a: int\n    """why"""\n    b: str\n'
    assert undocumented_args_fields(source) == ["FooArgs.b"]


def test_component_classes_and_type_tokens_follow_the_convention() -> None:
    components = {r.type for stack in ("dev", "production") for r in evaluated(stack).components}
    assert components, "the program declares no component"
    for token in components:
        assert re.fullmatch(r"ollama:[a-z]+:[A-Z][A-Za-z]+", token), token
    classes = re.findall(
        r"^class (\w+)\(pulumi\.ComponentResource\)",
        "\n".join(p.read_text() for p in LIBRARY.rglob("*.py")),
        re.MULTILINE,
    )
    assert classes and all(c.endswith("Component") for c in classes), classes
