"""Baseline of the fleet: what two servers on one database and one Redis must share, as quick
checks that the environment rendered by the boot script is right."""

from __future__ import annotations

import threading
import uuid

import boto3
import pytest
import socketio
from tier import REGION, Findings, Fleet, Tier

pytestmark = pytest.mark.e2e_local


def test_sign_in_token_from_a_works_on_b(fleet: Fleet, findings: Findings) -> None:
    me = fleet.b.call("GET", "/api/v1/auths/", fleet.admin_token)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "admin@example.com"
    findings.add("baseline: shared sign-in", "a token issued by server A is accepted by B (200)")


def test_logout_on_b_revokes_the_token_on_a(fleet: Fleet, findings: Findings) -> None:
    token = fleet.a.sign_in()
    assert fleet.a.call("GET", "/api/v1/auths/", token).status_code == 200
    out = fleet.b.call("POST", "/api/v1/auths/signout", token)
    assert out.status_code == 200, out.text
    after = fleet.a.call("GET", "/api/v1/auths/", token)
    assert after.status_code == 401, after.text
    findings.add(
        "baseline: logout", f"signed out on B, the token on A then answers {after.status_code}"
    )


def test_websocket_events_cross_servers_through_redis(fleet: Fleet, findings: Findings) -> None:
    created = fleet.a.call(
        "POST",
        "/api/v1/channels/create",
        fleet.admin_token,
        json={"name": f"e2e-{uuid.uuid4().hex[:6]}"},
    )
    assert created.status_code == 200, created.text
    channel = created.json()["id"]
    received = threading.Event()
    got: list[dict[str, object]] = []
    clients = []
    try:
        for server in (fleet.a, fleet.b):
            # A browser sends the public URL as Origin; socket.io refuses others.
            origin = {"origin": fleet.env["WEBUI_URL"]}
            client = socketio.Client(reconnection=False, websocket_extra_options=origin)
            client.connect(
                server.url,
                socketio_path="/ws/socket.io",
                auth={"token": fleet.admin_token},
                transports=["websocket"],
                wait_timeout=20,
            )
            client.call("join-channels", {"auth": {"token": fleet.admin_token}}, timeout=20)
            clients.append(client)
        on_a, on_b = clients

        @on_b.on("events:channel")
        def _event(data: dict[str, object]) -> None:
            got.append(data)
            received.set()

        on_a.emit(
            "events:channel",
            {"channel_id": channel, "data": {"type": "typing", "data": {"typing": True}}},
        )
        assert received.wait(15), "an event emitted through server A never reached a client of B"
    finally:
        for client in clients:
            client.disconnect()
    assert got[0]["channel_id"] == channel
    findings.add(
        "baseline: websockets",
        "a channel event emitted on A reached a socket.io client of B through Redis",
    )


def test_upload_through_a_is_read_through_b_from_s3(
    fleet: Fleet, tier: Tier, findings: Findings
) -> None:
    body = f"e2e upload {uuid.uuid4()}".encode()
    up = fleet.a.call(
        "POST",
        "/api/v1/files/?process=false",
        fleet.admin_token,
        files={"file": ("note.txt", body, "text/plain")},
    )
    assert up.status_code == 200, up.text
    file_id = up.json()["id"]
    down = fleet.b.call("GET", f"/api/v1/files/{file_id}/content", fleet.admin_token)
    assert down.status_code == 200, down.text
    assert down.content == body
    s3 = boto3.client(
        "s3",
        endpoint_url=tier.moto_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = fleet.env["S3_BUCKET_NAME"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert any(k.startswith("open-webui/") and file_id in k for k in keys), keys
    findings.add(
        "baseline: S3 uploads",
        f"uploaded through A, read through B; object in s3://{bucket}/open-webui/",
    )
