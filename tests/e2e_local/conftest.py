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
from dataclasses import dataclass, field

import pytest
from harness import override, stack_values
from tier import E2E_DIR, Tier, WebUI, installed, running_tier

STACK = "staging"
ALIASES = ["chat.example.com", "ai.example.com", "llm.example.org"]
CF_CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0c6b1f4e-e2e0-4c6b-9d7e-1a2b3c4d5e6f"
HERE = os.path.dirname(__file__)


def skip_reason() -> str | None:
    if os.environ.get("E2E_LOCAL") != "1":
        return "the real-application tier runs only through `make e2e-local`"
    return installed()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = skip_reason()
    if reason is None:
        return
    for item in items:
        if str(item.path).startswith(HERE):
            item.add_marker(pytest.mark.skip(reason=reason))


def stack_config_values() -> dict[str, object]:
    """The staging stack with three domain aliases (item 6 needs several)."""
    return override(
        stack_values(STACK), "edge", domain_aliases=ALIASES, cloudfront_certificate_arn=CF_CERT
    )


@dataclass
class Findings:
    lines: list[str] = field(default_factory=list)

    def add(self, test: str, text: str) -> None:
        self.lines.append(f"## {test}\n\n{text.rstrip()}\n")
        print(f"\n[finding] {test}: {text}")


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


@dataclass
class Fleet:
    a: WebUI
    b: WebUI
    admin_token: str
    env: dict[str, str]


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
