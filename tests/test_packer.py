"""The Packer template in ami/: `packer validate`, `packer fmt`, and the image's contract.

Debian's packer (1.6.6, installed by .ci/run) predates `required_plugins` but still has the
amazon builder built in, so the template file is validated on its own (full validation, not
just syntax) and ami/plugins.pkr.hcl, read by `packer init` on newer Packer, is left out.
A newer packer without the amazon plugin installed gets a syntax-only validation of ami/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ollama_infra import versions
from ollama_infra.config import OllamaConfig, WebUIConfig

ROOT = Path(__file__).resolve().parent.parent
AMI = ROOT / "ami"
TEMPLATE = AMI / "ollama.pkr.hcl"
PLUGINS = AMI / "plugins.pkr.hcl"
CANONICAL = "099720109477"
# No version check against HashiCorp's checkpoint service: the suite never touches the network.
PACKER_ENV = {**os.environ, "CHECKPOINT_DISABLE": "1"}


@pytest.fixture(scope="module")
def packer() -> str:
    path = shutil.which("packer")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("packer is missing in CI; .ci/run installs it with apt-get")
        pytest.skip("packer is not installed here (apt-get install packer); .ci/run installs it")
    return path


def packer_version(packer: str) -> tuple[int, int]:
    out = subprocess.run(
        [packer, "version"], capture_output=True, text=True, check=True, env=PACKER_ENV
    ).stdout
    match = re.search(r"v?(\d+)\.(\d+)", out)
    assert match, out
    return int(match.group(1)), int(match.group(2))


def validate(packer: str, template: Path, *variables: str) -> subprocess.CompletedProcess[str]:
    args = [packer, "validate"]
    for var in variables:
        args += ["-var", var]
    if packer_version(packer) >= (1, 7):
        # required_plugins applies: validate the whole directory, syntax only unless the
        # amazon plugin has been installed with `packer init ami/`.
        args.append("-syntax-only")
        target = str(template.parent)
    else:
        target = str(template)
    return subprocess.run(
        [*args, target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=PACKER_ENV,
    )


def test_packer_validate_passes(packer: str) -> None:
    proc = validate(packer, TEMPLATE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("environment=prod", "must be dev, staging or production"),
        ("ollama_version=latest", "exact version"),
        ("webui_image=ghcr.io/open-webui/open-webui:main", "pinned to a version tag"),
    ],
)
def test_packer_validate_rejects_bad_variables(packer: str, variable: str, message: str) -> None:
    if packer_version(packer) >= (1, 7):
        pytest.skip("variable validation runs only in a full validate (needs the amazon plugin)")
    proc = validate(packer, TEMPLATE, variable)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr


def test_packer_validate_rejects_a_broken_template(packer: str, tmp_path: Path) -> None:
    """A copy without ami_name fails validation (proves the validate test can fail)."""
    if packer_version(packer) >= (1, 7):
        pytest.skip("builder settings are checked only in a full validate (needs the plugin)")
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    (tmp_path / "ami").mkdir()
    broken = tmp_path / "ami" / "ollama.pkr.hcl"
    text = TEMPLATE.read_text(encoding="utf-8")
    broken.write_text(re.sub(r"(?m)^\s*ami_name\s*=.*$", "", text), encoding="utf-8")
    proc = validate(packer, broken)
    assert proc.returncode != 0
    assert "ami_name" in proc.stdout + proc.stderr


def test_packer_fmt_is_clean(packer: str) -> None:
    proc = subprocess.run(
        [packer, "fmt", "-check", str(AMI)],
        capture_output=True,
        text=True,
        check=False,
        env=PACKER_ENV,
    )
    assert proc.returncode == 0, f"run `packer fmt ami/`: {proc.stdout}{proc.stderr}"


# --- the image's contract (text checks that need no packer) ------------------------------------


def template_violations(text: str) -> list[str]:
    """What the baked AMI must be: Ubuntu LTS from Canonical, named and tagged per scheme, ..."""
    rules = [
        (rf'owners\s*=\s*\["{CANONICAL}"\]', "base AMI must be owned by Canonical"),
        (r"ubuntu/images/hvm-ssd[^\"]*ubuntu-\$\{var\.ubuntu_release\}", "Ubuntu image filter"),
        (r'default\s*=\s*"noble-24\.04"', "the default base is Ubuntu 24.04 LTS"),
        (r"ami_name\s*=\s*local\.ami_name", "ami_name must come from local.ami_name"),
        (
            r'ami_name\s*=\s*"ollama-ami-\$\{var\.environment\}-\$\{local\.timestamp\}"',
            "AMI name must be ollama-ami-<env>-<timestamp>",
        ),
        (r'Project\s*=\s*"ollama"', "Project tag"),
        (r"Environment\s*=\s*var\.environment", "Environment tag"),
        (r"ManagedBy\s*=", "ManagedBy tag"),
        (r'Service\s*=\s*"compute"', "Service tag"),
        (r"encrypted\s*=\s*true", "encrypted root volume"),
        (r"scripts/ollama-install\.sh", "Ollama installed by scripts/ollama-install.sh"),
        (r"docker pull \$\{var\.webui_image\}", "Open WebUI image pre-pulled"),
        (r"amazon-cloudwatch-agent\.deb", "CloudWatch agent installed"),
        (r"apt-get install [^\"]*\bzstd\b", "zstd installed (Ollama's install script needs it)"),
        (r"apt-get install [^\"]*\bnginx\b", "nginx installed (edge.backend_tls's TLS proxy)"),
        (r"systemctl disable --now nginx", "nginx off in the image (the boot configures it)"),
        (r"CWAGENT_VERSION", "CloudWatch agent version checked against the pin"),
        (r"PermitRootLogin no", "sshd: no root login"),
        (r"PasswordAuthentication no", "sshd: keys only"),
        (r"sshd -t", "sshd configuration tested"),
        (r"(?i)ebs warming", "a note on EBS warming"),
    ]
    found = [rule for pattern, rule in rules if not re.search(pattern, text)]
    if "required_plugins" in text:
        found.append("required_plugins belongs in ami/plugins.pkr.hcl (Packer 1.6 rejects it)")
    return found


def test_template_meets_the_image_contract() -> None:
    assert template_violations(TEMPLATE.read_text(encoding="utf-8")) == []
    assert (ROOT / "scripts" / "ollama-install.sh").is_file()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (CANONICAL, "123456789012"),
        ("ollama-ami-${var.environment}", "my-image"),
        ('Service       = "compute"', ""),
        ("PermitRootLogin no", "PermitRootLogin yes"),
        ("encrypted             = true", "encrypted             = false"),
        ("packer_marker", "packer { required_plugins { } }\n"),
    ],
)
def test_contract_catches_a_broken_template(old: str, new: str) -> None:
    text = TEMPLATE.read_text(encoding="utf-8") + "\n# packer_marker\n"
    assert old in text, f"fixture out of date: {old!r} not in the template"
    assert template_violations(text.replace(old, new))


def test_plugins_file_holds_only_the_plugin_requirements() -> None:
    text = PLUGINS.read_text(encoding="utf-8")
    assert re.search(r'source\s*=\s*"github.com/hashicorp/amazon"', text)
    assert not re.search(r"(?m)^(source|build|variable)\s", text)


def test_template_defaults_match_the_stack_config_defaults() -> None:
    """The AMI bakes the same pinned versions a stack without overrides deploys."""
    text = TEMPLATE.read_text(encoding="utf-8")

    def default(var: str) -> str:
        block = re.search(rf'variable "{var}" \{{(.*?)\n\}}', text, re.S)
        assert block, var
        value = re.search(r'default\s*=\s*"([^"]*)"', block.group(1))
        assert value, var
        return value.group(1)

    webui = WebUIConfig()
    assert default("ollama_version") == OllamaConfig().version
    assert default("webui_image") == f"{webui.image}:{webui.version}"
    assert default("models_dir") == OllamaConfig().models_dir
    assert default("cloudwatch_agent_min_version") == versions.CLOUDWATCH_AGENT_VERSION
