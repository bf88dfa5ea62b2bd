"""``ollama-ops``: one CLI for planning, deploying and operating the Ollama stacks.

Each subcommand lives in its own module under ``ollama_infra.ops`` and exposes
``register(subparsers)``; the module adds its parser and sets ``func`` to a callable
taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ollama_infra.config import ConfigError
from ollama_infra.ops.common import EXIT_USAGE, OpsError, eprint

# Subcommand modules, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "plan",
    "cost",
    "deploy",
    "health",
    "destroy",
    "envs",
    "monitor",
    "devenv",
    "backup",
    "restore",
    "dr",
    "ami",
    "models",
    "state",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ollama-ops",
        description="Plan, deploy and operate the Ollama + Open WebUI stacks on AWS.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(f"ollama_infra.ops.{module}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        eprint(f"error: {exc}")
        return EXIT_USAGE
    except OpsError as exc:
        eprint(exc.render())
        return exc.exit_code
    except KeyboardInterrupt:
        eprint("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
