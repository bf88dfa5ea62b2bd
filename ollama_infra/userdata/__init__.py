"""Instance user data: a small bootstrap rendered from ``bootstrap.sh.tpl``.

The user data carries names and versions only (environment, region, table, parameter and
secret prefixes, Ollama and Open WebUI versions, install method); the boot script fetches
every secret at boot through the instance role. It writes those settings to
``/etc/ollama/boot.env``, writes ``ollama-install.sh`` (also ``scripts/ollama-install.sh``,
for hosts and AMI builds) and ``ollama-boot.sh`` into ``/usr/local/sbin`` (one quoted
here-document per file) and runs the boot script. Together the scripts are larger than the
16 KB user-data limit, so EC2 stores the whole bootstrap gzip-compressed, which cloud-init
unpacks before running it; the compression is deterministic (the same bytes for the same
sources, so the launch template only changes when a script or a setting does).
"""

from __future__ import annotations

import base64
import gzip
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from ollama_infra import cwagent, versions
from ollama_infra.config import OllamaConfig, WebUIConfig
from ollama_infra.naming import StackNames
from ollama_infra.security import OLLAMA_TLS_PORT, OPEN_WEBUI_TLS_PORT

TEMPLATE_DIR = Path(__file__).resolve().parent
TEMPLATE = TEMPLATE_DIR / "bootstrap.sh.tpl"
SCRIPTS: tuple[str, ...] = ("ollama-install.sh", "ollama-boot.sh")
USER_DATA_LIMIT = 16 * 1024  # bytes, raw (before base64), per the EC2 API
OLLAMA_LISTEN = "0.0.0.0:11434"  # the app security group admits the ALB only
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")

# Open WebUI settings the boot passes in its env file but Open WebUI reads from the env only
# on its first start against a database: PersistentConfig settings are then read from the
# database (shared by all instances; ENABLE_PERSISTENT_CONFIG stays at its default, true),
# and the admin account is created only while no user exists (which also switches sign-up
# off). Open WebUI v0.9.6, backend/open_webui/config.py and main.py; docs/UPSTREAM.md.
# Variable -> (where the stack sets it, how to change it on a running fleet).
WEBUI_PERSISTENT_SETTINGS: dict[str, tuple[str, str]] = {
    "OLLAMA_BASE_URL": (
        "fixed: the instance's own Ollama (`http://host.docker.internal:11434`)",
        "Admin Panel > Settings > Connections",
    ),
}
# Settings the stack owns: every boot, under the first-start lock and once Open WebUI is ready,
# writes them through its admin API (ollama-boot.sh apply_webui_settings, grant_model_access)
# when they differ, so the stack file wins over the database and the first start.
# Setting -> (where the stack sets it, what the boot does).
WEBUI_STACK_SETTINGS: dict[str, tuple[str, str]] = {
    "ENABLE_SIGNUP": ("`webui.enable_signup`", "admin settings API, every boot"),
    "WEBUI_URL": (
        "the public URL (`/ollama/<env>/webui/public-url`, from the edge)",
        "admin settings API, every boot (left alone when the parameter is absent)",
    ),
    "ENABLE_API_KEYS": (
        "`webui.enable_api_keys`",
        "admin settings API, every boot; also the API-key permission of the access group",
    ),
    "DEFAULT_GROUP_ID": (
        "`webui.model_access: group`: the id of `webui.model_access_group`",
        "group created when missing; admin settings API, every boot (other modes: left alone)",
    ),
    "model access grants": (
        "`webui.model_access` and the model catalog",
        "a read grant per catalog model for the group (group) or every user (public); "
        "added, never removed; admin-only grants nothing",
    ),
}
WEBUI_FIRST_USER_SETTINGS: dict[str, tuple[str, str]] = {
    "WEBUI_ADMIN_EMAIL": (
        "`webui.admin_email`",
        "Admin Panel > Users (edit the admin)",
    ),
    "WEBUI_ADMIN_PASSWORD": (
        "secret `ollama/<env>/webui-admin`",
        "the admin's account settings; then update the secret to match",
    ),
}
# With auth.mode oidc: what the boot adds to Open WebUI's env file (ollama-webui-oidc.sh).
# Open WebUI v0.9.6 (config.py, internal/config.py): settings stored under ``oauth.`` take the
# environment's value at every start while ENABLE_OAUTH_PERSISTENT_CONFIG is false;
# ENABLE_LOGIN_FORM is an ordinary PersistentConfig setting and ENABLE_PASSWORD_AUTH a plain
# environment variable. Variable -> (where the stack sets it, who wins after the first start).
_EVERY_START = "the stack: read from the environment at every start"
WEBUI_OIDC_SETTINGS: dict[str, tuple[str, str]] = {
    "ENABLE_OAUTH_PERSISTENT_CONFIG": (
        "fixed: `false` (Open WebUI's default, stated)",
        "plain env",
    ),
    "ENABLE_PASSWORD_AUTH": ("fixed: `false` (no local passwords)", "plain env: the stack"),
    "ENABLE_LOGIN_FORM": (
        "fixed: `false`",
        "first start only (PersistentConfig); password sign-in stays refused either way",
    ),
    "ENABLE_OAUTH_SIGNUP": ("fixed: `true` (accounts are created at first sign-in)", _EVERY_START),
    "OAUTH_PROVIDER_NAME": ("`Cognito` or `SSO` (provider)", _EVERY_START),
    "OPENID_PROVIDER_URL": ("the issuer's discovery URL (parameter `webui/oidc`)", _EVERY_START),
    "OAUTH_CLIENT_ID": ("the app client (parameter `webui/oidc`)", _EVERY_START),
    "OAUTH_CLIENT_SECRET": ("Secrets Manager, read at boot", _EVERY_START),
    "OAUTH_SCOPES": ("fixed: `openid email profile`", _EVERY_START),
    "OPENID_REDIRECT_URI": ("`<public URL>/oauth/oidc/callback`", _EVERY_START),
    "OAUTH_ALLOWED_DOMAINS": ("`auth.allowed_email_domains` (empty: `*`)", _EVERY_START),
    "ENABLE_OAUTH_ROLE_MANAGEMENT": ("fixed: `true`", _EVERY_START),
    "OAUTH_ROLES_CLAIM": ("`auth.groups_claim`", _EVERY_START),
    "OAUTH_ALLOWED_ROLES": ("`auth.user_group`,`auth.admin_group`", _EVERY_START),
    "OAUTH_ADMIN_ROLES": ("`auth.admin_group`", _EVERY_START),
}
# The instances follow rotated secrets (the database login, the cache token, the Open WebUI
# key): hourly, at a random point of the hour per instance so they rarely restart together,
# and once a few minutes after a reboot. ollama-boot.sh follow-secrets recreates Open WebUI
# only when its rendered environment changed.
FOLLOW_SECRETS_UNITS: dict[str, str] = {
    "ollama-follow-secrets.service": (
        "[Unit]\n"
        "Description=Follow rotated secrets: recreate Open WebUI when its environment changed\n"
        "After=docker.service\n\n"
        "[Service]\n"
        "Type=oneshot\n"
        "ExecStart=/usr/local/sbin/ollama-boot.sh follow-secrets\n"
    ),
    "ollama-follow-secrets.timer": (
        "[Unit]\n"
        "Description=Hourly check for rotated secrets of Open WebUI\n\n"
        "[Timer]\n"
        "OnBootSec=10min\n"
        "OnUnitActiveSec=1h\n"
        "RandomizedDelaySec=50min\n\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    ),
}
OIDC_SCRIPT = "ollama-webui-oidc.sh"
# With edge.backend_tls: the instance's TLS proxy (ollama-backend-tls.sh). AWS recommends a
# target idle timeout longer than the ALB's (else the ALB may reuse a connection the target
# just closed: 502); edge.alb_idle_timeout_seconds allows up to 4000 s, so the proxy's
# timeouts and keep-alive are longer than any of them.
BACKEND_TLS_SCRIPT = "ollama-backend-tls.sh"
PROXY_TIMEOUT_SECONDS = 4010
OIDC_CALLBACK_PATH = "/oauth/oidc/callback"
_BOOT_MAIN = '\nmain "$@"\n'
# Ends each file's here-document in the user data; no file may contain this line.
FILE_END = "OLLAMA_FILE"
_HEREDOC_ENDS = ("BOOT_ENV", FILE_END)


class UserDataError(ValueError):
    """The rendered user data would be rejected by EC2 or is malformed."""


@dataclass(frozen=True)
class BootSettings:
    """Everything the boot script needs to know, all of it non-secret."""

    names: StackNames
    env: str
    region: str
    catalog_table: str
    parameter_prefix: str
    secret_prefix: str
    install_method: str
    ollama_version: str
    snap_channel: str
    num_parallel: int
    max_queue: int
    keep_alive: str
    models_dir: str
    gpu: bool
    webui_image: str
    enable_signup: bool
    cloudwatch_agent_version: str = versions.CLOUDWATCH_AGENT_VERSION
    oidc: bool = False
    backend_tls: bool = False
    enable_api_keys: bool = True
    model_access: str = "group"
    model_access_group: str = "users"

    @classmethod
    def from_config(
        cls,
        names: StackNames,
        region: str,
        ollama: OllamaConfig,
        webui: WebUIConfig,
        gpu: bool,
        oidc: bool = False,
        backend_tls: bool = False,
    ) -> BootSettings:
        return cls(
            names=names,
            env=names.catalog_environment,
            region=region,
            catalog_table=names.table,
            parameter_prefix=names.parameter_path,
            secret_prefix=names.secret_prefix,
            install_method=ollama.install_method,
            ollama_version=ollama.version,
            snap_channel=ollama.snap_channel,
            num_parallel=ollama.num_parallel,
            max_queue=ollama.max_queue,
            keep_alive=ollama.keep_alive,
            models_dir=ollama.models_dir,
            gpu=gpu,
            webui_image=webui_image(webui),
            enable_signup=webui.enable_signup,
            oidc=oidc,
            backend_tls=backend_tls,
            enable_api_keys=webui.enable_api_keys,
            model_access=webui.access(oidc),
            model_access_group=webui.model_access_group,
        )

    def boot_env(self) -> str:
        """``/etc/ollama/boot.env``: shell assignments the boot script sources."""
        values: dict[str, str] = {
            "OLLAMA_ENV": self.env,
            "AWS_REGION": self.region,
            "CATALOG_TABLE": self.catalog_table,
            "PARAMETER_PREFIX": self.parameter_prefix,
            "SECRET_PREFIX": self.secret_prefix,
            "INSTALL_METHOD": self.install_method,
            "OLLAMA_VERSION": self.ollama_version,
            "SNAP_CHANNEL": self.snap_channel,
            "OLLAMA_LISTEN": OLLAMA_LISTEN,
            "NUM_PARALLEL": str(self.num_parallel),
            "MAX_QUEUE": str(self.max_queue),
            "KEEP_ALIVE": self.keep_alive,
            "MODELS_DIR": self.models_dir,
            "GPU": "true" if self.gpu else "false",
            "WEBUI_IMAGE": self.webui_image,
            "ENABLE_SIGNUP": "true" if self.enable_signup else "false",
            "CLOUDWATCH_AGENT_VERSION": self.cloudwatch_agent_version,
            "OLLAMA_UNIT": cwagent.ollama_unit(self.install_method),
            # Stack-owned Open WebUI settings, re-applied through its admin API at every boot,
            # and the first-start lock's item in the stack's own table (the instance role may
            # write only that item: FirstStartLock in ollama_infra/identity.py).
            "ENABLE_API_KEYS": "true" if self.enable_api_keys else "false",
            "MODEL_ACCESS": self.model_access,
            "MODEL_ACCESS_GROUP": self.model_access_group,
            "FIRST_START_LOCK_TABLE": self.catalog_table,
            "FIRST_START_LOCK_KEY": self.names.first_start_lock_key,
        }
        if self.oidc:  # local stacks keep exactly the settings they had
            values["SIGN_IN_MODE"] = "oidc"
        if self.backend_tls:  # so do stacks without backend TLS
            values["WEBUI_TLS_PORT"] = str(OPEN_WEBUI_TLS_PORT)
            values["OLLAMA_TLS_PORT"] = str(OLLAMA_TLS_PORT)
            values["PROXY_TIMEOUT"] = str(PROXY_TIMEOUT_SECONDS)
        return "\n".join(f"{key}={shlex.quote(value)}" for key, value in values.items())


def webui_image(webui: WebUIConfig) -> str:
    """``image:tag`` or ``image:tag@sha256:...`` (Docker then verifies the digest)."""
    ref = f"{webui.image}:{webui.version}"
    return f"{ref}@{webui.digest}" if webui.digest else ref


def boot_script(oidc: bool = False, backend_tls: bool = False) -> bytes:
    """ollama-boot.sh; with ollama-webui-oidc.sh (oidc stacks) and ollama-backend-tls.sh
    (edge.backend_tls) inserted before ``main``, so other stacks boot the unchanged script."""
    text = (TEMPLATE_DIR / "ollama-boot.sh").read_text()
    wanted = ((OIDC_SCRIPT, oidc), (BACKEND_TLS_SCRIPT, backend_tls))
    fragments = [name for name, on in wanted if on]
    if not fragments:
        return text.encode()
    if not text.endswith(_BOOT_MAIN) or text.count(_BOOT_MAIN) != 1:
        raise UserDataError("ollama-boot.sh must end with one 'main \"$@\"' line")
    body = text[: -len(_BOOT_MAIN)]
    for name in fragments:
        body += "\n" + (TEMPLATE_DIR / name).read_text()
    return (body + _BOOT_MAIN).encode()


_COMMENT_LINE = re.compile(r"^[ \t]*#(?!!| shellcheck )[^\n]*\n", re.M)


def shipped(script: bytes) -> bytes:
    """A script as the user data carries it: without its comment-only lines (the sources keep
    them; the compressed user data must stay under the 16 KB limit). No here-document or
    multi-line string in the scripts has a line starting with '#' (test_userdata checks)."""
    head, _, body = script.partition(b"\n")
    note = b"# Comments stripped for the user-data limit; the commented source is in the repo.\n"
    return head + b"\n" + note + _COMMENT_LINE.sub("", body.decode()).encode()


def boot_files(
    names: StackNames, install_method: str, oidc: bool = False, backend_tls: bool = False
) -> dict[str, tuple[bytes, int]]:
    """Files the bootstrap unpacks, by path relative to /: (content, mode).

    The two scripts, plus the journald forwarders and their logrotate rules that the
    CloudWatch agent config (``ollama_infra.cwagent``) relies on: the agent ships files, so
    the Ollama and Open WebUI journals are copied to the files it follows.
    """
    files = {
        f"usr/local/sbin/{name}": (shipped((TEMPLATE_DIR / name).read_bytes()), 0o755)
        for name in SCRIPTS
    }
    files["usr/local/sbin/ollama-boot.sh"] = (shipped(boot_script(oidc, backend_tls)), 0o755)
    for unit, text in sorted(cwagent.journald_forwarders(names, install_method).items()):
        files[f"etc/systemd/system/{unit}"] = (text.encode(), 0o644)
    files["etc/logrotate.d/ollama-logs"] = (cwagent.logrotate_config(names).encode(), 0o644)
    for unit, text in FOLLOW_SECRETS_UNITS.items():
        files[f"etc/systemd/system/{unit}"] = (text.encode(), 0o644)
    return files


def files_section(files: dict[str, tuple[bytes, int]]) -> str:
    """Shell that writes each boot file under $ROOT with its mode: one quoted here-document
    per file (the shell expands nothing in it), so the user data stays plain text that gzip
    compresses well. Raises UserDataError for content a here-document cannot carry."""
    dirs = sorted({path.rsplit("/", 1)[0] for path in files})
    out = ["install -d -m 0755 " + " ".join(f'"$ROOT/{d}"' for d in dirs)]
    for path, (data, mode) in files.items():
        text = data.decode()
        if not text.endswith("\n"):
            raise UserDataError(f"{path} must end with a newline to travel in a here-document")
        if FILE_END in text.splitlines():
            raise UserDataError(
                f"{path} has a line {FILE_END!r}, which would end its here-document"
            )
        out.append(f"cat >\"$ROOT/{path}\" <<'{FILE_END}'\n{text}{FILE_END}")
        out.append(f'chmod {mode:04o} "$ROOT/{path}"')
    return "\n".join(out)


def render_user_data(settings: BootSettings) -> str:
    """The user data script; raises UserDataError if EC2 would reject it."""
    boot_env = settings.boot_env()
    values = {
        "ENV": settings.env,
        "BOOT_ENV": boot_env,
        "FILES": files_section(
            boot_files(settings.names, settings.install_method, settings.oidc, settings.backend_tls)
        ),
    }
    for line in boot_env.splitlines():
        if line.strip() in _HEREDOC_ENDS:
            raise UserDataError(f"boot setting line {line!r} would end a here-document")
    template = TEMPLATE.read_text()
    unknown = set(_PLACEHOLDER.findall(template)) - set(values)
    if unknown:
        raise UserDataError(f"bootstrap.sh.tpl uses unknown placeholders {sorted(unknown)}")
    rendered = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    size = len(compress_user_data(rendered))
    if size >= USER_DATA_LIMIT:
        raise UserDataError(
            f"the user data is {size} bytes gzip-compressed; EC2 accepts at most "
            f"{USER_DATA_LIMIT} raw: shorten the boot scripts or move them to a versioned "
            "S3 object the bootstrap downloads"
        )
    return rendered


def compress_user_data(rendered: str) -> bytes:
    """The user data EC2 stores: gzip, which cloud-init recognises and unpacks before it runs
    the script (docs/UPSTREAM.md); reproducible (no timestamp), so plans stay byte-identical."""
    return gzip.compress(rendered.encode(), compresslevel=9, mtime=0)


def decode_user_data(encoded: str) -> str:
    """The script a launch template's base64 user data carries (gzip-compressed or not)."""
    raw = base64.b64decode(encoded)
    return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode()


def encode_user_data(rendered: str) -> str:
    """Base64 of the compressed user data, as the launch template API expects."""
    return base64.b64encode(compress_user_data(rendered)).decode()
