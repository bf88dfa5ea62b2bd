"""Run the locustfile headless in a subprocess, for the load-test suite."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
    preexec_fn: Callable[[], None] | None = None,
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
        *(("--host", host) if host else ()),
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
        preexec_fn=preexec_fn,
    )
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
    return LocustRun(proc.returncode, proc.stdout + proc.stderr, summary)


@contextmanager
def fake_ollama_process(
    first_token_delay_s: float,
    token_interval_s: float,
    token_count: int,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[str]:
    """TEST DOUBLE in its own process, so its timing does not share pytest's GIL; yields its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "fakes" / "fake_ollama.py"),
            "--model",
            MODEL,
            "--first-token-delay",
            str(first_token_delay_s),
            "--token-interval",
            str(token_interval_s),
            "--token-count",
            str(token_count),
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def fake_truth(url: str, reset: bool = False) -> list[float]:
    """Arrival-to-first-token times the fake server really achieved, in seconds; ``reset``
    forgets them (and returns none)."""
    req = urllib.request.Request(  # noqa: S310 - loopback URL of the test double
        f"{url}/_fake/truth", method="POST" if reset else "GET", data=b"" if reset else None
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback test double
        return json.loads(resp.read()).get("first_token_from_arrival_s", [])
