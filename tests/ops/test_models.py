"""``ollama-ops models`` against moto (a test double for DynamoDB and STS).

A recording client factory counts every AWS call, so "rejected before any write" means
exactly that: no call at all reached AWS, and the table is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from harness import CATALOG_TABLE
from moto import mock_aws
from ops_support import FakePulumi

from ollama_infra import catalog
from ollama_infra.ops import aws, common, pulumi_cli
from ollama_infra.ops.cli import main

REGION = "us-east-1"
TABLE = "ollama-data-table-dev"
DIGEST = "sha256:" + "ab" * 32


class _Http:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


@dataclass
class Recorder:
    """TEST DOUBLE helper: records every API call and can make one fail with an AWS error."""

    calls: list[str] = field(default_factory=list)
    faults: dict[str, str] = field(default_factory=dict)

    def factory(self, service: str, region: str) -> Any:
        client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
        client.meta.events.register("before-call.*.*", self._before_call)
        return client

    def _before_call(self, model: Any, **_: Any) -> Any:
        op = f"{model.service_model.service_name}:{model.name}"
        self.calls.append(op)
        if op in self.faults:
            code = self.faults[op]
            return _Http(400), {"Error": {"Code": code, "Message": f"injected {code}"}}
        return None

    def writes(self) -> list[str]:
        return [c for c in self.calls if c.split(":")[1].startswith(("Put", "Delete", "Update"))]


@pytest.fixture(autouse=True)
def selected_dev(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePulumi]:
    """The fake Pulumi CLI (test double) with dev selected: the stack guard asks it."""
    monkeypatch.delenv("PULUMI_STACK", raising=False)
    fake = FakePulumi()
    previous = pulumi_cli.set_runner(fake)
    yield fake
    pulumi_cli.set_runner(previous)


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    recorder = Recorder()
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            **CATALOG_TABLE,
        )
        previous = aws.set_client_factory(recorder.factory)
        try:
            yield recorder
        finally:
            aws.set_client_factory(previous)


def items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=TABLE)["Items"]


def seed(model: str, environment: str = "dev", enabled: bool = True) -> None:
    entry = catalog.CatalogEntry(environment, model, "arn:aws:iam::123:user/seed", "t", enabled)
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=TABLE, Item=entry.to_item())


def test_list_empty_catalog_mentions_the_fallback(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "list", "--stack", "dev"]) == 0
    out = capsys.readouterr().out
    assert "no models for dev" in out and "/ollama/dev/ollama/default-models" in out


def test_add_writes_the_documented_item(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "add", "--stack", "dev", "--model", "llama3.2:1b", "--yes"]) == 0
    (item,) = items()
    assert item["environment"] == {"S": "dev"}
    assert item["model"] == {"S": "llama3.2:1b"}
    assert item["enabled"] == {"BOOL": True}
    assert item["added_by"]["S"].startswith("arn:aws:")
    assert item["added_at"]["S"].endswith("Z") and "T" in item["added_at"]["S"]
    assert "digest" not in item
    assert "added llama3.2:1b" in capsys.readouterr().out


def test_add_with_digest_pins_it_and_a_second_add_updates(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "models",
                "add",
                "--stack",
                "dev",
                "--model",
                "qwen2.5:7b",
                "--digest",
                DIGEST,
                "--yes",
            ]
        )
        == 0
    )
    assert items()[0]["digest"] == {"S": DIGEST}
    assert (
        main(["models", "add", "--stack", "dev", "--model", f"qwen2.5:7b@{DIGEST}", "--yes"]) == 0
    )
    assert len(items()) == 1
    assert "updated qwen2.5:7b" in capsys.readouterr().out


def test_list_shows_entries_of_the_stack_only(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    seed("llama3.2:1b")
    seed("mistral:7b", enabled=False)
    seed("llama3.1:8b", environment="production")
    assert main(["models", "list", "--stack", "dev", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(e["model"], e["enabled"]) for e in listed] == [
        ("llama3.2:1b", True),
        ("mistral:7b", False),
    ]


def test_add_dry_run_writes_nothing(moto_aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "add", "--stack", "dev", "--model", "llama3.2:1b", "--dry-run"]) == 0
    assert items() == []
    assert moto_aws.writes() == []
    assert "dry run: would add" in capsys.readouterr().out


@pytest.mark.parametrize(
    "model",
    [
        "llama3.2:1b; curl http://x | sh",
        "$(reboot)",
        "llama3`id`",
        "llama3 && rm -rf /",
        "llama3|nc",
        "../../etc/passwd",
        "llama3\nrm",
        "Llama3",
    ],
)
def test_shell_metacharacters_are_rejected_before_any_aws_call(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str], model: str
) -> None:
    seed("llama3.2:1b")
    before = items()
    moto_aws.calls.clear()
    for argv in (
        ["models", "add", "--stack", "dev", "--model", model],
        ["models", "remove", "--stack", "dev", "--model", model, "--yes"],
    ):
        assert main(argv) == common.EXIT_USAGE
        err = capsys.readouterr().err
        assert "not a valid Ollama model reference" in err
        assert "nothing was changed" in err
    assert moto_aws.calls == []  # not even a read reached AWS
    assert items() == before


def test_bad_digest_is_rejected_before_any_aws_call(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["models", "add", "--stack", "dev", "--model", "llama3.2:1b", "--digest", "sha256:xyz"]
    assert main(argv) == common.EXIT_USAGE
    assert "sha256:<64 lowercase hex" in capsys.readouterr().err
    assert moto_aws.calls == [] and items() == []


def test_remove_needs_confirmation(
    moto_aws: Recorder, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed("llama3.2:1b")
    monkeypatch.setattr(common, "_interactive", lambda: False)
    assert main(["models", "remove", "--stack", "dev", "--model", "llama3.2:1b"]) == (
        common.EXIT_REFUSED
    )
    assert "confirmation needed" in capsys.readouterr().err
    assert len(items()) == 1 and moto_aws.writes() == []

    monkeypatch.setattr(common, "_interactive", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    assert main(["models", "remove", "--stack", "dev", "--model", "llama3.2:1b"]) == (
        common.EXIT_REFUSED
    )
    assert len(items()) == 1

    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    assert main(["models", "remove", "--stack", "dev", "--model", "llama3.2:1b"]) == 0
    assert items() == []


def test_remove_with_yes_dry_run_and_missing_model(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    seed("llama3.2:1b")
    assert main(["models", "remove", "--stack", "dev", "--model", "llama3.2:1b", "--dry-run"]) == 0
    assert len(items()) == 1 and moto_aws.writes() == []
    assert main(["models", "remove", "--stack", "dev", "--model", "llama3.2:1b", "--yes"]) == 0
    assert items() == []
    capsys.readouterr()
    assert main(["models", "remove", "--stack", "dev", "--model", "llama3.2:1b", "--yes"]) == (
        common.EXIT_USAGE
    )
    assert "not in the dev catalog" in capsys.readouterr().err


def test_aws_errors_are_explained(moto_aws: Recorder, capsys: pytest.CaptureFixture[str]) -> None:
    moto_aws.faults["dynamodb:PutItem"] = "AccessDeniedException"
    assert main(["models", "add", "--stack", "dev", "--model", "llama3.2:1b", "--yes"]) == (
        common.EXIT_PERMISSION
    )
    err = capsys.readouterr().err
    assert "writing to the model catalog ollama-data-table-dev" in err and "fix:" in err
    assert items() == []


def test_missing_table_names_the_stack_and_region(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["models", "list", "--stack", "staging", "--force-cross-env"]
    assert main(argv) == common.EXIT_NOT_FOUND
    err = capsys.readouterr().err
    assert "ollama-data-table-staging" in err and "--region" in err


def test_catalog_entry_round_trip_and_validation() -> None:
    entry = catalog.new_entry("staging", f"llama3.2:3b@{DIGEST}", "arn:aws:iam::1:user/a")
    assert (entry.model, entry.digest) == ("llama3.2:3b", DIGEST)
    assert catalog.CatalogEntry.from_item(entry.to_item()) == entry
    with pytest.raises(catalog.CatalogError, match="give the digest once"):
        catalog.parse_model(f"llama3.2:3b@{DIGEST}", "sha256:" + "cd" * 32)
    with pytest.raises(catalog.CatalogError, match="pass --stack"):
        catalog.new_entry("prod", "llama3.2:3b", "me")


def test_models_follow_the_active_table_after_a_restore_switch(
    moto_aws: Recorder, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `ollama-ops restore switch`, the CLI manages the table the instances read."""
    restored = "ollama-data-table-restored-x-dev"
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    schema = dynamodb.describe_table(TableName=TABLE)["Table"]
    dynamodb.create_table(
        TableName=restored,
        KeySchema=schema["KeySchema"],
        AttributeDefinitions=schema["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/ollama/dev/data/active-table", Value=restored, Type="String"
    )
    assert main(["models", "add", "--stack", "dev", "--model", "phi3", "--yes"]) == 0
    assert items() == []
    (item,) = dynamodb.scan(TableName=restored)["Items"]
    assert item["model"] == {"S": "phi3"}
    assert restored in capsys.readouterr().out
