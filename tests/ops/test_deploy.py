"""`ollama-ops deploy`: prerequisites (Property 13), error mapping (Property 16), the flow.

The Pulumi CLI is a recording fake, AWS is moto (plus injected answers/faults for what
moto cannot produce), and Open WebUI is a fake server on a loopback port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ops_support
import pytest
from ops_support import (
    ACCOUNT,
    AwsRecorder,
    FakePulumi,
    WebUIState,
    cli,
    make_alarm,
    make_target_group,
)

from ollama_infra import naming
from ollama_infra.config import StackFileMissing
from ollama_infra.ops import aws, common, deploy, health
from ollama_infra.ops.common import EXIT_REFUSED, EXIT_UNHEALTHY, EXIT_USAGE
from ollama_infra.ops.pulumi_cli import Result

NAMES = naming.StackNames("dev", ACCOUNT)
ROLE_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/ci-session"
FAST = ("--health-timeout", "0", "--health-interval", "0")

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env
pulumi = ops_support.pulumi
webui = ops_support.webui


def _identity(recorder: AwsRecorder) -> None:
    recorder.respond(
        "sts",
        "GetCallerIdentity",
        {"UserId": "AROA:ci", "Account": ACCOUNT, "Arn": ROLE_ARN},
    )


def _simulate(recorder: AwsRecorder, denied: tuple[str, ...] = ()) -> None:
    recorder.respond(
        "iam",
        "SimulatePrincipalPolicy",
        {
            "EvaluationResults": [
                {
                    "EvalActionName": action,
                    "EvalResourceName": "*",
                    "EvalDecision": "implicitDeny" if action in denied else "allowed",
                }
                for action in deploy.REQUIRED_ACTIONS
            ],
            "IsTruncated": False,
        },
    )


@pytest.fixture
def ready(
    aws_env: AwsRecorder,
    pulumi: FakePulumi,
    webui: tuple[str, WebUIState],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[AwsRecorder, FakePulumi, WebUIState]:
    """Every prerequisite met and a healthy deployed dev stack behind the fake Open WebUI."""
    url, state = webui
    _identity(aws_env)
    _simulate(aws_env)
    make_target_group(NAMES.webui_target_group)
    make_alarm(NAMES.alarm("high-cpu"))
    pulumi.outputs = {"ollama_url": url}
    monkeypatch.setenv("OPEN_WEBUI_API_KEY", state.api_key)
    return aws_env, pulumi, state


def _no_change(recorder: AwsRecorder, fake: FakePulumi) -> None:
    assert recorder.mutations() == []
    assert not fake.ran("preview") and not fake.ran("up")


# --- Property 13 ---------------------------------------------------------------------------


def _python_too_old(monkeypatch: pytest.MonkeyPatch, **_: Any) -> None:
    monkeypatch.setattr(deploy, "MIN_PYTHON", (99, 0))


def _no_pulumi(fake: FakePulumi, **_: Any) -> None:
    fake.installed = False


def _old_pulumi(fake: FakePulumi, **_: Any) -> None:
    fake.version = "v3.100.0"


def _expired(recorder: AwsRecorder, **_: Any) -> None:
    recorder.answers.pop(("sts", "GetCallerIdentity"))
    recorder.inject("sts", "GetCallerIdentity", "ExpiredToken")


def _invalid_credentials(recorder: AwsRecorder, **_: Any) -> None:
    recorder.answers.pop(("sts", "GetCallerIdentity"))
    recorder.inject("sts", "GetCallerIdentity", "InvalidClientTokenId", 403)


def _denied(recorder: AwsRecorder, **_: Any) -> None:
    _simulate(recorder, denied=("ec2:CreateVpc", "iam:PassRole"))


def _no_stack_file(monkeypatch: pytest.MonkeyPatch, **_: Any) -> None:
    def missing(stack: str, *_: Any) -> dict[str, Any]:
        raise StackFileMissing(f"no stack file Pulumi.{stack}.yaml; known stacks: none", "x")

    monkeypatch.setattr(deploy, "load_stack_values", missing)


def _nothing_selected(fake: FakePulumi, **_: Any) -> None:
    fake.selected = None


def _other_selected(fake: FakePulumi, **_: Any) -> None:
    fake.selected = "staging"


PREREQUISITES = [
    (_python_too_old, common.EXIT_PYTHON, "is too old"),
    (_no_pulumi, common.EXIT_PULUMI_MISSING, "Pulumi CLI is not on PATH"),
    (_old_pulumi, common.EXIT_PULUMI_OLD, "older than the pinned"),
    (_expired, common.EXIT_CREDENTIALS, "credentials have expired"),
    (_invalid_credentials, common.EXIT_CREDENTIALS, "no valid AWS credentials"),
    (_denied, common.EXIT_PERMISSION, "not allowed: ec2:CreateVpc, iam:PassRole"),
    (_no_stack_file, common.EXIT_NO_STACK_FILE, "no stack file"),
    (_nothing_selected, common.EXIT_NOT_SELECTED, "no Pulumi stack is selected"),
    (_other_selected, common.EXIT_NOT_SELECTED, "differs from the selected stack 'staging'"),
]


@pytest.mark.parametrize(
    ("breaker", "exit_code", "message"), PREREQUISITES, ids=[p[0].__name__ for p in PREREQUISITES]
)
def test_property_13_each_missing_prerequisite_has_its_own_message_and_code(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    breaker: Any,
    exit_code: int,
    message: str,
) -> None:
    """Property 13: deploy validates prerequisites before any change; each missing one gives
    its own message and exit code, and no AWS mutation (and no Pulumi preview/up) happened."""
    recorder, fake, _ = ready
    breaker(monkeypatch=monkeypatch, fake=fake, recorder=recorder)
    assert cli("deploy", "--stack", "dev", "--yes", *FAST) == exit_code
    err = capsys.readouterr().err
    assert message in err and "fix:" in err
    _no_change(recorder, fake)


def test_property_13_exit_codes_are_distinct() -> None:
    codes = {code for _, code, _ in PREREQUISITES}
    # the two credential cases share a code, as do the two selection cases: 7 distinct failures
    assert len(codes) == 7
    assert not codes & {0, 1, 2, EXIT_REFUSED, EXIT_UNHEALTHY}


def test_property_13_invalid_config_stops_before_preview(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder, fake, _ = ready
    real = deploy.load_stack_values

    def broken(stack: str, *args: Any) -> dict[str, Any]:
        values = real(stack, *args)
        values["ollama:compute"] = {**values.get("ollama:compute", {}), "min_size": 500}
        return values

    monkeypatch.setattr(deploy, "load_stack_values", broken)
    assert cli("deploy", "--stack", "dev", "--yes", *FAST) == EXIT_USAGE
    assert "ollama:compute.min_size" in capsys.readouterr().err
    _no_change(recorder, fake)


def test_simulate_access_denied_is_only_a_warning(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState], capsys: pytest.CaptureFixture[str]
) -> None:
    recorder, fake, _ = ready
    recorder.answers.pop(("iam", "SimulatePrincipalPolicy"))
    recorder.inject("iam", "SimulatePrincipalPolicy", "AccessDenied", 403)
    assert cli("deploy", "--stack", "dev", "--yes", *FAST) == 0
    assert "warning: cannot check permissions" in capsys.readouterr().err
    assert fake.ran("up")


@pytest.mark.parametrize(
    ("caller", "principal"),
    [
        (ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:role/deployer"),
        (f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/alice"),
        (f"arn:aws:iam::{ACCOUNT}:root", None),
        ("not-an-arn", None),
    ],
)
def test_principal_arn(caller: str, principal: str | None) -> None:
    assert deploy.principal_arn(caller) == principal


# --- the flow ------------------------------------------------------------------------------


def test_deploy_previews_applies_and_checks_health(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState], capsys: pytest.CaptureFixture[str]
) -> None:
    recorder, fake, state = ready
    assert cli("deploy", "--stack", "dev", "--yes", *FAST) == 0
    verbs = [c[0] for c in fake.calls if c[0] in ("preview", "up")]
    assert verbs == ["preview", "up"]
    assert ["up", "--stack", "dev", "--yes", "--non-interactive"] in fake.calls
    out = capsys.readouterr().out
    assert "HEALTHY" in out and "llama3.2:1b" in out and "dashboards:name=ollama-dev" in out
    assert "/" not in state.requests  # never health-check `/`
    assert {"/ready", "/ollama/api/tags"} <= set(state.requests)
    assert recorder.mutations() == []  # deploy itself changes AWS only through Pulumi


def test_dry_run_previews_only(ready: tuple[AwsRecorder, FakePulumi, WebUIState]) -> None:
    _, fake, _ = ready
    assert cli("deploy", "--stack", "dev", "--dry-run", *FAST) == 0
    assert fake.ran("preview") and not fake.ran("up")


def test_deploy_needs_confirmation(ready: tuple[AwsRecorder, FakePulumi, WebUIState]) -> None:
    _, fake, _ = ready
    assert cli("deploy", "--stack", "dev", *FAST) == EXIT_REFUSED  # no terminal, no --yes
    assert not fake.ran("up")


def test_production_deploy_needs_the_production_flag(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    recorder, fake, _ = ready
    (tmp_path / "pg8000").mkdir()
    monkeypatch.setattr(deploy, "ROTATION_VENDOR", tmp_path)  # a built driver bundle
    fake.selected = "production"
    assert cli("deploy", "--stack", "production", "--yes", *FAST) == EXIT_REFUSED
    assert "--production" in capsys.readouterr().err
    _no_change(recorder, fake)
    assert recorder.calls == []  # refused before any AWS call
    assert cli("deploy", "--stack", "production", "--dry-run", *FAST) == 0  # a preview is fine


@pytest.mark.parametrize(
    ("breakage", "detail"),
    [
        ({"health_status": 500}, "HTTP 500"),
        # Live but not ready (issue 21 item 7): /health would still say true here.
        (
            {"health_status": 503, "health_body": {"detail": "Database not ready"}},
            "HTTP 503 (Database not ready)",
        ),
        ({"health_body": {"status": False}}, "expected status true"),
        ({"models": ["other:7b"]}, "models not served yet: llama3.2:1b"),
        ({"api_key": "rotated"}, "API key rejected"),
    ],
)
def test_unhealthy_after_deploy_exits_6(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState],
    capsys: pytest.CaptureFixture[str],
    breakage: dict[str, Any],
    detail: str,
) -> None:
    _, _, state = ready
    for key, value in breakage.items():
        setattr(state, key, value)
    assert cli("deploy", "--stack", "dev", "--yes", *FAST) == EXIT_UNHEALTHY
    out = capsys.readouterr().out
    assert detail in out and "UNHEALTHY" in out


def test_firing_alarm_and_missing_targets_are_unhealthy(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState], capsys: pytest.CaptureFixture[str]
) -> None:
    make_alarm(NAMES.alarm("alb-5xx"), "ALARM")
    make_alarm("ollama-high-cpu-production", "ALARM")  # another stack's alarm: ignored
    assert cli("health", "--stack", "dev", "--json", *FAST) == EXIT_UNHEALTHY
    out = capsys.readouterr().out
    assert "ollama-alb-5xx-dev" in out and "ollama-high-cpu-production" not in out


TARGET = aws.Target(stack="dev", region="us-east-1", account_id=ACCOUNT)


def test_targets_check_reads_the_https_group_of_backend_tls(aws_env: AwsRecorder) -> None:
    """edge.backend_tls replaces ollama-tg-<env> by ollama-tls-tg-<env>; health follows."""
    make_target_group(NAMES.webui_tls_target_group, protocol="HTTPS", port=8443)
    check = health.targets_healthy(TARGET)
    assert (check.status, check.detail) == (
        "ok",
        f"1 healthy target(s) in {NAMES.webui_tls_target_group}",
    )
    assert aws_env.mutations() == []


def test_targets_check_without_either_group_names_both(aws_env: AwsRecorder) -> None:
    with pytest.raises(common.OpsError) as info:
        health.targets_healthy(TARGET)
    assert info.value.exit_code == common.EXIT_NOT_FOUND
    assert NAMES.webui_tls_target_group in info.value.message
    assert NAMES.webui_target_group in info.value.message


# --- Property 16 ---------------------------------------------------------------------------

PULUMI_FAILURES = [
    ("error: the stack is currently locked by 1 lock(s)", common.EXIT_LOCKED, "pulumi cancel"),
    (
        "error: ExpiredToken: The security token included in the request is expired",
        common.EXIT_CREDENTIALS,
        "aws sso login",
    ),
    (
        "AccessDenied: User: arn:aws:iam::1:user/x is not authorized to perform: ec2:CreateVpc",
        common.EXIT_PERMISSION,
        "'Permissions'",
    ),
    (
        "VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit",
        common.EXIT_QUOTA,
        "Service Quotas",
    ),
    (
        "InvalidViewerCertificate: The specified SSL certificate doesn't exist, isn't in "
        "us-east-1 region",
        common.EXIT_CERTIFICATE,
        "us-east-1",
    ),
    ("Throttling: Rate exceeded", common.EXIT_THROTTLED, "wait a minute"),
]


@pytest.mark.parametrize(("output", "exit_code", "remedy"), PULUMI_FAILURES)
def test_property_16_pulumi_up_failures_map_to_remediation(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState],
    capsys: pytest.CaptureFixture[str],
    output: str,
    exit_code: int,
    remedy: str,
) -> None:
    """Property 16: each mapped deployment failure yields its remediation text."""
    _, fake, _ = ready
    fake.results[("up",)] = Result(255, "Updating (dev)\n", output)
    assert cli("deploy", "--stack", "dev", "--yes", *FAST) == exit_code
    err = capsys.readouterr().err
    assert "pulumi up (dev) failed" in err and remedy in err


def test_property_16_unmapped_failure_still_points_somewhere(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState], capsys: pytest.CaptureFixture[str]
) -> None:
    _, fake, _ = ready
    fake.results[("preview",)] = Result(1, "", "error: something nobody anticipated")
    assert cli("deploy", "--stack", "dev", "--yes", *FAST) == 1
    err = capsys.readouterr().err
    assert "something nobody anticipated" in err and "troubleshooting.md" in err
    assert not fake.ran("up")


@pytest.mark.parametrize(
    ("section", "changes", "message"),
    [
        (
            "edge",
            {
                "certificate_arn": "arn:aws:acm:us-east-1:210987654321:certificate/"
                "11111111-2222-3333-4444-555555555555",
                "origin_domain_name": "origin.ollama-dev.internal.test",
            },
            "ollama:edge.certificate_arn is in account 210987654321, not 123456789012",
        ),
        (
            "edge",
            {
                "certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/"
                "11111111-2222-3333-4444-555555555555",
                "origin_domain_name": "origin.ollama.example.com",
            },
            "ollama:edge.origin_domain_name is a placeholder under example.com",
        ),
    ],
)
def test_foreign_or_example_resources_stop_before_pulumi_up(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    section: str,
    changes: dict[str, Any],
    message: str,
) -> None:
    """Values AWS would reject halfway through `pulumi up` are refused before preview."""
    recorder, fake, _ = ready
    real = deploy.load_stack_values

    def edited(stack: str, *args: Any) -> dict[str, Any]:
        values = real(stack, *args)
        values[f"ollama:{section}"] = {**values.get(f"ollama:{section}", {}), **changes}
        return values

    monkeypatch.setattr(deploy, "load_stack_values", edited)
    assert cli("deploy", "--stack", "dev", "--yes", *FAST) == EXIT_USAGE
    assert message in capsys.readouterr().err
    _no_change(recorder, fake)
    assert not fake.ran("preview")


def test_a_database_stack_needs_the_rotation_driver_bundle(
    ready: tuple[AwsRecorder, FakePulumi, WebUIState],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The rotation function ships build/rotation-vendor; without it deploy stops before any
    AWS call and says how to build it."""
    recorder, fake, _ = ready
    fake.selected = "staging"
    monkeypatch.setattr(deploy, "ROTATION_VENDOR", tmp_path / "missing")
    assert cli("deploy", "--stack", "staging", "--dry-run", *FAST) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "make rotation-vendor" in err and "fix:" in err
    assert recorder.calls == []
    (tmp_path / "built" / "pg8000").mkdir(parents=True)
    monkeypatch.setattr(deploy, "ROTATION_VENDOR", tmp_path / "built")
    assert cli("deploy", "--stack", "staging", "--dry-run", *FAST) == 0
