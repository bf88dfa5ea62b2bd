"""Shared pieces of the ops CLI: common flags, exit codes and error reporting."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

ENVIRONMENTS = ("dev", "staging", "production")

# Exit codes shared by every subcommand (documented in docs/runbooks/troubleshooting.md).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad arguments or invalid stack configuration
EXIT_POLICY = 3  # a mandatory policy was violated


class OpsError(Exception):
    """An operational failure with a remediation hint; the CLI prints it and exits."""

    def __init__(self, message: str, remedy: str = "", exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.remedy = remedy
        self.exit_code = exit_code

    def render(self) -> str:
        return f"error: {self.message}" + (f"\n  fix: {self.remedy}" if self.remedy else "")


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


def fail(message: str, remedy: str = "", exit_code: int = EXIT_FAILURE) -> NoReturn:
    raise OpsError(message, remedy, exit_code)


def eprint(*parts: object) -> None:
    print(*parts, file=sys.stderr)
