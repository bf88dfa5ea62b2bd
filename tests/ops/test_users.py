"""``ollama-ops users`` against moto's cognito-idp (a test double for Amazon Cognito).

The stack files ship with ``auth.mode: local``; these tests read the oidc test config
(tests/oidc_stack.py) in their place. The recording client factory shows that a rejected
command made no AWS call at all.
"""

from __future__ import annotations

import json

import ops_support
import pytest
from oidc_stack import oidc_values
from ops_support import AwsRecorder, FakePulumi, main, setup_client

from ollama_infra.ops import users
from ollama_infra.ops.common import (
    EXIT_FAILURE,
    EXIT_NOT_SELECTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_USAGE,
)

aws_env = ops_support.aws_env
pulumi = ops_support.pulumi


@pytest.fixture
def oidc_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stack file reads as the oidc test config (allowed domain example.com)."""
    monkeypatch.setattr(users, "load_stack_values", oidc_values)


def make_pool(stack: str = "dev") -> str:
    idp = setup_client("cognito-idp")
    pool = idp.create_user_pool(PoolName=f"ollama-users-{stack}")["UserPool"]["Id"]
    for group in ("ollama-admins", "ollama-users"):
        idp.create_group(UserPoolId=pool, GroupName=group)
    return str(pool)


def members(pool: str, group: str) -> set[str]:
    idp = setup_client("cognito-idp")
    found = idp.list_users_in_group(UserPoolId=pool, GroupName=group)["Users"]
    return {u["Username"] for u in found}


def run(*argv: str) -> int:
    return main(["users", *argv])


@pytest.mark.usefixtures("oidc_stacks")
def test_add_creates_the_user_in_the_user_group(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pool = make_pool()
    assert run("add", "--stack", "dev", "--email", "Ada@Example.com", "--yes") == EXIT_OK
    assert members(pool, "ollama-users") == {"ada@example.com"}
    assert members(pool, "ollama-admins") == set()
    create = next(p for s, op, p in aws_env.calls if op == "AdminCreateUser")
    assert {"Name": "email_verified", "Value": "true"} in create["UserAttributes"]
    assert "created" in capsys.readouterr().out


@pytest.mark.usefixtures("oidc_stacks")
def test_admin_flag_and_an_existing_user_gain_the_admin_group(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pool = make_pool()
    assert run("add", "--stack", "dev", "--email", "ada@example.com", "--yes") == EXIT_OK
    argv = ("add", "--stack", "dev", "--email", "ada@example.com", "--admin", "--yes")
    assert run(*argv) == EXIT_OK
    assert members(pool, "ollama-admins") == {"ada@example.com"}
    assert "already existed" in capsys.readouterr().out


@pytest.mark.usefixtures("oidc_stacks")
def test_list_shows_users_and_groups(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pool()
    run("add", "--stack", "dev", "--email", "bo@example.com", "--admin", "--yes")
    run("add", "--stack", "dev", "--email", "ada@example.com", "--yes")
    capsys.readouterr()
    aws_env.reset()
    assert run("list", "--stack", "dev", "--json") == EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert [(u["email"], u["groups"]) for u in listed] == [
        ("ada@example.com", ["ollama-users"]),
        ("bo@example.com", ["ollama-admins"]),
    ]
    reads = {"GetCallerIdentity", "ListUserPools", "ListUsers", "AdminListGroupsForUser"}
    assert {op for _, op, _ in aws_env.calls} <= reads  # list changes nothing


@pytest.mark.usefixtures("oidc_stacks")
def test_remove_deletes_after_the_typed_confirmation(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = make_pool()
    run("add", "--stack", "dev", "--email", "ada@example.com", "--yes")
    monkeypatch.setattr("ollama_infra.ops.common._interactive", lambda: True)
    monkeypatch.setattr("builtins.input", lambda _: "ada@example.org")
    assert run("remove", "--stack", "dev", "--email", "ada@example.com") == EXIT_REFUSED
    assert members(pool, "ollama-users") == {"ada@example.com"}
    monkeypatch.setattr("builtins.input", lambda _: "ada@example.com")
    assert run("remove", "--stack", "dev", "--email", "ada@example.com") == EXIT_OK
    assert members(pool, "ollama-users") == set()


@pytest.mark.usefixtures("oidc_stacks")
def test_remove_of_an_unknown_user_fails_clearly(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pool()
    argv = ("remove", "--stack", "dev", "--email", "nobody@example.com", "--yes")
    assert run(*argv) == EXIT_FAILURE
    assert "is not a user" in capsys.readouterr().err


BAD_ARGUMENTS: list[tuple[tuple[str, ...], str]] = [
    (("add", "--stack", "dev", "--email", "not-an-email", "--yes"), "not an e-mail"),
    (("add", "--stack", "dev", "--email", "ada@other.org", "--yes"), "admits only example.com"),
    (("remove", "--stack", "dev", "--email", "ada@", "--yes"), "not an e-mail"),
]


@pytest.mark.usefixtures("oidc_stacks")
@pytest.mark.parametrize(("argv", "message"), BAD_ARGUMENTS)
def test_arguments_are_checked_before_any_aws_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    message: str,
) -> None:
    make_pool()
    assert run(*argv) == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert aws_env.calls == []


def test_a_stack_without_a_pool_is_refused_before_any_aws_call(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    # the shipped dev stack file: auth.mode local
    assert run("list", "--stack", "dev") == EXIT_USAGE
    assert "local accounts" in capsys.readouterr().err
    assert aws_env.calls == []


@pytest.mark.usefixtures("oidc_stacks")
def test_production_needs_the_extra_flag(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.selected = "production"
    pool = make_pool("production")
    argv = ("add", "--stack", "production", "--email", "ada@example.com", "--yes")
    assert run(*argv) == EXIT_REFUSED
    assert "--production" in capsys.readouterr().err
    assert aws_env.calls == []
    assert run(*argv, "--production") == EXIT_OK
    assert members(pool, "ollama-users") == {"ada@example.com"}


@pytest.mark.usefixtures("oidc_stacks")
def test_a_stack_other_than_the_selected_one_is_refused(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    make_pool("staging")
    pulumi.selected = "dev"
    argv = ("add", "--stack", "staging", "--email", "ada@example.com", "--yes")
    assert run(*argv) == EXIT_NOT_SELECTED
    assert "selected stack 'dev'" in capsys.readouterr().err
    assert aws_env.calls == []
    assert run(*argv, "--force-cross-env") == EXIT_OK


@pytest.mark.usefixtures("oidc_stacks")
def test_missing_and_ambiguous_pools_are_explained(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("list", "--stack", "dev") == EXIT_FAILURE
    assert "no Cognito user pool named ollama-users-dev" in capsys.readouterr().err
    make_pool()
    make_pool()
    assert run("list", "--stack", "dev") == EXIT_FAILURE
    assert "2 Cognito user pools" in capsys.readouterr().err


@pytest.mark.usefixtures("oidc_stacks")
def test_dry_run_changes_nothing(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    pool = make_pool()
    argv = ("add", "--stack", "dev", "--email", "ada@example.com", "--dry-run")
    assert run(*argv) == EXIT_OK
    assert aws_env.mutations() == [] and members(pool, "ollama-users") == set()
