"""Stack-file mistakes a newcomer makes: each gets file, key or line, the rule and the fix.

Every case here used to be accepted silently (exit 0, a full plan) or to end in a traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import stack_values

from ollama_infra.config import (
    ConfigError,
    StackFileError,
    StackFileMissing,
    config_warnings,
    load_stack_values,
    parse_config,
)
from ollama_infra.config.fields import check_cron, check_region, check_timezone, known_regions
from ollama_infra.ops.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEV_FILE = (ROOT / "Pulumi.dev.yaml").read_text()


def _write(tmp_path: Path, text: str, stack: str = "dev") -> Path:
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def _dev_with(**sections: dict[str, Any]) -> dict[str, Any]:
    values = stack_values("dev")
    for section, changes in sections.items():
        key = "aws:region" if section == "aws_region" else f"ollama:{section}"
        if section == "aws_region":
            values[key] = changes
        else:
            values[key] = {**values.get(key, {}), **changes}
    return values


def _problems(values: dict[str, Any], stack: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(stack, values)
    return [i.key for i in info.value.issues]


# ---------------------------------------------------------------- YAML syntax


@pytest.mark.parametrize(
    ("broken", "line", "column", "fix"),
    [
        # a tab where YAML expects spaces
        (DEV_FILE.replace("    min_size: 1", "\tmin_size: 1"), 16, 1, "spaces, not tabs"),
        # a key indented one space less than its siblings
        (DEV_FILE.replace("    min_size: 1", "   min_size: 1"), 16, 4, "indentation"),
        # a list item under a mapping key at the wrong depth
        (DEV_FILE.replace("    num_parallel: 2", "  - num_parallel: 2"), 26, 3, "indentation"),
    ],
    ids=["tab", "dedented-key", "misplaced-list-item"],
)
def test_yaml_syntax_errors_name_file_line_column_and_fix(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    broken: str,
    line: int,
    column: int,
    fix: str,
) -> None:
    folder = _write(tmp_path, broken)
    with pytest.raises(StackFileError) as info:
        load_stack_values("dev", folder)
    assert f"Pulumi.dev.yaml, line {line}, column {column}:" in info.value.message
    assert fix in info.value.fix
    assert main(["plan", "--stack", "dev", "--config-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert f"line {line}, column {column}" in err and f"fix: {info.value.fix}" in err


@pytest.mark.parametrize(
    ("old", "new", "line", "first"),
    [
        ("    min_size: 1\n", "    min_size: 1\n    min_size: 3\n", 17, 16),
        ("  ollama:backup:\n", "  ollama:compute:\n    min_size: 0\n  ollama:backup:\n", 32, 14),
    ],
    ids=["nested", "section"],
)
def test_duplicate_keys_are_errors_not_last_one_wins(
    tmp_path: Path, old: str, new: str, line: int, first: int
) -> None:
    folder = _write(tmp_path, DEV_FILE.replace(old, new, 1))
    with pytest.raises(StackFileError) as info:
        load_stack_values("dev", folder)
    assert f"line {line}" in info.value.message and f"(first on line {first})" in info.value.message
    assert "duplicate key" in info.value.message and "keep one" in info.value.fix


def test_the_real_stack_files_have_no_duplicate_keys() -> None:
    for stack in ("dev", "staging", "production"):
        assert (
            load_stack_values(stack)
            == yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        )


def test_missing_config_dir_names_the_folder(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(StackFileMissing) as info:
        load_stack_values("dev", Path("/nonexistent"))
    assert "the folder /nonexistent does not exist" in info.value.message
    assert main(["plan", "--stack", "dev", "--config-dir", "/nonexistent"]) == 15
    err = capsys.readouterr().err
    assert "no stack file Pulumi.dev.yaml: the folder /nonexistent does not exist" in err
    assert "fix: pass --config-dir the folder" in err


# ---------------------------------------------------------------- values accepted silently before


def test_unknown_namespace_is_an_error_with_the_closest_key() -> None:
    values = stack_values("dev")
    values["ollam:compute"] = values.pop("ollama:compute")
    with pytest.raises(ConfigError) as info:
        parse_config("dev", values)
    (found,) = info.value.issues
    assert found.key == "ollam:compute" and "unknown config namespace 'ollam'" in found.rule
    assert "did you mean ollama:compute" in found.fix


@pytest.mark.parametrize("key", ["aws:profile", "pulumi:disable-default-providers"])
def test_provider_and_pulumi_namespaces_are_allowed(key: str) -> None:
    parse_config("dev", {**stack_values("dev"), key: "x"})


@pytest.mark.parametrize("region", ["us-east-9", "eu-middle-1", "us-west-2a", "US-EAST-1"])
def test_regions_botocore_does_not_know_are_errors(region: str) -> None:
    assert _problems(_dev_with(aws_region=region)) == ["aws:region"]
    assert _problems(_dev_with(data={"replication_region": region})) == [
        "ollama:data.replication_region"
    ]
    assert _problems(_dev_with(backup={"copy_region": region})) == ["ollama:backup.copy_region"]


def test_region_list_is_botocores_and_suggests_the_closest() -> None:
    assert {"us-east-1", "eu-west-1", "ap-southeast-3", "us-gov-west-1"} <= known_regions()
    with pytest.raises(ValueError, match=r"did you mean us-east-2, us-east-1"):
        check_region("us-east-9")
    assert check_region("eu-central-2") == "eu-central-2"


@pytest.mark.parametrize(
    ("cron", "field"),
    [
        ("0 25 * * 1-5", "hour field '25'"),
        ("60 7 * * *", "minute field '60'"),
        ("0 7 0 * *", "day of month field '0'"),
        ("0 7 * 13 *", "month field '13'"),
        ("0 7 * * 7", "day of week field '7'"),
        ("0 7 * * 5-1", "day of week field '5-1'"),
        ("*/0 7 * * *", "minute field '*/0'"),
        ("0 7 * * MON-XYZ", "day of week field 'MON-XYZ'"),
    ],
)
def test_cron_fields_out_of_range_are_errors(cron: str, field: str) -> None:
    with pytest.raises(ValueError, match=re.escape(field)):
        check_cron(cron)
    values = _dev_with(compute={"schedule_scale_down_cron": cron})
    with pytest.raises(ConfigError) as info:
        parse_config("dev", values)
    (found,) = info.value.issues
    assert found.key == "ollama:compute.schedule_scale_down_cron" and field in found.rule
    assert "0 19 * * 1-5" in found.fix


@pytest.mark.parametrize(
    "cron",
    ["0 19 * * 1-5", "*/15 * * * *", "30 0 1 1,6,12 *", "0 7 * JAN-MAR MON-FRI", "0 0 * * 0"],
)
def test_valid_crons_pass(cron: str) -> None:
    assert check_cron(cron) == cron


@pytest.mark.parametrize("zone", ["Europe/Berln", "CET+1", "Mars/Olympus", "utc+2"])
def test_unknown_time_zones_are_errors(zone: str) -> None:
    assert _problems(_dev_with(compute={"schedule_timezone": zone})) == [
        "ollama:compute.schedule_timezone"
    ]
    for good in ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"):
        assert check_timezone(good) == good


def test_public_vpc_cidr_is_a_warning_not_an_error() -> None:
    cfg = parse_config("dev", _dev_with(network={"vpc_cidr": "8.8.0.0/16"}))
    (found,) = config_warnings(cfg)
    assert found.key == "ollama:network.vpc_cidr" and "public" in found.rule
    assert "10.0.0.0/8" in found.fix
    for private in ("10.10.0.0/16", "172.16.0.0/16", "192.168.0.0/20"):
        cfg = parse_config("dev", _dev_with(network={"vpc_cidr": private}))
        assert not [w for w in config_warnings(cfg) if w.key == "ollama:network.vpc_cidr"]


# ---------------------------------------------------------------- every problem at once


def test_every_problem_of_the_file_at_once() -> None:
    """Field errors in several sections and cross-key errors come in one report."""
    values = _dev_with(
        aws_region="us-east-9",
        compute={"min_size": 2, "max_size": 1, "schedule_timezone": "Mars/Olympus"},
        network={"az_count": 7},
        data={"storage_glacier_after_days": 10, "storage_ia_after_days": 30},
        observability={"log_retention_days": 13},
    )
    values["ollam:edge"] = {}
    with pytest.raises(ConfigError) as info:
        parse_config("dev", values)
    keys = sorted(i.key for i in info.value.issues)
    assert keys == [
        "aws:region",
        "ollam:edge",
        "ollama:compute.min_size",  # cross-key: min <= desired <= max
        "ollama:compute.schedule_timezone",
        "ollama:data.storage_glacier_after_days",  # cross-key: Glacier after IA
        "ollama:network.az_count",
        "ollama:observability.log_retention_days",
    ]
    assert "7 problem(s)" in str(info.value)


def test_a_rule_reading_an_invalid_key_is_not_reported_about_the_default() -> None:
    """An invalid instance type is replaced by the dev default for the cross-key rules; the
    staging rule against T-family types must not then complain about that default."""
    values = stack_values("staging")
    values["ollama:compute"] = {**values["ollama:compute"], "instance_type": "m7i.2xlarge!"}
    assert _problems(values, "staging") == ["ollama:compute.instance_type"]


def test_an_invalid_region_does_not_cause_certificate_region_errors() -> None:
    values = stack_values("staging")
    values["aws:region"] = "us-easst-1"
    assert _problems(values, "staging") == ["aws:region"]


# ---------------------------------------------------------------- the plan says what it read


def test_plan_prints_the_stack_file_it_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path, DEV_FILE)
    assert main(["plan", "--stack", "dev", "--config-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"stack file: {(folder / 'Pulumi.dev.yaml').resolve()}\n" in out


def test_plan_error_names_the_stack_file_it_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path, DEV_FILE.replace("aws:region: us-east-1", "aws:region: us-east-9"))
    assert main(["plan", "--stack", "dev", "--config-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"({(folder / 'Pulumi.dev.yaml').resolve()}), 1 problem(s)" in err
    assert "aws:region = \"us-east-9\": 'us-east-9' is not an AWS region" in err


def test_plan_warns_about_a_public_vpc_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path, DEV_FILE.replace("10.10.0.0/16", "8.8.0.0/16"))
    assert main(["plan", "--stack", "dev", "--config-dir", str(folder), "--json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert any(
        w.startswith('ollama:network.vpc_cidr = "8.8.0.0/16": is a public') for w in warnings
    )
