"""`ollama-ops destroy` (Property 19) and `ollama-ops env` (selection and the cross-env guard)."""

from __future__ import annotations

import json

import ops_support
import pytest
from ops_support import ACCOUNT, AwsRecorder, FakePulumi, answer, cli, make_table, setup_client

from ollama_infra import naming
from ollama_infra.ops import common, pulumi_cli
from ollama_infra.ops.common import EXIT_REFUSED, EXIT_USAGE

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi


def _destroyed(fake: FakePulumi) -> bool:
    return any(c[:1] == ["destroy"] and "--preview-only" not in c for c in fake.calls)


# --- Property 19 ---------------------------------------------------------------------------


def test_property_19_destroy_refuses_without_confirmation(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    """Property 19: no confirmation (no terminal, no --yes) means nothing is destroyed."""
    assert cli("destroy", "--stack", "dev") == EXIT_REFUSED
    assert "confirmation needed" in capsys.readouterr().err
    assert not _destroyed(pulumi)
    assert aws_env.mutations() == []


@pytest.mark.parametrize("typed", ["yes", "y", "DEV", "staging", ""])
def test_property_19_destroy_needs_the_exact_stack_name(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch, typed: str
) -> None:
    prompts = answer(monkeypatch, typed)
    assert cli("destroy", "--stack", "dev") == EXIT_REFUSED
    assert "Type 'dev' to confirm" in prompts[0]
    assert not _destroyed(pulumi)


def test_property_19_destroy_with_the_typed_name_runs(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer(monkeypatch, "dev")
    assert cli("destroy", "--stack", "dev") == 0
    assert ["destroy", "--stack", "dev", "--yes", "--non-interactive"] in pulumi.calls


@pytest.mark.parametrize(
    "argv",
    [
        ["destroy", "--stack", "production", "--yes"],
        ["deploy", "--stack", "production", "--yes", "--skip-health"],
        ["restore", "dynamodb", "--stack", "production", "--latest", "--switch", "--yes"],
        [
            "restore",
            "switch",
            "--stack",
            "production",
            "--table",
            "ollama-data-table-restored-t-1-production",
            "--yes",
        ],
        ["restore", "s3", "--stack", "production", "--key", "k", "--version-id", "v", "--yes"],
        ["restore", "state", "--stack", "production", "--file", "x.json", "--yes"],
    ],
)
def test_property_19_production_needs_the_extra_flag(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """Property 19: destructive commands never touch production without --production."""
    pulumi.selected = "production"
    assert cli(*argv) == EXIT_REFUSED
    assert "without --production" in capsys.readouterr().err
    assert aws_env.mutations() == []
    assert not any(c[:1] in (["up"], ["destroy"], ["stack", "import"]) for c in pulumi.calls)


def test_property_19_production_destroy_refused_while_protected(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.selected = "production"
    table = naming.StackNames("production", ACCOUNT).table
    make_table(table, [])
    setup_client("dynamodb").update_table(TableName=table, DeletionProtectionEnabled=True)
    code = cli("destroy", "--stack", "production", "--production", "--yes")
    assert code == EXIT_REFUSED
    err = capsys.readouterr().err
    assert f"deletion protection is on for: DynamoDB table {table}" in err
    assert "ollama-ops backup dynamodb --stack production" in err  # a backup is offered first
    assert not _destroyed(pulumi)


def _pulumi_changes(fake: FakePulumi) -> list[list[str]]:
    return [c for c in fake.calls if c[:1] == ["destroy"] or c[:2] == ["state", "unprotect"]]


def test_destroy_outside_dev_refuses_protected_state_and_explains_unprotect(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stateful resources are protected outside dev: no destroy without --unprotect."""
    pulumi.selected = "staging"
    assert cli("destroy", "--stack", "staging", "--yes") == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "protects its stateful resources" in err
    assert "pulumi state unprotect --stack staging --all" in err and "--unprotect" in err
    assert _pulumi_changes(pulumi) == []
    assert aws_env.mutations() == []


@pytest.mark.parametrize("typed", [None, "yes", "production"])
def test_unprotect_still_needs_the_typed_stack_name(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch, typed: str | None
) -> None:
    """--yes does not replace the typed confirmation when protection is to be cleared."""
    pulumi.selected = "staging"
    if typed is not None:
        answer(monkeypatch, typed)
    assert cli("destroy", "--stack", "staging", "--unprotect", "--yes") == EXIT_REFUSED
    assert _pulumi_changes(pulumi) == []


def test_unprotect_with_the_typed_name_unprotects_then_destroys(
    aws_env: AwsRecorder, pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulumi.selected = "staging"
    prompts = answer(monkeypatch, "staging")
    assert cli("destroy", "--stack", "staging", "--unprotect") == 0
    assert "Retained on delete" in prompts[0] and "Table" in prompts[0]
    assert _pulumi_changes(pulumi) == [
        ["state", "unprotect", "--stack", "staging", "--all", "--yes"],
        ["destroy", "--stack", "staging", "--yes", "--non-interactive"],
    ]


def test_destroy_with_backup_first_backs_up_then_destroys(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    table = naming.StackNames("dev", ACCOUNT).table
    make_table(table, [{"environment": "dev", "model": "m"}])
    assert cli("destroy", "--stack", "dev", "--yes", "--backup-first") == 0
    backups = setup_client("dynamodb").list_backups(TableName=table)["BackupSummaries"]
    assert len(backups) == 1 and "pre-destroy" in backups[0]["BackupName"]
    assert _destroyed(pulumi)


def test_destroy_dry_run_only_previews(aws_env: AwsRecorder, pulumi: FakePulumi) -> None:
    assert cli("destroy", "--stack", "dev", "--dry-run") == 0
    assert ["destroy", "--stack", "dev", "--preview-only", "--non-interactive"] in pulumi.calls
    assert not _destroyed(pulumi)
    assert aws_env.mutations() == []


def test_destroy_failure_is_mapped(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.results[("destroy",)] = pulumi_cli.Result(
        255, "", "error: the stack is currently locked by 1 lock(s)"
    )
    assert cli("destroy", "--stack", "dev", "--yes") == 24
    assert "locked" in capsys.readouterr().err


# --- env and the cross-environment guard ---------------------------------------------------


def test_env_show_is_prominent(pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]) -> None:
    pulumi.selected = "production"
    assert cli("env", "show") == 0
    out = capsys.readouterr().out
    assert "CURRENT STACK: PRODUCTION" in out and "*** PRODUCTION ***" in out


def test_env_show_json_and_nothing_selected(
    pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.selected = None
    assert cli("env", "show", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["selected"] is None and {"dev", "staging", "production"} <= set(doc["stacks"])


def test_env_show_from_pulumi_stack_variable(
    pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PULUMI_STACK", "acme/ollama/staging")
    assert cli("env", "show", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["selected"] == "staging" and doc["source"] == "PULUMI_STACK"
    assert not pulumi.calls  # the variable wins; the CLI is not asked


def test_env_switch_selects_a_valid_stack(pulumi: FakePulumi) -> None:
    assert cli("env", "switch", "--stack", "staging") == 0
    assert ["stack", "select", "staging"] in pulumi.calls


def test_env_switch_refuses_an_invalid_config(
    pulumi: FakePulumi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ollama_infra.ops import envs

    real = envs.load_stack_values

    def broken(stack: str, *args: object) -> dict[str, object]:
        values = real(stack, *args)
        values["ollama:network"] = {"vpc_cidr": "not-a-cidr"}
        return values

    monkeypatch.setattr(envs, "load_stack_values", broken)
    assert cli("env", "switch", "--stack", "staging") == EXIT_USAGE
    assert "ollama:network.vpc_cidr" in capsys.readouterr().err
    assert not pulumi.ran("stack", "select")


def test_env_switch_failure_is_reported(
    pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.results[("stack", "select")] = pulumi_cli.Result(
        255, "", "error: no stack named 'staging' found"
    )
    assert cli("env", "switch", "--stack", "staging") == 1
    assert "no stack named 'staging'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["destroy", "--stack", "staging", "--yes"],
        ["backup", "dynamodb", "--stack", "staging"],
        ["monitor", "scaling", "--stack", "staging", "--once"],
        ["health", "--stack", "staging"],
        [
            "restore",
            "switch",
            "--stack",
            "staging",
            "--table",
            "ollama-data-table-restored-t-1-staging",
            "--yes",
        ],
    ],
)
def test_cross_env_commands_are_refused(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    pulumi.selected = "dev"
    assert cli(*argv) == common.EXIT_NOT_SELECTED
    err = capsys.readouterr().err
    assert "differs from the selected stack 'dev'" in err and "--force-cross-env" in err
    assert aws_env.calls == []
    assert not _destroyed(pulumi)


def test_no_pulumi_cli_means_no_selection_to_guard(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> None:
    pulumi.installed = False
    assert pulumi_cli.selected_stack() is None
