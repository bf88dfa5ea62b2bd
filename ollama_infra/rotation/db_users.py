"""Secrets Manager rotation function of Open WebUI's database user: alternating users.

The secret ``ollama/<env>/webui-db`` holds one login (``username``, ``password``) of two
that take turns: ``webui_app`` and ``webui_app_clone``. Each rotation sets a new password on
the login that is *not* current and makes it current, so the login the instances use keeps
working until the rotation after next: the fleet has a whole rotation interval to follow
(``ollama-boot.sh follow-secrets``), and pooled connections never see a changed password.

Both logins are members of the owner role ``webui_owner`` and act as it (``ALTER ROLE ...
SET role``), so the tables Open WebUI creates and migrates belong to one role whichever login
created them. The master user (RDS-managed secret, rotated by RDS) is used here only, to
create and alter those roles; the instances never read it.

The Secrets Manager contract (docs/UPSTREAM.md): the service calls the function four times
per rotation with ``Step`` = createSecret, setSecret, testSecret, finishSecret, the secret and
a ``ClientRequestToken`` that is the id of the new (AWSPENDING) version; finishSecret moves
AWSCURRENT to it (the old version becomes AWSPREVIOUS). Every step is idempotent, because the
service retries a failed rotation.

Entry points: ``lambda_handler`` (AWS), and ``rotate(client, event, connect, settings)`` for
tests, which pass a Secrets Manager client and a ``connect`` that opens a real or a fake
PostgreSQL connection (anything with ``run(sql)`` and ``close()``). The testSecret step is
``verify_secret``, so test collectors do not mistake it for a test.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

APP_USER = "webui_app"
CLONE_SUFFIX = "_clone"
OWNER_ROLE = "webui_owner"
CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# Characters left out of generated passwords: they need escaping in a URL or in SQL.
EXCLUDED_CHARACTERS = "/@\"'\\:?#[]%&+;=`$ "
PASSWORD_LENGTH = 40
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables, views and sequences in schema public that the master owns go to the owner role;
# format() quotes each name with %I.
_OWN_TABLES = (
    "DO $$ DECLARE r record; BEGIN "
    "FOR r IN SELECT c.relname, c.relkind FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = @MASTER@ "
    "AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') LOOP "
    "EXECUTE format('ALTER %s public.%I OWNER TO webui_owner', "
    "CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' "
    "WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, r.relname); "
    "END LOOP; END $$"
)


class Connection(Protocol):
    """What the steps need of a PostgreSQL connection (pg8000.native.Connection has it)."""

    def run(self, sql: str) -> Any: ...

    def close(self) -> None: ...


Connect = Callable[[Mapping[str, Any]], Connection]


@dataclass(frozen=True)
class Settings:
    """Where the database is; the function's environment (set by the stack) wins over the
    secret, so a replaced database is followed at the next rotation."""

    host: str
    port: int
    dbname: str
    master_secret_arn: str

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            host=env["DB_HOST"],
            port=int(env["DB_PORT"]),
            dbname=env["DB_NAME"],
            master_secret_arn=env["MASTER_SECRET_ARN"],
        )


def ident(name: str) -> str:
    """A role or database name, double-quoted; refuses anything but plain lowercase names."""
    if not _IDENT.match(name):
        raise ValueError(f"refusing unexpected SQL identifier {name!r}")
    return f'"{name}"'


def literal(value: str) -> str:
    """A string literal (standard_conforming_strings is on in PostgreSQL since 9.1)."""
    if "\x00" in value:
        raise ValueError("a string literal cannot contain NUL")
    return "'" + value.replace("'", "''") + "'"


def alternate(username: str) -> str:
    """The other login of the pair."""
    if username == APP_USER:
        return APP_USER + CLONE_SUFFIX
    if username == APP_USER + CLONE_SUFFIX:
        return APP_USER
    raise ValueError(f"the secret names user {username!r}, not {APP_USER} or its clone")


def _get(client: Any, secret_id: str, stage: str, token: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"SecretId": secret_id, "VersionStage": stage}
    if token:
        kwargs["VersionId"] = token
    value: dict[str, Any] = json.loads(client.get_secret_value(**kwargs)["SecretString"])
    for key in ("username", "password"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise ValueError(f"secret {secret_id} ({stage}) has no {key}")
    return value


def _login(value: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "dbname": settings.dbname,
        "username": value["username"],
        "password": value["password"],
    }


def create_secret(client: Any, secret_id: str, token: str, settings: Settings) -> None:
    """AWSPENDING: the other login with a new password (kept if it already exists)."""
    current = _get(client, secret_id, CURRENT)
    try:
        _get(client, secret_id, PENDING, token)
        LOG.info("createSecret: version %s already exists", token)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    password = client.get_random_password(
        PasswordLength=PASSWORD_LENGTH, ExcludeCharacters=EXCLUDED_CHARACTERS
    )["RandomPassword"]
    pending = {
        **current,
        "engine": "postgres",
        "host": settings.host,
        "port": settings.port,
        "dbname": settings.dbname,
        "username": alternate(current["username"]),
        "password": password,
        "masterarn": settings.master_secret_arn,
    }
    client.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=json.dumps(pending),
        VersionStages=[PENDING],
    )
    LOG.info("createSecret: new password for %s in version %s", pending["username"], token)


def _role_exists(conn: Connection, name: str) -> bool:
    rows = conn.run(f"SELECT 1 FROM pg_roles WHERE rolname = {literal(name)}")  # noqa: S608
    return bool(rows)


def _ensure_login(conn: Connection, username: str, password: str) -> None:
    verb = "ALTER" if _role_exists(conn, username) else "CREATE"
    conn.run(f"{verb} ROLE {ident(username)} WITH LOGIN PASSWORD {literal(password)}")
    conn.run(f"GRANT {ident(OWNER_ROLE)} TO {ident(username)}")
    # Objects the login creates belong to the owner role, whichever login runs a migration.
    conn.run(f"ALTER ROLE {ident(username)} SET role TO {ident(OWNER_ROLE)}")


def ownership_statements(master: str, dbname: str) -> list[str]:
    """Give the owner role the database's schema and everything in it that the master owns
    (a stack that ran Open WebUI as the master user before), and create pgvector as master,
    so the application logins need no elevated privileges. Idempotent."""
    owner, db = ident(OWNER_ROLE), ident(dbname)
    # Names pass ident()/literal(); the format() inside the DO block quotes with %I.
    return [
        f"GRANT {owner} TO {ident(master)}",
        f"GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {db} TO {owner}",
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"ALTER SCHEMA public OWNER TO {owner}",
        _OWN_TABLES.replace("@MASTER@", literal(master)),
    ]


def set_secret(
    client: Any, secret_id: str, token: str, settings: Settings, connect: Connect
) -> None:
    """With the master login: the owner role, the pending login's password, and (first
    rotation only) the current login if it does not exist yet."""
    current = _get(client, secret_id, CURRENT)
    pending = _get(client, secret_id, PENDING, token)
    master = _get(client, settings.master_secret_arn, CURRENT)
    conn = connect(_login(master, settings))
    try:
        if not _role_exists(conn, OWNER_ROLE):
            conn.run(f"CREATE ROLE {ident(OWNER_ROLE)} NOLOGIN")
        for statement in ownership_statements(master["username"], settings.dbname):
            conn.run(statement)
        if not _role_exists(conn, current["username"]):
            # The stack's first rotation: the initial value names a login nobody created.
            _ensure_login(conn, current["username"], current["password"])
        _ensure_login(conn, pending["username"], pending["password"])
    finally:
        conn.close()
    LOG.info("setSecret: %s has the password of version %s", pending["username"], token)


def verify_secret(
    client: Any, secret_id: str, token: str, settings: Settings, connect: Connect
) -> None:
    """The pending login signs in and acts as the owner role."""
    pending = _get(client, secret_id, PENDING, token)
    conn = connect(_login(pending, settings))
    try:
        rows = conn.run("SELECT current_user")
    finally:
        conn.close()
    if not rows or rows[0][0] != OWNER_ROLE:
        raise ValueError(f"testSecret: {pending['username']} does not act as {OWNER_ROLE}")
    LOG.info("testSecret: %s signs in", pending["username"])


def finish_secret(client: Any, secret_id: str, token: str) -> None:
    """AWSCURRENT moves to the new version; the old one becomes AWSPREVIOUS."""
    versions = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    current = next((v for v, stages in versions.items() if CURRENT in stages), None)
    if current == token:
        LOG.info("finishSecret: version %s is already AWSCURRENT", token)
        return
    move: dict[str, str] = {"MoveToVersionId": token}
    if current:
        move["RemoveFromVersionId"] = current
    client.update_secret_version_stage(SecretId=secret_id, VersionStage=CURRENT, **move)
    LOG.info("finishSecret: version %s is AWSCURRENT", token)


def rotate(client: Any, event: Mapping[str, Any], connect: Connect, settings: Settings) -> None:
    """One step of the contract, after checking the event against the secret's versions."""
    secret_id, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if step not in STEPS:
        raise ValueError(f"unknown rotation step {step!r}; expected one of {', '.join(STEPS)}")
    metadata = client.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"secret {secret_id} does not have rotation enabled")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError(f"secret {secret_id} has no version {token}")
    if CURRENT in stages[token]:
        LOG.info("version %s is already AWSCURRENT; nothing to do", token)
        return
    if PENDING not in stages[token]:
        raise ValueError(f"version {token} of {secret_id} is not AWSPENDING")
    if step == "createSecret":
        create_secret(client, secret_id, token, settings)
    elif step == "setSecret":
        set_secret(client, secret_id, token, settings, connect)
    elif step == "testSecret":
        verify_secret(client, secret_id, token, settings, connect)
    else:
        finish_secret(client, secret_id, token)


def pg8000_connect(login: Mapping[str, Any]) -> Connection:  # pragma: no cover - AWS only
    """A TLS connection through the bundled driver (the database refuses plain text)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "vendor"))
    import pg8000.native

    settings: dict[str, Any] = {
        "user": login["username"],
        "password": login["password"],
        "host": login["host"],
        "port": int(login["port"]),
        "database": login["dbname"],
        "ssl_context": True,
        "timeout": 10,
    }
    conn: Connection = pg8000.native.Connection(**settings)
    return conn


def lambda_handler(event: Mapping[str, Any], context: Any) -> None:  # pragma: no cover
    import boto3  # the Lambda runtime provides it

    endpoint = os.environ.get("SECRETS_MANAGER_ENDPOINT")
    client = boto3.client("secretsmanager", endpoint_url=endpoint or None)
    rotate(client, event, pg8000_connect, Settings.from_environment())
