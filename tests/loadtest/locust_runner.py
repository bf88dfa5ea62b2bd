"""Run the locustfile headless in a subprocess, for the load-test suite."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).with_name("locust")
MODEL = "fake-model:1b"


@dataclass
class LocustRun:
    returncode: int
    output: str
    summary: dict[str, Any] | None


def run_locust(
    host: str,
    tmp_path: Path,
    *args: str,
    users: int = 1,
    run_time: str = "3s",
    env: dict[str, str] | None = None,
    extra: Sequence[str] = (),
    timeout: float = 60,
) -> LocustRun:
    """Run the locustfile headless in a subprocess (gevent must not patch the test process)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    summary_path = tmp_path / "summary.json"
    cmd = [
        str(LOCUST),
        "-f",
        str(ROOT / "loadtest" / "locustfile.py"),
        "--headless",
        "--only-summary",
        "-u",
        str(users),
        "-r",
        str(users),
        *(("-t", run_time) if run_time else ()),
        "--host",
        host,
        "--ollama-model",
        MODEL,
        "--json-summary",
        str(summary_path),
        *args,
        *extra,
    ]
    proc = subprocess.run(
        cmd,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return LocustRun(proc.returncode, proc.stdout + proc.stderr, summary)
