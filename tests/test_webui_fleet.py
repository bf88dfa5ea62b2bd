"""Open WebUI with several servers (issue 21 items 2-4): the first-start lock, the settings
the stack owns, and model access for non-admin users.

The lock is exercised through the boot script's own functions (sourced, without ``main``)
against emulated DynamoDB: moto, reached through tests/fakes/aws_dynamodb_cli.py, a TEST
DOUBLE of the two AWS CLI calls the lock makes. The Open WebUI steps run in the full boot in
the recording sandbox, whose ``curl`` sends /api/v1 requests to tests/fakes/fake_webui_api.py
(a TEST DOUBLE of the admin API subset registered in docs/UPSTREAM.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from harness import CATALOG_TABLE, STACKS, evaluated, override, stack_values
from moto.server import ThreadedMotoServer
from oidc_stack import oidc_values
from stubs.sandbox import Sandbox, make_sandbox
from test_identity import statements
from test_userdata import BOOT_LOG, boot, boot_env, seed_aws, settings, user_data_of

from ollama_infra.config import ConfigError, parse_config
from ollama_infra.naming import StackNames
from ollama_infra.offline.evaluate import Evaluation

ROOT = Path(__file__).resolve().parents[1]
BOOT_SCRIPT = ROOT / "ollama_infra" / "userdata" / "ollama-boot.sh"
FAKES = Path(__file__).resolve().parent / "fakes"
TABLE = "ollama-data-table-dev"
LOCK_KEY = StackNames("dev", "123456789012").first_start_lock_key
CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


# ------------------------------------------------------------------ the lock, against moto


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[str]:
    """Emulated DynamoDB (moto) on 127.0.0.1 with the stack's catalog table."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", **_boto_creds())
    client.create_table(
        TableName=TABLE,
        **CATALOG_TABLE,
    )
    try:
        yield url
    finally:
        server.stop()


def _boto_creds() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDS["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.fixture
def lock_item(dynamodb: str) -> Iterator[Any]:
    """Reads the lock item; the table starts each test without one."""
    client = boto3.client(
        "dynamodb", endpoint_url=dynamodb, region_name="us-east-1", **_boto_creds()
    )
    key = {"environment": {"S": LOCK_KEY}, "model": {"S": "open-webui"}}
    client.delete_item(TableName=TABLE, Key=key)

    def read() -> dict[str, Any] | None:
        return client.get_item(TableName=TABLE, Key=key).get("Item")

    yield read
    client.delete_item(TableName=TABLE, Key=key)


def functions_env(tmp: Path, endpoint: str, owner: str, **extra: str) -> dict[str, str]:
    """Environment for sourcing the boot script: its boot.env, and `aws` -> the moto shim."""
    root, bin_dir = tmp / "root", tmp / "bin"
    if not root.exists():
        (root / "etc" / "ollama").mkdir(parents=True)
        (root / "etc" / "ollama" / "boot.env").write_text(settings().boot_env() + "\n")
        bin_dir.mkdir()
        shim = bin_dir / "aws"
        shim.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{FAKES / "aws_dynamodb_cli.py"}" "$@"\n'
        )
        shim.chmod(0o755)
    return {
        **CREDS,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HOME": str(tmp),
        "OLLAMA_BOOTSTRAP_ROOT": str(root),
        "OLLAMA_BOOT_LOGGING": "1",
        "AWS_ENDPOINT_URL": endpoint,
        "FIRST_START_LOCK_OWNER": owner,
        "FIRST_START_LOCK_POLL": "0.1",
        **extra,
    }


def sourced(body: str, script: Path = BOOT_SCRIPT) -> list[str]:
    """bash running ``body`` after sourcing the boot script's definitions (all but ``main``)."""
    assert script.read_text().endswith('\nmain "$@"\n')
    return ["bash", "-c", f"source <(sed '$d' '{script}')\n{body}"]


def run(
    body: str, env: dict[str, str], script: Path = BOOT_SCRIPT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        sourced(body, script), env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_lock_serializes_two_concurrent_first_starts(
    dynamodb: str, lock_item: Any, tmp_path: Path
) -> None:
    """Two instances starting together: one holds the lock, the other waits until it is
    released; their critical sections never overlap."""
    trace = tmp_path / "trace"
    body = (
        'first_start_lock_acquire; echo "in $FIRST_START_LOCK_OWNER" >>"$TRACE"; sleep 1; '
        'echo "out $FIRST_START_LOCK_OWNER" >>"$TRACE"; first_start_lock_release'
    )
    procs = [
        subprocess.Popen(
            sourced(body),
            env=functions_env(tmp_path, dynamodb, name, TRACE=str(trace)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("i-a", "i-b")
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    events = trace.read_text().split()
    first, second = events[1], events[5]
    assert events == ["in", first, "out", first, "in", second, "out", second], events
    assert {first, second} == {"i-a", "i-b"}
    waited = [o for o in outputs if "held by another instance; waiting" in o]
    assert len(waited) == 1, outputs
    assert lock_item() is None  # released


def test_lock_expires_when_its_holder_dies(dynamodb: str, lock_item: Any, tmp_path: Path) -> None:
    """An instance that dies holding the lock blocks the others for one lease, no longer:
    the next one gets in only after the lease ended."""
    dead = run(
        "first_start_lock_acquire; kill -9 $$",
        functions_env(tmp_path, dynamodb, "i-dead", FIRST_START_LOCK_LEASE="3"),
    )
    assert dead.returncode != 0
    expires = int(lock_item()["expires_at"]["N"])
    assert lock_item()["owner"]["S"] == "i-dead"
    heir = run("first_start_lock_acquire", functions_env(tmp_path, dynamodb, "i-heir"))
    assert heir.returncode == 0, heir.stdout + heir.stderr
    assert time.time() > expires
    assert lock_item()["owner"]["S"] == "i-heir"


def test_lock_wait_is_bounded(dynamodb: str, lock_item: Any, tmp_path: Path) -> None:
    """A waiter gives up with a clear line instead of hanging the boot forever."""
    run("first_start_lock_acquire; kill -9 $$", functions_env(tmp_path, dynamodb, "i-slow"))
    waiter = run(
        "first_start_lock_acquire",
        functions_env(tmp_path, dynamodb, "i-late", FIRST_START_LOCK_WAIT="1"),
    )
    assert waiter.returncode != 0
    assert f"first-start lock: {LOCK_KEY} in {TABLE} stayed held by another instance for 1s" in (
        waiter.stderr
    )
    assert lock_item()["owner"]["S"] == "i-slow"


def test_only_the_holder_releases_the_lock(dynamodb: str, lock_item: Any, tmp_path: Path) -> None:
    run("first_start_lock_acquire; kill -9 $$", functions_env(tmp_path, dynamodb, "i-holder"))
    other = run("first_start_lock_release", functions_env(tmp_path, dynamodb, "i-other"))
    assert other.returncode == 0 and "no longer held by i-other" in other.stdout
    assert lock_item()["owner"]["S"] == "i-holder"
    again = run("first_start_lock_acquire", functions_env(tmp_path, dynamodb, "i-holder"))
    assert again.returncode == 0, "the holder re-running its boot takes its own lock again"


def test_a_lock_without_the_lease_clause_would_never_expire(
    dynamodb: str, lock_item: Any, tmp_path: Path
) -> None:
    """The expiry test can fail: with the lease comparison reversed (an expiry that never
    matches), a dead holder keeps every other instance out."""
    broken = tmp_path / "broken-boot.sh"
    text = BOOT_SCRIPT.read_text()
    assert "attribute_not_exists(#e) OR #x < :now OR #o = :me" in text
    broken.write_text(text.replace("OR #x < :now ", "OR #x > :now "))
    env = functions_env(tmp_path, dynamodb, "i-dead", FIRST_START_LOCK_LEASE="1")
    run("first_start_lock_acquire; kill -9 $$", env, broken)
    # Past the dead holder's lease (whole seconds) before the heir tries: the reversed
    # comparison would still let an heir in while the lease runs.
    time.sleep(2.1)
    heir = run(
        "first_start_lock_acquire",
        functions_env(tmp_path, dynamodb, "i-heir", FIRST_START_LOCK_WAIT="3"),
        broken,
    )
    assert heir.returncode != 0 and lock_item()["owner"]["S"] == "i-dead"


# ------------------------------------------------------------------ Open WebUI through its API


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def webui_state(box: Sandbox) -> dict[str, Any]:
    return json.loads((box.state / "webui.json").read_text())


def group_named(state: dict[str, Any], name: str) -> dict[str, Any]:
    (group,) = [g for g in state["groups"] if g["name"] == name]
    return group


def test_boot_grants_the_catalog_models_and_applies_the_owned_settings(box: Sandbox) -> None:
    seed_aws(box, models=["llama3.2:1b", "qwen2.5"])
    result = boot(box)
    assert result.returncode == 0, result.stdout + result.stderr
    state = webui_state(box)
    group = group_named(state, "users")
    assert group["permissions"] == {"features": {"api_keys": True}}
    for model in ("llama3.2:1b", "qwen2.5:latest"):
        assert [
            (g["principal_type"], g["principal_id"], g["permission"])
            for g in state["models"][model]["access_grants"]
        ] == [("group", group["id"], "read")]
    config = state["config"]
    assert config["ENABLE_SIGNUP"] is False and config["ENABLE_API_KEYS"] is True
    assert config["WEBUI_URL"] == "https://chat.example.com"
    assert config["DEFAULT_GROUP_ID"] == group["id"]
    log = box.file(BOOT_LOG).read_text()
    assert "model access group: granted llama3.2:1b qwen2.5:latest to group" in log
    assert "first-start lock released" in log


def test_second_boot_changes_nothing(box: Sandbox) -> None:
    """Idempotent: a re-run (or the next instance) finds every grant and setting in place."""
    seed_aws(box)
    assert boot(box).returncode == 0
    before = webui_state(box)
    assert before["writes"] > 0
    assert boot(box).returncode == 0
    after = webui_state(box)
    assert after == before  # not one write
    log = box.file(BOOT_LOG).read_text()
    assert "every catalog model already granted" in log
    assert "stack-owned settings already applied" in log


def test_boot_reverts_owned_settings_and_keeps_the_rest(box: Sandbox) -> None:
    """An admin-panel change to a stack-owned setting lasts until the next boot; settings the
    stack does not own, and grants an admin added, are left alone."""
    seed_aws(box)
    assert boot(box).returncode == 0
    state = webui_state(box)
    state["config"].update(
        ENABLE_SIGNUP=True, WEBUI_URL="http://drifted", RESPONSE_WATERMARK="kept by the admin"
    )
    manual = {"id": "x", "principal_type": "group", "principal_id": "team-b", "permission": "read"}
    state["models"]["llama3.2:1b"]["access_grants"].append(manual)
    (box.state / "webui.json").write_text(json.dumps(state))
    assert boot(box).returncode == 0
    config = webui_state(box)["config"]
    assert (config["ENABLE_SIGNUP"], config["WEBUI_URL"]) == (False, "https://chat.example.com")
    assert config["RESPONSE_WATERMARK"] == "kept by the admin"
    grants = webui_state(box)["models"]["llama3.2:1b"]["access_grants"]
    assert ("group", "team-b") in {(g["principal_type"], g["principal_id"]) for g in grants}


def test_signup_and_api_keys_follow_the_stack_file(box: Sandbox) -> None:
    seed_aws(box)
    from ollama_infra.config import WebUIConfig
    from ollama_infra.userdata import BootSettings

    s = BootSettings.from_config(
        StackNames("dev", "123456789012"),
        "us-east-1",
        _ollama(),
        WebUIConfig(enable_signup=True, enable_api_keys=False, model_access_group="team a"),
        gpu=False,
    )
    assert boot(box, s).returncode == 0
    state = webui_state(box)
    assert state["config"]["ENABLE_SIGNUP"] is True and state["config"]["ENABLE_API_KEYS"] is False
    assert group_named(state, "team a")["permissions"]["features"]["api_keys"] is False


def _ollama() -> Any:
    from ollama_infra.config import OllamaConfig

    return OllamaConfig()


@pytest.mark.parametrize(("mode", "grant"), [("public", ("user", "*")), ("admin-only", None)])
def test_public_and_admin_only_model_access(box: Sandbox, mode: str, grant: Any) -> None:
    from ollama_infra.config import WebUIConfig
    from ollama_infra.userdata import BootSettings

    seed_aws(box)
    s = BootSettings.from_config(
        StackNames("dev", "123456789012"),
        "us-east-1",
        _ollama(),
        WebUIConfig(model_access=mode),  # type: ignore[arg-type]
        gpu=False,
    )
    assert boot(box, s).returncode == 0
    state = webui_state(box)
    assert state["groups"] == [] and state["config"]["DEFAULT_GROUP_ID"] == ""
    models = state["models"]
    if grant is None:
        assert models == {}
    else:
        got = models["llama3.2:1b"]["access_grants"]
        assert [(g["principal_type"], g["principal_id"]) for g in got] == [grant]


def test_wrong_admin_password_fails_the_boot_and_releases_the_lock(box: Sandbox) -> None:
    seed_aws(box)
    (box.state / "webui.json").write_text(
        json.dumps(
            {
                "config": {},
                "users": [
                    {"id": "a", "email": "admin@example.com", "password": "x", "role": "admin"}
                ],
                "groups": [],
                "models": {},
                "writes": 0,
            }
        )
    )
    result = boot(box)
    assert result.returncode != 0
    assert "cannot sign in to Open WebUI as the headless admin" in result.stdout + result.stderr
    assert box.calls()[-1].startswith("aws dynamodb delete-item")


def test_a_held_lock_stops_the_boot_before_open_webui_starts(box: Sandbox) -> None:
    seed_aws(box)
    result = boot(box, FIRST_START_LOCK_WAIT="0")
    assert result.returncode == 0  # not held
    box2 = make_sandbox(box.tmp / "second")
    seed_aws(box2)
    held = boot(box2, STUB_LOCK_HELD="1", FIRST_START_LOCK_WAIT="0")
    assert held.returncode != 0
    assert "stayed held by another instance" in held.stdout + held.stderr
    assert not box2.called("docker run")


def test_invalid_model_access_in_the_boot_settings_fails(box: Sandbox) -> None:
    """The shell checks MODEL_ACCESS again (a hand-edited boot.env)."""
    seed_aws(box)
    s = settings()
    broken = s.__class__(**{**s.__dict__, "model_access": "everyone"})
    result = boot(box, broken)
    assert result.returncode != 0
    assert (
        "MODEL_ACCESS must be group, public or admin-only, not 'everyone'"
        in result.stdout + result.stderr
    )


# ------------------------------------------------------------------ the plan and the config


def lock_statement_violations(ev: Evaluation) -> list[str]:
    """The instance role may write the lock item of its own stack's table and nothing else."""
    key = StackNames(ev.stack, "123456789012").first_start_lock_key
    found = [s for _, s in statements(ev) if s.get("Sid") == "FirstStartLock"]
    if len(found) != 1:
        return [f"expected one FirstStartLock statement, found {len(found)}"]
    (s,) = found
    out = []
    if sorted(s["Action"]) != ["dynamodb:DeleteItem", "dynamodb:PutItem"]:
        out.append(f"actions {s['Action']}")
    if s["Resource"] != [
        f"arn:aws:dynamodb:{_region(ev)}:123456789012:table/ollama-data-table-{ev.stack}"
    ]:
        out.append(f"resources {s['Resource']}")
    condition = s.get("Condition", {}).get("ForAllValues:StringEquals", {})
    if condition.get("dynamodb:LeadingKeys") != [key]:
        out.append(f"LeadingKeys {condition}")
    writes = [
        a
        for _, st in statements(ev)
        if st.get("Sid") != "FirstStartLock"
        for a in st["Action"]
        if a.startswith("dynamodb:") and a not in ("dynamodb:Query", "dynamodb:GetItem")
    ]
    if writes:
        out.append(f"other DynamoDB writes {writes}")
    return out


def _region(ev: Evaluation) -> str:
    return ev.region


@pytest.mark.parametrize("stack", STACKS)
def test_instance_role_writes_only_the_lock_item(stack: str) -> None:
    ev = evaluated(stack)
    assert lock_statement_violations(ev) == []
    text = user_data_of(ev)
    env = boot_env(text)
    assert env["FIRST_START_LOCK_KEY"] == StackNames(stack, "1").first_start_lock_key
    assert env["FIRST_START_LOCK_TABLE"] == f"ollama-data-table-{stack}"


def test_lock_statement_check_catches_a_broad_grant() -> None:
    from test_identity import _break_policy

    ev = evaluated("dev")
    assert any(
        "LeadingKeys" in v
        for v in lock_statement_violations(_break_policy(ev, "FirstStartLock", Condition=None))
    )
    broad = _break_policy(ev, "FirstStartLock", Action=["dynamodb:PutItem", "dynamodb:UpdateItem"])
    assert any("actions" in v for v in lock_statement_violations(broad))


def test_oidc_stacks_cannot_ask_for_grants_they_cannot_apply() -> None:
    values = override(oidc_values("dev"), "webui", model_access="group")
    with pytest.raises(ConfigError, match=r"webui\.model_access") as err:
        parse_config("dev", values)
    assert "admin-only" in str(err.value)
    assert parse_config("dev", oidc_values("dev")).model_access == "admin-only"
    assert parse_config("dev", stack_values("dev")).model_access == "group"
