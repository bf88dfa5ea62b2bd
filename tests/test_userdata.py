"""The rendered user data: size, shellcheck, install method, SSH hardening, no secrets, and
the bootstrap itself executed end to end with recording stubs (tests/stubs) in place of the
system commands, against every stack's rendering.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import STACKS, config_for, evaluated, override, run_program, stack_values, tool
from stubs.sandbox import Sandbox, make_sandbox

from ollama_infra import cwagent, userdata
from ollama_infra.config import EdgeConfig, OllamaConfig, WebUIConfig
from ollama_infra.naming import StackNames
from ollama_infra.offline.evaluate import Evaluation
from ollama_infra.userdata import (
    USER_DATA_LIMIT,
    BootSettings,
    UserDataError,
    render_user_data,
)

ROOT = Path(__file__).resolve().parents[1]
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
SSHD_CONF = "/etc/ssh/sshd_config.d/10-ollama-hardening.conf"
ENV_FILE = "/etc/open-webui/open-webui.env"
BOOT_LOG = "/var/log/ollama-bootstrap.log"
# Sentinel secret values: they must reach the 0600 env file and nothing else.
SECRET_KEY = "sentinel-secret-key-3f9a"
ADMIN_PASSWORD = "sentinel admin/p@ss"
DB_PASSWORD = "sentinel-db:p@ss/word"
REDIS_TOKEN = "sentinel-redis-token"
DB_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ollama/dev/webui-db-AbCdEf"


# ------------------------------------------------------------------ helpers


def user_data_of(ev: Evaluation) -> str:
    (template,) = ev.of_type(LAUNCH_TEMPLATE)
    return userdata.decode_user_data(template.inputs["userData"])


def heredoc(text: str, marker: str) -> str:
    found = re.search(rf"<<'{marker}'[^\n]*\n(.*?)\n{marker}\n", text, re.S)
    assert found, f"here-document {marker} not found"
    return found.group(1)


def embedded_files(text: str) -> dict[str, str]:
    """The files the bootstrap writes, by path relative to /."""
    end = userdata.FILE_END
    found = re.findall(rf"^cat >\"\$ROOT/([^\"]+)\" <<'{end}'\n(.*?)^{end}$", text, re.S | re.M)
    assert found, "no boot file here-documents in the user data"
    return dict(found)


def embedded_scripts(text: str) -> dict[str, str]:
    return {
        path.rsplit("/", 1)[-1]: content
        for path, content in embedded_files(text).items()
        if path.endswith(".sh")
    }


def boot_env(text: str) -> dict[str, str]:
    return dict(
        (key, shlex.split(value)[0] if value else "")
        for key, _, value in (
            line.partition("=") for line in heredoc(text, "BOOT_ENV").splitlines()
        )
    )


def settings(method: str = "script", gpu: bool = False, **ollama: object) -> BootSettings:
    if method == "snap":
        ollama.setdefault("models_dir", "/var/snap/ollama/common/models")
    return BootSettings.from_config(
        StackNames("dev", "123456789012"),
        "us-east-1",
        OllamaConfig(install_method=method, **ollama),  # type: ignore[arg-type]
        WebUIConfig(),
        gpu=gpu,
    )


def write_user_data(box: Sandbox, s: BootSettings) -> Path:
    path = box.tmp / "user-data"
    path.write_text(render_user_data(s))
    path.chmod(0o755)
    return path


def seed_aws(
    box: Sandbox, shared_state: bool = True, env: str = "dev", models: list[str] | None = None
) -> None:
    """What the data, edge and observability components leave in SSM and Secrets Manager."""
    prefix = f"/ollama/{env}"
    box.put_secret(f"ollama/{env}/webui-secret-key", SECRET_KEY)
    box.put_secret(
        f"ollama/{env}/webui-admin", {"email": "admin@example.com", "password": ADMIN_PASSWORD}
    )
    box.put_parameter(f"{prefix}/ollama/default-models", models or ["llama3.2:1b"])
    box.put_parameter(f"{prefix}/cloudwatch-agent/config", {"agent": {}})
    if not shared_state:
        return
    box.put_parameter(
        f"{prefix}/webui/database",
        {
            "host": "db.example",
            "port": 5432,
            "dbname": "openwebui",
            "secret_arn": DB_SECRET_ARN,
        },
    )
    box.put_secret(DB_SECRET_ARN, {"username": "webui_app", "password": DB_PASSWORD})
    box.put_parameter(f"{prefix}/webui/redis", {"host": "cache.example", "port": 6379, "tls": True})
    box.put_secret(f"ollama/{env}/redis-auth", REDIS_TOKEN)
    box.put_parameter(
        f"{prefix}/webui/storage",
        {
            "bucket": f"ollama-storage-{env}-123456789012",
            "prefix": "open-webui/",
            "region": "us-east-1",
        },
    )
    box.put_parameter(f"{prefix}/webui/public-url", "https://chat.example.com")


def seed_for_stack(box: Sandbox, stack: str) -> Path:
    """Seed AWS answers for ``stack`` and write its planned user data; returns the script."""
    cfg = config_for(stack)
    seed_aws(box, env=stack, models=list(cfg.ollama.models))
    path = box.tmp / "user-data"
    path.write_text(user_data_of(evaluated(stack)))
    path.chmod(0o755)
    return path


def env_file(box: Sandbox) -> dict[str, str]:
    lines = box.file(ENV_FILE).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


_STACK_BOOTS: dict[str, tuple[Sandbox, subprocess.CompletedProcess[str]]] = {}


def stack_boot(stack: str) -> tuple[Sandbox, subprocess.CompletedProcess[str]]:
    """One run of a stack's planned user data, shared by the tests that inspect it."""
    if stack not in _STACK_BOOTS:
        base = Path(tempfile.mkdtemp(prefix=f"ollama-boot-{stack}-"))
        box = make_sandbox(base)
        _STACK_BOOTS[stack] = (box, box.run([str(seed_for_stack(box, stack))]))
    return _STACK_BOOTS[stack]


@pytest.fixture(scope="module", autouse=True)
def _remove_stack_boots() -> Iterator[None]:
    yield
    for box, _ in _STACK_BOOTS.values():
        shutil.rmtree(box.root.parent, ignore_errors=True)
    _STACK_BOOTS.clear()


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def boot(
    box: Sandbox, s: BootSettings | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return box.run([str(write_user_data(box, s or settings()))], **env)


# ------------------------------------------------------------------ invariants


SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"aws_secret_access_key|AWS_SECRET_ACCESS_KEY\s*=", re.I),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "literal secret assignment": re.compile(
        r"^\s*(export\s+)?(?![A-Z_]*_(PREFIX|ARN|NAME|ID)=)"
        r"[A-Z_]*(PASSWORD|SECRET|TOKEN|AUTH)[A-Z_]*=['\"]?[^$'\"\s(]",
        re.M,
    ),
    "credentials in a URL": re.compile(r"[a-z]+://[^/\s:@$]*:[^@\s$]+@"),
}


def secret_violations(text: str) -> list[str]:
    """Property 32: anything in user data that looks like a secret value."""
    out = []
    for what, pattern in SECRET_PATTERNS.items():
        for match in pattern.finditer(text):
            out.append(f"{what}: {match.group(0)!r}")
    return out


REQUIRED_SSHD = {
    "PasswordAuthentication": "no",
    "KbdInteractiveAuthentication": "no",
    "PermitRootLogin": "no",
    "PermitEmptyPasswords": "no",
    "PubkeyAuthentication": "yes",
}


def ssh_hardening_violations(conf: str) -> list[str]:
    """Property 30: sshd is key-only, without passwords and without root login."""
    settings_ = {}
    for line in conf.splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#"):
            settings_.setdefault(parts[0], parts[1])  # sshd uses the first value it reads
    return [
        f"{key} is {settings_.get(key)!r}, must be {value!r}"
        for key, value in REQUIRED_SSHD.items()
        if settings_.get(key) != value
    ]


def install_method_violations(calls: list[str], method: str) -> list[str]:
    """Property 8: Ollama was installed by the configured method, and only by it."""
    script = any(
        c.startswith("curl")
        and re.search(r"/ollama/ollama/v[0-9.]+/scripts/install\.sh$", c) is not None
        for c in calls
    )
    snap = any(c.startswith("snap install ollama --channel=") for c in calls)
    held = "snap refresh --hold ollama" in calls
    out = []
    if method == "script" and (not script or snap):
        out.append(f"script method: install script run={script}, snap install={snap}")
    if method == "snap" and (not snap or not held or script):
        out.append(f"snap method: snap install={snap}, refresh held={held}, script={script}")
    return out


# ------------------------------------------------------------------ every stack


@pytest.mark.parametrize("stack", STACKS)
def test_launch_template_carries_the_rendered_user_data(stack: str) -> None:
    cfg = config_for(stack)
    expected = render_user_data(
        BootSettings.from_config(
            StackNames(stack, "123456789012"),
            cfg.region,
            cfg.ollama,
            cfg.webui,
            cfg.compute.gpu_enabled,
            backend_tls=cfg.backend_tls,
        )
    )
    text = user_data_of(evaluated(stack))
    assert text == expected
    assert len(userdata.compress_user_data(text)) < USER_DATA_LIMIT
    env = boot_env(text)
    assert env["OLLAMA_ENV"] == stack
    assert env["CATALOG_TABLE"] == f"ollama-data-table-{stack}"
    assert env["PARAMETER_PREFIX"] == f"/ollama/{stack}"
    assert env["WEBUI_IMAGE"] == f"{cfg.webui.image}:{cfg.webui.version}"
    assert env["OLLAMA_VERSION"] == cfg.ollama.version
    assert env["NUM_PARALLEL"] == str(cfg.ollama.num_parallel)


@pytest.mark.parametrize("stack", STACKS)
def test_user_data_is_shellcheck_clean(stack: str, tmp_path: Path) -> None:
    text = user_data_of(evaluated(stack))
    files = {"user-data.sh": text, "boot.env": "#!/bin/bash\n" + heredoc(text, "BOOT_ENV") + "\n"}
    files.update(embedded_scripts(text))
    assert set(files) == {"user-data.sh", "boot.env", "ollama-install.sh", "ollama-boot.sh"}
    for name, content in files.items():
        path = tmp_path / name
        path.write_text(content)
        # boot.env only assigns; the boot script that sources it uses the variables (SC2034).
        extra = ["--exclude=SC2034"] if name == "boot.env" else []
        # The backend TLS fragment wraps functions through copies (declare -f), which
        # shellcheck cannot follow: the originals look never invoked (SC2329, info), as in
        # tests/test_auth.py for the OIDC fragment.
        if name == "ollama-boot.sh" and config_for(stack).backend_tls:
            extra = ["--exclude=SC2329"]
        result = subprocess.run(
            [tool("shellcheck"), *extra, str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{name}:\n{result.stdout}"


@pytest.mark.parametrize("stack", STACKS)
def test_property_8_installs_ollama_by_the_configured_method(stack: str) -> None:
    """Property 8 (Ollama installation): the user data installs Ollama by the configured
    method (snap with a pinned channel and held refresh, or the official script with a pinned
    OLLAMA_VERSION), checked by running the stack's own user data against stubs."""
    cfg = config_for(stack)
    text = user_data_of(evaluated(stack))
    assert boot_env(text)["INSTALL_METHOD"] == cfg.ollama.install_method
    box, result = stack_boot(stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert install_method_violations(box.calls(), cfg.ollama.install_method) == []
    assert (box.state / "ollama-version").read_text().strip() == cfg.ollama.version


def test_property_8_snap_method(box: Sandbox) -> None:
    """Property 8 with install_method: snap (the seed's method)."""
    seed_aws(box)
    result = boot(box, settings("snap", snap_channel="latest/stable"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert install_method_violations(box.calls(), "snap") == []
    # the check fails for the wrong method
    assert install_method_violations(box.calls(), "script") != []
    assert box.called("systemctl is-active --quiet snap.ollama.listener.service")
    unit = box.file("/etc/systemd/system/ollama-log-forward-ollama.service").read_text()
    assert "journalctl -u snap.ollama.listener.service" in unit


def test_snap_method_and_image_digest_reach_the_plan() -> None:
    """Property 8 for a snap-configured stack, and the Open WebUI image pinned by digest."""
    digest = "sha256:" + "ab" * 32
    image = userdata.webui_image(WebUIConfig(version="v0.9.6", digest=digest))
    assert image == f"ghcr.io/open-webui/open-webui:v0.9.6@{digest}"
    values = override(
        stack_values("dev"),
        "ollama",
        install_method="snap",
        snap_channel="latest/stable",
        models_dir="/var/snap/ollama/common/models",
    )
    values = override(values, "webui", digest=digest)
    text = user_data_of(run_program("dev", values))
    env = boot_env(text)
    assert env["INSTALL_METHOD"] == "snap"
    assert env["MODELS_DIR"] == "/var/snap/ollama/common/models"
    assert env["WEBUI_IMAGE"] == image
    # Finding: the snap's daemon is `listener`; the forwarder and the boot check follow it.
    assert env["OLLAMA_UNIT"] == "snap.ollama.listener.service"
    forwarder = embedded_files(text)["etc/systemd/system/ollama-log-forward-ollama.service"]
    assert "journalctl -u snap.ollama.listener.service --follow" in forwarder


@pytest.mark.parametrize("stack", STACKS)
def test_property_30_ssh_hardening(stack: str) -> None:
    """Property 30 (SSH hardening): every instance makes sshd key-only, with no password
    or keyboard-interactive login and no root login, even when SSH is closed."""
    box, result = stack_boot(stack)
    assert result.returncode == 0, result.stdout
    assert ssh_hardening_violations(box.file(SSHD_CONF).read_text()) == []
    assert box.index("systemctl try-reload-or-restart ssh") < box.index("docker run")


def test_property_30_catches_weak_sshd_settings() -> None:
    good = "\n".join(f"{k} {v}" for k, v in REQUIRED_SSHD.items())
    assert ssh_hardening_violations(good) == []
    assert ssh_hardening_violations(good.replace("PermitRootLogin no", "PermitRootLogin yes"))
    assert ssh_hardening_violations("PasswordAuthentication yes\n" + good)  # first value wins
    assert ssh_hardening_violations(good.replace("PubkeyAuthentication yes", ""))


@pytest.mark.parametrize("stack", STACKS)
def test_property_32_no_secret_values_in_user_data(stack: str) -> None:
    """Property 32 (no secrets in user data): the user data, its boot settings and the
    scripts it carries contain names only; secrets are fetched at boot."""
    text = user_data_of(evaluated(stack))
    assert secret_violations(text) == []
    for name, script in embedded_scripts(text).items():
        assert secret_violations(script) == [], name


@pytest.mark.parametrize(
    "leak",
    [
        "WEBUI_SECRET_KEY=0123456789abcdef",
        "export AWS_SECRET_ACCESS_KEY=abc",
        "key=AKIAABCDEFGHIJKLMNOP",
        "REDIS_URL=rediss://:hunter2@cache:6379",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "WEBUI_ADMIN_PASSWORD='changeme'",
    ],
)
def test_property_32_catches_a_leaked_secret(leak: str) -> None:
    text = render_user_data(settings())
    assert secret_violations(text.replace("set -euo pipefail", f"set -euo pipefail\n{leak}")) != []


def test_property_32_secrets_only_reach_the_0600_env_file() -> None:
    """At boot, secret values go to the Open WebUI env file (mode 0600) and nowhere else:
    not on any command line (the stubs record every argv) and not in the logs."""
    box, result = stack_boot("dev")
    assert result.returncode == 0, result.stdout + result.stderr
    env = env_file(box)
    assert env["WEBUI_SECRET_KEY"] == SECRET_KEY
    assert env["WEBUI_ADMIN_PASSWORD"] == ADMIN_PASSWORD
    assert box.file(ENV_FILE).stat().st_mode & 0o777 == 0o600
    exposed = "\n".join(
        [result.stdout, result.stderr, "\n".join(box.calls()), box.file(BOOT_LOG).read_text()]
    )
    for secret in (SECRET_KEY, ADMIN_PASSWORD, DB_PASSWORD, REDIS_TOKEN, "sentinel"):
        assert secret not in exposed
    docker_run = next(c for c in box.calls() if c.startswith("docker run"))
    assert f"--env-file {box.file(ENV_FILE)}" in docker_run
    assert " -e " not in docker_run


# ------------------------------------------------------------------ the boot, step by step


def test_boot_steps_run_in_order() -> None:
    box, result = stack_boot("dev")
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [
        "apt-get install",
        "systemctl try-reload-or-restart ssh",
        "dpkg -i",
        "amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "
        "ssm:/ollama/dev/cloudwatch-agent/config",
        "aws dynamodb query --table-name ollama-data-table-dev",
        "ollama pull llama3.2:1b",
        # Open WebUI starts and takes the stack-owned settings under the first-start lock.
        "aws dynamodb put-item --table-name ollama-data-table-dev",
        "aws secretsmanager get-secret-value --secret-id ollama/dev/webui-secret-key",
        "docker run",
        "curl -fsS --max-time 5 http://127.0.0.1:8080/ready",
        "curl -sS --max-time 30 -X POST",  # sign-in, then the admin API
        "curl -sS --max-time 30 -X GET",
        "aws dynamodb delete-item --table-name ollama-data-table-dev",
    ]
    positions = [box.index(step) for step in steps]
    assert positions == sorted(positions), box.calls()
    # The lock is released last among the boot's own steps, then the secret follower starts
    # (only on an instance that passed its health gate).
    assert box.calls()[-3].startswith("aws dynamodb delete-item")
    assert box.calls()[-2:] == [
        "systemctl daemon-reload",
        "systemctl enable --now ollama-follow-secrets.timer",
    ]
    assert "bootstrap complete" in box.file(BOOT_LOG).read_text()
    docker_run = next(c for c in box.calls() if c.startswith("docker run"))
    for option in ("--log-driver journald", "--log-opt tag=open-webui", "--restart unless-stopped"):
        assert option in docker_run
    assert docker_run.endswith(" ghcr.io/open-webui/open-webui:v0.9.6")


def test_boot_is_idempotent(box: Sandbox) -> None:
    seed_aws(box)
    assert boot(box).returncode == 0
    env_before = box.file(ENV_FILE).read_text()
    box.reset_calls()
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    for step in (
        "dpkg -i",
        "curl -fsSL",
        "ollama pull",
        "docker pull",
        "docker run",
        "systemctl restart",
    ):
        assert not box.called(step), f"second boot repeated {step}"
    assert box.called("docker start open-webui")
    assert box.file(ENV_FILE).read_text() == env_before
    assert "Open WebUI already runs" in result.stdout

    # A changed setting recreates the container (and only then).
    box.put_parameter("/ollama/dev/webui/public-url", "https://other.example.com")
    box.reset_calls()
    assert boot(box).returncode == 0
    assert box.index("docker rm -f open-webui") < box.index("docker run")


def test_shared_state_configuration() -> None:
    box, result = stack_boot("dev")
    assert result.returncode == 0, result.stdout
    env = env_file(box)
    assert env["DATABASE_URL"] == (
        "postgresql://webui_app:sentinel-db%3Ap%40ss%2Fword@db.example:5432/openwebui"
    )
    assert env["VECTOR_DB"] == "pgvector"
    redis = "rediss://:sentinel-redis-token@cache.example:6379/0"
    assert env["REDIS_URL"] == env["WEBSOCKET_REDIS_URL"] == redis
    assert env["WEBSOCKET_MANAGER"] == "redis"
    assert env["STORAGE_PROVIDER"] == "s3"
    assert env["S3_BUCKET_NAME"] == "ollama-storage-dev-123456789012"
    assert env["S3_KEY_PREFIX"] == "open-webui/"
    assert env["S3_REGION_NAME"] == "us-east-1"
    # No webui/cors-origins parameter (a stack deployed before it existed): the public URL.
    assert env["WEBUI_URL"] == env["CORS_ALLOW_ORIGIN"] == "https://chat.example.com"
    assert env["WEBUI_SESSION_COOKIE_SECURE"] == "true"
    assert env["ENABLE_SIGNUP"] == "false"
    assert env["OLLAMA_BASE_URL"] == "http://host.docker.internal:11434"
    assert not any(k.startswith("S3_ACCESS") or k.startswith("S3_SECRET") for k in env)


def test_every_public_origin_reaches_cors_allow_origin(box: Sandbox) -> None:
    """Issue 21 item 6: the edge's webui/cors-origins list (every alias) becomes
    CORS_ALLOW_ORIGIN; WEBUI_URL stays the one public URL."""
    seed_aws(box)
    origins = "https://chat.example.com;https://ai.example.org"
    box.put_parameter("/ollama/dev/webui/cors-origins", origins)
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    env = env_file(box)
    assert env["CORS_ALLOW_ORIGIN"] == origins
    assert env["WEBUI_URL"] == "https://chat.example.com"


def test_single_instance_mode_without_shared_state(box: Sandbox) -> None:
    seed_aws(box, shared_state=False)
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    env = env_file(box)
    for key in ("DATABASE_URL", "REDIS_URL", "WEBSOCKET_MANAGER", "STORAGE_PROVIDER", "WEBUI_URL"):
        assert key not in env
    assert "single-instance mode with the local SQLite database" in result.stdout
    assert not box.called("aws secretsmanager get-secret-value --secret-id ollama/dev/redis-auth")


def test_catalog_models_win_over_the_fallback(box: Sandbox) -> None:
    seed_aws(box)
    box.put_catalog(["qwen2.5:0.5b", "phi3"])
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    query = next(c for c in box.calls() if c.startswith("aws dynamodb query"))
    assert '":e":{"S":"dev"}' in query and '":t":{"BOOL":true}' in query
    assert box.called("ollama pull qwen2.5:0.5b") and box.called("ollama pull phi3")
    assert not box.called("ollama pull llama3.2:1b")
    assert not box.called("aws ssm get-parameter --name /ollama/dev/ollama/default-models")


@pytest.mark.parametrize("catalog", [[], None], ids=["empty", "no-table"])
def test_fallback_models_when_the_catalog_has_none(box: Sandbox, catalog: list[str] | None) -> None:
    seed_aws(box)
    if catalog is not None:
        box.put_catalog(catalog)
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    assert box.called("ollama pull llama3.2:1b")
    assert "using /ollama/dev/ollama/default-models" in result.stdout


def test_no_models_anywhere_fails(box: Sandbox) -> None:
    seed_aws(box)
    (box.state / "aws" / "ssm" / "ollama" / "dev" / "ollama" / "default-models").unlink()
    result = boot(box)
    assert result.returncode != 0
    assert (
        "the model catalog is empty and /ollama/dev/ollama/default-models is missing"
        in result.stdout
    )


def test_invalid_catalog_model_is_rejected_again_in_the_shell(box: Sandbox) -> None:
    seed_aws(box)
    box.put_catalog(["llama3;reboot"])
    result = boot(box)
    assert result.returncode != 0
    assert "--model 'llama3;reboot' is invalid" in result.stdout
    assert not box.called("ollama pull")
    assert not box.called("docker run")


def test_failing_model_pull_fails_the_boot_with_a_clear_line(box: Sandbox) -> None:
    seed_aws(box)
    result = boot(box, STUB_FAIL_PULL="llama3.2:1b")
    assert result.returncode != 0
    log = box.file(BOOT_LOG).read_text()
    assert "ERROR: model pull failed: llama3.2:1b after 2 attempts" in log
    assert "ERROR: boot failed" in log
    assert not box.called("docker run"), "Open WebUI started without its model"


def test_failing_health_check_fails_the_boot_with_a_clear_line(box: Sandbox) -> None:
    seed_aws(box)
    result = boot(box, STUB_WEBUI_DOWN="1")
    assert result.returncode != 0
    assert box.calls().count("curl -fsS --max-time 5 http://127.0.0.1:8080/ready") == 3
    assert "health gate: Open WebUI /ready did not answer" in box.file(BOOT_LOG).read_text()
    assert "bootstrap complete" not in box.file(BOOT_LOG).read_text()


def test_live_but_not_ready_webui_fails_the_boot(box: Sandbox) -> None:
    """Finding: /health only proves the process answers. With the database (or Redis) down,
    Open WebUI still answers /health but /ready says 503, and the gate must not pass."""
    seed_aws(box)
    result = boot(box, STUB_WEBUI_NOT_READY="1")
    assert result.returncode != 0
    log = box.file(BOOT_LOG).read_text()
    assert "(startup, database or Redis not ready)" in log
    assert "bootstrap complete" not in log
    assert not box.called("curl -fsS --max-time 5 http://127.0.0.1:8080/health")


def test_inactive_ollama_unit_fails_the_boot(box: Sandbox) -> None:
    """The unit the log forwarder follows must be the one running Ollama: a wrong unit name
    fails the boot with a line saying why instead of leaving every Ollama metric empty."""
    seed_aws(box)
    result = boot(box, STUB_INACTIVE_UNIT="ollama.service")
    assert result.returncode != 0
    assert "Ollama's unit ollama.service is not active" in box.file(BOOT_LOG).read_text()
    assert not box.called("docker run")


def test_old_cloudwatch_agent_fails_the_boot(box: Sandbox) -> None:
    """An agent older than the version its config was checked against stops the boot."""
    seed_aws(box)
    result = boot(box, STUB_CWAGENT_VERSION="1.300060.0b1000")
    assert result.returncode != 0
    assert "CloudWatch agent 1.300060.0b1000 is older than 1.300071.0" in (
        box.file(BOOT_LOG).read_text()
    )
    assert not box.called("amazon-cloudwatch-agent-ctl -a fetch-config")


def test_newer_cloudwatch_agent_is_logged(box: Sandbox) -> None:
    seed_aws(box)
    result = boot(box, STUB_CWAGENT_VERSION="1.300072.0b1766")
    assert result.returncode == 0, result.stdout
    assert "CloudWatch agent 1.300072.0b1766 (config checked against 1.300071.0)" in (
        box.file(BOOT_LOG).read_text()
    )


def test_webui_persistent_config_is_stated_and_logged(box: Sandbox) -> None:
    """Open WebUI keeps PersistentConfig settings from its first start (docs/UPSTREAM.md):
    the env file states the default explicitly and the boot log says which settings that
    concerns, so nobody expects a changed stack file to reach a running fleet."""
    seed_aws(box)
    assert boot(box).returncode == 0
    env = box.state.joinpath("container.env").read_text().splitlines()
    assert "ENABLE_PERSISTENT_CONFIG=true" in env
    log = box.file(BOOT_LOG).read_text()
    line = log.split("Open WebUI keeps", 1)[1].splitlines()[0]
    for name in userdata.WEBUI_PERSISTENT_SETTINGS:
        assert name in line


def test_missing_model_in_tags_fails_the_health_gate(box: Sandbox) -> None:
    """A pull that "succeeds" without the model showing in /api/tags still fails the boot."""
    seed_aws(box)
    result = boot(box, STUB_PULL_NOOP="1")
    assert result.returncode != 0
    assert "health gate: Ollama /api/tags does not list required model(s): llama3.2:1b" in (
        box.file(BOOT_LOG).read_text()
    )


def test_aws_errors_other_than_not_found_fail_the_boot(box: Sandbox) -> None:
    seed_aws(box)
    result = boot(box, STUB_FAIL="aws")
    assert result.returncode != 0
    assert "cannot read parameter /ollama/dev/cloudwatch-agent/config" in result.stdout


def test_missing_agent_config_is_a_warning_not_a_failure(box: Sandbox) -> None:
    seed_aws(box)
    (box.state / "aws" / "ssm" / "ollama" / "dev" / "cloudwatch-agent" / "config").unlink()
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING: /ollama/dev/cloudwatch-agent/config does not exist" in result.stdout
    assert not box.called("amazon-cloudwatch-agent-ctl")


def test_gpu_profile_checks_the_driver(box: Sandbox) -> None:
    seed_aws(box)
    result = boot(box, settings(gpu=True), STUB_FAIL="nvidia-smi")
    assert result.returncode != 0
    assert "GPU profile: nvidia-smi fails" in result.stdout


# ------------------------------------------------------------------ renderer


def test_rendering_is_deterministic() -> None:
    assert render_user_data(settings()) == render_user_data(settings())
    text = render_user_data(settings())
    assert userdata.encode_user_data(text) == userdata.encode_user_data(text)  # no timestamp
    assert userdata.decode_user_data(userdata.encode_user_data(text)) == text


def test_boot_files_travel_in_here_documents_intact() -> None:
    files = {"usr/local/sbin/a.sh": (b"#!/bin/bash\necho '$HOME' \"$(date)\"\n", 0o755)}
    section = userdata.files_section(files)
    assert embedded_files(section) == {
        "usr/local/sbin/a.sh": files["usr/local/sbin/a.sh"][0].decode()
    }
    assert 'chmod 0755 "$ROOT/usr/local/sbin/a.sh"' in section
    with pytest.raises(UserDataError, match="newline"):
        userdata.files_section({"etc/x": (b"no newline", 0o644)})
    with pytest.raises(UserDataError, match="would end its here-document"):
        userdata.files_section({"etc/x": (f"a\n{userdata.FILE_END}\nb\n".encode(), 0o644)})


def test_oversized_user_data_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(userdata, "USER_DATA_LIMIT", 4096)
    with pytest.raises(UserDataError, match="EC2 accepts at most 4096"):
        render_user_data(settings())


def test_a_setting_cannot_end_a_here_document() -> None:
    s = settings()
    broken = BootSettings(**{**s.__dict__, "webui_image": "x\nBOOT_ENV\ny"})
    with pytest.raises(UserDataError, match="here-document"):
        render_user_data(broken)


@pytest.mark.parametrize("stack", STACKS)
def test_log_forwarders_ship_with_the_user_data(stack: str) -> None:
    """The journald forwarders and logrotate rules the CloudWatch agent config relies on are
    in the user data, byte for byte as ollama_infra.cwagent renders them."""
    files = embedded_files(user_data_of(evaluated(stack)))
    names = StackNames(stack, "123456789012")
    units = cwagent.journald_forwarders(names, config_for(stack).ollama.install_method)
    assert units, "no forwarders: the check would be vacuous"
    for unit, text in units.items():
        assert files[f"etc/systemd/system/{unit}"] == text
    assert files["etc/logrotate.d/ollama-logs"] == cwagent.logrotate_config(names)
    assert {"usr/local/sbin/ollama-install.sh", "usr/local/sbin/ollama-boot.sh"} <= set(files)


def test_boot_enables_the_log_forwarders_before_the_agent() -> None:
    box, result = stack_boot("dev")
    assert result.returncode == 0, result.stdout
    units = sorted(cwagent.journald_forwarders(StackNames("dev", "123456789012"), "script"))
    enable = box.index("systemctl enable --now ollama-log-forward-")
    assert box.calls()[enable] == "systemctl enable --now " + " ".join(units)
    assert enable < box.index("amazon-cloudwatch-agent-ctl")
    for unit in units:
        assert box.file(f"/etc/systemd/system/{unit}").is_file()


def test_switched_catalog_table_is_read(box: Sandbox) -> None:
    """After `ollama-ops restore switch`, the boot reads the restored table it names."""
    seed_aws(box)
    restored = "ollama-data-table-restored-20261126t1200z-dev"
    box.put_parameter("/ollama/dev/data/active-table", restored)
    box.put_catalog(["phi3"])
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    query = next(c for c in box.calls() if c.startswith("aws dynamodb query"))
    assert f"--table-name {restored}" in query
    assert f"model catalog switched to {restored}" in result.stdout


def test_switched_catalog_table_with_a_foreign_name_fails(box: Sandbox) -> None:
    seed_aws(box)
    box.put_parameter("/ollama/dev/data/active-table", "customer-table")
    result = boot(box)
    assert result.returncode != 0
    assert "data/active-table names an unexpected table: customer-table" in result.stdout
    assert not any(c.startswith("aws dynamodb query") for c in box.calls())


def _registry_digest(name: str) -> str:
    """What the recording stub reports as a tag's digest (sha256 of the tag name)."""
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()


def test_pinned_catalog_digest_is_verified_after_the_pull(box: Sandbox) -> None:
    """A catalog entry pinned by digest is pulled by tag and checked against /api/tags."""
    seed_aws(box)
    digest = "sha256:" + _registry_digest("phi3:latest")
    box.put_catalog(["phi3"], {"phi3": digest})
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    assert box.called("ollama pull phi3")
    assert not any("@sha256" in c for c in box.calls() if c.startswith("ollama pull"))
    assert "model phi3:latest matches its pinned digest" in result.stdout


def test_moved_tag_fails_the_boot_with_a_clear_line(box: Sandbox) -> None:
    seed_aws(box)
    box.put_catalog(["phi3"], {"phi3": "sha256:" + "0" * 64})
    result = boot(box)
    assert result.returncode != 0
    assert "model phi3:latest has digest" in result.stdout
    assert "the tag moved in the registry" in result.stdout


# ------------------------------------------------------------------ backend TLS (edge.backend_tls)

PROXY_CONF = "/etc/nginx/conf.d/ollama-backend-tls.conf"
TLS_KEY = "/etc/ollama/tls/backend.key"
TLS_CERT = "/etc/ollama/tls/backend.crt"
# The instance port the ALB reaches (TLS) -> the local service the proxy forwards to.
PROXIED = {"8443": "8080", "11443": "11434"}
# What every proxied server needs for Open WebUI and Ollama: websocket upgrades (socket.io),
# token streams and uploads passed on as they flow, no upload cap (Open WebUI has its own).
REQUIRED_PROXY = {
    "proxy_http_version": "1.1",
    "proxy_buffering": "off",
    "proxy_request_buffering": "off",
    "client_max_body_size": "0",
}
REQUIRED_HEADERS = {
    "Upgrade": "$http_upgrade",
    "Connection": "$connection_upgrade",
    "Host": "$host",
}
# The longest ALB idle timeout edge.alb_idle_timeout_seconds accepts.
ALB_IDLE_TIMEOUT_MAX = next(
    m.le for m in EdgeConfig.model_fields["alb_idle_timeout_seconds"].metadata if hasattr(m, "le")
)
TIMEOUTS = ("proxy_read_timeout", "proxy_send_timeout", "keepalive_timeout")


def tls_settings() -> BootSettings:
    return BootSettings.from_config(
        StackNames("dev", "123456789012"),
        "us-east-1",
        OllamaConfig(),
        WebUIConfig(),
        gpu=False,
        backend_tls=True,
    )


def proxy_servers(conf: str) -> dict[str, dict[str, list[str]]]:
    """Listen port -> directive -> values (``proxy_set_header`` as ``Name value``)."""
    servers: dict[str, dict[str, list[str]]] = {}
    for block in re.findall(r"^server \{\n(.*?)^\}$", conf, re.S | re.M):
        directives: dict[str, list[str]] = {}
        for line in block.splitlines():
            line = line.strip().rstrip(";")
            if line and not line.endswith(("{", "}")):
                key, _, value = line.partition(" ")
                directives.setdefault(key, []).append(value)
        servers[directives["listen"][0].split()[0]] = directives
    return servers


def proxy_violations(conf: str, alb_idle_timeout: int) -> list[str]:
    """Everything in the proxy config that would break Open WebUI or Ollama behind the ALB."""
    out = []
    if not re.search(r"map \$http_upgrade \$connection_upgrade \{[^}]*default upgrade;", conf):
        out.append("no map from $http_upgrade to $connection_upgrade")
    servers = proxy_servers(conf)
    if set(servers) != set(PROXIED):
        out.append(f"listens on {sorted(servers)}, expected {sorted(PROXIED)}")
    for port, d in servers.items():
        if d["listen"] != [f"{port} ssl"] or "ssl_certificate_key" not in d:
            out.append(f"{port}: not a TLS listener with a key")
        if d.get("proxy_pass") != [f"http://127.0.0.1:{PROXIED.get(port)}"]:
            out.append(f"{port}: forwards to {d.get('proxy_pass')}")
        for key, value in REQUIRED_PROXY.items():
            if d.get(key) != [value]:
                out.append(f"{port}: {key} is {d.get(key)}, must be {value}")
        headers = dict(h.split(" ", 1) for h in d.get("proxy_set_header", []))
        for name, value in REQUIRED_HEADERS.items():
            if headers.get(name) != value:
                out.append(f"{port}: header {name} is {headers.get(name)!r}, must be {value}")
        for key in TIMEOUTS:
            seconds = int((d.get(key) or ["0s"])[0].rstrip("s"))
            # Not longer than the ALB's idle timeout: long generations are cut, and the ALB
            # may reuse a connection the proxy has just closed (502s; docs/UPSTREAM.md).
            if seconds <= alb_idle_timeout:
                out.append(f"{port}: {key} {seconds}s <= the ALB's {alb_idle_timeout}s")
    return out


def test_backend_tls_boot_runs_the_proxy_in_production() -> None:
    """Production (backend TLS by default): the boot installs nginx, makes the instance's own
    key and self-signed certificate, serves both services over TLS on the target groups'
    ports and checks them through the proxy before it reports success."""
    cfg = config_for("production")
    assert cfg.backend_tls
    box, result = stack_boot("production")
    assert result.returncode == 0, result.stdout + result.stderr
    conf = box.file(PROXY_CONF).read_text()
    assert proxy_violations(conf, cfg.edge.alb_idle_timeout_seconds) == []
    # The largest idle timeout config allows, so every stack's ALB is covered.
    assert proxy_violations(conf, ALB_IDLE_TIMEOUT_MAX) == []
    assert box.called("apt-get install -y -q --no-install-recommends nginx openssl")
    steps = [
        "docker run",
        "openssl req -x509",
        "nginx -t",
        "systemctl reload-or-restart nginx",
        "curl -fsS --max-time 5 http://127.0.0.1:8080/ready",
        "curl -kfsS --max-time 5 -o /dev/null https://127.0.0.1:8443/health",
        "curl -kfsS --max-time 10 -o /dev/null https://127.0.0.1:11443/api/tags",
    ]
    positions = [box.index(step) for step in steps]
    assert positions == sorted(positions), box.calls()
    assert not box.file("/etc/nginx/sites-enabled/default").exists()
    assert "bootstrap complete" in box.file(BOOT_LOG).read_text()


def test_backend_tls_key_is_private_and_made_once(box: Sandbox) -> None:
    seed_aws(box)
    box.file("/etc/nginx/sites-enabled").mkdir(parents=True)
    box.file("/etc/nginx/sites-enabled/default").write_text("server { listen 80; }\n")
    result = boot(box, tls_settings())
    assert result.returncode == 0, result.stdout + result.stderr
    key, cert = box.file(TLS_KEY), box.file(TLS_CERT)
    assert key.stat().st_mode & 0o777 == 0o600
    assert key.parent.stat().st_mode & 0o777 == 0o700
    assert cert.is_file()
    req = next(c for c in box.calls() if c.startswith("openssl req"))
    assert f"-keyout {key}" in req and f"-out {cert}" in req and "-nodes" in req
    assert not box.file("/etc/nginx/sites-enabled/default").exists()
    # A second boot keeps this instance's key (the ALB has no pinned certificate either way).
    box.reset_calls()
    assert boot(box, tls_settings()).returncode == 0
    assert not box.called("openssl req")
    assert box.called("nginx -t")


def test_rejected_proxy_config_fails_the_boot(box: Sandbox) -> None:
    seed_aws(box)
    result = boot(box, tls_settings(), STUB_FAIL="nginx")
    assert result.returncode != 0
    assert "ERROR: nginx rejects" in result.stdout
    assert not box.called("systemctl reload-or-restart nginx")


@pytest.mark.parametrize("stack", ["dev", "staging"])
def test_without_backend_tls_the_boot_is_unchanged(stack: str) -> None:
    """dev and staging keep HTTP to the instances (an accepted finding): their boot script
    is ollama-boot.sh byte for byte, without the proxy fragment or its settings."""
    assert not config_for(stack).backend_tls
    text = user_data_of(evaluated(stack))
    assert (
        embedded_scripts(text)["ollama-boot.sh"]
        == userdata.shipped(
            (ROOT / "ollama_infra" / "userdata" / "ollama-boot.sh").read_bytes()
        ).decode()
    )
    assert "WEBUI_TLS_PORT" not in boot_env(text)
    box, result = stack_boot(stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not any("nginx" in c or c.startswith("openssl") for c in box.calls())


@pytest.mark.parametrize(
    ("mutation", "finding"),
    [
        (("proxy_buffering off;", "proxy_buffering on;"), "proxy_buffering"),
        (("proxy_request_buffering off;", "proxy_request_buffering on;"), "request_buffering"),
        (("proxy_set_header Upgrade $http_upgrade;\n", ""), "header Upgrade"),
        (("proxy_set_header Connection $connection_upgrade;", ""), "header Connection"),
        (("proxy_read_timeout 4010s;", "proxy_read_timeout 60s;"), "proxy_read_timeout"),
        (("keepalive_timeout 4010s;", "keepalive_timeout 75s;"), "keepalive_timeout"),
        (("client_max_body_size 0;", "client_max_body_size 1m;"), "client_max_body_size"),
        (("proxy_pass http://127.0.0.1:11434;", "proxy_pass http://127.0.0.1:8080;"), "forwards"),
        (("listen 8443 ssl;", "listen 8443;"), "not a TLS listener"),
    ],
)
def test_a_broken_proxy_config_is_caught(mutation: tuple[str, str], finding: str) -> None:
    box, result = stack_boot("production")
    assert result.returncode == 0
    conf = box.file(PROXY_CONF).read_text()
    old, new = mutation
    assert old in conf
    broken = conf.replace(old, new, 1)
    assert any(finding in v for v in proxy_violations(broken, 900)), proxy_violations(broken, 900)


_HEREDOC_START = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")


def comment_lines_in_heredocs(script: str) -> list[str]:
    """Lines of here-document bodies that start with '#': userdata.shipped would drop them
    from the user data as if they were comments, changing what the here-document writes."""
    found, marker = [], None
    for line in script.splitlines():
        if marker is not None:
            if line.strip() == marker:
                marker = None
            elif line.lstrip().startswith("#"):
                found.append(line)
            continue
        if (start := _HEREDOC_START.search(line)) and not line.lstrip().startswith("#"):
            marker = start.group(1)
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in userdata.TEMPLATE_DIR.glob("*.sh")))
def test_no_here_document_line_looks_like_a_comment(name: str) -> None:
    assert comment_lines_in_heredocs((userdata.TEMPLATE_DIR / name).read_text()) == []


def test_here_document_check_catches_a_hash_line() -> None:
    broken = "f() {\n  cat <<EOF\nserver {\n # a directive comment\n}\nEOF\n}\n"
    assert comment_lines_in_heredocs(broken) == [" # a directive comment"]
    assert b"a directive comment" not in userdata.shipped(b"#!/bin/bash\n" + broken.encode())


# ------------------------------------------------------------------ following rotated secrets


def follow(box: Sandbox, **env: str) -> subprocess.CompletedProcess[str]:
    """What ollama-follow-secrets.service runs on the instance."""
    return box.run([str(box.file("/usr/local/sbin/ollama-boot.sh")), "follow-secrets"], **env)


def test_boot_enables_the_secret_follower_and_ships_its_units() -> None:
    box, result = stack_boot("staging")
    assert result.returncode == 0, result.stdout
    assert box.index("docker run") < box.index("systemctl enable --now ollama-follow-secrets.timer")
    service = box.file("/etc/systemd/system/ollama-follow-secrets.service").read_text()
    assert "ExecStart=/usr/local/sbin/ollama-boot.sh follow-secrets" in service
    timer = box.file("/etc/systemd/system/ollama-follow-secrets.timer").read_text()
    # Hourly, at a random point per instance: instances rarely restart Open WebUI together.
    assert "OnUnitActiveSec=1h" in timer and "RandomizedDelaySec=" in timer


def test_follower_recreates_open_webui_on_a_rotated_database_login(box: Sandbox) -> None:
    """Issue 21 item 1: after a rotation, the instance moves to the new login by itself."""
    seed_aws(box)
    assert boot(box).returncode == 0
    box.reset_calls()
    box.put_secret(DB_SECRET_ARN, {"username": "webui_app_clone", "password": "rotated-pw"})
    result = follow(box)
    assert result.returncode == 0, result.stdout + result.stderr
    assert box.index("docker rm -f open-webui") < box.index("docker run")
    assert env_file(box)["DATABASE_URL"] == (
        "postgresql://webui_app_clone:rotated-pw@db.example:5432/openwebui"
    )
    assert "Open WebUI is ready with the current secrets" in result.stdout
    assert "rotated-pw" not in result.stdout + result.stderr  # never logged


def test_follower_leaves_open_webui_alone_when_nothing_changed(box: Sandbox) -> None:
    seed_aws(box)
    assert boot(box).returncode == 0
    box.reset_calls()
    result = follow(box)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not box.called("docker rm") and not box.called("docker run")
    assert "runs with the current secrets" in result.stdout


def test_follower_fails_loudly_when_open_webui_does_not_come_back(box: Sandbox) -> None:
    seed_aws(box)
    assert boot(box).returncode == 0
    box.put_secret("ollama/dev/redis-auth", "rotated-token")
    result = follow(box, STUB_WEBUI_NOT_READY="1", OLLAMA_HEALTH_RETRIES="2")
    assert result.returncode != 0
    assert "Open WebUI /ready did not answer" in result.stdout + result.stderr
