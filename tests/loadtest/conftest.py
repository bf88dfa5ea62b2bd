"""Fixtures for the load-test suite: the fake Ollama server (a test double) and a locust runner."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakes.fake_ollama import FakeConfig, FakeOllama

ROOT = Path(__file__).resolve().parents[2]
LOCUST = Path(sys.executable).with_name("locust")
MODEL = "fake-model:1b"


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """TEST DOUBLE: a fake Ollama on 127.0.0.1, 100 ms to first token, 20 ms per token."""
    with FakeOllama(FakeConfig(model=MODEL)) as fake:
        yield fake


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
        "-t",
        run_time,
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
