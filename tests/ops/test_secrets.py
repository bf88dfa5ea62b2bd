"""``ollama-ops secrets rotate`` against moto's Secrets Manager (a test double for AWS).

moto has no ElastiCache AUTH token support (ModifyReplicationGroup with AuthToken and
AuthTokenUpdateStrategy), so the recorder answers DescribeReplicationGroups and
ModifyReplicationGroup with canned responses; the tests check the calls, their
parameters and their order. Rejected commands make no AWS call at all.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import ops_support
import pytest
from ops_support import AwsRecorder, FakePulumi, main, setup_client

from ollama_infra.ops import secrets
from ollama_infra.ops.common import (
    EXIT_NOT_FOUND,
    EXIT_NOT_SELECTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
)
from ollama_infra.userdata import FOLLOW_SECRETS_UNITS

aws_env = ops_support.aws_env
pulumi = ops_support.pulumi

OLD = "o" * 64
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def run(*argv: str) -> int:
    return main(["secrets", "rotate", *argv])


def make_secret(role: str, env: str = "staging", value: str = OLD) -> str:
    name = f"ollama/{env}/{role}"
    setup_client("secretsmanager").create_secret(Name=name, SecretString=value)
    return name


def current(name: str) -> str:
    # By stage: moto's stage-less read keeps the first AWSCURRENT after
    # UpdateSecretVersionStage moves the label (AWS returns the version labelled AWSCURRENT).
    got = setup_client("secretsmanager").get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    return str(got["SecretString"])


def cache_answer(
    recorder: AwsRecorder, env: str = "staging", modified: datetime = LONG_AGO, **extra: Any
) -> None:
    group = {
        "ReplicationGroupId": f"ollama-webui-cache-{env}",
        "Status": "available",
        "TransitEncryptionEnabled": True,
        "AuthTokenEnabled": True,
        "AuthTokenLastModifiedDate": modified,
        "PendingModifiedValues": {},
        **extra,
    }
    recorder.respond("elasticache", "DescribeReplicationGroups", {"ReplicationGroups": [group]})
    recorder.respond("elasticache", "ModifyReplicationGroup", {"ReplicationGroup": group})


def modify_calls(recorder: AwsRecorder) -> list[dict[str, Any]]:
    return [p for s, op, p in recorder.calls if op == "ModifyReplicationGroup"]


# ------------------------------------------------------------------ webui-secret-key


def test_webui_key_gets_a_new_value_after_the_typed_confirmation(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = make_secret("webui-secret-key", "dev")
    prompts = ops_support.answer(monkeypatch, "dev")
    assert run("--stack", "dev", "--secret", "webui-secret-key") == EXIT_OK
    assert "Type 'dev'" in prompts[0]
    value = current(name)
    assert value != OLD and len(value) == 64 and value.isalnum()
    out = capsys.readouterr().out
    assert "signed out more than once" in out
    assert "start-instance-refresh --auto-scaling-group-name ollama-asg-dev" in out
    assert aws_env.mutations() == ["secretsmanager:PutSecretValue"]
    assert not modify_calls(aws_env)


def test_webui_key_wrong_answer_dry_run_and_missing_secret_change_nothing(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ("--stack", "dev", "--secret", "webui-secret-key")
    assert run(*argv, "--yes") == EXIT_NOT_FOUND  # not deployed
    name = make_secret("webui-secret-key", "dev")
    assert run(*argv, "--dry-run") == EXIT_OK
    ops_support.answer(monkeypatch, "staging")
    assert run(*argv) == EXIT_REFUSED
    assert current(name) == OLD
    assert aws_env.mutations() == []


# ------------------------------------------------------------------ redis-auth


def test_redis_step_one_rotates_the_cache_then_makes_the_secret_current(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    pulumi.selected = "staging"
    name = make_secret("redis-auth")
    cache_answer(aws_env)
    assert run("--stack", "staging", "--secret", "redis-auth", "--yes") == EXIT_OK
    new = current(name)
    assert new != OLD and len(new) == 64
    assert modify_calls(aws_env) == [
        {
            "ReplicationGroupId": "ollama-webui-cache-staging",
            "AuthToken": new,
            "AuthTokenUpdateStrategy": "ROTATE",
            "ApplyImmediately": True,
        }
    ]
    # staged, then the cache, then current: a refused token never reaches the instances
    assert aws_env.mutations() == [
        "secretsmanager:PutSecretValue",
        "elasticache:ModifyReplicationGroup",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
    ]
    # the secret changes only after the cache is available again
    ops = aws_env.operations()
    modify = ops.index("elasticache:ModifyReplicationGroup")
    assert "elasticache:DescribeReplicationGroups" in ops[modify:]
    versions = setup_client("secretsmanager").list_secret_version_ids(SecretId=name)["Versions"]
    assert not [v for v in versions if "AWSPENDING" in v.get("VersionStages", [])]


def test_redis_step_one_leaves_the_secret_when_the_cache_refuses(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pulumi.selected = "staging"
    monkeypatch.setattr(secrets, "FOLLOW_WINDOW", timedelta(0))
    name = make_secret("redis-auth")
    cache_answer(aws_env)
    aws_env.answers.pop(("elasticache", "ModifyReplicationGroup"))
    aws_env.inject("elasticache", "ModifyReplicationGroup", "InvalidParameterValue")
    assert run("--stack", "staging", "--secret", "redis-auth", "--yes") != EXIT_OK
    assert current(name) == OLD
    # ... and --finish refuses until step 1 is run again
    capsys.readouterr()
    assert run("--stack", "staging", "--secret", "redis-auth", "--finish", "--yes") == (
        EXIT_REFUSED
    )
    assert "step 1 did not finish" in capsys.readouterr().err
    assert [p["AuthTokenUpdateStrategy"] for p in modify_calls(aws_env)] == ["ROTATE"]


@pytest.mark.parametrize(
    "extra",
    [
        {"AuthTokenEnabled": False},
        {"TransitEncryptionEnabled": False},
        {"Status": "modifying"},
        {"PendingModifiedValues": {"AuthTokenStatus": "ROTATING"}},
    ],
)
def test_redis_refuses_a_cache_that_cannot_rotate_now(
    aws_env: AwsRecorder, pulumi: FakePulumi, extra: dict[str, Any]
) -> None:
    pulumi.selected = "staging"
    make_secret("redis-auth")
    cache_answer(aws_env, **extra)
    assert run("--stack", "staging", "--secret", "redis-auth", "--yes") != EXIT_OK
    assert aws_env.mutations() == []


def test_redis_finish_sets_the_current_token(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulumi.selected = "staging"
    name = make_secret("redis-auth", value="n" * 64)
    cache_answer(aws_env)
    monkeypatch.setattr(secrets, "FOLLOW_WINDOW", timedelta(0))
    prompts = ops_support.answer(monkeypatch, "staging")
    assert run("--stack", "staging", "--secret", "redis-auth", "--finish") == EXIT_OK
    assert "Type 'staging'" in prompts[0]
    assert modify_calls(aws_env) == [
        {
            "ReplicationGroupId": "ollama-webui-cache-staging",
            "AuthToken": current(name),
            "AuthTokenUpdateStrategy": "SET",
            "ApplyImmediately": True,
        }
    ]


def test_redis_finish_waits_for_the_instances_to_follow(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.selected = "staging"
    make_secret("redis-auth")  # just stored: the instances have not all followed yet
    cache_answer(aws_env)
    assert run("--stack", "staging", "--secret", "redis-auth", "--finish", "--yes") == (
        EXIT_REFUSED
    )
    assert "may still use the old token" in capsys.readouterr().err
    assert modify_calls(aws_env) == []


def test_redis_finish_refuses_a_token_changed_after_the_secret(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pulumi.selected = "staging"
    make_secret("redis-auth")
    cache_answer(aws_env, modified=datetime.now(UTC) + timedelta(minutes=5))
    monkeypatch.setattr(secrets, "FOLLOW_WINDOW", timedelta(0))
    assert run("--stack", "staging", "--secret", "redis-auth", "--finish", "--yes") == (
        EXIT_REFUSED
    )
    assert "SET would lock out" in capsys.readouterr().err
    assert modify_calls(aws_env) == []


# ------------------------------------------------------------------ guards (no AWS call)


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("--stack", "dev", "--secret", "webui-admin"), EXIT_USAGE, "invalid choice"),
        (("--stack", "dev", "--secret", "redis-auth"), EXIT_USAGE, "has no cache"),
        (
            ("--stack", "dev", "--secret", "webui-secret-key", "--finish"),
            EXIT_USAGE,
            "--finish belongs to --secret redis-auth",
        ),
        (
            ("--stack", "production", "--secret", "redis-auth", "--finish"),
            EXIT_REFUSED,
            "--production",
        ),
        (
            ("--stack", "production", "--secret", "webui-secret-key"),
            EXIT_REFUSED,
            "--production",
        ),
        (("--stack", "staging", "--secret", "redis-auth"), EXIT_NOT_SELECTED, "differs"),
    ],
)
def test_guards_refuse_before_any_aws_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    with pytest.raises(SystemExit) if code == EXIT_USAGE and "invalid" in message else _null():
        assert run(*argv, "--yes") == code
    assert message in capsys.readouterr().err
    assert aws_env.calls == []


def test_guards_pass_with_the_flags(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    make_secret("redis-auth", "production")
    cache_answer(aws_env, "production")
    argv = ("--stack", "production", "--secret", "redis-auth", "--yes")
    assert run(*argv, "--production", "--force-cross-env") == EXIT_OK
    assert run(*argv, "--production") == EXIT_NOT_SELECTED  # dev is selected
    pulumi.selected = "production"
    assert run(*argv, "--dry-run") == EXIT_OK  # a dry run needs no --production


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def _seconds(text: str) -> float:
    value, unit = re.fullmatch(r"(\d+)(min|h)", text).groups()  # type: ignore[union-attr]
    return int(value) * (60 if unit == "min" else 3600)


def test_finish_waits_at_least_the_longest_gap_between_two_checks() -> None:
    """The wait before --finish covers the follow-secrets timer as the instances run it."""
    timer = FOLLOW_SECRETS_UNITS["ollama-follow-secrets.timer"]
    settings = dict(re.findall(r"^(\w+)=(\S+)$", timer, re.MULTILINE))
    gap = _seconds(settings["OnUnitActiveSec"]) + _seconds(settings["RandomizedDelaySec"])
    assert gap == 110 * 60  # fails (on purpose) when the timer changes: re-check the window
    assert secrets.FOLLOW_WINDOW.total_seconds() >= gap


def test_redis_both_steps_in_a_row(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache records the token change (now); step 1's current value is newer, so
    --finish (after the wait) accepts it and SETs the token step 1 stored."""
    pulumi.selected = "staging"
    name = make_secret("redis-auth")
    cache_answer(aws_env, modified=datetime.now(UTC))
    assert run("--stack", "staging", "--secret", "redis-auth", "--yes") == EXIT_OK
    monkeypatch.setattr(secrets, "FOLLOW_WINDOW", timedelta(0))
    assert run("--stack", "staging", "--secret", "redis-auth", "--finish", "--yes") == EXIT_OK
    rotate, finish = modify_calls(aws_env)
    assert (rotate["AuthTokenUpdateStrategy"], finish["AuthTokenUpdateStrategy"]) == (
        "ROTATE",
        "SET",
    )
    assert rotate["AuthToken"] == finish["AuthToken"] == current(name) != OLD


def test_redis_step_one_keeps_the_old_value_when_the_cache_does_not_finish(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pulumi.selected = "staging"
    name = make_secret("redis-auth")
    cache_answer(aws_env)
    # the waiter's last answer after its time ran out (test double for a slow cache)
    monkeypatch.setattr(secrets.aws, "wait_for", lambda *_, **__: {"ReplicationGroups": []})
    assert run("--stack", "staging", "--secret", "redis-auth", "--yes") != EXIT_OK
    assert "did not apply the new token" in capsys.readouterr().err
    assert current(name) == OLD
