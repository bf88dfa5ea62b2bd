"""Item 4 of the fleet issue: a non-admin user's API key lists and generates with the catalog's
models once the boot's ``configure_webui`` ran (the model grants and the stack-owned settings,
among them the default group new accounts join), or ``grant_model_access`` alone where the boot
script has no ``configure_webui``."""

from __future__ import annotations

import uuid

import pytest
from tier import MODEL, Findings, Fleet, Tier

pytestmark = pytest.mark.e2e_local


def test_user_api_key_lists_and_generates_with_catalog_models(
    fleet: Fleet, tier: Tier, findings: Findings
) -> None:
    granted = "absent from the boot script"
    step = next((f for f in ("configure_webui", "grant_model_access") if tier.boot.has(f)), None)
    if step is not None:
        # The boot runs it before anyone signs up; server A stands in for the instance's own.
        done = tier.boot.run(f"MODELS=({MODEL}); {step}", **fleet.env, WEBUI_API=fleet.a.url)
        granted = f"{step} ran: exit {done.returncode} {done.stderr.strip()[-300:]}"
    email, password = f"user-{uuid.uuid4().hex[:8]}@example.com", "User-pass-1"
    fleet.a.add_user(fleet.admin_token, email, password)
    key = fleet.a.make_api_key(fleet.a.sign_in(email, password))
    tags = fleet.b.call("GET", "/ollama/api/tags", key)
    names = [m.get("name") for m in tags.json().get("models", [])] if tags.ok else []
    gen = fleet.b.call(
        "POST", "/ollama/api/generate", key, json={"model": MODEL, "prompt": "hi", "stream": False}
    )
    findings.add(
        "item 4: non-admin API key",
        f"grant_model_access {granted}; /ollama/api/tags -> {tags.status_code} models {names}; "
        f"/ollama/api/generate -> {gen.status_code} {gen.text[:120]}",
    )
    assert MODEL in names, f"the user's key lists {names}"
    assert gen.status_code == 200, gen.text
