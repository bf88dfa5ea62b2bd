"""Extract shell commands from Markdown (and workflow scripts) and check them against the repo.

Used by tests/test_docs.py (Property 3, documentation command accuracy) and
tests/test_workflows.py. A command is checked when its first word is one this project
documents: ``ollama-ops`` (walked through the CLI's own argparse parser), ``make``
(against the Makefile's targets), ``python -m`` (the module must be importable),
``pulumi`` (an external CLI, but ``--policy-pack`` paths must exist), ``locust -f`` (the
locustfile must exist) and repository scripts (the file must exist). Repository paths
named anywhere in a checked command must exist too. Placeholders such as ``<env>``, globs
and shell variables are never treated as paths or names. The docs run their commands in the
activated virtualenv, so no documented command names a tool by its ``.venv/bin/`` path.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Fenced code block languages that hold commands (an unlabelled fence counts too).
SHELL_FENCES = {"", "bash", "sh", "shell", "console", "zsh", "powershell", "pwsh", "ps1", "text"}
# Top-level directories whose paths, when a command names them, must exist.
REPO_DIRS = ("scripts/", "loadtest/", "ami/", "docs/", "tests/", "ollama_infra/", ".github/")
# First words of commands that are checked; other commands (aws, curl, git, ...) are not ours.
PATH_ONLY_HEADS = {
    "bash",
    "sh",
    "pwsh",
    "powershell",
    "pytest",
    "ruff",
    "mypy",
    "packer",
    "shellcheck",
    "zizmor",
    "node",
    "source",
    ".",
}
CHECKED_HEADS = {"ollama-ops", "make", "python", "python3", "pulumi", "locust"} | PATH_ONLY_HEADS
_ENV_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PLACEHOLDER = re.compile(r"[<>*?{}$\[\]]|\.\.\.")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")
_INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


@dataclass(frozen=True)
class Command:
    """One command found in a file: its text and where it came from (``path:line``)."""

    text: str
    where: str
    fenced: bool = True


def extract_commands(text: str, source: str = "<text>") -> list[Command]:
    """Every command line of the shell fences and every inline code span of a Markdown text.

    Continuation lines (trailing backslash) are joined; a ``$ `` prompt is dropped; comment
    lines are skipped. Inline spans are returned as they are (the checker decides whether
    their first word makes them a command).
    """
    out: list[Command] = []
    fence: str | None = None
    fence_lang = ""
    pending = ""
    pending_line = 0
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence, fence_lang = match.group(1), match.group(2).lower()
            continue
        if fence is not None:
            if line.strip().startswith(fence[:3]) and line.strip().strip(fence[0]) == "":
                fence = None
                pending = ""
                continue
            if fence_lang not in SHELL_FENCES:
                continue
            stripped = line.strip()
            if not pending:
                pending_line = number
                stripped = stripped.removeprefix("$ ").removeprefix("PS> ")
                if not stripped or stripped.startswith("#"):
                    continue
            if stripped.endswith("\\") or stripped.endswith(" `"):
                pending += stripped[:-1].rstrip() + " "
                continue
            out.append(Command(pending + stripped, f"{source}:{pending_line}"))
            pending = ""
            continue
        for span in _INLINE.findall(line):
            out.append(Command(span.strip(), f"{source}:{number}", fenced=False))
    return out


def split_pipeline(command: str) -> list[list[str]]:
    """Split a command line into simple commands (on ``&&``, ``||``, ``;``, ``|``) of words."""
    # Windows path separators (PowerShell examples) would be shell escapes to shlex.
    command = re.sub(r"\\(?=[\w.-])", "/", command)
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        words = list(lexer)
    except ValueError:
        # Unbalanced quotes: fall back to a plain split so the words are still checked.
        words = command.split()
    parts: list[list[str]] = [[]]
    for word in words:
        if word and set(word) <= set(";&|"):
            parts.append([])
        else:
            parts[-1].append(word)
    return [p for p in parts if p]


def _normalise_head(words: list[str]) -> list[str]:
    """Drop leading ``VAR=value`` assignments and ``sudo``; map ``.venv/bin/x`` to ``x``."""
    i = 0
    while i < len(words) and (_ENV_ASSIGN.match(words[i]) or words[i] in ("sudo", "env")):
        i += 1
    rest = list(words[i:])
    if rest:
        head = rest[0].replace("\\", "/")
        for prefix in (".venv/bin/", "./.venv/bin/", "$(BIN)/", "venv/bin/"):
            if head.startswith(prefix):
                head = head[len(prefix) :]
        rest[0] = head
    return rest


def is_placeholder(word: str) -> bool:
    return bool(_PLACEHOLDER.search(word))


def _repo_path(word: str) -> str | None:
    """The repository-relative path a word names, if it names one under a tracked directory."""
    candidate = word.replace("\\", "/").split("=", 1)[-1]
    candidate = candidate.removeprefix("./")
    if is_placeholder(candidate) or "://" in candidate:
        return None
    if candidate.startswith(REPO_DIRS):
        return candidate.rstrip("/").split(":", 1)[0].split("::", 1)[0]
    return None


class Checker:
    """Checks commands against the real parser, Makefile and file tree of a repository."""

    def __init__(self, root: Path = ROOT, parser: argparse.ArgumentParser | None = None) -> None:
        self.root = root
        self._parser = parser

    @property
    def parser(self) -> argparse.ArgumentParser:
        if self._parser is None:
            from ollama_infra.ops.cli import build_parser

            self._parser = build_parser()
        return self._parser

    # -- public -------------------------------------------------------------------------

    def check_all(self, commands: Iterable[Command]) -> list[str]:
        problems: list[str] = []
        for cmd in commands:
            problems.extend(f"{cmd.where}: `{cmd.text}`: {p}" for p in self.check(cmd.text))
        return problems

    def check(self, command: str) -> list[str]:
        """Problems with one command line (empty when it is fine or not one of ours)."""
        problems: list[str] = []
        for words in split_pipeline(command):
            problems.extend(self._check_simple(_normalise_head(words)))
        return problems

    def is_checked(self, command: str) -> bool:
        """Whether any simple command of the line is one this checker verifies."""
        return any(self._kind(_normalise_head(w)) for w in split_pipeline(command))

    # -- dispatch -----------------------------------------------------------------------

    def _kind(self, words: list[str]) -> str | None:
        if not words:
            return None
        head = words[0]
        if head in CHECKED_HEADS:
            return head
        if _repo_path(head) is not None:
            return "script"
        return None

    def _check_simple(self, words: list[str]) -> list[str]:
        kind = self._kind(words)
        if kind is None:
            return []
        problems = self._paths_exist(words)
        if kind == "ollama-ops":
            problems += self.check_ollama_ops(words[1:])
        elif kind == "make":
            problems += self.check_make(words[1:])
        elif kind in ("python", "python3"):
            problems += self.check_python(words[1:])
        elif kind == "pulumi":
            problems += self.check_pulumi(words[1:])
        elif kind == "locust":
            problems += self.check_locust(words[1:])
        return problems

    # -- individual tools ---------------------------------------------------------------

    def _paths_exist(self, words: list[str]) -> list[str]:
        missing = []
        for word in words:
            path = _repo_path(word)
            if path is not None and not (self.root / path).exists():
                missing.append(f"path {path} does not exist in the repository")
        return missing

    def check_ollama_ops(self, args: list[str]) -> list[str]:
        """Walk the CLI parser: every subcommand must exist, every --flag must belong to it."""
        parser = self.parser
        path = ["ollama-ops"]
        problems: list[str] = []
        positional_done = False
        i = 0
        while i < len(args):
            word = args[i]
            i += 1
            if word.startswith("-") and word != "-":
                flag, _, inline_value = word.partition("=")
                action = parser._option_string_actions.get(flag)
                if action is None:
                    known = sorted(s for s in parser._option_string_actions if s.startswith("--"))
                    problems.append(
                        f"{' '.join(path)} has no option {flag} (options: {', '.join(known)})"
                    )
                    continue
                takes_value = action.nargs != 0
                if takes_value and not inline_value and i < len(args):
                    value = args[i]
                    i += 1
                    if action.choices and not is_placeholder(value) and value not in action.choices:
                        problems.append(
                            f"{' '.join(path)} {flag}: {value!r} is not one of "
                            f"{', '.join(map(str, action.choices))}"
                        )
                    elif callable(action.type) and not is_placeholder(value):
                        try:  # the CLI's own check of the value (e.g. a stack name)
                            action.type(value)
                        except (argparse.ArgumentTypeError, ValueError, TypeError) as exc:
                            problems.append(f"{' '.join(path)} {flag}: {exc}")
                continue
            sub = _subparsers(parser)
            if sub is None or positional_done or is_placeholder(word):
                positional_done = True
                continue
            if word not in sub.choices:
                problems.append(
                    f"{' '.join(path)} has no subcommand {word!r} "
                    f"(subcommands: {', '.join(sorted(sub.choices))})"
                )
                return problems
            parser = sub.choices[word]
            path.append(word)
        return problems

    def check_make(self, args: list[str]) -> list[str]:
        targets = makefile_targets(self.root / "Makefile")
        problems = []
        for word in args:
            if word.startswith("-") or _ENV_ASSIGN.match(word) or is_placeholder(word):
                continue
            if word not in targets:
                problems.append(f"the Makefile has no target {word!r}")
        return problems

    def check_python(self, args: list[str]) -> list[str]:
        if len(args) >= 2 and args[0] == "-m":
            module = args[1]
            if is_placeholder(module):
                return []
            if module in ("pip", "venv", "pytest", "json.tool"):
                return []
            if not module_exists(module):
                return [f"module {module} cannot be imported"]
            return []
        if args and args[0].endswith(".py") and not is_placeholder(args[0]):
            target = args[0].removeprefix("./")
            if not (self.root / target).exists():
                return [f"script {target} does not exist"]
        return []

    def check_pulumi(self, args: list[str]) -> list[str]:
        problems = []
        for i, word in enumerate(args):
            if word.startswith("--policy-pack"):
                value = word.partition("=")[2] or (args[i + 1] if i + 1 < len(args) else "")
                if not value or is_placeholder(value) or _repo_path(value) is not None:
                    continue  # repository paths are already checked by _paths_exist
                if not (self.root / value).is_dir():
                    problems.append(f"policy pack directory {value} does not exist")
        return problems

    def check_locust(self, args: list[str]) -> list[str]:
        problems = []
        for i, word in enumerate(args):
            if word in ("-f", "--locustfile") and i + 1 < len(args):
                value = args[i + 1]
                if is_placeholder(value) or _repo_path(value) is not None:
                    continue  # repository paths are already checked by _paths_exist
                if not (self.root / value).exists():
                    problems.append(f"locustfile {value} does not exist")
        return problems


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


@cache
def makefile_targets(path: Path) -> frozenset[str]:
    """Rule targets of a Makefile (``name: ...`` lines; variable assignments excluded)."""
    targets: set[str] = set()
    rule = re.compile(r"^([A-Za-z0-9_./$()-][A-Za-z0-9_./$() -]*?)\s*:(?![=:])")
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(("\t", "#", " ")):
            continue
        match = rule.match(line)
        if match:
            targets.update(t for t in match.group(1).split() if not t.startswith("."))
    return frozenset(targets)


def module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# The docs' convention: README.md has the reader activate the project's virtualenv once, and
# every documented command names its tool bare (`ollama-ops`, `locust`, `python`, `pytest`).
ACTIVATE = "source .venv/bin/activate"
_VENV_BIN = re.compile(r"(?:^|/)\.?venv/(?:bin|Scripts)/([\w.-]+)")


def venv_convention_problems(commands: Iterable[Command]) -> list[str]:
    """Commands that reach into the virtualenv by path instead of relying on the activated
    venv (only ``source .venv/bin/activate`` itself may name it)."""
    problems = []
    for cmd in commands:
        for words in split_pipeline(cmd.text):
            if words[0] in ("source", ".") and len(words) == 2 and words[1].endswith("/activate"):
                continue
            for word in words:
                match = _VENV_BIN.search(word.replace("\\", "/"))
                if match:
                    problems.append(
                        f"{cmd.where}: `{cmd.text}`: write `{match.group(1)}`, not {word}: "
                        f"documented commands run in the activated venv (README.md: `{ACTIVATE}`)"
                    )
    return problems


def markdown_files(root: Path = ROOT) -> list[Path]:
    """The docs Property 3 covers: README.md, CONTRIBUTING.md, docs/**, loadtest/README.md."""
    files = [root / "README.md", root / "CONTRIBUTING.md", root / "loadtest" / "README.md"]
    files += sorted((root / "docs").rglob("*.md"))
    return [f for f in files if f.exists()]


def commands_in(files: Iterable[Path], root: Path = ROOT) -> Iterator[Command]:
    for path in files:
        yield from extract_commands(path.read_text(encoding="utf-8"), str(path.relative_to(root)))
