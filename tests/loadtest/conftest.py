"""Fixtures for the load-test suite (helpers live in locust_runner.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes.fake_ollama import FakeConfig, FakeOllama
from locust_runner import MODEL


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """TEST DOUBLE: a fake Ollama on 127.0.0.1, 100 ms to first token, 20 ms per token."""
    with FakeOllama(FakeConfig(model=MODEL)) as fake:
        yield fake
