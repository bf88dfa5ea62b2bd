"""TEST DOUBLE: a sandbox that runs the boot and install scripts without touching the system.

Every command the scripts may change the machine with (snap, docker, systemctl, curl, aws,
apt-get, dpkg, ollama, chown, id, userdel, nvidia-smi, zstd, nginx, openssl) is the recording
stub ``stub`` in this folder; harmless tools (bash, jq, tar, sed, ...) are linked from the
host. PATH holds nothing else, so a script that calls anything unexpected fails with
"command not found".
Files the scripts write go under ``root`` (OLLAMA_BOOTSTRAP_ROOT).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

STUB = Path(__file__).resolve().parent / "stub"
STUBBED: tuple[str, ...] = (
    "snap",
    "docker",
    "systemctl",
    "curl",
    "aws",
    "apt-get",
    "dpkg",
    "ollama",
    "chown",
    "id",
    "userdel",
    "nvidia-smi",
    "zstd",
    "nginx",
    "openssl",
)
HOST_TOOLS: tuple[str, ...] = (
    "bash",
    "sh",
    "env",
    "cat",
    "cp",
    "mkdir",
    "rm",
    "chmod",
    "dirname",
    "basename",
    "date",
    "sed",
    "awk",
    "tail",
    "head",
    "cut",
    "tr",
    "tee",
    "sha256sum",
    "mktemp",
    "jq",
    "tar",
    "gzip",
    "base64",
    "install",
    "grep",
    "ln",
    "readlink",
    "touch",
    "sleep",
    "sort",
)


@dataclass
class Sandbox:
    root: Path
    state: Path
    bin: Path
    tmp: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": str(self.bin),
            "HOME": str(self.tmp),
            "TMPDIR": str(self.tmp),
            "LANG": "C.UTF-8",
            "OLLAMA_BOOTSTRAP_ROOT": str(self.root),
            "STUB_STATE": str(self.state),
            "OLLAMA_RETRY_DELAY": "0",
            "OLLAMA_HEALTH_RETRIES": "3",
            "OLLAMA_PULL_RETRIES": "2",
            "OLLAMA_WAIT_RETRIES": "2",
            "STUB_PYTHON": sys.executable,
            "FIRST_START_LOCK_POLL": "0",
        }
        env.update(extra)
        return env

    def run(
        self, argv: list[str], stdin: str = "", **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env(**extra),
            cwd=self.tmp,
            timeout=60,
            check=False,
        )

    def calls(self) -> list[str]:
        log = self.state / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def reset_calls(self) -> None:
        (self.state / "calls.log").unlink(missing_ok=True)

    def index(self, prefix: str) -> int:
        """Position of the first recorded call starting with ``prefix`` (ValueError if none)."""
        for i, call in enumerate(self.calls()):
            if call.startswith(prefix):
                return i
        raise ValueError(f"no call starting with {prefix!r} in {self.calls()}")

    def called(self, prefix: str) -> bool:
        return any(call.startswith(prefix) for call in self.calls())

    def put_parameter(self, name: str, value: str | object) -> None:
        path = self.state / "aws" / f"ssm{name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value if isinstance(value, str) else json.dumps(value))

    def put_secret(self, secret_id: str, value: str | object) -> None:
        path = self.state / "aws" / "secrets" / secret_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value if isinstance(value, str) else json.dumps(value))

    def put_catalog(self, models: list[str], digests: dict[str, str] | None = None) -> None:
        """Catalog entries as the boot's query projects them: [model, digest or null]."""
        path = self.state / "aws" / "catalog.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        pins = digests or {}
        path.write_text(json.dumps([[m, pins.get(m)] for m in models]))

    def file(self, path: str) -> Path:
        """A path the scripts wrote, e.g. file('/etc/ollama/boot.env')."""
        return self.root / path.lstrip("/")


def make_sandbox(base: Path) -> Sandbox:
    box = Sandbox(base / "root", base / "state", base / "bin", base / "tmp")
    for path in (box.root, box.state, box.bin, box.tmp):
        path.mkdir(parents=True)
    for name in STUBBED:
        os.symlink(STUB, box.bin / name)
    for tool in HOST_TOOLS:
        found = shutil.which(tool)
        if found is None:
            raise RuntimeError(f"the script tests need '{tool}' on this machine")
        os.symlink(found, box.bin / tool)
    return box
