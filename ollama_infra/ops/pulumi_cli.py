"""The Pulumi CLI, as the ops commands use it: one replaceable runner for every invocation.

Commands never call ``subprocess`` directly; tests replace the runner with a recording
fake, so no test ever runs Pulumi.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ollama_infra.config import PROJECT_ROOT
from ollama_infra.ops.aws import classify
from ollama_infra.ops.common import EXIT_FAILURE, EXIT_PULUMI_MISSING, OpsError


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str = ""

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


Runner = Callable[..., Result]


def subprocess_runner(
    argv: Sequence[str], *, stream: bool = False, env: Mapping[str, str] | None = None
) -> Result:
    """Run a program; with ``stream`` its output is shown live and also captured."""
    exe = shutil.which(argv[0])
    if exe is None:
        raise FileNotFoundError(argv[0])
    full_env = {**os.environ, **(env or {})}
    if not stream:
        done = subprocess.run(
            [exe, *argv[1:]], capture_output=True, text=True, env=full_env, cwd=PROJECT_ROOT
        )
        return Result(done.returncode, done.stdout, done.stderr)
    lines: list[str] = []
    with subprocess.Popen(
        [exe, *argv[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
        cwd=PROJECT_ROOT,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            lines.append(line)
        returncode = proc.wait()
    return Result(returncode, "".join(lines))


_runner: Runner = subprocess_runner


def set_runner(runner: Runner | None) -> Runner:
    """Replace the runner (None restores the real one); returns the previous one."""
    global _runner
    previous = _runner
    _runner = runner or subprocess_runner
    return previous


def run(args: Sequence[str], action: str, *, stream: bool = False) -> Result:
    """``pulumi <args>``; raises OpsError when the CLI is missing or ``action`` fails."""
    try:
        result = _runner(["pulumi", *args], stream=stream)
    except FileNotFoundError as exc:
        raise OpsError(
            "the Pulumi CLI is not on PATH",
            "install it (https://www.pulumi.com/docs/install/) and re-run",
            EXIT_PULUMI_MISSING,
        ) from exc
    if result.returncode != 0:
        raise failure(result, action)
    return result


VERSION_RE = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = VERSION_RE.search(text)
    if not match:
        return None
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def selected_stack() -> str | None:
    """The selected stack: $PULUMI_STACK, else `pulumi stack --show-name`, else None."""
    env_stack = os.environ.get("PULUMI_STACK", "").strip()
    if env_stack:
        return env_stack.rsplit("/", 1)[-1]
    try:
        result = _runner(["pulumi", "stack", "--show-name"])
    except FileNotFoundError:
        return None
    name = result.stdout.strip()
    if result.returncode != 0 or not name:
        return None
    return name.rsplit("/", 1)[-1]


def failure(result: Result, action: str) -> OpsError:
    """OpsError for a failed Pulumi command, mapped through the shared error table."""
    rule = classify(None, result.output)
    tail = "\n".join(result.output.strip().splitlines()[-5:])
    if rule is not None:
        return OpsError(f"{action} failed: {rule.message}\n{tail}", rule.remedy, rule.exit_code)
    return OpsError(
        f"{action} failed (exit {result.returncode})\n{tail}",
        "read the Pulumi output above; docs/runbooks/troubleshooting.md lists common causes",
        EXIT_FAILURE,
    )


def stack_outputs(stack: str) -> dict[str, Any]:
    """The stack's outputs (secrets stay masked)."""
    result = run(
        ["stack", "output", "--stack", stack, "--json"], f"reading the outputs of stack {stack}"
    )
    try:
        data = json.loads(result.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise OpsError(
            f"`pulumi stack output --json` returned invalid JSON ({exc})",
            "run it by hand to see what it prints",
        ) from exc
    return data if isinstance(data, dict) else {}
