"""Harness of the real-application tier (``make e2e-local``); TEST DOUBLES are labelled.

The real pieces: Open WebUI from PyPI (``.e2e/venv``), PostgreSQL with pgvector
(``.e2e/pgroot``), Redis with a password, the AWS CLI (``.e2e/aws``). The test doubles: moto
as S3, SSM and Secrets Manager, and the fake Ollama (tests/fakes/fake_ollama.py).

Open WebUI's environment is rendered by the boot script's own ``webui_env`` (taken from the
user data the program renders for a stack), reading the parameters and secrets seeded in moto
through the real AWS CLI, exactly as an instance reads them in AWS. Every process started here
writes its pid under ``.e2e/run/pids`` so ``scripts/e2e-local.sh`` can stop leftovers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
E2E_DIR = Path(os.environ.get("E2E_LOCAL_DIR") or ROOT / ".e2e")
RUN = E2E_DIR / "run"
PIDS = RUN / "pids"
PG_MAJOR = "15"
PG_BIN = E2E_DIR / "pgroot" / "usr" / "lib" / "postgresql" / PG_MAJOR / "bin"
WEBUI_BIN = E2E_DIR / "venv" / "bin" / "open-webui"
AWS_BIN = E2E_DIR / "aws" / "bin"
REGION = "us-east-1"
# Values with characters a URL must escape, so the boot script's uri() is exercised.
MASTER_USER = "master"
MASTER_PASSWORD = "m@ster:pa/ss%w0rd"
REDIS_PASSWORD = "redis-t0ken/with:chars"
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "Admin-pass-1"
SECRET_KEY = "e2e-webui-secret-key-0123456789abcdef"
MODEL = "fake-model:1b"
# Test-tier settings on top of the rendered environment (never in the boot script):
#  - OLLAMA_BASE_URL: instances reach their own Ollama as host.docker.internal; here the fake.
#  - RAG_EMBEDDING_ENGINE=ollama and OFFLINE_MODE: no embedding model is downloaded or loaded
#    (docs/UPSTREAM.md, Open WebUI retrieval get_ef / get_model_path).
#  - ENABLE_OPENAI_API=false: no call to a public OpenAI endpoint when listing models.
#  - ENABLE_CHANNELS: channels carry the cross-server websocket check.
TIER_SETTINGS = {
    "RAG_EMBEDDING_ENGINE": "ollama",
    "RAG_EMBEDDING_MODEL": MODEL,
    "OFFLINE_MODE": "true",
    "ENABLE_OPENAI_API": "false",
    "ENABLE_CHANNELS": "true",
}


def installed() -> str | None:
    """Why the tier cannot run, or None when it is installed."""
    for path, what in (
        (WEBUI_BIN, "Open WebUI"),
        (AWS_BIN / "aws", "the AWS CLI"),
        (PG_BIN / "pg_ctl", "PostgreSQL"),
        (E2E_DIR / "rotation-vendor" / "pg8000", "the rotation's PostgreSQL driver"),
    ):
        if not path.exists():
            return f"{what} is not installed under {E2E_DIR}; run `make e2e-local`"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed; run `make e2e-local`"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _track(name: str, proc: subprocess.Popen[Any]) -> None:
    PIDS.mkdir(parents=True, exist_ok=True)
    (PIDS / f"{name}.pid").write_text(str(proc.pid))


def _untrack(name: str) -> None:
    (PIDS / f"{name}.pid").unlink(missing_ok=True)


def _stop(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (requests.RequestException, OSError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout:.0f} s")
        time.sleep(interval)


# ---------------------------------------------------------------- PostgreSQL


def _as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root; under root it runs as the postgres user."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Postgres:
    """PostgreSQL 15 with pgvector, a master user like RDS's, TCP on 127.0.0.1 only."""

    port: int = field(default_factory=free_port)
    data: Path = RUN / "pg" / "data"
    proc_name: str = "postgres"

    def init(self) -> None:
        base = self.data.parent
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        pwfile = base / "pw"
        pwfile.write_text(MASTER_PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run(
            [*_as_postgres(), str(PG_BIN / "initdb"), "-D", str(self.data), "-U", MASTER_USER,
             f"--pwfile={pwfile}", "-A", "scram-sha-256", "-E", "UTF8", "--no-instructions"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        pwfile.unlink()

    def start(self) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data.parent}"
        subprocess.run(
            [*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
             str(self.data.parent / "postgres.log"), "-o", opts, "-w", "start"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        pid = (self.data / "postmaster.pid").read_text().split()[0]
        PIDS.mkdir(parents=True, exist_ok=True)
        (PIDS / f"{self.proc_name}.pid").write_text(pid)

    def stop(self) -> None:
        subprocess.run(
            [*_as_postgres(), str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
            capture_output=True,
        )  # fmt: skip
        _untrack(self.proc_name)

    def sql(self, query: str, db: str = "postgres") -> str:
        """Run SQL as the master user; returns psql's unaligned, tuples-only output."""
        env = {**os.environ, "PGPASSWORD": MASTER_PASSWORD}
        done = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", MASTER_USER,
             "-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", query],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str) -> None:
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.sql(f'CREATE DATABASE "{name}"')


def pg_connect(login: Mapping[str, Any]) -> Any:
    """The rotation's ``connect`` with the driver it ships (pinned in
    ollama_infra/rotation/requirements.txt, installed by scripts/e2e-local.sh), without TLS:
    the tier's PostgreSQL listens on 127.0.0.1 only."""
    import sys

    vendor = str(E2E_DIR / "rotation-vendor")
    if vendor not in sys.path:
        sys.path.insert(0, vendor)
    import pg8000.native

    return pg8000.native.Connection(
        user=login["username"], password=login["password"], host=login["host"],
        port=int(login["port"]), database=login["dbname"], timeout=10,
    )  # fmt: skip


# ---------------------------------------------------------------- Redis


@dataclass
class Redis:
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        folder = RUN / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--requirepass", REDIS_PASSWORD, "--save", "", "--appendonly", "no",
             "--dir", str(folder)],
            stdout=(folder / "redis.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        _track("redis", self.proc)
        wait_for(lambda: self.cli("PING") == "PONG", 15, "redis PING")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            _untrack("redis")
            self.proc = None

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), "--no-auth-warning", "-a", REDIS_PASSWORD, *args],
            capture_output=True, text=True, timeout=15,
        )  # fmt: skip
        return done.stdout.strip()


# ---------------------------------------------------------------- the boot script's functions

# A one-line function (``uri() { ...; }``) or one whose closing brace starts a line.
_FUNCTION = re.compile(r"^([a-z_][a-z0-9_]*)\(\) \{(?:[^\n]*\}$|.*?^\}$)", re.M | re.S)


def boot_functions(script: str) -> dict[str, str]:
    """Every function the boot script defines, by name (``main`` aside): its exact text."""
    return {m.group(1): m.group(0) for m in _FUNCTION.finditer(script) if m.group(1) != "main"}


# A top-level assignment without command substitution (``WEBUI_TOKEN=""``, ``MODELS=()``):
# functions rely on the globals the script initialises.
_GLOBAL = re.compile(r"^[A-Z_][A-Z0-9_]*=(?!.*\$\().*$", re.M)


def boot_globals(script: str) -> list[str]:
    """The script's top-level variable initialisations, in order."""
    return _GLOBAL.findall(script)


@dataclass
class Boot:
    """The boot script's functions run in bash, with the AWS CLI pointed at moto."""

    functions: dict[str, str]
    settings: dict[str, str]  # boot.env of the planned user data
    aws_endpoint: str
    globals: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.functions

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **self.settings,
            "PATH": f"{AWS_BIN}{os.pathsep}{os.environ['PATH']}",
            "AWS_ENDPOINT_URL": self.aws_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "OLLAMA_RETRY_DELAY": "1",
            **extra,
        }

    def script(self, body: str) -> str:
        parts = ["set -euo pipefail", *self.globals, *self.functions.values(), body]
        return "\n".join(parts) + "\n"

    def run(
        self, body: str, timeout: float = 120, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", self.script(body)],
            env=self.env(**extra), capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def popen(self, body: str, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            ["bash", "-c", self.script(body)], env=self.env(**extra),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def webui_env(self) -> dict[str, str]:
        done = self.run("webui_env")
        if done.returncode:
            raise RuntimeError(f"webui_env failed:\n{done.stderr}")
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if line)


# ---------------------------------------------------------------- Open WebUI


@dataclass
class WebUI:
    """One Open WebUI server (``open-webui serve``) with its own data folder."""

    name: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return RUN / f"webui-{self.name}.log"

    def start(self) -> None:
        data = RUN / f"webui-{self.name}"
        data.mkdir(parents=True, exist_ok=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "E2E_"))},
            **self.env,
            "DATA_DIR": str(data),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = subprocess.Popen(
            [str(WEBUI_BIN), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, cwd=data, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        _track(f"webui-{self.name}", self.proc)

    def wait_ready(self, timeout: float = 300) -> None:
        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"Open WebUI {self.name} exited; see {self.log}")
            return requests.get(f"{self.url}/ready", timeout=5).status_code == 200

        wait_for(ready, timeout, f"Open WebUI {self.name} /ready", interval=1)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, timeout=30)
            _untrack(f"webui-{self.name}")
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
        self.wait_ready()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # -- API helpers

    def sign_in(self, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
        r = requests.post(
            f"{self.url}/api/v1/auths/signin",
            json={"email": email, "password": password},
            timeout=30,
        )
        r.raise_for_status()
        return str(r.json()["token"])

    def call(
        self, method: str, path: str, token: str | None = None, **kw: Any
    ) -> requests.Response:
        headers = dict(kw.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kw)

    def enable_api_keys(self, admin_token: str) -> None:
        """Admin Settings > General > API keys on, and the API-keys feature for users."""
        cfg = self.call("GET", "/api/v1/auths/admin/config", admin_token)
        cfg.raise_for_status()
        body = {**cfg.json(), "ENABLE_API_KEYS": True}
        self.call("POST", "/api/v1/auths/admin/config", admin_token, json=body).raise_for_status()
        perms = self.call("GET", "/api/v1/users/default/permissions", admin_token)
        perms.raise_for_status()
        p = perms.json()
        p.setdefault("features", {})["api_keys"] = True
        self.call(
            "POST", "/api/v1/users/default/permissions", admin_token, json=p
        ).raise_for_status()

    def add_user(self, admin_token: str, email: str, password: str, role: str = "user") -> str:
        r = self.call(
            "POST",
            "/api/v1/auths/add",
            admin_token,
            json={"name": email.split("@")[0], "email": email, "password": password, "role": role},
        )
        r.raise_for_status()
        return str(r.json()["id"])

    def make_api_key(self, token: str) -> str:
        r = self.call("POST", "/api/v1/auths/api_key", token)
        r.raise_for_status()
        return str(r.json()["api_key"])


# ---------------------------------------------------------------- the whole tier

STACK = "staging"
ALIASES = ["chat.example.com", "ai.example.com", "llm.example.org"]
CF_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0c6b1f4e-e2e0-4c6b-9d7e-1a2b3c4d5e6f"


def skip_reason() -> str | None:
    if os.environ.get("E2E_LOCAL") != "1":
        return "the real-application tier runs only through `make e2e-local`"
    return installed()


def stack_config_values() -> dict[str, object]:
    """The staging stack with three domain aliases (item 6 needs several)."""
    from harness import override, stack_values

    return override(
        stack_values(STACK), "edge", domain_aliases=ALIASES, cloudfront_certificate_arn=CF_CERT
    )


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)

    def add(self, test: str, text: str) -> None:
        self.lines.append(f"## {test}\n\n{text.rstrip()}\n")
        print(f"\n[finding] {test}: {text}")


@dataclass
class Fleet:
    a: WebUI
    b: WebUI
    admin_token: str
    env: dict[str, str]


def planned_boot(
    stack: str, values: Mapping[str, Any]
) -> tuple[str, dict[str, str], dict[str, str]]:
    """(boot script, boot.env, webui/* parameters) of the user data the program renders."""
    from harness import run_program
    from test_edge import inputs
    from test_userdata import boot_env, embedded_scripts, user_data_of

    ev = run_program(stack, dict(values))
    text = user_data_of(ev)
    settings = boot_env(text)
    prefix = settings["PARAMETER_PREFIX"] + "/webui/"
    params: dict[str, str] = {}
    for record in ev.of_type("aws:ssm/parameter:Parameter"):
        spec = inputs(record)
        name = str(spec.get("name", ""))
        if name.startswith(prefix):
            params[name.removeprefix(prefix)] = str(spec.get("value"))
    return embedded_scripts(text)["ollama-boot.sh"], settings, params


@dataclass
class Tier:
    """Everything but the Open WebUI servers; servers come from ``cluster``."""

    boot: Boot
    postgres: Postgres
    redis: Redis
    moto_url: str
    fake: Any  # FakeOllama
    planned_params: dict[str, str]
    servers: list[WebUI] = field(default_factory=list)

    def seed(self, database: str) -> None:
        """What the data, cache and edge components leave in SSM and Secrets Manager."""
        import boto3

        s = self.boot.settings
        env_name = s["OLLAMA_ENV"]
        kw: dict[str, Any] = {
            "endpoint_url": self.moto_url,
            "region_name": REGION,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        ssm, sm, s3 = (
            boto3.client("ssm", **kw),
            boto3.client("secretsmanager", **kw),
            boto3.client("s3", **kw),
        )
        prefix, sprefix = s["PARAMETER_PREFIX"], s["SECRET_PREFIX"]
        db_secret = f"rds!db-e2e-{database}"

        def secret(name: str, value: Any) -> None:
            text = value if isinstance(value, str) else json.dumps(value)
            try:
                sm.create_secret(Name=name, SecretString=text)
            except sm.exceptions.ResourceExistsException:
                sm.put_secret_value(SecretId=name, SecretString=text)

        def param(name: str, value: Any) -> None:
            text = value if isinstance(value, str) else json.dumps(value)
            ssm.put_parameter(Name=f"{prefix}/{name}", Value=text, Type="String", Overwrite=True)

        secret(f"{sprefix}webui-secret-key", SECRET_KEY)
        secret(f"{sprefix}webui-admin", {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        secret(f"{sprefix}redis-auth", REDIS_PASSWORD)
        secret(db_secret, {"username": MASTER_USER, "password": MASTER_PASSWORD})
        bucket = f"ollama-storage-{env_name}-123456789012"
        s3.create_bucket(Bucket=bucket)
        # The catalog table (the boot reads models from it; a first-start lock may live in it).
        from harness import CATALOG_TABLE

        ddb = boto3.client("dynamodb", **kw)
        table = s["CATALOG_TABLE"]
        if table not in ddb.list_tables()["TableNames"]:
            ddb.create_table(
                TableName=table,
                **CATALOG_TABLE,
            )
        for name, value in self.planned_params.items():
            param(f"webui/{name}", value)
        # The database: the master login (RDS-managed secret) and the application login
        # ``<prefix>webui-db`` the parameter names. The stack's first rotation (rotate
        # immediately) creates the alternating logins; the tier runs it before any server starts.
        master_arn = sm.describe_secret(SecretId=db_secret)["ARN"]
        app_arn, created = self.app_login_secret(database, master_arn)
        seeded = {"host": "127.0.0.1", "port": self.postgres.port, "dbname": database,
                  "secret_arn": app_arn}  # fmt: skip
        planned = self.planned_params.get("database")
        if planned is not None and set(json.loads(planned)) != set(seeded):
            raise RuntimeError(
                f"the stack's webui/database has keys {sorted(json.loads(planned))}, the tier "
                f"seeds {sorted(seeded)}: make the tier seed what the stack writes"
            )
        if planned is not None and f":secret:{self.app_login_name}" not in planned:
            raise RuntimeError(f"the stack's webui/database names another secret: {planned}")
        param("webui/database", seeded)
        if created:
            self.rotate_login(database)
        else:
            # One login pair serves the tier (one stack's PostgreSQL); another database gets
            # what the first rotation gives a stack's database, without rotating the logins
            # the running servers use.
            self.prepare_database(database)
        param("webui/redis", {"host": "127.0.0.1", "port": self.redis.port, "tls": False})
        param("webui/storage", {"bucket": bucket, "prefix": "open-webui/", "region": REGION})

    def _secrets(self) -> Any:
        import boto3

        return boto3.client(
            "secretsmanager", endpoint_url=self.moto_url, region_name=REGION,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    @property
    def app_login_name(self) -> str:
        return f"{self.boot.settings['SECRET_PREFIX']}webui-db"

    def app_login_secret(self, database: str, master_arn: str) -> tuple[str, bool]:
        """``<prefix>webui-db`` as the stack creates it (first version only: the rotation owns
        every later one), with rotation configured; returns its ARN and whether it is new."""
        from ollama_infra.rotation import db_users

        sm, name = self._secrets(), self.app_login_name
        try:
            return str(sm.describe_secret(SecretId=name)["ARN"]), False
        except sm.exceptions.ResourceNotFoundException:
            pass
        value = {
            "engine": "postgres", "host": "127.0.0.1", "port": self.postgres.port,
            "dbname": database, "username": db_users.APP_USER,
            "password": "initial-app-login-password-never-created", "masterarn": master_arn,
        }  # fmt: skip
        arn = str(sm.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])
        sm.rotate_secret(
            SecretId=arn,
            RotationLambdaARN=self._rotation_function(),
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
        return arn, True

    def prepare_database(self, database: str) -> None:
        """The rotation's ownership statements (owner role, pgvector, schema) on ``database``,
        run with the master login as its setSecret step runs them."""
        from ollama_infra.rotation import db_users

        conn = pg_connect(
            {"host": "127.0.0.1", "port": self.postgres.port, "dbname": database,
             "username": MASTER_USER, "password": MASTER_PASSWORD},
        )  # fmt: skip
        try:
            for statement in db_users.ownership_statements(MASTER_USER, database):
                conn.run(statement)
        finally:
            conn.close()

    def _rotation_function(self) -> str:
        """TEST DOUBLE: a placeholder function in moto, so rotation is configured; the tier
        runs the rotation's steps itself (``rotate_login``), as Secrets Manager would."""
        import io
        import zipfile

        import boto3

        kw: dict[str, Any] = {
            "endpoint_url": self.moto_url, "region_name": REGION,
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing",
        }  # fmt: skip
        role = boto3.client("iam", **kw).create_role(
            RoleName="db-rotation", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("db_users.py", "")
        return str(
            boto3.client("lambda", **kw).create_function(
                FunctionName="db-rotation", Runtime="python3.12", Role=role,
                Handler="db_users.lambda_handler", Code={"ZipFile": archive.getvalue()},
            )["FunctionArn"]
        )  # fmt: skip

    def rotate_login(self, database: str) -> str:
        """One rotation of the application login, the four steps of the Secrets Manager
        contract run by the rotation's own code against this PostgreSQL with the pinned
        driver; returns the new AWSCURRENT version id."""
        import uuid

        from ollama_infra.rotation import db_users

        sm = self._secrets()
        master_arn = sm.describe_secret(SecretId=f"rds!db-e2e-{database}")["ARN"]
        settings = db_users.Settings("127.0.0.1", self.postgres.port, database, master_arn)
        token = str(uuid.uuid4())
        arn = sm.describe_secret(SecretId=self.app_login_name)["ARN"]
        # The service labels the new version AWSPENDING before its first call; createSecret
        # writes that version, so the tier calls it directly (as the rotation's unit tests do).
        db_users.create_secret(sm, arn, token, settings)
        for step in db_users.STEPS[1:]:
            event = {"SecretId": arn, "ClientRequestToken": token, "Step": step}
            db_users.rotate(sm, event, pg_connect, settings)
        return token

    def app_login(self, stage: str = "AWSCURRENT") -> dict[str, Any]:
        value = self._secrets().get_secret_value(SecretId=self.app_login_name, VersionStage=stage)
        return dict(json.loads(value["SecretString"]))

    def server_env(self, database: str) -> dict[str, str]:
        self.seed(database)
        return self.render_env()

    def render_env(self) -> dict[str, str]:
        """The servers' environment from the current parameters and secrets (what the boot's
        ``webui_env`` renders at boot and at each ``follow-secrets`` check), plus the tier's."""
        env = self.boot.webui_env()
        return {
            **env,
            **TIER_SETTINGS,
            "OLLAMA_BASE_URL": self.fake.url,
            "S3_ENDPOINT_URL": self.moto_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }

    def fresh_database(self, database: str) -> dict[str, str]:
        """An empty database (and an empty Redis); returns the servers' environment for it."""
        self.postgres.create_database(database)
        self.redis.cli("FLUSHALL")
        return self.server_env(database)

    def server(self, name: str, env: dict[str, str]) -> WebUI:
        server = WebUI(name, env)
        self.servers.append(server)
        return server

    def stop_servers(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()


def _moto_current_follows_the_label() -> None:
    """TEST DOUBLE fix: moto 5 moves the AWSCURRENT label in UpdateSecretVersionStage but
    keeps answering GetSecretValue without a stage from the old version; Secrets Manager
    answers from the AWSCURRENT version (what the boot's ``get_secret`` reads). The tier's
    moto runs in this process, so its backend is corrected here."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage
    if getattr(original, "_tier_fixed", False):
        return

    def update(self: Any, secret_id: str, version_stage: str, *args: Any, **kw: Any) -> Any:
        result = original(self, secret_id, version_stage, *args, **kw)
        if version_stage == "AWSCURRENT":
            secret = self.secrets[secret_id]
            for version_id, version in secret.versions.items():
                if "AWSCURRENT" in version["version_stages"]:
                    secret.default_version_id = version_id
        return result

    update._tier_fixed = True  # type: ignore[attr-defined]
    SecretsManagerBackend.update_secret_version_stage = update  # type: ignore[method-assign]


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(f"terminated by signal {signum}")


@contextmanager
def running_tier(stack: str, values: Mapping[str, Any]) -> Iterator[Tier]:
    """PostgreSQL, Redis, moto and the fake Ollama for one test session; all stopped after."""
    from fakes.fake_ollama import FakeConfig, FakeOllama
    from moto.server import ThreadedMotoServer

    RUN.mkdir(parents=True, exist_ok=True)
    # A SIGTERM (a timeout, a stopped job) unwinds like an error, so the finally below runs.
    signal.signal(signal.SIGTERM, _terminate)
    for stale in RUN.glob("webui-*"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink()
    script, settings, params = planned_boot(stack, values)
    _moto_current_follows_the_label()
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    fake = FakeOllama(FakeConfig(model=MODEL, first_token_delay_s=0.1, token_interval_s=0.02))
    fake.start()
    postgres, redis = Postgres(), Redis()
    tier = Tier(
        Boot(
            boot_functions(script), settings, f"http://127.0.0.1:{moto_port}", boot_globals(script)
        ),
        postgres, redis, f"http://127.0.0.1:{moto_port}", fake, params,
    )  # fmt: skip
    try:
        postgres.init()
        postgres.start()
        redis.start()
        yield tier
    finally:
        tier.stop_servers()
        redis.stop()
        postgres.stop()
        fake.stop()
        moto.stop()
