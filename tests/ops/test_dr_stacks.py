"""DR stacks by name, and --region that can never redirect a command (moto + a fake Pulumi CLI).

Test doubles: moto stands in for AWS and ``FakePulumi`` (tests/ops/ops_support.py) for the
Pulumi CLI; a temporary folder holds the stack files (``config.set_root``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import ops_support
import pytest
import yaml
from harness import CATALOG_TABLE
from ops_support import ACCOUNT, AwsRecorder, FakePulumi, answer, cli, setup_client

from ollama_infra import naming
from ollama_infra.config import (
    PROJECT_ROOT,
    load_stack_values,
    parse_config,
    parse_stack_name,
    set_root,
    stack_names,
)
from ollama_infra.config.fields import REGION_RE, known_regions
from ollama_infra.ops import dr
from ollama_infra.ops.common import EXIT_OK, EXIT_REFUSED, EXIT_USAGE

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi

DR = "production-us-west-2"
DR_REGION = "us-west-2"
CERT = f"arn:aws:acm:{DR_REGION}:{ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555"
THE_COMMAND = ("destroy", "--stack", "production", "--region", DR_REGION)
THE_FLAGS = ("--force-cross-env", "--production")


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[Path]:
    """The three primary stack files and a DR stack file for production in us-west-2."""
    for stack in ("dev", "staging", "production"):
        shutil.copy(PROJECT_ROOT / f"Pulumi.{stack}.yaml", tmp_path)
    values = dr.dr_values(load_stack_values("production"), DR_REGION, "production", CERT, None)
    (tmp_path / f"Pulumi.{DR}.yaml").write_text(yaml.safe_dump({"config": values}))
    previous = set_root(tmp_path)
    try:
        yield tmp_path
    finally:
        set_root(previous)


def test_the_destroy_that_named_the_wrong_stack_is_refused_before_any_call(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    stacks: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`destroy --stack production --region us-west-2`: the primary lives in us-east-1.

    Before the fix this prompted "deletes EVERY resource of stack 'production' in us-west-2"
    and ran `pulumi destroy --stack production`. Now no Pulumi and no AWS call happens, and the
    message names the stack's real region and the DR stack to name instead.
    """
    prompts = answer(monkeypatch, "production")  # an operator who would type the name
    code = cli(*THE_COMMAND, *THE_FLAGS)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert "which lives in us-east-1" in err and f"--stack {DR}" in err
    assert pulumi.calls == []  # not even `pulumi stack --show-name`
    assert aws_env.calls == []
    assert prompts == []


def test_the_same_destroy_with_the_stacks_own_region_does_reach_pulumi(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    stacks: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The harness above would see a Pulumi call: with the agreeing region the command runs."""
    answer(monkeypatch, "production")
    code = cli("destroy", "--stack", "production", "--region", "us-east-1", *THE_FLAGS)
    assert code == EXIT_REFUSED  # protected outside dev without --unprotect
    assert pulumi.ran("stack", "--show-name")
    assert aws_env.calls != []


def test_destroying_the_dr_stack_destroys_it_and_never_the_primary(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    stacks: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pulumi.selected = DR
    prompts = answer(monkeypatch, DR)
    assert cli("destroy", "--stack", DR, "--production", "--unprotect") == EXIT_OK
    assert f"stack '{DR}' in {DR_REGION}" in prompts[0]
    destroys = [c for c in pulumi.calls if c[0] == "destroy"]
    assert destroys == [["destroy", "--stack", DR, "--yes", "--non-interactive"]]
    assert ["state", "unprotect", "--stack", DR, "--all", "--yes"] in pulumi.calls
    # Deletion protection was looked up under the DR stack's names, in its region.
    names = stack_names(DR, ACCOUNT)
    tables = [p for s, op, p in aws_env.calls if op == "DescribeTable"]
    assert tables == [{"TableName": names.table}] and names.table.endswith("-prod-usw2")


def test_the_dr_stack_is_a_production_stack(
    aws_env: AwsRecorder, pulumi: FakePulumi, stacks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pulumi.selected = DR
    assert cli("destroy", "--stack", DR, "--unprotect", "--yes") == EXIT_REFUSED
    assert "without --production" in capsys.readouterr().err
    assert not pulumi.ran("destroy")


@pytest.mark.parametrize(
    "argv",
    [
        ["health"],
        ["monitor", "scaling", "--once"],
        ["models", "list"],
        ["backup", "dynamodb"],
        ["restore", "dynamodb", "--latest"],
        ["dr", "sync-uploads", "--from-replica"],
        ["deploy", "--dry-run"],
    ],
)
def test_every_command_refuses_a_region_that_is_not_the_stacks(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    stacks: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    code = cli(*argv, "--stack", DR, "--region", "us-east-1", "--force-cross-env")
    assert code == EXIT_USAGE
    assert f"stack '{DR}', which lives in {DR_REGION}" in capsys.readouterr().err
    assert pulumi.calls == [] and aws_env.calls == []


def test_commands_act_on_the_dr_stack_by_name_in_its_region(
    aws_env: AwsRecorder, pulumi: FakePulumi, stacks: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """models list on the DR stack reads the DR table, in us-west-2, keyed by the environment."""
    names = stack_names(DR, ACCOUNT)
    ddb = setup_client("dynamodb", DR_REGION)
    ddb.create_table(
        TableName=names.table,
        **CATALOG_TABLE,
    )
    ddb.put_item(
        TableName=names.table,
        Item={
            "environment": {"S": "production"},
            "model": {"S": "llama3.1:8b"},
            "added_by": {"S": "ops"},
            "added_at": {"S": "2026-12-01T00:00:00Z"},
            "enabled": {"BOOL": True},
        },
    )
    pulumi.selected = DR
    assert cli("models", "list", "--stack", DR) == EXIT_OK
    assert "llama3.1:8b" in capsys.readouterr().out
    assert {p.get("TableName") for _, op, p in aws_env.calls if op == "Query"} == {names.table}


def test_stack_names_are_checked_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli("health", "--stack", "prod-us-west-2")
    assert info.value.code == EXIT_USAGE
    assert "production-us-west-2" in capsys.readouterr().err  # the help names the form


def test_a_dr_stack_file_is_validated_against_its_name(stacks: Path) -> None:
    values = load_stack_values(DR)
    cfg = parse_config(DR, values)
    assert cfg.env == "production" and cfg.is_production and cfg.is_dr
    assert cfg.environment.primary == "production" and cfg.name_suffix == "prod-usw2"
    broken = {**values, "aws:region": "eu-west-1"}
    with pytest.raises(Exception, match="named after its region us-west-2"):
        parse_config(DR, broken)
    no_primary = {**values, "ollama:environment": {"name": "production"}}
    with pytest.raises(Exception, match="copies the primary stack 'production'"):
        parse_config(DR, no_primary)
    primary_with_primary = load_stack_values("staging")
    primary_with_primary["ollama:environment"] = {"name": "staging", "primary": "staging"}
    with pytest.raises(Exception, match="only DR stacks"):
        parse_config("staging", primary_with_primary)


def _too_long(suffix: str) -> list[str]:
    return [
        name
        for _, name, kind in naming.all_names(suffix, ACCOUNT)
        if len(name) > naming.NAME_LIMITS[kind]
    ]


@pytest.mark.parametrize("env", ["dev", "staging", "production"])
def test_every_region_gives_dr_names_within_aws_limits(env: str) -> None:
    """The DR suffix fits every length-limited name (IAM prefixes: 38) in every region."""
    regions = sorted(r for r in known_regions() if REGION_RE.match(r))  # what config accepts
    assert "us-west-2" in regions and len(regions) > 20
    suffixes = {region: parse_stack_name(f"{env}-{region}").suffix for region in regions}
    for region, suffix in suffixes.items():
        assert _too_long(suffix) == [], region
    assert len(set(suffixes.values())) == len(regions)  # two regions never share names
    # The stack name itself as the suffix would not fit: the check above can fail.
    assert _too_long(f"{env}-ap-southeast-2") != []


def test_region_codes() -> None:
    assert naming.region_code("us-west-2") == "usw2"
    assert naming.region_code("ap-southeast-2") == "apse2"
    assert naming.region_code("us-gov-west-1") == "usgw1"
    assert naming.dr_suffix("production", "eu-central-1") == "prod-euc1"
