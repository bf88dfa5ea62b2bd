"""Shared pieces of the ops CLI: common flags, exit codes and error reporting."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from ollama_infra.config import (
    STACK_NAME_HELP,
    environment_of,
    is_known_stack_name,
)

# The one exit-code table: every command exits with these codes for these causes.
# `ollama-ops --help` prints it and docs/runbooks/troubleshooting.md repeats it (a test
# keeps both in step). Define no exit code anywhere else.
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_POLICY = 3
EXIT_AWS = 4
EXIT_REFUSED = 5
EXIT_UNHEALTHY = 6
EXIT_PYTHON = 10
EXIT_PULUMI_MISSING = 11
EXIT_PULUMI_OLD = 12
EXIT_NO_STACK_FILE = 15
EXIT_NOT_SELECTED = 16
EXIT_CREDENTIALS = 20
EXIT_PERMISSION = 21
EXIT_THROTTLED = 22
EXIT_QUOTA = 23
EXIT_LOCKED = 24
EXIT_CERTIFICATE = 25
EXIT_NOT_FOUND = 26
EXIT_CONFLICT = 27
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell reports for a Unix tool whose reader left

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_FAILURE, "failure (see the message)"),
    (EXIT_USAGE, "bad arguments, or an invalid stack file or configuration (all problems listed)"),
    (EXIT_POLICY, "a mandatory policy was violated (`ollama-ops plan`)"),
    (EXIT_AWS, "an AWS call failed with an error not listed below"),
    (EXIT_REFUSED, "refused: not confirmed, or production without `--production`"),
    (EXIT_UNHEALTHY, "deployed, but the post-deployment health checks failed"),
    (EXIT_PYTHON, "Python is older than 3.11"),
    (EXIT_PULUMI_MISSING, "the Pulumi CLI is not on PATH"),
    (EXIT_PULUMI_OLD, "the Pulumi CLI is older than the pinned SDK"),
    (EXIT_NO_STACK_FILE, "no stack file `Pulumi.<stack>.yaml` (or no such `--config-dir`)"),
    (EXIT_NOT_SELECTED, "`--stack` is not the selected stack (see `ollama-ops env --help`)"),
    (EXIT_CREDENTIALS, "AWS credentials expired or missing"),
    (EXIT_PERMISSION, "missing IAM permission"),
    (EXIT_THROTTLED, "throttled by AWS even after retries"),
    (EXIT_QUOTA, "service quota reached"),
    (EXIT_LOCKED, "the Pulumi stack is locked"),
    (EXIT_CERTIFICATE, "certificate in the wrong region for CloudFront"),
    (EXIT_NOT_FOUND, "a resource the command needs does not exist"),
    (EXIT_CONFLICT, "the target already exists (restores never overwrite)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
    (
        EXIT_PIPE_CLOSED,
        "the reader of the output went away (e.g. `head` closed the pipe); nothing failed",
    ),
)


def exit_code_help() -> str:
    """The exit-code table as `ollama-ops --help` prints it."""
    lines = ["exit codes (the same cause gives the same code in every command):"]
    lines += [f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES]
    return "\n".join(lines)


class OpsError(Exception):
    """An operational failure with a remediation hint; the CLI prints it and exits."""

    def __init__(self, message: str, remedy: str = "", exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.exit_code = exit_code

    def render(self) -> str:
        return f"error: {self.message}" + (f"\n  fix: {self.remedy}" if self.remedy else "")


def add_command(sub: argparse._SubParsersAction, name: str, help: str, doc: str | None) -> Any:
    """A top-level ``ollama-ops`` command; its module docstring is the --help description."""
    return sub.add_parser(
        name, help=help, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def stack_name(value: str) -> str:
    """A --stack value: an environment or a DR stack ``<env>-<region>`` (checked by argparse)."""
    if not is_known_stack_name(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a stack name: use {STACK_NAME_HELP}")
    return value


def add_stack(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--stack",
        required=required,
        type=stack_name,
        metavar="STACK",
        help=f"stack to act on: {STACK_NAME_HELP}",
    )


def add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region",
        help="AWS region: always the stack's own (its aws:region); a different one is refused",
    )


def add_config_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help="directory holding Pulumi.<stack>.yaml (default: the project root)",
    )


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--yes", action="store_true", help="do not ask for confirmation (for automation)"
    )


def add_dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would change and change nothing"
    )


def add_production(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--production",
        action="store_true",
        help="required (in addition to confirmation) to change the production stack",
    )


def require_production_flag(stack: str, allowed: bool, action: str) -> None:
    """Changes never touch production without the explicit extra flag (see envs.guard)."""
    if environment_of(stack) == "production" and not allowed:
        raise OpsError(
            f"refusing to {action} on the production stack without --production",
            "re-run with --production once you are sure (and have a fresh backup)",
            EXIT_REFUSED,
        )


def _interactive() -> bool:
    return sys.stdin.isatty()


def confirm(action: str, *, yes: bool, typed: str | None = None) -> None:
    """Ask before a change; ``typed`` makes the user type that exact text (e.g. the stack name).

    ``--yes`` skips the question (automation); without a terminal and without ``--yes``
    the change is refused rather than assumed.
    """
    if yes:
        return
    if not _interactive():
        raise OpsError(
            f"{action}: confirmation needed but no terminal is attached",
            "re-run interactively, or pass --yes in automation",
            EXIT_REFUSED,
        )
    if typed is not None:
        answer = input(f"{action}\nType '{typed}' to confirm: ").strip()
        ok = answer == typed
    else:
        ok = input(f"{action}\nProceed? [y/N] ").strip().lower() in ("y", "yes")
    if not ok:
        raise OpsError(f"{action}: not confirmed; nothing was changed", "", EXIT_REFUSED)


def fail(message: str, remedy: str = "", exit_code: int = EXIT_FAILURE) -> NoReturn:
    raise OpsError(message, remedy, exit_code)


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr)
