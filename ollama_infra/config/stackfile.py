"""Reading stack files (``Pulumi.<stack>.yaml``) from the project root or another folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class StackFileError(ValueError):
    """A stack file that cannot be read: ``message`` says where and what, ``fix`` what to do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(f"{message}; fix: {fix}")
        self.message = message
        self.fix = fix


class StackFileMissing(StackFileError, FileNotFoundError):
    """No ``Pulumi.<stack>.yaml`` in the folder (or no such folder)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    f"while reading the mapping that starts on line {node.start_mark.line + 1}",
                    node.start_mark,
                    f"duplicate key '{key}' (first on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _yaml_fix(problem: str) -> str:
    if "'\\t'" in problem or "\t" in problem:
        return "indent with spaces, not tabs (YAML forbids tabs in indentation)"
    if problem.startswith("duplicate key"):
        return "keep one of the two entries (YAML would silently use the last one)"
    return (
        "check the indentation of this line and the lines above it: keys of one mapping "
        "start in the same column, nested keys are indented further, lists use '- ' "
        "(see docs/configuration.md)"
    )


_root: Path = PROJECT_ROOT


def set_root(root: Path | None) -> Path:
    """Read stack files from ``root`` by default (None: the project root); returns the old one.

    The ops CLI reads every stack file from this folder unless a command's --config-dir
    says otherwise; tests point it at a temporary folder.
    """
    global _root
    previous = _root
    _root = root or PROJECT_ROOT
    return previous


def stacks_root(root: Path | None = None) -> Path:
    """``root`` if given, else the default folder of stack files."""
    return root or _root


def stack_file(stack: str, root: Path | None = None) -> Path:
    return stacks_root(root) / f"Pulumi.{stack}.yaml"


def known_stacks(root: Path | None = None) -> list[str]:
    """The stacks that have a stack file in ``root``, sorted."""
    folder = stacks_root(root)
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in folder.glob("Pulumi.*.yaml"))


def _missing(stack: str, root: Path | None) -> StackFileMissing:
    root = stacks_root(root)
    path = stack_file(stack, root)
    if not root.is_dir():
        return StackFileMissing(
            f"no stack file {path.name}: the folder {root} does not exist",
            "pass --config-dir the folder that holds the Pulumi.<stack>.yaml files "
            "(by default the project root)",
        )
    return StackFileMissing(
        f"no stack file {path.name} in {root}; known stacks: "
        f"{', '.join(known_stacks(root)) or 'none'}",
        "create the stack file or pick an existing stack",
    )


def load_stack_values(stack: str, root: Path | None = None) -> dict[str, Any]:
    """The ``config:`` map of ``Pulumi.<stack>.yaml``.

    Raises StackFileMissing (a FileNotFoundError) if it is absent, StackFileError if it is
    not valid YAML (with file, line, column and a fix) or repeats a key.
    """
    path = stack_file(stack, root)
    if not path.is_file():
        raise _missing(stack, root)
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader) or {}  # noqa: S506 (safe)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = exc.problem or str(exc)
        raise StackFileError(f"{where}: {problem}", _yaml_fix(problem)) from None
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: {exc}", _yaml_fix(str(exc))) from None
    values = (data.get("config") or {}) if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise StackFileError(
            f"{path}: 'config' must be a mapping of keys to values",
            "write `config:` at the top level with one `namespace:key: value` per line",
        )
    return values
