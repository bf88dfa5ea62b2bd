"""Shared pieces of the ops CLI: common flags, exit codes and error reporting."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from ollama_infra.config import ENVIRONMENTS

# Exit codes shared by every subcommand (documented in docs/runbooks/troubleshooting.md).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad arguments or invalid stack configuration
EXIT_POLICY = 3  # a mandatory policy was violated
EXIT_AWS = 4  # an AWS call failed (unmapped error; mapped ones use ops.aws exit codes)
EXIT_REFUSED = 5  # not confirmed, production without --production, or cross-environment
EXIT_UNHEALTHY = 6  # the deployment finished but the post-deploy health checks failed


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


def add_stack(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument(
        "--stack",
        required=required,
        choices=ENVIRONMENTS,
        help="stack (environment) to act on: dev, staging or production",
    )


def add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", help="AWS region (default: the stack's aws:region, else AWS_REGION)"
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
    """Destructive actions never touch production without the explicit extra flag."""
    if stack == "production" and not allowed:
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
