"""``ollama-ops``: one CLI for planning, deploying and operating the Ollama stacks.

Each subcommand lives in its own module under ``ollama_infra.ops`` and exposes
``register(subparsers)``; the module adds its parser and sets ``func`` to a callable
taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from ollama_infra.config import ConfigError, StackFileError, StackFileMissing
from ollama_infra.ops.common import (
    EXIT_INTERRUPTED,
    EXIT_NO_STACK_FILE,
    EXIT_PIPE_CLOSED,
    EXIT_USAGE,
    OpsError,
    eprint,
    exit_code_help,
)

# Subcommand modules, in the order --help lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "plan",
    "cost",
    "deploy",
    "rollout",
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
    "users",
    "secrets",
    "state",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ollama-ops",
        description="Plan, deploy and operate the Ollama + Open WebUI stacks on AWS.",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(f"ollama_infra.ops.{module}").register(sub)
    return parser


def _pipe_closed() -> int:
    """The reader of stdout went away (``| head``): stop quietly, as Unix tools do.

    Later writes (and the flush at exit) go to /dev/null instead of raising again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE_CLOSED


def main(argv: Sequence[str] | None = None) -> int:
    # The provider SDK that `plan` and `cost` import leaves a great many long-lived objects,
    # and with the default thresholds the collector walks them again and again while the
    # program runs under the mocks (measured: about a third of `plan`'s CPU time). The CLI
    # is a short-lived process: collect less often.
    gc.set_threshold(10_000, 50, 100)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe shows up here at the latest
        return code
    except BrokenPipeError:
        return _pipe_closed()
    except ConfigError as exc:
        eprint(f"error: {exc}")
        return EXIT_USAGE
    except StackFileError as exc:
        eprint(f"error: {exc.message}\n  fix: {exc.fix}")
        return EXIT_NO_STACK_FILE if isinstance(exc, StackFileMissing) else EXIT_USAGE
    except OpsError as exc:
        eprint(exc.render())
        return exc.exit_code
    except KeyboardInterrupt:
        eprint("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
