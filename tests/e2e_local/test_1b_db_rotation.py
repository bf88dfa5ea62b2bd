"""Item 1 of the fleet issue: the database login rotates and the fleet keeps working.

The servers run on the application login (``<prefix>webui-db``, the secret the
``webui/database`` parameter names), as the boot script renders DATABASE_URL. The rotation's
own code (ollama_infra/rotation/db_users.py) runs its four steps against the tier's PostgreSQL
with the master login and moto's Secrets Manager; a server follows the way
``ollama-boot.sh follow-secrets`` does: it renders the environment again and, when that
differs from what the server runs with, restarts the server with it.

Before (the issue, on the design where the instances used the master login): after a master
password change 7 of 12 concurrent keyed requests answered 500 and a restarted server died.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from tier import MASTER_PASSWORD, MASTER_USER, Findings, Fleet, Tier, WebUI, pg_connect

from ollama_infra.rotation import db_users

pytestmark = pytest.mark.e2e_local
DATABASE = "openwebui"  # the fleet's database (conftest.py)
PATHS = ("/api/v1/auths/", "/api/v1/chats/")


def login_of(env: dict[str, str]) -> tuple[str, str]:
    url = urlsplit(env["DATABASE_URL"])
    return unquote(url.username or ""), unquote(url.password or "")


def burst(servers: list[WebUI], key: str, n: int = 12) -> list[int]:
    """``n`` concurrent keyed requests spread over the servers; their status codes."""

    def one(i: int) -> int:
        server = servers[i % len(servers)]
        return server.call("GET", PATHS[i % len(PATHS)], key).status_code

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


class Load:
    """Keyed requests on both servers, without pause, while something happens."""

    def __init__(self, servers: list[WebUI], key: str) -> None:
        self.servers, self.key = servers, key
        self.statuses: list[int] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(4)]

    def _run(self, i: int) -> None:
        while not self._stop.is_set():
            server = self.servers[i % len(self.servers)]
            try:
                status = server.call("GET", PATHS[i % len(PATHS)], self.key).status_code
            except Exception:  # a refused connection counts as a failure
                status = 0
            self.statuses.append(status)

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(1)  # requests after the change, too
        self._stop.set()
        for t in self._threads:
            t.join(60)


def sessions(tier: Tier) -> set[str]:
    """The logins with sessions on the fleet's database (the master's own psql aside)."""
    where = f"datname = {db_users.literal(DATABASE)} AND pid <> pg_backend_pid()"
    rows = tier.postgres.sql(f"SELECT DISTINCT usename FROM pg_stat_activity WHERE {where}")  # noqa: S608
    return set(rows.split()) - {MASTER_USER}


def follow(tier: Tier, server: WebUI) -> bool:
    """What follow_secrets does on an instance: render, compare, restart when it differs."""
    content = tier.render_env()
    if content == server.env:
        return False
    server.env = content
    server.restart()
    return True


def signs_in(tier: Tier, user: str, password: str) -> bool:
    try:
        conn = pg_connect(
            {"host": "127.0.0.1", "port": tier.postgres.port, "dbname": DATABASE,
             "username": user, "password": password},
        )  # fmt: skip
    except Exception:  # pg8000 raises its own error on a refused login
        return False
    conn.close()
    return True


def set_master_password(tier: Tier, password: str, current: str) -> None:
    """What RDS does when it rotates the master secret: a new password and secret value."""
    import json

    conn = pg_connect(
        {"host": "127.0.0.1", "port": tier.postgres.port, "dbname": "postgres",
         "username": MASTER_USER, "password": current},
    )  # fmt: skip
    try:
        conn.run(f"ALTER ROLE {db_users.ident(MASTER_USER)} PASSWORD {db_users.literal(password)}")
    finally:
        conn.close()
    tier._secrets().put_secret_value(
        SecretId=f"rds!db-e2e-{DATABASE}",
        SecretString=json.dumps({"username": MASTER_USER, "password": password}),
    )


def test_rotation_keeps_the_fleet_working(fleet: Fleet, tier: Tier, findings: Findings) -> None:
    a, b = fleet.a, fleet.b
    found: dict[str, Any] = {}
    first_user, first_pw = login_of(fleet.env)
    current = tier.app_login()
    assert (first_user, first_pw) == (current["username"], current["password"]), (
        "the servers do not run on the application login the secret holds"
    )
    assert first_user in (db_users.APP_USER, db_users.APP_USER + db_users.CLONE_SUFFIX)
    assert sessions(tier) == {first_user}, sessions(tier)
    key = a.make_api_key(fleet.admin_token)
    found["before"] = burst([a, b], key)
    assert found["before"] == [200] * 12, found["before"]

    # The master password changes (RDS rotates its secret): the instances never used it, and
    # the rotation reads the master login from its secret. (The tier's own psql uses the
    # original master password, so it is restored right after rotation 1.)
    new_master = MASTER_PASSWORD + "-rotated"
    set_master_password(tier, new_master, MASTER_PASSWORD)
    master_changed = True
    try:
        found["after a master password change"] = burst([a, b], key)

        # Rotation 1, under load: the other login gets a new password and becomes current.
        with Load([a, b], key) as load:
            tier.rotate_login(DATABASE)
        found["during rotation 1"] = sorted(set(load.statuses))
        set_master_password(tier, MASTER_PASSWORD, new_master)
        master_changed = False
        second = tier.app_login()
        previous = tier.app_login("AWSPREVIOUS")
        assert second["username"] == db_users.alternate(first_user), second["username"]
        assert (previous["username"], previous["password"]) == (first_user, first_pw)
        found["after rotation 1"] = burst([a, b], key)

        # A server restarted before it follows still starts: the previous login is valid.
        b.restart()
        found["B restarted on the previous login"] = burst([a, b], key)

        # Following moves a server to the new login; then B follows too.
        assert follow(tier, a), "the rendered environment did not change after the rotation"
        assert login_of(a.env) == (second["username"], second["password"])
        assert not follow(tier, a), "a second follow restarted a server that is current"
        assert follow(tier, b)
        found["both followed"] = burst([a, b], key)
        found["sessions after following"] = sorted(sessions(tier))

        # Rotation 2: the first login gets a new password; the fleet is on the second.
        with Load([a, b], key) as load:
            tier.rotate_login(DATABASE)
        found["during rotation 2"] = sorted(set(load.statuses))
        third = tier.app_login()
        assert third["username"] == first_user and third["password"] != first_pw
        found["first login's old password after rotation 2"] = (
            "refused" if not signs_in(tier, first_user, first_pw) else "still accepted"
        )
        found["after rotation 2"] = burst([a, b], key)
        assert follow(tier, a)
        found["A followed rotation 2"] = burst([a, b], key)
    finally:
        if master_changed:
            set_master_password(tier, MASTER_PASSWORD, new_master)

    findings.add(
        "item 1: database login rotation",
        "servers on the application login "
        f"{first_user!r} (not the master); status codes per phase (12 concurrent keyed "
        f"requests on A and B; 'during' = every status seen under continuous load): {found}. "
        "Before (issue, master login in DATABASE_URL): 7 of 12 answered 500 after a master "
        "password change and a restarted server died.",
    )
    for phase, statuses in found.items():
        if phase.startswith(("before", "after", "during", "B restarted", "both", "A followed")):
            assert set(statuses) == {200}, f"{phase}: {statuses}"
    assert found["first login's old password after rotation 2"] == "refused"
    assert set(found["sessions after following"]) == {second["username"]}
