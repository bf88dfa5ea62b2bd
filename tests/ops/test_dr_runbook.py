"""docs/runbooks/disaster-recovery.md, executed: fail-over and fail-back, command by command.

The commands of the runbook's "Failing over" and "Failing back" sections are extracted with
the same extractor the documentation check uses (tests/commandcheck.py) and run in the order
written: ``ollama-ops`` through the CLI's entry point, ``pulumi`` through the CLI's Pulumi
runner. Only the placeholders in ``FILL_IN`` are substituted; any other command head, or an
unknown placeholder, fails the test, so the runbook has to stay executable.

Test doubles: moto stands in for AWS; ``RunbookPulumi`` (below) for the Pulumi CLI. It
records every call and plays the part of the real CLI where later commands depend on it:
``stack select`` selects, ``config set --path`` edits the stack file, and ``up`` creates
(in moto) what the following commands look at (bucket, table, target group, ASG), with the
stack file's deletion protection. A fake Open WebUI answers the health checks.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ops_support
import pytest
import yaml
from commandcheck import extract_commands
from harness import CATALOG_TABLE
from ops_support import (
    ACCOUNT,
    REGION,
    AwsRecorder,
    FakePulumi,
    WebUIState,
    cli,
    make_asg,
    make_target_group,
    replicate,
    setup_client,
)

from ollama_infra import naming
from ollama_infra.config import PROJECT_ROOT, load_stack_values, parse_config, set_root
from ollama_infra.config import stack_names as names_of
from ollama_infra.ops import pulumi_cli
from ollama_infra.ops.common import EXIT_OK

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
webui = ops_support.webui

RUNBOOK = PROJECT_ROOT / "docs" / "runbooks" / "disaster-recovery.md"
DR = "production-us-west-2"
DR_REGION = "us-west-2"
CERT = f"arn:aws:acm:{DR_REGION}:{ACCOUNT}:certificate/11111111-2222-3333-4444-555555555555"
FILL_IN = {"<dr-certificate-arn>": CERT}
PRIMARY = names_of("production", ACCOUNT)
DR_NAMES = names_of(DR, ACCOUNT)
UPLOADS = {"open-webui/uploads/a.pdf": b"report", "open-webui/uploads/b.png": b"image"}


def section_commands(text: str, heading: str) -> list[str]:
    """The fenced commands under ``## <heading>``, in order, placeholders filled in."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"the runbook has no '## {heading}' section"
    out = []
    for command in extract_commands(match.group(1), heading):
        if not command.fenced:
            continue
        line = command.text
        for placeholder, value in FILL_IN.items():
            line = line.replace(placeholder, value)
        assert "<" not in line, f"{command.where}: unknown placeholder in `{line}`"
        out.append(line)
    return out


class RunbookPulumi(FakePulumi):
    """FakePulumi that also selects stacks, edits stack files and 'deploys' into moto."""

    root: Path = PROJECT_ROOT

    def __call__(self, argv: list[str], **kwargs: Any) -> pulumi_cli.Result:
        args = list(argv[1:])
        stack = args[args.index("--stack") + 1] if "--stack" in args else self.selected
        if args[:2] == ["stack", "select"]:
            self.selected = args[-1]
        elif args[:3] == ["config", "set", "--path"]:
            self._config_set(str(stack), args[3], args[4])
        elif args[:1] == ["up"]:
            self._deploy(str(stack))
        return super().__call__(argv, **kwargs)

    def _config_set(self, stack: str, key: str, value: str) -> None:
        """Pulumi's `config set --path ns:a.b true|false`: a nested bool in the stack file."""
        path = self.root / f"Pulumi.{stack}.yaml"
        doc = yaml.safe_load(path.read_text())
        namespace, _, rest = key.partition(":")
        section, _, leaf = rest.partition(".")
        block = doc["config"].setdefault(f"{namespace}:{section}", {})
        block[leaf] = {"true": True, "false": False}.get(value, value)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))

    def _deploy(self, stack: str) -> None:
        """What `pulumi up` would leave behind that the runbook's next commands read."""
        cfg = parse_config(stack, load_stack_values(stack, self.root))
        names = names_of(stack, ACCOUNT)
        region = cfg.region
        s3 = setup_client("s3", region)
        if names.storage_bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(
                Bucket=names.storage_bucket,
                CreateBucketConfiguration={"LocationConstraint": region},
            )
            _table(names.table, region)
            make_target_group(names.webui_target_group, region=region)
            make_asg(names.asg, 1, 3, 1, region=region)
        setup_client("dynamodb", region).update_table(
            TableName=names.table, DeletionProtectionEnabled=cfg.deletion_protection
        )


def _table(name: str, region: str) -> None:
    ddb = setup_client("dynamodb", region)
    ddb.create_table(
        TableName=name,
        **CATALOG_TABLE,
        DeletionProtectionEnabled=True,
    )


def _primary_before_the_disaster() -> None:
    """The deployed primary: its bucket replicating to the replica in us-west-2, a table with
    a backup, a healthy target group; the replica already holds the uploads."""
    s3 = setup_client("s3")
    s3.create_bucket(Bucket=PRIMARY.storage_bucket)
    s3.put_bucket_versioning(
        Bucket=PRIMARY.storage_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    replica = setup_client("s3", DR_REGION)
    replica.create_bucket(
        Bucket=PRIMARY.storage_dr_bucket,
        CreateBucketConfiguration={"LocationConstraint": DR_REGION},
    )
    replica.put_bucket_versioning(
        Bucket=PRIMARY.storage_dr_bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    replicate(PRIMARY.storage_bucket, PRIMARY.storage_dr_bucket, naming.STORAGE_PREFIX)
    for key, body in UPLOADS.items():  # replicated before the outage
        replica.put_object(Bucket=PRIMARY.storage_dr_bucket, Key=key, Body=body)
    _table(PRIMARY.table, REGION)
    setup_client("dynamodb").create_backup(TableName=PRIMARY.table, BackupName="daily")
    setup_client("backup", DR_REGION).create_backup_vault(
        BackupVaultName="ollama-backup-copy-vault-production"
    )
    make_target_group(PRIMARY.webui_target_group)


@pytest.fixture
def runbook_env(
    aws_env: AwsRecorder,
    webui: tuple[str, WebUIState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[AwsRecorder, RunbookPulumi, list[str]]]:
    """moto with a deployed primary, the stack files in a temporary folder, a terminal where
    the operator confirms (typing the stack name when asked), and the fake Pulumi CLI."""
    for stack in ("dev", "staging", "production"):
        shutil.copy(PROJECT_ROOT / f"Pulumi.{stack}.yaml", tmp_path)
    previous_root = set_root(tmp_path)
    url, state = webui
    state.models = list(parse_config("production", load_stack_values("production")).ollama.models)
    monkeypatch.setenv("OPEN_WEBUI_API_KEY", state.api_key)
    fake = RunbookPulumi(selected="dev", outputs={"ollama_url": url})
    fake.root = tmp_path
    previous_runner = pulumi_cli.set_runner(fake)
    prompts: list[str] = []

    def operator(prompt: str = "") -> str:
        prompts.append(prompt)
        typed = re.search(r"Type '([^']+)' to confirm", prompt)
        return typed.group(1) if typed else "y"

    from ollama_infra.ops import common

    monkeypatch.setattr(common, "_interactive", lambda: True)
    monkeypatch.setattr("builtins.input", operator)
    _primary_before_the_disaster()
    try:
        yield aws_env, fake, prompts
    finally:
        pulumi_cli.set_runner(previous_runner)
        set_root(previous_root)


def run_all(commands: list[str], fake: RunbookPulumi) -> None:
    for line in commands:
        words = shlex.split(line)
        if words[0] == "ollama-ops":
            code = cli(*words[1:])
        elif words[0] == "pulumi":
            code = pulumi_cli.run(words[1:], line).returncode
        else:
            raise AssertionError(f"the runbook command `{line}` cannot be executed here")
        assert code == EXIT_OK, f"`{line}` exited {code}"


def _objects(bucket: str, region: str) -> dict[str, bytes]:
    s3 = setup_client("s3", region)
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_the_runbook_sections_hold_commands() -> None:
    text = RUNBOOK.read_text()
    over, back = section_commands(text, "Failing over"), section_commands(text, "Failing back")
    assert any(c.startswith("ollama-ops dr deploy-region") for c in over)
    assert any(c.startswith("ollama-ops destroy --stack production-us-west-2") for c in back)
    with pytest.raises(AssertionError, match="unknown placeholder"):
        section_commands(
            "## Failing over\n\n```bash\nollama-ops health --stack <x>\n```\n", "Failing over"
        )


def test_fail_over_and_fail_back_run_as_written(
    runbook_env: tuple[AwsRecorder, RunbookPulumi, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder, fake, prompts = runbook_env
    text = RUNBOOK.read_text()
    dr_file = fake.root / f"Pulumi.{DR}.yaml"

    run_all(section_commands(text, "Failing over"), fake)
    # The DR stack exists as a stack of its own, planned and deployed by name.
    assert yaml.safe_load(dr_file.read_text())["config"]["ollama:environment"]["primary"] == (
        "production"
    )
    assert ["stack", "select", "--create", DR] in fake.calls
    assert ["up", "--stack", DR, "--yes", "--non-interactive"] in fake.calls
    assert "offline plan of production-us-west-2" in capsys.readouterr().out
    # The uploads came from the primary's replica into the DR stack's own bucket.
    assert _objects(DR_NAMES.storage_bucket, DR_REGION) == UPLOADS

    # During the outage a user uploads a file to the DR stack.
    setup_client("s3", DR_REGION).put_object(
        Bucket=DR_NAMES.storage_bucket, Key="open-webui/uploads/c.txt", Body=b"new"
    )
    run_all(section_commands(text, "Failing back"), fake)
    assert _objects(PRIMARY.storage_bucket, REGION) == {
        **UPLOADS,
        "open-webui/uploads/c.txt": b"new",
    }
    # The DR stack, and only it, was destroyed, after the typed confirmation.
    destroys = [c for c in fake.calls if c[0] == "destroy"]
    assert destroys == [["destroy", "--stack", DR, "--yes", "--non-interactive"]]
    assert any(f"Type '{DR}' to confirm" in p for p in prompts)
    assert fake.selected == "production"
    # Nothing in the runbook touched the primary's table or replica.
    touched = {str(p.get("TableName") or p.get("Bucket")) for _, _op, p in recorder.calls}
    assert PRIMARY.table not in {
        str(p.get("TableName"))
        for _, op, p in recorder.calls
        if op in ("DeleteTable", "UpdateTable", "PutItem")
    }
    assert PRIMARY.storage_dr_bucket in touched  # read, as the source of the fail-over copy
    assert not [
        op
        for _, op, p in recorder.calls
        if p.get("Bucket") == PRIMARY.storage_dr_bucket
        and not op.startswith(("List", "Get", "Head"))
    ]
