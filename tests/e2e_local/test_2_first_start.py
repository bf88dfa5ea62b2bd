"""Item 2 of the fleet issue: two servers started at the same moment on an empty database.

When the boot script defines ``first_start_lock_acquire`` / ``first_start_lock_release``, each
server's start is wrapped in them, as the boot does around Open WebUI's first start; without
them the two servers start unguarded. The race shows as two admins, as a server that dies at
start, or as migrations colliding (UniqueViolation in the logs); which one varies by timing."""

from __future__ import annotations

import threading

import pytest
from tier import ADMIN_EMAIL, Findings, Tier, WebUI

pytestmark = pytest.mark.e2e_local
DB = "first_start"


def start_guarded(tier: Tier, server: WebUI, gate: threading.Barrier, notes: list[str]) -> None:
    lock = tier.boot.has("first_start_lock_acquire") and tier.boot.has("first_start_lock_release")
    gate.wait()
    if lock:
        # One owner per server: acquire and release run in separate shells.
        owner = {"FIRST_START_LOCK_OWNER": f"e2e-{server.name}", "FIRST_START_LOCK_POLL": "1"}
        got = tier.boot.run("first_start_lock_acquire", timeout=900, **server.env, **owner)
        notes.append(
            f"{server.name}: lock acquire exit {got.returncode} {got.stderr.strip()[-300:]}"
        )
    server.start()
    server.wait_ready()
    if lock:
        done = tier.boot.run("first_start_lock_release", **server.env, **owner)
        notes.append(
            f"{server.name}: lock release exit {done.returncode} {done.stderr.strip()[-300:]}"
        )


def test_concurrent_first_start_creates_exactly_one_admin(tier: Tier, findings: Findings) -> None:
    env = tier.fresh_database(DB)
    servers = [tier.server(f"first-{n}", env) for n in (1, 2)]
    gate = threading.Barrier(len(servers))
    notes: list[str] = []
    errors: list[BaseException] = []

    def run(server: WebUI) -> None:
        try:
            start_guarded(tier, server, gate, notes)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(900)
    try:
        admins = tier.postgres.sql(
            "SELECT email FROM \"user\" WHERE role = 'admin' ORDER BY created_at", db=DB
        ).splitlines()
        violations = sum(s.log_text().count("UniqueViolation") for s in servers)
    finally:
        for s in servers:
            s.stop()
    lock = (
        "with"
        if tier.boot.has("first_start_lock_acquire")
        else "without (functions absent in the boot script)"
    )
    findings.add(
        "item 2: concurrent first start",
        f"started {lock} first_start_lock_*; admin rows: {len(admins)} {admins}; "
        f"UniqueViolation lines in the logs: {violations}; start errors: {errors or 'none'}"
        + ("".join(f"\n- {n}" for n in notes)),
    )
    assert not errors, errors
    assert admins == [ADMIN_EMAIL], f"expected exactly one admin, found {admins}"
    # A serialized first start runs the migrations once; racing ones collide on PostgreSQL's
    # catalog (logged as UniqueViolation and ignored, or fatal for the loser).
    assert violations == 0, f"{violations} UniqueViolation lines: the migrations raced"
