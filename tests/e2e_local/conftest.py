"""Fixtures of the real-application tier (``make e2e-local``); see tier.py.

The tier's tests are marked ``e2e_local`` and skip, with the reason, unless the tier is both
requested (``E2E_LOCAL=1``, set by ``scripts/e2e-local.sh``) and installed, so ``make test``
never starts a server. Fixtures for later tests (items 1 and 3 of the fleet issue):

* ``tier``: PostgreSQL (``tier.postgres.sql(query, db)`` runs SQL as the master user,
  ``stop()``/``start()``), Redis (``tier.redis.cli(...)``, ``stop()``/``start()``), moto
  (``tier.moto_url``), the fake Ollama (``tier.fake``, ``tier.fake.hits``), the boot script's
  functions (``tier.boot.run("function args")``, ``tier.boot.has(name)``) and
  ``tier.fresh_database(name)`` (an empty database; returns the servers' environment as the
  boot script renders it) and ``tier.server(name, env)`` (a stopped ``WebUI``).
* ``fleet``: servers ``a`` and ``b`` ready on one database, with ``admin_token``; each server
  has ``start``/``stop``/``restart``/``wait_ready``, ``sign_in``, ``call``, ``add_user``,
  ``make_api_key`` and ``enable_api_keys``.
* ``findings``: ``findings.add(test, text)`` writes what a test found to
  ``.e2e/findings.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from tier import (
    E2E_DIR,
    STACK,
    Findings,
    Fleet,
    Tier,
    running_tier,
    skip_reason,
    stack_config_values,
)

HERE = os.path.dirname(__file__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = skip_reason()
    if reason is None:
        return
    for item in items:
        if str(item.path).startswith(HERE):
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def findings() -> Iterator[Findings]:
    found = Findings()
    yield found
    (E2E_DIR / "findings.md").write_text(
        "# What the e2e-local tier found\n\n" + "\n".join(found.lines)
    )


@pytest.fixture(scope="session")
def tier() -> Iterator[Tier]:
    with running_tier(STACK, stack_config_values()) as t:
        yield t


@pytest.fixture(scope="session")
def fleet(tier: Tier) -> Fleet:
    """Two servers on one database; B starts after A is ready (the staggered start)."""
    env = tier.fresh_database("openwebui")
    a, b = tier.server("a", env), tier.server("b", env)
    a.start()
    a.wait_ready()
    b.start()
    b.wait_ready()
    token = a.sign_in()
    a.enable_api_keys(token)
    return Fleet(a, b, token, env)
