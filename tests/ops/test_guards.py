"""The CLI's shared behaviour: one guard for every stack command, one exit-code table,
argument checks before credentials, closed pipes and --output paths.

Uses the ops test doubles: moto for AWS and a fake Pulumi CLI (see ops_support).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import ops_support
import pytest
from ops_support import ACCOUNT, AwsRecorder, FakePulumi, cli, make_table, table_items

from ollama_infra import naming
from ollama_infra.ops import common, plan
from ollama_infra.ops.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi

# Commands that take --stack but do not act on that stack's AWS resources: the offline plan
# (reads the stack file), env switch (selects it), ami cleanup (--stack only names a region)
# and backup state (reads checkpoints of any number of stacks).
UNGUARDED = {("plan",), ("env", "switch"), ("ami", "cleanup"), ("backup", "state")}


def _leaves(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(path, parser)]
    return [
        leaf for name, child in subs[0].choices.items() for leaf in _leaves(child, (*path, name))
    ]


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_every_command_acting_on_a_stack_offers_the_cross_env_escape() -> None:
    """`env --help` promises the selected-stack check for every --stack command."""
    leaves = _leaves(build_parser())
    with_stack = {path for path, p in leaves if "--stack" in _flags(p)}
    assert {("models", "add"), ("models", "remove"), ("models", "list")} <= with_stack
    for path, p in leaves:
        if path in with_stack and path not in UNGUARDED:
            assert "--force-cross-env" in _flags(p), path


def test_every_command_with_production_flag_also_asks_and_can_dry_run() -> None:
    for path, p in _leaves(build_parser()):
        flags = _flags(p)
        if "--production" in flags:
            assert {"--yes", "--dry-run", "--force-cross-env"} <= flags, path


# ---------------------------------------------------------------- models add/remove


def test_models_add_and_remove_on_production_need_the_flag(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    """They skipped the production guard before: `models add --stack production` asked nothing."""
    pulumi.selected = "production"
    table = naming.StackNames("production", ACCOUNT).table
    make_table(table, [])
    add = ["models", "add", "--stack", "production", "--model", "llama3.2:1b", "--yes"]
    assert cli(*add) == common.EXIT_REFUSED
    assert "refusing to add a model on the production stack without --production" in (
        capsys.readouterr().err
    )
    assert aws_env.calls == []
    assert cli(*add, "--production") == common.EXIT_OK
    assert len(table_items(table)) == 1
    remove = ["models", "remove", "--stack", "production", "--model", "llama3.2:1b", "--yes"]
    assert cli(*remove) == common.EXIT_REFUSED
    assert len(table_items(table)) == 1
    assert cli(*remove, "--production") == common.EXIT_OK
    assert table_items(table) == []


def test_models_add_asks_before_writing(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_table(naming.StackNames("dev", ACCOUNT).table, [])
    assert cli("models", "add", "--stack", "dev", "--model", "phi3") == common.EXIT_REFUSED
    assert "confirmation needed" in capsys.readouterr().err
    assert aws_env.mutations() == []


GUARDED = [
    ["models", "list", "--stack", "staging"],
    ["models", "add", "--stack", "staging", "--model", "phi3", "--yes"],
    ["models", "remove", "--stack", "staging", "--model", "phi3", "--yes"],
    ["deploy", "--stack", "staging", "--yes", "--skip-permission-check"],
    ["destroy", "--stack", "staging", "--yes"],
    ["health", "--stack", "staging"],
    ["monitor", "scaling", "--stack", "staging", "--once"],
    ["dev", "shutdown", "--stack", "staging", "--yes"],
    ["dev", "schedule", "--stack", "staging", "--yes"],
    ["backup", "dynamodb", "--stack", "staging"],
    ["backup", "s3", "--stack", "staging"],
    ["restore", "dynamodb", "--stack", "staging", "--latest", "--yes"],
    ["restore", "s3", "--stack", "staging", "--key", "k", "--version-id", "v", "--yes"],
    ["restore", "state", "--stack", "staging", "--s3-uri", "s3://bucket/key", "--yes"],
    [
        "dr",
        "deploy-region",
        "--stack",
        "staging",
        "--target-region",
        "us-west-2",
        "--certificate-arn",
        "arn:aws:acm:us-west-2:123456789012:certificate/11111111-2222-3333-4444-555555555555",
        "--yes",
    ],
]


@pytest.mark.parametrize("argv", GUARDED, ids=[" ".join(a[:2]) for a in GUARDED])
def test_every_stack_command_refuses_another_selected_stack(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    pulumi.selected = "dev"
    assert cli(*argv) == common.EXIT_NOT_SELECTED
    err = capsys.readouterr().err
    assert "--stack staging differs from the selected stack 'dev'" in err
    assert "--force-cross-env" in err
    assert aws_env.calls == []


# ---------------------------------------------------------------- one exit-code table


def test_help_documents_the_exit_code_table() -> None:
    text = build_parser().format_help()
    for code, meaning in common.EXIT_CODES:
        assert re.search(rf"^\s+{code}  {re.escape(meaning)}$", text, re.M), code


def test_troubleshooting_runbook_lists_the_same_table() -> None:
    doc = (ROOT / "docs/runbooks/troubleshooting.md").read_text()
    rows = re.findall(r"^\| (\d+) \| (.+) \|$", doc, re.M)
    assert [(int(c), m) for c, m in rows] == list(common.EXIT_CODES)


def test_exit_codes_are_defined_only_in_the_table() -> None:
    codes = [code for code, _ in common.EXIT_CODES]
    assert len(set(codes)) == len(codes)
    for path in (ROOT / "ollama_infra").rglob("*.py"):
        if path.name == "common.py" and path.parent.name == "ops":
            continue
        assert not re.search(r"^\s*EXIT_\w+\s*=", path.read_text(), re.M), path


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "--stack", "dev", "--yes", "--skip-permission-check"],
        ["destroy", "--stack", "dev", "--yes"],
        ["env", "switch", "--stack", "dev"],
    ],
)
def test_missing_pulumi_cli_is_the_same_code_everywhere(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """It was 11 in deploy and 1 in destroy and env switch."""
    pulumi.installed = False
    assert cli(*argv) == common.EXIT_PULUMI_MISSING
    assert "the Pulumi CLI is not on PATH" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "--stack", "dev", "--yes", "--skip-permission-check"],
        ["destroy", "--stack", "dev", "--yes"],
        ["models", "list", "--stack", "dev"],
        ["backup", "dynamodb", "--stack", "dev"],
    ],
)
def test_missing_credentials_are_the_same_code_everywhere(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """It was 13 in deploy and 20 elsewhere."""
    aws_env.inject("sts", "GetCallerIdentity", "InvalidClientTokenId", 403)
    assert cli(*argv) == common.EXIT_CREDENTIALS
    assert "no valid AWS credentials" in capsys.readouterr().err


# ---------------------------------------------------------------- arguments before credentials


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["restore", "state", "--yes", "--file", "/nonexistent"], "--file /nonexistent: No such"),
        (["restore", "state", "--yes", "--s3-uri", "s3://Bad_Bucket/x"], "bucket 'Bad_Bucket'"),
        (["restore", "state", "--yes", "--s3-uri", "bucket-only"], "is not s3://bucket/key"),
        (["backup", "dynamodb", "--export-bucket", "s3://my-bucket"], "--export-bucket"),
        (["backup", "dynamodb", "--export-bucket", "My_Bucket"], "not a valid S3 bucket"),
        (["backup", "dynamodb", "--export-bucket", "192.168.1.1"], "not a valid S3 bucket"),
        (["backup", "s3", "--dest-bucket", "a"], "--dest-bucket 'a'"),
    ],
)
def test_argument_checks_run_before_any_aws_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    """Even with broken credentials the argument error is what the user sees."""
    aws_env.inject("sts", "GetCallerIdentity", "InvalidClientTokenId", 403)
    assert cli(*argv[:2], "--stack", "dev", *argv[2:]) == common.EXIT_USAGE
    err = capsys.readouterr().err
    assert message in err and "fix:" in err
    assert aws_env.calls == []


def test_backup_state_bucket_is_checked_before_any_call(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("backup", "state", "--bucket", "Not A Bucket") == common.EXIT_USAGE
    assert "--bucket 'Not A Bucket' is not a valid S3 bucket name" in capsys.readouterr().err
    assert aws_env.calls == [] and pulumi.calls == []


# ---------------------------------------------------------------- plan output


@pytest.fixture
def no_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> None:
        raise AssertionError("the program was evaluated before --output was checked")

    monkeypatch.setattr(plan, "evaluate", refuse)


def test_output_into_a_missing_folder_is_refused_before_evaluating(
    tmp_path: Path, no_evaluation: None, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "plan.json"
    assert cli("plan", "--stack", "dev", "--output", str(target)) == common.EXIT_USAGE
    err = capsys.readouterr().err
    assert f"the folder {target.parent} does not exist" in err and "mkdir -p" in err


def test_output_onto_a_folder_is_refused_before_evaluating(
    tmp_path: Path, no_evaluation: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("plan", "--stack", "dev", "--output", str(tmp_path)) == common.EXIT_USAGE
    assert f"--output {tmp_path} is a folder" in capsys.readouterr().err


def _console_script() -> str:
    exe = shutil.which("ollama-ops", path=str(Path(sys.executable).parent))
    assert exe, "ollama-ops console script is not installed"
    return exe


@pytest.mark.parametrize("json_flag", [["--json"], []], ids=["json", "text"])
def test_a_closed_pipe_ends_quietly_like_a_unix_tool(json_flag: list[str]) -> None:
    """`ollama-ops plan --stack staging --json | head -c 2000` (README) ended in a
    BrokenPipeError traceback and exit 1."""
    proc = subprocess.Popen(
        [_console_script(), "plan", "--stack", "staging", *json_flag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(2000)
    proc.stdout.close()  # what `head -c 2000` does once it has its bytes
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=300)
    assert len(head) == 2000
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert code == common.EXIT_PIPE_CLOSED
