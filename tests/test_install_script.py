"""scripts/ollama-install.sh and scripts/ollama-cleanup.sh, executed with recording stubs.

The system commands are test doubles (tests/stubs), so these tests see every command the
scripts would run on a host, in order, without touching this machine.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from harness import tool
from stubs.sandbox import Sandbox, make_sandbox

from ollama_infra import versions
from ollama_infra.config import MODEL_RE

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "scripts" / "ollama-install.sh"
CLEANUP = ROOT / "scripts" / "ollama-cleanup.sh"
DROPIN = "/etc/systemd/system/ollama.service.d/10-ollama-infra.conf"
SNAP_MODELS = "/var/snap/ollama/common/models"
VERSION = versions.OLLAMA_VERSION


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def install(box: Sandbox, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return box.run([str(INSTALL), *args], **env)


def script_install(box: Sandbox, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return install(
        box,
        "--method",
        "script",
        "--version",
        VERSION,
        "--num-parallel",
        "4",
        "--keep-alive",
        "30m",
        "--model",
        "llama3.2:1b",
        *extra,
        **env,
    )


def snap_install(box: Sandbox, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return install(
        box,
        "--method",
        "snap",
        "--version",
        VERSION,
        "--channel",
        "latest/stable",
        "--models-dir",
        SNAP_MODELS,
        "--model",
        "qwen2.5:0.5b",
        *extra,
        **env,
    )


def test_install_script_is_the_bootstrap_copy() -> None:
    """scripts/ollama-install.sh and the copy the user data ships are one file."""
    assert INSTALL.resolve() == (ROOT / "ollama_infra" / "userdata" / "ollama-install.sh")


# ------------------------------------------------------------------ script method


def test_script_method_steps_in_order(box: Sandbox) -> None:
    """Property 8 (script method): pinned installer, then settings, restart, wait, pull."""
    result = script_install(box)
    assert result.returncode == 0, result.stderr
    download = box.index("curl -fsSL --retry 3 -o")
    # The installer of the pinned tag, whose prerequisites docs/UPSTREAM.md records.
    assert box.calls()[download].endswith(
        f"https://raw.githubusercontent.com/ollama/ollama/v{VERSION}/scripts/install.sh"
    )
    order = [
        download,
        box.index("systemctl daemon-reload"),
        box.index("systemctl enable ollama"),
        box.index("systemctl restart ollama"),
        box.index("curl -fsS --max-time 5 http://127.0.0.1:11434/api/version"),
        box.index("ollama pull llama3.2:1b"),
    ]
    assert order == sorted(order), box.calls()
    # The stub installer records the version it was asked for, like the real one installs it.
    assert (box.state / "ollama-version").read_text().strip() == VERSION
    dropin = box.file(DROPIN).read_text()
    for line in (
        "Environment=OLLAMA_HOST=0.0.0.0:11434",
        "Environment=OLLAMA_NUM_PARALLEL=4",
        "Environment=OLLAMA_MAX_QUEUE=512",
        "Environment=OLLAMA_KEEP_ALIVE=30m",
        "Environment=OLLAMA_MODELS=/var/lib/ollama/models",
    ):
        assert line in dropin.splitlines()
    assert box.file("/var/lib/ollama/models").is_dir()


def test_script_method_second_run_changes_nothing(box: Sandbox) -> None:
    assert script_install(box).returncode == 0
    dropin = box.file(DROPIN).read_text()
    box.reset_calls()
    result = script_install(box)
    assert result.returncode == 0, result.stderr
    assert not box.called("curl -fsSL"), "re-downloaded the installer"
    assert not box.called("systemctl restart"), "restarted Ollama with nothing changed"
    assert not box.called("ollama pull"), "pulled a model that is present"
    assert box.called("systemctl start ollama")
    assert "already installed" in result.stdout
    assert box.file(DROPIN).read_text() == dropin


def test_script_method_restarts_when_a_setting_changes(box: Sandbox) -> None:
    assert script_install(box).returncode == 0
    box.reset_calls()
    assert script_install(box, "--max-queue", "64").returncode == 0
    assert box.called("systemctl restart ollama")
    assert "Environment=OLLAMA_MAX_QUEUE=64" in box.file(DROPIN).read_text()


def test_failing_model_pull_exits_non_zero_with_a_clear_line(box: Sandbox) -> None:
    result = script_install(box, STUB_FAIL_PULL="llama3.2:1b")
    assert result.returncode != 0
    assert "ERROR: model pull failed: llama3.2:1b after 2 attempts" in result.stderr
    assert box.calls().count("ollama pull llama3.2:1b") == 2  # bounded retries


def test_gpu_profile_fails_without_a_working_driver(box: Sandbox) -> None:
    result = script_install(box, "--gpu", STUB_FAIL="nvidia-smi")
    assert result.returncode != 0
    assert "nvidia-smi fails" in result.stderr
    assert script_install(box, "--gpu").returncode == 0


def test_missing_zstd_stops_before_the_installer_runs(box: Sandbox) -> None:
    """Ollama's install script (v0.32.15 scripts/install.sh) stops without zstd; the install
    says so itself, before downloading anything."""
    (box.bin / "zstd").unlink()
    result = script_install(box)
    assert result.returncode != 0
    assert "zstd is missing: the Ollama install script needs it" in result.stderr
    assert not box.called("curl -fsSL")


def test_min_version_matches_the_pin_module() -> None:
    """The shell's MIN_VERSION is ollama_infra.versions.OLLAMA_MIN_VERSION."""
    found = re.search(r"^MIN_VERSION=(\S+)$", INSTALL.read_text(), re.M)
    assert found, "MIN_VERSION not found in the install script"
    assert found.group(1) == versions.OLLAMA_MIN_VERSION


def test_ollama_that_never_answers_fails_the_install(box: Sandbox) -> None:
    result = script_install(box, STUB_OLLAMA_DOWN="1")
    assert result.returncode != 0
    assert "Ollama did not answer on http://127.0.0.1:11434/api/version after 2" in result.stderr
    assert not box.called("ollama pull")


# ------------------------------------------------------------------ snap method


def test_snap_method_steps_in_order(box: Sandbox) -> None:
    """Property 8 (snap method): pinned channel, refresh held, settings, restart, pull."""
    result = snap_install(box)
    assert result.returncode == 0, result.stderr
    order = [
        box.index("snap install ollama --channel=latest/stable"),
        box.index("snap refresh --hold ollama"),
        box.index("snap set ollama"),
        box.index("snap restart ollama"),
        box.index("ollama pull qwen2.5:0.5b"),
    ]
    assert order == sorted(order), box.calls()
    settings = next(c for c in box.calls() if c.startswith("snap set ollama")).split()[3:]
    assert settings == [
        "host=0.0.0.0:11434",
        "num-parallel=1",
        "max-queue=512",
        "keep-alive=5m",
        f"models={SNAP_MODELS}",
    ]
    assert not box.called("curl -fsSL"), "the snap method must not run the install script"


def test_snap_version_is_logged(box: Sandbox) -> None:
    result = snap_install(box, STUB_SNAP_VERSION="v0.30.10")
    assert result.returncode == 0, result.stderr
    assert "the ollama snap on latest/stable runs Ollama 0.30.10" in result.stdout


def test_snap_older_than_the_log_format_fails(box: Sandbox) -> None:
    """A channel that still serves an Ollama before v0.30.0 would leave the model-load metric
    empty: the install fails with a line saying so instead."""
    result = snap_install(box, STUB_SNAP_VERSION="v0.29.1")
    assert result.returncode != 0
    assert "is version v0.29.1, older than 0.30.0" in result.stderr
    assert not box.called("ollama pull")


def test_snap_gpu_profile_checks_the_driver(box: Sandbox) -> None:
    """The snap ships CUDA libraries and reaches the GPU through its opengl plug, but installs
    no driver: --gpu is allowed and fails loudly without a working nvidia-smi."""
    result = snap_install(box, "--gpu", STUB_FAIL="nvidia-smi")
    assert result.returncode != 0
    assert "nvidia-smi fails" in result.stderr
    assert snap_install(box, "--gpu").returncode == 0


def test_snap_method_second_run_only_keeps_the_hold(box: Sandbox) -> None:
    assert snap_install(box).returncode == 0
    box.reset_calls()
    result = snap_install(box)
    assert result.returncode == 0, result.stderr
    assert box.called("snap refresh --hold ollama")
    for step in ("snap install", "snap set", "snap restart", "ollama pull"):
        assert not box.called(step), f"second run repeated {step}"


# ------------------------------------------------------------------ argument validation


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "apt", "--version", VERSION], "--method 'apt' is invalid"),
        (["--method", "script"], "--version '' is invalid"),
        (["--method", "script", "--version", "latest"], "--version 'latest' is invalid"),
        (["--method", "script", "--version"], "--version needs a value"),
        (["--method", "script", "--version", VERSION, "--bogus"], "unknown argument '--bogus'"),
        (["--method", "snap", "--version", VERSION], "outside the snap's confinement"),
        (
            ["--method", "script", "--version", "0.29.9"],
            "older than 0.30.0, whose log lines the metric filters parse",
        ),
        (
            ["--method", "script", "--version", VERSION, "--keep-alive", "forever"],
            "--keep-alive 'forever' is invalid",
        ),
        (
            ["--method", "script", "--version", VERSION, "--models-dir", "/var/lib/my models"],
            "--models-dir '/var/lib/my models' is invalid",
        ),
    ],
)
def test_bad_arguments_fail_before_any_change(box: Sandbox, args: list[str], message: str) -> None:
    result = install(box, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert box.calls() == [], "validation must come before any command"


BAD_MODELS = ["Llama3:8b", "llama3; rm -rf /", "../../etc/passwd", "a b", "llama3:$(id)", ""]
GOOD_MODELS = ["llama3.2:1b", "qwen2.5:0.5b", "library/llama3.1:8b", "phi3", "nomic-embed-text"]


@pytest.mark.parametrize("model", BAD_MODELS)
def test_invalid_model_names_are_rejected_before_any_pull(box: Sandbox, model: str) -> None:
    result = install(box, "--method", "script", "--version", VERSION, "--model", model)
    assert result.returncode != 0
    assert not box.called("ollama pull")
    assert box.calls() == []


def test_model_rule_matches_the_config_rule() -> None:
    """The shell copy of the model-name rule is the config's rule, character for character,
    and both accept and reject the same names."""
    text = INSTALL.read_text()
    found = re.search(r"^MODEL_RE='(.*)'$", text, re.M)
    assert found, "MODEL_RE not found in the install script"
    assert found.group(1) == MODEL_RE.pattern
    names = [*BAD_MODELS, *GOOD_MODELS, "x" * 65, "a@sha256:" + "0" * 64]
    script = 're=$1; shift; for m in "$@"; do [[ $m =~ $re ]] && echo 1 || echo 0; done'
    out = subprocess.run(
        ["bash", "-c", script, "_", found.group(1), *names],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["1" if MODEL_RE.match(n) else "0" for n in names]
    assert "1" in out and "0" in out  # both outcomes exercised


# ------------------------------------------------------------------ cleanup


def _installed_files(box: Sandbox) -> list[Path]:
    files = [
        box.file("/etc/systemd/system/ollama.service"),
        box.file(DROPIN),
        box.file("/usr/local/bin/ollama"),
        box.file("/var/lib/ollama/models/blobs/sha256-0"),
    ]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (box.state / "user-ollama").write_text("")
    return files


def test_cleanup_asks_and_removes_nothing_without_yes(box: Sandbox) -> None:
    files = _installed_files(box)
    result = box.run([str(CLEANUP), "--method", "script"], stdin="no\n")
    assert result.returncode != 0
    assert "not confirmed; nothing was removed" in result.stderr
    assert all(path.exists() for path in files)
    assert box.calls() == []


def test_cleanup_removes_what_install_added_and_is_idempotent(box: Sandbox) -> None:
    files = _installed_files(box)
    result = box.run([str(CLEANUP), "--method", "script"], stdin="yes\n")
    assert result.returncode == 0, result.stderr
    assert not any(path.exists() for path in files)
    assert box.index("systemctl disable --now ollama") < box.index("userdel ollama")
    box.reset_calls()
    again = box.run([str(CLEANUP), "--method", "script", "--yes"])
    assert again.returncode == 0, again.stderr
    assert not box.called("userdel"), "removed a user that no longer exists"


def test_cleanup_keep_models_and_snap(box: Sandbox) -> None:
    assert snap_install(box).returncode == 0
    model_file = box.file(SNAP_MODELS) / "blob"
    model_file.write_text("x")
    result = box.run(
        [str(CLEANUP), "--method", "snap", "--models-dir", SNAP_MODELS, "--keep-models", "--yes"]
    )
    assert result.returncode == 0, result.stderr
    assert box.called("snap remove --purge ollama")
    assert model_file.exists()
    box.reset_calls()
    assert box.run([str(CLEANUP), "--method", "snap", "--yes"]).returncode == 0
    assert not box.called("snap remove"), "removed a snap that is not installed"


def test_cleanup_rejects_bad_arguments(box: Sandbox) -> None:
    result = box.run([str(CLEANUP), "--method", "script", "--models-dir", "relative", "--yes"])
    assert result.returncode != 0
    assert "--models-dir 'relative' is invalid" in result.stderr
    assert box.calls() == []


# ------------------------------------------------------------------ shellcheck


@pytest.mark.parametrize("script", [INSTALL, CLEANUP])
def test_scripts_are_shellcheck_clean(script: Path) -> None:
    result = subprocess.run([tool("shellcheck"), str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_shellcheck_catches_a_broken_script(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sh"
    broken.write_text("#!/bin/bash\nrm -rf $1/*\nfor f in $(ls); do echo $f; done\n")
    result = subprocess.run([tool("shellcheck"), str(broken)], capture_output=True, text=True)
    assert result.returncode != 0
