"""The seed-named entry points in scripts/ are thin, correct wrappers over `ollama-ops`.

PowerShell cannot run here, so each .ps1 is parsed: every `param()` parameter must map to a
real flag of the command the script invokes (switches to on/off flags, values to flags that
take a value, ValidateSet values within the flag's choices, the stack parameter validated by
the CLI's own stack-name pattern). The bash wrappers are parsed
the same way, run for real against a stand-in `ollama-ops` that records its argv (which the
real parser must accept), and checked with shellcheck. All but switch-environment.ps1 are
generated from the table in scripts/wrappers.py, and must match it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from harness import tool

from ollama_infra.config import STACK_NAME_RE
from ollama_infra.ops.cli import build_parser
from scripts import wrappers

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
# Host scripts and the e2e-local test tier, not CLI wrappers.
OTHER_SCRIPTS = {"ollama-install.sh", "ollama-cleanup.sh", "e2e-local.sh"}

PS1_WRAPPERS = {
    "deploy.ps1": "deploy",
    "destroy-ollama.ps1": "destroy",
    "switch-environment.ps1": "env",
    "monitor-scaling.ps1": "monitor scaling",
    "check-scaling-metrics.ps1": "monitor metrics",
    "monitor-ollama-metrics.ps1": "monitor ollama",
    "shutdown-dev-environment.ps1": "dev shutdown",
    "startup-dev-environment.ps1": "dev startup",
}
SH_WRAPPERS = {
    "backup-dynamodb.sh": "backup dynamodb",
    "backup-s3.sh": "backup s3",
    "backup-pulumi-state.sh": "backup state",
    "restore-from-backup.sh": "restore",
    "deploy-to-alternate-region.sh": "dr deploy-region",
}


@dataclass
class Mapping:
    """One parameter -> flag mapping found in a wrapper."""

    param: str
    path: tuple[str, ...]
    flag: str
    takes_value: bool


@dataclass
class Wrapper:
    params: dict[str, str] = field(default_factory=dict)  # name -> kind (string/int/switch)
    choices: dict[str, list[str]] = field(default_factory=dict)
    patterns: dict[str, str] = field(default_factory=dict)
    validates_stack: bool = (
        False  # PowerShell validates parameters itself; bash leaves it to the CLI
    )
    mappings: list[Mapping] = field(default_factory=list)
    paths: list[tuple[str, ...]] = field(default_factory=list)


# --- parsing -------------------------------------------------------------------------------

_PS_PARAM = re.compile(
    r"(?:\[ValidateSet\(([^)]*)\)\]\s*)?(?:\[ValidatePattern\('([^']*)'\)\]\s*)?"
    r"\[(string|int|switch)\]\$(\w+)",
    re.IGNORECASE,
)
_PS_ASSIGN = re.compile(r"\$cliArgs\s*=\s*@\(([^)]*)\)")
_PS_APPEND = re.compile(r"\$cliArgs\s*\+=\s*(?:@\()?([^)}]*)")
_PS_COND = re.compile(r"if\s*\((?:\$(\w+)|\$PSBoundParameters\.ContainsKey\('(\w+)'\))\)")


def _ps_items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _ps_flags(items: list[str], path: tuple[str, ...], default_var: str | None) -> list[Mapping]:
    out = []
    for i, item in enumerate(items):
        word = item.strip("'\"")
        if not word.startswith("--"):
            continue
        nxt = items[i + 1] if i + 1 < len(items) else ""
        if nxt.startswith("$"):
            out.append(Mapping(nxt[1:], path, word, True))
        elif default_var:
            out.append(Mapping(default_var, path, word, False))
    return out


def parse_ps1(text: str) -> Wrapper:
    w = Wrapper()
    block = re.search(r"param\((.*?)\n\)", text, re.S)
    assert block, "no param() block"
    w.validates_stack = True
    for choices, pattern, kind, name in _PS_PARAM.findall(block.group(1)):
        w.params[name] = kind.lower()
        if pattern:
            w.patterns[name] = pattern
        if choices:
            w.choices[name] = [c.strip().strip("'\"") for c in choices.split(",")]
    path: tuple[str, ...] = ()
    for line in text[block.end() :].splitlines():
        assign = _PS_ASSIGN.search(line)
        if assign:
            items = _ps_items(assign.group(1))
            path = tuple(i.strip("'\"") for i in items if i.startswith("'") and "--" not in i)
            w.paths.append(path)
            w.mappings += _ps_flags(items, path, None)
            continue
        append = _PS_APPEND.search(line)
        if append:
            cond = _PS_COND.search(line)
            var = (cond.group(1) or cond.group(2)) if cond else None
            w.mappings += _ps_flags(_ps_items(append.group(1)), path, var)
    return w


_SH_BASE = re.compile(r"^args=\(([^)]*)\)", re.M)
_SH_CASE = re.compile(
    r"^\s*([\w|-]+)\)\s*(?:\n\s*\[\[.*\n|need \"\$@\";)?\s*args\+=\(([^)]*)\)", re.M
)


def parse_sh(text: str) -> Wrapper:
    w = Wrapper()
    base = _SH_BASE.search(text)
    assert base, "no args=(...) line"
    path = tuple(base.group(1).split())
    w.paths.append(path)
    for pattern, added in _SH_CASE.findall(text):
        words = added.split()
        if words == ['"$1"']:  # the subcommand itself (restore-from-backup.sh)
            for name in pattern.split("|"):
                w.paths.append((*path, name))
            continue
        flag = words[0]
        w.params[pattern] = "string" if len(words) > 1 else "switch"
        w.mappings.append(Mapping(pattern, path, flag, len(words) > 1))
    return w


# --- checking against the real parser ------------------------------------------------------


def _subparser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for word in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return parser


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [parser]
    return [leaf for p in subs[0].choices.values() for leaf in _leaves(p)]


def wrapper_problems(w: Wrapper) -> list[str]:
    """Every way the wrapper's parameters fail to map onto real CLI flags."""
    root = build_parser()
    problems: list[str] = []
    for path in w.paths:
        try:
            _subparser(root, path)
        except (KeyError, StopIteration):
            problems.append(f"ollama-ops has no command {' '.join(path)!r}")
    if problems:
        return problems
    mapped = {m.param for m in w.mappings}
    problems += [f"parameter {p} maps to no CLI flag" for p in w.params if p not in mapped]
    for m in w.mappings:
        if m.param not in w.params:
            problems.append(f"{m.flag} is fed from undeclared parameter {m.param}")
            continue
        # a flag must exist on the command (for a command with subcommands: on one of them)
        actions = [
            leaf._option_string_actions.get(m.flag) for leaf in _leaves(_subparser(root, m.path))
        ]
        actions = [a for a in actions if a is not None]
        if not actions:
            problems.append(f"{m.param} -> {m.flag}: no such flag on {' '.join(m.path)}")
            continue
        action = actions[0]
        flag_takes_value = action.nargs != 0
        if flag_takes_value != m.takes_value:
            problems.append(
                f"{m.param} -> {m.flag}: the flag {'takes a' if flag_takes_value else 'takes no'} "
                "value but the wrapper passes "
                f"{'one' if m.takes_value else 'none'}"
            )
        if (w.params[m.param] == "switch") == m.takes_value:
            problems.append(f"{m.param} is a {w.params[m.param]} but maps as {m.flag} with value")
        pattern = w.patterns.get(m.param)
        if w.validates_stack and m.flag == "--stack" and pattern != STACK_NAME_RE.pattern:
            problems.append(
                f"{m.param}: ValidatePattern {pattern!r} is not the --stack "
                f"name rule {STACK_NAME_RE.pattern!r}"
            )
        allowed = w.choices.get(m.param)
        if allowed and action.choices is not None:
            extra = set(allowed) - set(action.choices)
            if extra:
                problems.append(f"{m.param}: values {sorted(extra)} are not choices of {m.flag}")
    return problems


# --- the tests -----------------------------------------------------------------------------


def test_every_seed_entry_point_exists() -> None:
    present = {p.name for p in SCRIPTS.iterdir() if p.suffix in (".ps1", ".sh")}
    assert set(PS1_WRAPPERS) | set(SH_WRAPPERS) <= present
    unknown = present - set(PS1_WRAPPERS) - set(SH_WRAPPERS) - OTHER_SCRIPTS
    assert not unknown, f"wrappers not covered by this test: {sorted(unknown)}"


def test_every_wrapper_but_one_is_generated_from_the_table() -> None:
    by_hand = {"switch-environment.ps1"}  # chooses between two commands
    assert set(wrappers.WRAPPERS) == (set(PS1_WRAPPERS) | set(SH_WRAPPERS)) - by_hand


def test_committed_wrappers_match_the_table() -> None:
    stale = sorted(wrappers.stale())
    assert not stale, (
        f"{stale} differ from scripts/wrappers.py; run: .venv/bin/{wrappers.REGENERATE}"
    )


def test_table_check_can_fail(tmp_path: Path) -> None:
    for name in wrappers.WRAPPERS:
        shutil.copy(SCRIPTS / name, tmp_path / name)
    edited = tmp_path / "backup-s3.sh"
    edited.write_text(edited.read_text().replace("-s|--sync", "-S|--sync"))
    assert list(wrappers.stale(tmp_path)) == ["backup-s3.sh"]
    with pytest.raises(KeyError, match="backup s3 has no flag --sink"):
        wrappers.render("backup-s3.sh", "backup s3 -s --sink")


@pytest.mark.parametrize("name", sorted(PS1_WRAPPERS))
def test_ps1_parameters_map_to_real_flags(name: str) -> None:
    text = (SCRIPTS / name).read_text()
    w = parse_ps1(text)
    assert w.params and w.mappings
    assert wrapper_problems(w) == []
    assert " ".join(w.paths[0]).startswith(PS1_WRAPPERS[name])
    assert wrappers.PS1_PYTHON + "\n& $python -m ollama_infra.ops @cliArgs" in text
    assert "exit $LASTEXITCODE" in text


@pytest.mark.parametrize("name", sorted(SH_WRAPPERS))
def test_sh_options_map_to_real_flags(name: str) -> None:
    text = (SCRIPTS / name).read_text()
    w = parse_sh(text)
    assert w.mappings
    assert wrapper_problems(w) == []
    arms = set(re.findall(r"^\s+(-[\w|-]+)\)", text, re.M)) - {"-h|--help"}
    assert arms == set(w.params), "every option arm must be parsed (and so checked)"
    assert " ".join(w.paths[0]) == SH_WRAPPERS[name]
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert wrappers.SH_OLLAMA_OPS + '\nexec "$ollama_ops" "${args[@]}"' in text


BROKEN_PS1 = [
    ("'--no-such-flag'", "no such flag"),
    ("'--yes', $Region", "takes no value"),
    ("'--region'", "takes a value"),
]


@pytest.mark.parametrize(("replacement", "problem"), BROKEN_PS1)
def test_ps1_check_can_fail(replacement: str, problem: str) -> None:
    text = (SCRIPTS / "deploy.ps1").read_text()
    broken = text.replace("@('--region', $Region)", f"@({replacement})")
    assert broken != text
    assert any(problem in p for p in wrapper_problems(parse_ps1(broken)))


def test_ps1_check_catches_unmapped_params_and_bad_choices() -> None:
    text = (SCRIPTS / "destroy-ollama.ps1").read_text()
    unmapped = text.replace("[switch]$Yes,", "[switch]$Yes,\n    [switch]$Forgotten,")
    assert "parameter Forgotten maps to no CLI flag" in wrapper_problems(parse_ps1(unmapped))
    pattern = text.replace(STACK_NAME_RE.pattern, "^(dev|qa)$")
    assert any("'^(dev|qa)$' is not the --stack" in p for p in wrapper_problems(parse_ps1(pattern)))
    unvalidated = text.replace(f"[ValidatePattern('{STACK_NAME_RE.pattern}')]", "")
    assert any("None is not the --stack" in p for p in wrapper_problems(parse_ps1(unvalidated)))
    command = text.replace("@('destroy', '--stack'", "@('destory', '--stack'")
    assert any("no command 'destory'" in p for p in wrapper_problems(parse_ps1(command)))


def test_sh_check_can_fail() -> None:
    text = (SCRIPTS / "backup-s3.sh").read_text()
    bad_flag = text.replace("args+=(--dest-bucket", "args+=(--destination")
    assert any("no such flag" in p for p in wrapper_problems(parse_sh(bad_flag)))
    no_value = text.replace('args+=(--dest-region "$2")', "args+=(--dest-region)")
    assert any("takes a value" in p for p in wrapper_problems(parse_sh(no_value)))


# --- running the bash wrappers ---------------------------------------------------------------

SH_RUNS = {
    "backup-dynamodb.sh": ["-e", "dev", "-r", "us-east-1", "-l", "drill", "-b", "exports", "-n"],
    "backup-s3.sh": [
        "--environment",
        "staging",
        "-d",
        "dr-bucket",
        "--dest-region",
        "us-west-2",
        "--sync",
        "--json",
        "--dry-run",
    ],
    "backup-pulumi-state.sh": ["-e", "dev", "-e", "production", "-b", "state-bucket", "-n"],
    "restore-from-backup.sh": [
        "dynamodb",
        "-e",
        "dev",
        "--latest",
        "--target-table",
        "t-1",
        "--switch",
        "-y",
        "-n",
    ],
    "deploy-to-alternate-region.sh": [
        "-e",
        "production",
        "-t",
        "us-west-2",
        "-c",
        "arn:aws:acm:us-west-2:123456789012:certificate/x",
        "--ami-id",
        "ami-0123456789abcdef0",
        "-y",
        "--production",
    ],
}
RESTORE_RUNS = [
    ["s3", "-e", "dev", "--key", "k", "--version-id", "v1", "-y"],
    ["s3", "-e", "dev", "--prefix", "open-webui/", "--before", "2026-01-01T00:00:00Z", "-n"],
    ["state", "-e", "staging", "--s3-uri", "s3://b/k.json", "--production"],
    ["state", "-e", "dev", "--file", "cp.json"],
    ["switch", "-e", "dev", "--table", "t-1", "-y"],
    ["dynamodb", "-e", "dev", "--backup-arn", "arn:aws:dynamodb:us-east-1:1:table/t/backup/b"],
    ["dynamodb", "-e", "dev", "--point-in-time", "2026-01-01T00:00:00Z", "--switch", "-y"],
]


@dataclass
class FakeRepo:
    """A copy of the bash wrappers in a temporary repository whose `.venv/bin/ollama-ops` is
    a TEST DOUBLE that writes its argv to ``record``; a second stand-in on PATH writes to
    ``path_record`` (it must not be used while the repository has its .venv)."""

    root: Path
    env: dict[str, str]
    record: Path
    path_record: Path

    def run(self, name: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.root / "scripts" / name), *argv],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )


def _recorder(path: Path, record: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > '{record}'\n")
    path.chmod(0o755)


@pytest.fixture
def fake_cli(tmp_path: Path) -> FakeRepo:
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for name in SH_WRAPPERS:
        shutil.copy(SCRIPTS / name, root / "scripts" / name)
    repo = FakeRepo(root, {}, tmp_path / "argv", tmp_path / "path-argv")
    _recorder(root / wrappers.REPO_VENV / "bin" / "ollama-ops", repo.record)
    _recorder(tmp_path / "bin" / "ollama-ops", repo.path_record)
    repo.env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    return repo


@pytest.mark.parametrize(
    ("name", "argv"),
    [*SH_RUNS.items(), *(("restore-from-backup.sh", a) for a in RESTORE_RUNS)],
)
def test_sh_wrapper_passes_a_valid_command_line(
    fake_cli: FakeRepo, name: str, argv: list[str]
) -> None:
    done = fake_cli.run(name, argv)
    assert done.returncode == 0, done.stderr
    assert not fake_cli.path_record.exists()  # the repository's .venv, not PATH, ran
    forwarded = fake_cli.record.read_text().splitlines()
    args = build_parser().parse_args(forwarded)  # SystemExit here would fail the test
    assert " ".join(forwarded).startswith(SH_WRAPPERS[name])
    stacks = args.stacks if name == "backup-pulumi-state.sh" else [args.stack]
    given = [argv[i + 1] for i, a in enumerate(argv) if a in ("-e", "--environment")]
    assert stacks == given


@pytest.mark.parametrize("name", sorted(SH_WRAPPERS))
def test_sh_wrapper_rejects_unknown_options_without_running(fake_cli: FakeRepo, name: str) -> None:
    argv = ["dynamodb"] if name == "restore-from-backup.sh" else []
    done = fake_cli.run(name, [*argv, "--bogus"])
    assert done.returncode == 2 and "unknown option: --bogus" in done.stderr
    assert not fake_cli.record.exists()
    helped = fake_cli.run(name, ["--help"])
    assert helped.returncode == 0 and "Usage:" in helped.stdout and not fake_cli.record.exists()


@pytest.mark.parametrize("name", sorted(SH_WRAPPERS))
def test_sh_wrapper_options_without_their_value_stop_without_running(
    fake_cli: FakeRepo, name: str
) -> None:
    kind = ["dynamodb"] if name == "restore-from-backup.sh" else []
    mappings = parse_sh((SCRIPTS / name).read_text()).mappings
    valued = [m.param.split("|")[-1] for m in mappings if m.takes_value]
    assert valued
    for option in valued:
        done = fake_cli.run(name, [*kind, option])
        assert done.returncode == 2 and f"{option} needs a value" in done.stderr, option
        assert not fake_cli.record.exists()


def test_restore_wrapper_needs_the_kind_first(fake_cli: FakeRepo) -> None:
    done = fake_cli.run("restore-from-backup.sh", ["-e", "dev", "dynamodb"])
    assert done.returncode == 2 and "first argument" in done.stderr
    assert not fake_cli.record.exists()


def test_sh_wrapper_without_a_repository_venv_uses_ollama_ops_on_path(
    fake_cli: FakeRepo,
) -> None:
    """A repository without .venv (ollama-ops installed in another virtualenv, or in CI)."""
    shutil.rmtree(fake_cli.root / wrappers.REPO_VENV)
    done = fake_cli.run("backup-dynamodb.sh", ["-e", "dev", "-n"])
    assert done.returncode == 0, done.stderr
    assert fake_cli.path_record.read_text().split() == [
        "backup",
        "dynamodb",
        "--stack",
        "dev",
        "--dry-run",
    ]


def test_sh_wrapper_without_any_ollama_ops_says_how_to_install_it(fake_cli: FakeRepo) -> None:
    shutil.rmtree(fake_cli.root / wrappers.REPO_VENV)
    fake_cli.env["PATH"] = "/usr/bin:/bin"  # bash and coreutils, no ollama-ops
    done = fake_cli.run("backup-dynamodb.sh", ["-e", "dev"])
    assert done.returncode == 127
    assert f"run 'make install' in {fake_cli.root} (it creates .venv)" in done.stderr


def test_shellcheck_passes_on_the_wrappers() -> None:
    shellcheck = tool("shellcheck")
    files = [str(SCRIPTS / name) for name in SH_WRAPPERS]
    done = subprocess.run([shellcheck, *files], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
