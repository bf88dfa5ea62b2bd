"""The database user rotation function (ollama_infra/rotation/db_users.py) against moto's
Secrets Manager and a FakePostgres TEST DOUBLE that keeps roles and passwords the way
PostgreSQL does for the statements the function sends (and refuses a wrong password).

The property that matters for the fleet: after any number of rotations, the login in
AWSPREVIOUS still signs in with its password, so an instance that has not followed yet keeps
working until the rotation after next (issue: 7 of 12 requests failed on a changed password).
"""

from __future__ import annotations

import io
import json
import re
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ollama_infra.rotation import db_users

REGION = "us-east-1"
SETTINGS = db_users.Settings(
    host="ollama-webui-db-dev.abc.us-east-1.rds.amazonaws.com",
    port=5432,
    dbname="openwebui",
    master_secret_arn="",  # filled per test
)
MASTER = "openwebui"
FIRST_PW = "initial-pw"  # the login's first version (test double value)


class FakePostgres:
    """TEST DOUBLE of a PostgreSQL server: roles, passwords, memberships, ``SET role``."""

    def __init__(self, master_password: str) -> None:
        self.passwords: dict[str, str | None] = {MASTER: master_password}
        self.members: dict[str, set[str]] = {}
        self.default_role: dict[str, str] = {}
        self.statements: list[str] = []

    def connect(self, login: Mapping[str, Any]) -> FakeConnection:
        user, password = login["username"], login["password"]
        if self.passwords.get(user) is None or self.passwords[user] != password:
            raise PermissionError(f'password authentication failed for user "{user}"')
        return FakeConnection(self, user)


_PASSWORD = re.compile(r'^(CREATE|ALTER) ROLE "(\w+)" WITH LOGIN PASSWORD \'((?:[^\']|\'\')*)\'$')


class FakeConnection:
    def __init__(self, server: FakePostgres, user: str) -> None:
        self.server, self.user, self.closed = server, user, False

    def run(self, sql: str) -> Any:
        assert not self.closed
        server = self.server
        server.statements.append(sql)
        if found := re.match(r"^SELECT 1 FROM pg_roles WHERE rolname = '(\w+)'$", sql):
            return [[1]] if found.group(1) in server.passwords else []
        if sql == "SELECT current_user":
            return [[server.default_role.get(self.user, self.user)]]
        if self.user != MASTER:
            raise PermissionError("only the master user manages roles in this double")
        if found := re.match(r'^CREATE ROLE "(\w+)" NOLOGIN$', sql):
            assert found.group(1) not in server.passwords, "role exists"
            server.passwords[found.group(1)] = None
        elif found := _PASSWORD.match(sql):
            verb, role, password = found.groups()
            assert (verb == "ALTER") == (role in server.passwords), f"{verb} of {role}"
            server.passwords[role] = password.replace("''", "'")
        elif found := re.match(r'^GRANT "(\w+)" TO "(\w+)"$', sql):
            server.members.setdefault(found.group(2), set()).add(found.group(1))
        elif found := re.match(r'^ALTER ROLE "(\w+)" SET role TO "(\w+)"$', sql):
            assert found.group(2) in server.members.get(found.group(1), set())
            server.default_role[found.group(1)] = found.group(2)
        return []

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def sm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def _stack(sm: Any, initial_user: str = db_users.APP_USER) -> tuple[str, db_users.Settings]:
    master = sm.create_secret(
        Name="rds!db-1234", SecretString=json.dumps({"username": MASTER, "password": "m-pw"})
    )["ARN"]
    login = json.dumps(dict(username=initial_user, password=FIRST_PW))
    app = sm.create_secret(Name="ollama/dev/webui-db", SecretString=login)["ARN"]
    # Rotation configured with a function (never invoked here: the tests call the steps).
    sm.rotate_secret(
        SecretId=app,
        RotationLambdaARN=_function(),
        RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )
    settings = db_users.Settings(
        SETTINGS.host, SETTINGS.port, SETTINGS.dbname, master_secret_arn=master
    )
    return app, settings


def _function() -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(
        RoleName="rotation", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("db_users.py", "")
    return str(
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="rotation",
            Runtime="python3.12",
            Role=role,
            Handler="db_users.lambda_handler",
            Code={"ZipFile": archive.getvalue()},
        )["FunctionArn"]
    )


def _rotate(sm: Any, app: str, db: FakePostgres, settings: db_users.Settings) -> str:
    """What the service does: a pending version id, then the four steps in order."""
    token = str(uuid.uuid4())
    for step in db_users.STEPS:
        event = {"SecretId": app, "ClientRequestToken": token, "Step": step}
        if step == "createSecret":
            # The service creates the AWSPENDING label on the token before the first call.
            db_users.create_secret(sm, app, token, settings)
            continue
        db_users.rotate(sm, event, db.connect, settings)
    return token


def _value(sm: Any, app: str, stage: str) -> dict[str, Any]:
    return json.loads(sm.get_secret_value(SecretId=app, VersionStage=stage)["SecretString"])


def test_first_rotation_creates_both_logins_acting_as_the_owner(sm: Any) -> None:
    app, settings = _stack(sm)
    db = FakePostgres("m-pw")
    _rotate(sm, app, db, settings)
    current, previous = _value(sm, app, "AWSCURRENT"), _value(sm, app, "AWSPREVIOUS")
    assert current["username"] == "webui_app_clone"
    assert previous["username"] == "webui_app"
    assert current["host"] == settings.host and current["masterarn"] == settings.master_secret_arn
    for login in (current, previous):
        conn = db.connect(login)
        assert conn.run("SELECT current_user") == [[db_users.OWNER_ROLE]]
    assert db.passwords[db_users.OWNER_ROLE] is None  # NOLOGIN
    assert "CREATE EXTENSION IF NOT EXISTS vector" in db.statements


def test_previous_login_keeps_working_until_the_rotation_after_next(sm: Any) -> None:
    """The fleet's window: an instance on AWSPREVIOUS still signs in after a rotation."""
    app, settings = _stack(sm)
    db = FakePostgres("m-pw")
    _rotate(sm, app, db, settings)
    for _ in range(4):
        before = _value(sm, app, "AWSCURRENT")
        _rotate(sm, app, db, settings)
        after = _value(sm, app, "AWSCURRENT")
        assert after["username"] == db_users.alternate(before["username"])
        assert after["password"] != before["password"]
        db.connect(before).close()  # what running instances still use: valid
        db.connect(after).close()
        assert _value(sm, app, "AWSPREVIOUS") == before


def test_a_single_user_rotation_would_break_the_previous_login(sm: Any) -> None:
    """The failure the strategy avoids, shown on the double: a login whose password changed
    refuses the old one (what the fleet saw with the rotated master password)."""
    db = FakePostgres("m-pw")
    conn = db.connect({"username": MASTER, "password": "m-pw"})
    conn.run(f'CREATE ROLE "webui_app" WITH LOGIN PASSWORD {db_users.literal("a")}')
    conn.run(f'ALTER ROLE "webui_app" WITH LOGIN PASSWORD {db_users.literal("b")}')
    with pytest.raises(PermissionError, match="password authentication failed"):
        db.connect({"username": "webui_app", "password": "a"})


def test_steps_are_idempotent_when_the_service_retries(sm: Any) -> None:
    app, settings = _stack(sm)
    db = FakePostgres("m-pw")
    token = str(uuid.uuid4())
    db_users.create_secret(sm, app, token, settings)
    pending = _value_by_token(sm, app, token)
    db_users.create_secret(sm, app, token, settings)  # retried: same password kept
    assert _value_by_token(sm, app, token) == pending
    for step in ("setSecret", "setSecret", "testSecret", "finishSecret"):
        db_users.rotate(
            sm, {"SecretId": app, "ClientRequestToken": token, "Step": step}, db.connect, settings
        )
    # Once AWSCURRENT, a repeated step changes nothing.
    statements = len(db.statements)
    db_users.rotate(
        sm,
        {"SecretId": app, "ClientRequestToken": token, "Step": "setSecret"},
        db.connect,
        settings,
    )
    assert len(db.statements) == statements
    assert _value(sm, app, "AWSCURRENT") == pending


def _value_by_token(sm: Any, app: str, token: str) -> dict[str, Any]:
    return json.loads(sm.get_secret_value(SecretId=app, VersionId=token)["SecretString"])


def test_test_step_fails_when_the_pending_password_was_not_set(sm: Any) -> None:
    """testSecret signs in with the pending login: a skipped setSecret is caught there."""
    app, settings = _stack(sm)
    db = FakePostgres("m-pw")
    token = str(uuid.uuid4())
    db_users.create_secret(sm, app, token, settings)
    with pytest.raises(PermissionError, match="password authentication failed"):
        db_users.rotate(
            sm,
            {"SecretId": app, "ClientRequestToken": token, "Step": "testSecret"},
            db.connect,
            settings,
        )
    assert _value(sm, app, "AWSCURRENT")["username"] == "webui_app"  # nothing switched


def test_events_that_break_the_contract_are_refused(sm: Any) -> None:
    app, settings = _stack(sm)
    db = FakePostgres("m-pw")
    current = sm.describe_secret(SecretId=app)["VersionIdsToStages"]
    with pytest.raises(ValueError, match="unknown rotation step"):
        db_users.rotate(
            sm,
            {"SecretId": app, "ClientRequestToken": "x", "Step": "dropUser"},
            db.connect,
            settings,
        )
    with pytest.raises(ValueError, match="has no version"):
        db_users.rotate(
            sm,
            {"SecretId": app, "ClientRequestToken": "nope", "Step": "setSecret"},
            db.connect,
            settings,
        )
    (version,) = [v for v, stages in current.items() if "AWSCURRENT" in stages]
    # A version that is AWSCURRENT: nothing to do, nothing touched.
    db_users.rotate(
        sm,
        {"SecretId": app, "ClientRequestToken": version, "Step": "setSecret"},
        db.connect,
        settings,
    )
    assert db.statements == []
    sm.cancel_rotate_secret(SecretId=app)
    with pytest.raises(ValueError, match="does not have rotation enabled"):
        db_users.rotate(
            sm,
            {"SecretId": app, "ClientRequestToken": version, "Step": "setSecret"},
            db.connect,
            settings,
        )


def test_a_secret_naming_another_user_is_refused(sm: Any) -> None:
    app, settings = _stack(sm, initial_user="postgres")
    with pytest.raises(ValueError, match="not webui_app or its clone"):
        db_users.create_secret(sm, app, str(uuid.uuid4()), settings)


@pytest.mark.parametrize("name", ['a"b', "Robert'); DROP", "x y", "", "A"])
def test_identifiers_outside_plain_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="unexpected SQL identifier"):
        db_users.ident(name)


def test_literals_double_their_quotes() -> None:
    assert db_users.literal("it's") == "'it''s'"
    with pytest.raises(ValueError):
        db_users.literal("a\x00b")


def test_settings_come_from_the_function_environment() -> None:
    env = {"DB_HOST": "h", "DB_PORT": "5432", "DB_NAME": "openwebui", "MASTER_SECRET_ARN": "m"}
    assert db_users.Settings.from_environment(env) == db_users.Settings("h", 5432, "openwebui", "m")
    with pytest.raises(KeyError):
        db_users.Settings.from_environment({})


def test_tables_the_master_owns_move_to_the_owner_role() -> None:
    """A stack that ran Open WebUI as the master keeps its tables usable by the new logins."""
    statements = db_users.ownership_statements("openwebui", "openwebui")
    moves = [s for s in statements if s.startswith("DO $$")]
    assert len(moves) == 1
    assert "pg_get_userbyid(c.relowner) = 'openwebui'" in moves[0]
    assert f"OWNER TO {db_users.OWNER_ROLE}'" in moves[0]
    assert statements[0] == 'GRANT "webui_owner" TO "openwebui"'  # master may hand over
