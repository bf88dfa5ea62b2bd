"""Item 6 of the fleet issue: socket.io accepts a handshake from every configured domain alias
(CORS_ALLOW_ORIGIN as the boot script renders it)."""

from __future__ import annotations

import pytest
import websocket
from tier import ALIASES, Findings, Fleet

pytestmark = pytest.mark.e2e_local


def handshake(fleet: Fleet, origin: str) -> str:
    """A websocket handshake as a browser on ``origin`` makes it (Open WebUI's socket.io
    serves the websocket transport only, so a polling request proves nothing)."""
    url = fleet.a.url.replace("http://", "ws://") + "/ws/socket.io/?EIO=4&transport=websocket"
    try:
        ws = websocket.create_connection(url, origin=origin, timeout=30)
    except websocket.WebSocketBadStatusException as e:
        return f"refused {e.status_code}"
    try:
        first = ws.recv()
    finally:
        ws.close()
    return "accepted" if str(first).startswith("0") else f"unexpected {str(first)[:40]}"


def test_socketio_accepts_every_domain_alias(fleet: Fleet, findings: Findings) -> None:
    results = {f"https://{alias}": handshake(fleet, f"https://{alias}") for alias in ALIASES}
    foreign = handshake(fleet, "https://not-an-alias.example.net")
    findings.add(
        "item 6: websocket origins",
        f"CORS_ALLOW_ORIGIN={fleet.env.get('CORS_ALLOW_ORIGIN')!r}; handshake per Origin: "
        f"{results}; a foreign origin: {foreign}",
    )
    assert foreign.startswith("refused"), "the origin check is off, so this test could not fail"
    assert all(r == "accepted" for r in results.values()), results
