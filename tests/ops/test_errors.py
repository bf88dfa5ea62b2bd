"""The shared error table (Property 16) and the pieces around it: classification, rendering,
Pulumi version parsing, confirmation and the production guard."""

from __future__ import annotations

import argparse

import ops_support
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from ops_support import AwsRecorder, FakePulumi, cli

from ollama_infra.ops import aws, common, pulumi_cli
from ollama_infra.ops.cli import build_parser
from ollama_infra.ops.common import (
    EXIT_AWS,
    EXIT_REFUSED,
    EXIT_USAGE,
    OpsError,
    confirm,
    require_production_flag,
)

# One realistic example per rule: an AWS error code and/or a line of Pulumi output.
# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi

EXAMPLES: dict[str, tuple[str | None, str]] = {
    "expired-credentials": ("ExpiredToken", ""),
    "invalid-credentials": (None, "error: no valid credential sources for aws found"),
    "stack-locked": (None, "error: the stack is currently locked by 1 lock(s)"),
    "certificate-region": (
        None,
        "InvalidViewerCertificate: The specified SSL certificate doesn't exist, isn't in "
        "us-east-1 region",
    ),
    "permission": (None, "User: arn:aws:iam::1:user/ci is not authorized to perform: s3:PutObject"),
    "throttled": ("ThrottlingException", ""),
    "quota": ("VcpuLimitExceeded", ""),
    "not-found": ("ResourceNotFoundException", ""),
    "conflict": ("TableAlreadyExistsException", ""),
}


def test_property_16_every_rule_has_an_example() -> None:
    assert set(EXAMPLES) == {rule.key for rule in aws.ERROR_RULES}


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_property_16_each_failure_maps_to_its_rule_and_remedy(key: str) -> None:
    """Property 16: each mapped failure yields its own message, remedy and exit code."""
    code, text = EXAMPLES[key]
    rule = aws.classify(code, text)
    assert rule is not None and rule.key == key
    assert rule.remedy and rule.message


def test_property_16_rules_have_distinct_remedies() -> None:
    remedies = [rule.remedy for rule in aws.ERROR_RULES]
    assert len(set(remedies)) == len(remedies)


@pytest.mark.parametrize(
    ("code", "text"), [("SomethingNew", ""), (None, "error: a brand new failure"), (None, "")]
)
def test_property_16_unknown_failures_are_not_misclassified(code: str | None, text: str) -> None:
    assert aws.classify(code, text) is None


def _client_error(code: str, message: str = "boom") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "CreateBackup")


def test_client_error_becomes_ops_error_naming_the_action() -> None:
    err = aws.to_ops_error(_client_error("AccessDeniedException"), "backing up table t")
    assert err.exit_code == common.EXIT_PERMISSION
    rendered = err.render()
    assert rendered.startswith("error: backing up table t: the AWS identity lacks a permission")
    assert "AccessDeniedException" in rendered and "\n  fix: grant the action" in rendered


def test_unmapped_and_transport_errors() -> None:
    assert aws.to_ops_error(_client_error("Weird"), "x").exit_code == EXIT_AWS
    no_creds = aws.to_ops_error(NoCredentialsError(), "x")
    assert no_creds.exit_code == common.EXIT_CREDENTIALS
    offline = aws.to_ops_error(EndpointConnectionError(endpoint_url="https://x"), "x")
    assert offline.exit_code == EXIT_AWS and "network" in offline.remedy


def test_aws_errors_context_manager_translates() -> None:
    with pytest.raises(OpsError) as info, aws.aws_errors("listing AMIs"):
        raise _client_error("RequestLimitExceeded")
    assert info.value.exit_code == common.EXIT_THROTTLED
    assert info.value.message.startswith("listing AMIs: ")


def test_aws_errors_gives_the_command_its_own_error_for_an_expected_code() -> None:
    missing = OpsError("no secret s", "deploy first", common.EXIT_NOT_FOUND)
    known = {"ResourceNotFoundException": missing}
    with pytest.raises(OpsError) as info, aws.aws_errors("reading s", known):
        raise _client_error("ResourceNotFoundException")
    assert info.value is missing
    with pytest.raises(OpsError) as info, aws.aws_errors("reading s", known):
        raise _client_error("AccessDeniedException")  # any other code: the usual mapping
    assert info.value.exit_code == common.EXIT_PERMISSION
    assert info.value.message.startswith("reading s: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v3.272.0\n", (3, 272, 0)), ("3.300.1-dev", (3, 300, 1)), ("garbage", None)],
)
def test_parse_version(text: str, expected: tuple[int, int, int] | None) -> None:
    assert pulumi_cli.parse_version(text) == expected


@pytest.mark.parametrize(
    ("region", "valid"),
    [
        ("eu-west-1", True),
        ("us-gov-west-1", True),
        ("ap-southeast-2", True),
        ("Europe", False),
        ("us-east-1a", False),
        ("US-EAST-1", False),
        ("us-east", False),
    ],
)
def test_check_region_uses_the_config_pattern(region: str, valid: bool) -> None:
    if valid:
        assert aws.check_region(region) == region
    else:
        with pytest.raises(OpsError, match=f"--region '{region}' is not an AWS region name"):
            aws.check_region(region)


def test_region_override_is_validated() -> None:
    with pytest.raises(OpsError, match="not an AWS region"):
        aws.stack_region("dev", "Europe")
    assert aws.stack_region("dev") == "us-east-1"  # from Pulumi.dev.yaml
    assert aws.stack_region("dev", "us-east-1") == "us-east-1"  # agreeing is fine


def test_region_override_never_redirects_to_another_region() -> None:
    """--region may only repeat the stack's own region; a DR copy is named by --stack."""
    with pytest.raises(OpsError, match="which lives in us-east-1") as info:
        aws.stack_region("dev", "eu-west-1")
    assert info.value.exit_code == EXIT_USAGE
    assert "--stack dev-eu-west-1" in info.value.remedy
    # A DR stack without a stack file here still has a region: the one in its name.
    assert aws.stack_region("production-us-west-2") == "us-west-2"
    with pytest.raises(OpsError, match="which lives in us-west-2"):
        aws.stack_region("production-us-west-2", "us-east-1")
    # Only a stack with neither a stack file nor a region in its name takes --region as given.
    assert aws.stack_region("", "eu-west-1") == "eu-west-1"


def test_production_guard() -> None:
    require_production_flag("dev", False, "destroy")
    require_production_flag("production", True, "destroy")
    with pytest.raises(OpsError) as info:
        require_production_flag("production", False, "destroy")
    assert info.value.exit_code == EXIT_REFUSED


def test_confirm_with_yes_never_prompts(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prompt(*_: object) -> str:
        raise AssertionError("prompted despite --yes")

    monkeypatch.setattr("builtins.input", no_prompt)
    confirm("do it", yes=True, typed="dev")


# --- the real Pulumi runner, exercised with a harmless program instead of Pulumi -----------


def test_subprocess_runner_captures_and_streams(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    argv = [sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr)"]
    captured = pulumi_cli.subprocess_runner(argv)
    assert (captured.returncode, captured.stdout.strip(), captured.stderr.strip()) == (
        0,
        "out",
        "err",
    )
    streamed = pulumi_cli.subprocess_runner(
        [*argv[:2], "import sys; print('live'); sys.exit(3)"], stream=True
    )
    assert streamed.returncode == 3 and "live" in streamed.stdout
    assert "live" in capsys.readouterr().out  # shown while it runs


def test_missing_pulumi_cli_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    previous = pulumi_cli.set_runner(None)  # the real runner
    try:
        with pytest.raises(OpsError, match="Pulumi CLI is not on PATH"):
            pulumi_cli.run(["version"], "pulumi version")
    finally:
        pulumi_cli.set_runner(previous)


def test_a_failed_pulumi_command_raises_its_mapped_failure() -> None:
    locked = pulumi_cli.Result(255, "", "error: the stack is currently locked by 1 lock(s)")
    previous = pulumi_cli.set_runner(lambda argv, **_: locked)
    try:
        with pytest.raises(OpsError) as info:
            pulumi_cli.run(["up", "--stack", "dev"], "pulumi up (dev)", stream=True)
    finally:
        pulumi_cli.set_runner(previous)
    assert info.value.exit_code == common.EXIT_LOCKED
    assert info.value.message.startswith("pulumi up (dev) failed: the Pulumi stack is locked")


def test_pulumi_failure_keeps_the_tail_of_the_output() -> None:
    lines = "\n".join(f"line {i}" for i in range(20))
    err = pulumi_cli.failure(pulumi_cli.Result(1, lines, "error: boom"), "pulumi up (dev)")
    assert (
        "line 19" in err.message and "error: boom" in err.message and "line 3\n" not in err.message
    )


# Arguments that make each command's line valid apart from the region under test.
VALID_ARGS: dict[str, list[str]] = {
    "restore dynamodb": ["--latest"],
    "restore switch": ["--table", "ollama-data-table-restored-x-dev"],
    "restore s3": ["--prefix", "open-webui/", "--before", "2026-01-01T00:00:00Z"],
    "restore state": ["--s3-uri", "s3://ollama-pulumi-state-x/dev.json"],
    "backup state": ["--bucket", "ollama-pulumi-state-x"],
    "models add": ["--model", "llama3.2:1b"],
    "models remove": ["--model", "llama3.2:1b"],
    "users add": ["--email", "ada@example.com"],
    "users remove": ["--email", "ada@example.com"],
    "secrets rotate": ["--secret", "webui-secret-key"],
    "dr sync-uploads": ["--from-replica"],
}
# Commands that take no --stack or need none.
NO_STACK = ("ami cleanup", "state bootstrap", "backup state", "cost refresh")


def _region_options() -> list[tuple[str, str]]:
    """(command, region option) of every ops command that takes a region, found by walking
    the CLI's parser."""
    found = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*path, name))
            found.extend((" ".join(path), o) for o in action.option_strings if o.endswith("region"))

    walk(build_parser(), ())
    return found


def test_every_region_option_is_found() -> None:
    options = set(_region_options())
    assert ("health", "--region") in options
    assert ("backup s3", "--dest-region") in options
    assert ("dr deploy-region", "--target-region") in options
    assert ("state bootstrap", "--region") in options
    assert len(options) >= 20


@pytest.mark.parametrize(("command", "option"), _region_options())
def test_an_availability_zone_is_not_a_region_for_any_command(
    command: str,
    option: str,
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """us-west-2a (an AZ) given as a region: the usual slip, refused before any AWS call."""
    stack = [] if command in NO_STACK else ["--stack", "dev"]
    argv = [*command.split(), *stack, *VALID_ARGS.get(command, []), option, "us-west-2a"]
    code = cli(*argv)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert "'us-west-2a' is not an AWS region" in err
    assert aws_env.calls == []
