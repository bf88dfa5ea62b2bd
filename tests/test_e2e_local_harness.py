"""The e2e-local tier's harness, checked in the ordinary suite (no server is started): the
tier's tests skip with a reason unless requested, and the boot script's functions are taken
from the script exactly, so the tier renders Open WebUI's environment with the real code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e_local"))
import tier

BOOT = Path(__file__).resolve().parents[1] / "ollama_infra" / "userdata" / "ollama-boot.sh"


def test_tier_skips_with_a_reason_unless_requested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2E_LOCAL", raising=False)
    assert tier.skip_reason() == "the real-application tier runs only through `make e2e-local`"
    monkeypatch.setenv("E2E_LOCAL", "1")
    monkeypatch.setattr(tier, "WEBUI_BIN", Path("/nonexistent/open-webui"))
    reason = tier.skip_reason()
    assert reason is not None and "Open WebUI is not installed" in reason


def test_boot_functions_are_the_scripts_own_text() -> None:
    script = BOOT.read_text()
    functions = tier.boot_functions(script)
    assert {"env_line", "uri", "webui_env", "get_secret", "optional_param", "log", "die"} <= set(
        functions
    )
    assert "main" not in functions
    for name, text in functions.items():
        assert text in script and text.startswith(f"{name}() {{") and text.endswith("}")
        # no function swallowed the next one
        body = text.split("\n", 1)[1] if "\n" in text else ""
        assert not re.search(r"^[a-z_]+\(\) \{", body, re.M), name


def test_boot_globals_are_the_scripts_initialisations() -> None:
    found = tier.boot_globals(BOOT.read_text())
    assert 'ENV_FILE="$ROOT/etc/open-webui/open-webui.env"' in found and "MODELS=()" in found
    # indented assignments (locals) and command substitutions are not globals to replay
    script = 'A=""\n  B=1\nC=$(date)\nD=(x)\n'
    assert tier.boot_globals(script) == ['A=""', "D=(x)"]


def test_boot_function_extraction_can_fail() -> None:
    """A function whose closing brace is not at the start of a line is not taken (half a
    function would render a wrong environment silently)."""
    assert tier.boot_functions("webui_env() {\n  env_line A b\n  }\n") == {}
    assert tier.boot_functions("uri() { printf x; }\nlog() {\n  echo\n}\n") == {
        "uri": "uri() { printf x; }",
        "log": "log() {\n  echo\n}",
    }


def test_tier_script_is_shellcheck_clean() -> None:
    from harness import tool

    script = Path(__file__).resolve().parents[1] / "scripts" / "e2e-local.sh"
    done = subprocess.run([tool("shellcheck"), str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_tier_is_not_part_of_make_test_or_ci() -> None:
    """The tier installs gigabytes and runs for minutes: only `make e2e-local` starts it."""
    root = Path(__file__).resolve().parents[1]
    makefile = (root / "Makefile").read_text()
    targets = dict(re.findall(r"^([a-z0-9-]+):([^\n=]*)$", makefile, re.M))
    assert "e2e-local" in targets and "scripts/e2e-local.sh" in makefile
    for target in ("test", "pytest", "lint", "typecheck"):
        assert "e2e" not in targets[target].split("##")[0], target
    assert "e2e" not in (root / ".ci" / "run").read_text()
    assert "E2E_LOCAL" not in makefile.split("e2e-local:")[0]
