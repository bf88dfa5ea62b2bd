"""Single sign-on (``ollama:auth``): config validation, the Cognito resources, the boot wiring.

No shipped stack file uses oidc; the configs come from tests/oidc_stack.py (the real stack
files with ``ollama:auth`` set).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from harness import STACKS, config_for, evaluated, override, run_program, stack_values, tool
from oidc_stack import SECRET_ARN, external_values, oidc_values
from stubs.sandbox import Sandbox, make_sandbox
from test_lifecycle import lifecycle_violations
from test_userdata import (
    BOOT_LOG,
    ENV_FILE,
    SECRET_KEY,
    boot_env,
    embedded_scripts,
    env_file,
    secret_violations,
    seed_aws,
    user_data_of,
)
from upstream_register import USERDATA

from ollama_infra import userdata
from ollama_infra.config import ConfigError, parse_config
from ollama_infra.cost.estimate import check_coverage, estimate
from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.userdata import USER_DATA_LIMIT, UserDataError, boot_script


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return make_sandbox(tmp_path)


def problems(stack: str, values: dict[str, Any]) -> dict[str, str]:
    """Issue key -> rendered message, for a config that must be refused."""
    with pytest.raises(ConfigError) as info:
        parse_config(stack, values)
    return {i.key: i.render() for i in info.value.issues}


# ------------------------------------------------------------------ config


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_keep_local_mode(stack: str) -> None:
    cfg = config_for(stack)
    assert cfg.auth.mode == "local" and not cfg.oidc and not cfg.cognito_pool


@pytest.mark.parametrize("stack", STACKS)
def test_oidc_configs_validate(stack: str) -> None:
    cfg = parse_config(stack, oidc_values(stack))
    assert cfg.cognito_pool and cfg.auth.allowed_email_domains == ["example.com"]
    ext = parse_config(stack, external_values(stack))
    assert ext.oidc and not ext.cognito_pool and ext.auth.client_id == "ollama-webui"


BROKEN: list[tuple[str, dict[str, Any], str, str]] = [
    ("dev", {"mode": "sso"}, "ollama:auth.mode", "local"),
    ("dev", {"provider": "external", "client_id": None}, "ollama:auth.client_id", "needs"),
    ("dev", {"provider": "external", "issuer_url": None}, "ollama:auth.issuer_url", "needs"),
    (
        "dev",
        {"provider": "external", "client_secret_arn": None},
        "ollama:auth.client_secret_arn",
        "needs",
    ),
    (
        "dev",
        {"provider": "external", "client_secret_arn": "s3cr3t-value"},
        "ollama:auth.client_secret_arn",
        "never the secret",
    ),
    (
        "dev",
        {"provider": "external", "issuer_url": "http://login.example.com"},
        "ollama:auth.issuer_url",
        "https",
    ),
    (
        "staging",
        {
            "provider": "external",
            "client_secret_arn": SECRET_ARN.format(region="ap-south-1"),
        },
        "ollama:auth.client_secret_arn",
        "stack region",
    ),
    ("dev", {"client_id": "abc"}, "ollama:auth.client_id", "only used with provider: external"),
    ("production", {"mfa": "off"}, "ollama:auth.mfa", "without MFA"),
    ("dev", {"admin_group": "ollama-users"}, "ollama:auth.admin_group", "must differ"),
    ("dev", {"allowed_email_domains": ["Example.COM"]}, "ollama:auth.allowed_email_domains", ""),
    ("dev", {"groups_claim": "groups; rm -rf"}, "ollama:auth.groups_claim", "claim name"),
    ("dev", {"colour": "blue"}, "ollama:auth.colour", "unknown key"),
    ("dev", {"identity_providers": ["Cognito"]}, "ollama:auth.identity_providers", "always"),
    ("dev", {"identity_providers": ["Entra ID!"]}, "ollama:auth.identity_providers", "1-32"),
    (
        "dev",
        {"provider": "external", "identity_providers": ["EntraID"]},
        "ollama:auth.identity_providers",
        "only a stack-owned",
    ),
]


@pytest.mark.parametrize(("stack", "auth", "key", "text"), BROKEN)
def test_broken_auth_configs_are_refused_with_the_key_and_a_fix(
    stack: str, auth: dict[str, Any], key: str, text: str
) -> None:
    base = external_values if auth.get("provider") == "external" else oidc_values
    found = problems(stack, base(stack, **auth))
    assert key in found, found
    assert text in found[key] and "Fix:" in found[key], found[key]


def test_mfa_off_is_allowed_outside_production_and_without_a_pool() -> None:
    assert parse_config("dev", oidc_values("dev", mfa="off")).auth.mfa == "off"
    # local mode ignores the pool's MFA setting
    values = override(stack_values("production"), "auth", mode="local", mfa="off")
    assert parse_config("production", values).auth.mfa == "off"


# ------------------------------------------------------------------ Cognito resources

POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
DOMAIN = "aws:cognito/userPoolDomain:UserPoolDomain"
GROUP = "aws:cognito/userGroup:UserGroup"
PARAMETER = "aws:ssm/parameter:Parameter"
COGNITO_TYPES = {POOL, CLIENT, DOMAIN, GROUP}


@functools.cache
def oidc_plan(stack: str) -> Evaluation:
    return run_program(stack, oidc_values(stack))


@functools.cache
def external_plan(stack: str) -> Evaluation:
    return run_program(stack, external_values(stack))


def one(ev: Evaluation, type_token: str) -> ResourceRecord:
    found = ev.of_type(type_token)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def oidc_settings(ev: Evaluation) -> dict[str, Any]:
    param = next(r for r in ev.of_type(PARAMETER) if r.inputs["name"].endswith("/webui/oidc"))
    value = param.inputs["value"]
    return json.loads(value["value"] if isinstance(value, dict) else value)


@pytest.mark.parametrize("stack", STACKS)
def test_local_stacks_have_no_identity_resources(stack: str) -> None:
    ev = evaluated(stack)
    assert not {r.type for r in ev.resources} & COGNITO_TYPES
    assert not [r for r in ev.of_type(PARAMETER) if r.inputs["name"].endswith("/webui/oidc")]
    assert "ollama_user_pool_id" not in ev.outputs


@pytest.mark.parametrize("stack", STACKS)
def test_oidc_stack_plans_the_pool_client_domain_groups_and_settings(stack: str) -> None:
    ev = oidc_plan(stack)
    pool = one(ev, POOL).inputs
    assert pool["name"] == f"ollama-users-{stack}"
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert pool["mfaConfiguration"] == "ON"  # auth.mfa: required in the test config
    assert pool["passwordPolicy"]["minimumLength"] >= 14
    assert pool["deletionProtection"] == ("INACTIVE" if stack == "dev" else "ACTIVE")
    client = one(ev, CLIENT).inputs
    url = ev.outputs["ollama_url"]
    assert client["allowedOauthFlows"] == ["code"]
    assert client["callbackUrls"] == [f"{url}/oauth/oidc/callback"]
    assert client["generateSecret"] is True
    assert one(ev, DOMAIN).inputs["domain"] == f"ollama-login-{stack}-123456789012"
    assert {g.inputs["name"] for g in ev.of_type(GROUP)} == {"ollama-admins", "ollama-users"}
    settings = oidc_settings(ev)
    pool_id = ev.outputs["ollama_user_pool_id"]
    assert settings["provider_url"] == (
        f"https://cognito-idp.{ev.region}.amazonaws.com/{pool_id}/.well-known/openid-configuration"
    )
    assert settings["client_secret_arn"].split(":secret:")[1].startswith(f"ollama/{stack}/")
    assert settings["allowed_domains"] == ["example.com"]
    assert "mock-client-secret" not in json.dumps(settings)


def test_mfa_mode_and_self_signup_reach_the_pool() -> None:
    ev = run_program("dev", oidc_values("dev", mfa="off", self_signup=True))
    pool = one(ev, POOL).inputs
    assert pool["mfaConfiguration"] == "OFF" and "softwareTokenMfaConfiguration" not in pool
    assert pool["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is False


def test_federated_providers_are_offered_by_the_client() -> None:
    ev = run_program("dev", oidc_values("dev", identity_providers=["EntraID", "Okta"]))
    assert one(ev, CLIENT).inputs["supportedIdentityProviders"] == ["COGNITO", "EntraID", "Okta"]
    assert one(oidc_plan("dev"), CLIENT).inputs["supportedIdentityProviders"] == ["COGNITO"]


def test_instances_wait_for_the_oidc_settings() -> None:
    ev = oidc_plan("staging")
    asg = one(ev, "aws:autoscaling/group:Group")
    assert any("ollama-auth-oidc" in d for d in asg.options["dependsOn"]), asg.options


def test_external_provider_plans_no_pool_and_grants_only_its_secret() -> None:
    ev = external_plan("staging")
    assert not {r.type for r in ev.resources} & COGNITO_TYPES
    settings = oidc_settings(ev)
    assert settings["provider_url"] == (
        "https://login.example.com/realms/corp/.well-known/openid-configuration"
    )
    assert settings["client_id"] == "ollama-webui" and settings["groups_claim"] == "groups"
    arn = SECRET_ARN.format(region=ev.region)
    grants = [
        s
        for r in ev.of_type("aws:iam/rolePolicy:RolePolicy")
        for s in json.loads(r.inputs["policy"])["Statement"]
        if arn in s["Resource"]
    ]
    assert [g["Sid"] for g in grants] == ["ReadOidcClientSecret"]
    local = [
        s["Sid"]
        for r in evaluated("staging").of_type("aws:iam/rolePolicy:RolePolicy")
        for s in json.loads(r.inputs["policy"])["Statement"]
    ]
    assert "ReadOidcClientSecret" not in local


@pytest.mark.parametrize("stack", ["dev", "production"])
def test_identity_resources_are_classified_and_priced(stack: str) -> None:
    ev = oidc_plan(stack)
    assert lifecycle_violations(ev) == []
    check_coverage(estimate(ev, parse_config(stack, oidc_values(stack))))


def test_an_unprotected_pool_in_production_is_caught() -> None:
    ev = oidc_plan("production")
    pool = one(ev, POOL)
    broken = dataclasses.replace(
        ev,
        resources=[
            dataclasses.replace(r, options={**r.options, "protect": False}) if r is pool else r
            for r in ev.resources
        ],
    )
    assert any(
        "ollama-auth-pool" in v and "not protected" in v for v in lifecycle_violations(broken)
    )


def test_oidc_outputs_are_named_and_documented() -> None:
    from test_properties import output_violations

    outputs = oidc_plan("production").outputs
    assert {"ollama_oidc_issuer_url", "ollama_user_pool_id"} <= set(outputs)
    assert output_violations(outputs) == []


# ------------------------------------------------------------------ boot wiring

# A sentinel (fake) client secret: it must reach the 0600 env file and nothing else.
CLIENT_SECRET = "sentinel-oidc-client-secret-7c1e"


def seed_oidc(box: Sandbox, ev: Evaluation) -> dict[str, Any]:
    """What pulumi up leaves for an oidc stack: the local seed plus the SSO settings."""
    stack = ev.stack
    seed_aws(box, env=stack, models=list(config_for(stack).ollama.models))
    settings = oidc_settings(ev)
    box.put_parameter(f"/ollama/{stack}/webui/oidc", settings)
    box.put_secret(settings["client_secret_arn"], CLIENT_SECRET)
    return settings


def run_user_data(box: Sandbox, ev: Evaluation) -> subprocess.CompletedProcess[str]:
    path = box.tmp / "user-data"
    path.write_text(user_data_of(ev))
    path.chmod(0o755)
    return box.run([str(path)])


@pytest.mark.parametrize("stack", STACKS)
def test_local_stacks_boot_the_unchanged_script(stack: str) -> None:
    text = user_data_of(evaluated(stack))
    scripts = embedded_scripts(text)
    # Without the OIDC fragment; production carries the backend TLS one (test_userdata.py).
    expected = userdata.shipped(boot_script(backend_tls=config_for(stack).backend_tls)).decode()
    assert scripts["ollama-boot.sh"] == expected
    assert expected.startswith(
        userdata.shipped((USERDATA / "ollama-boot.sh").read_bytes())
        .decode()
        .removesuffix('main "$@"\n')
    )
    assert "webui_oidc_env" not in text and "SIGN_IN_MODE" not in boot_env(text)


def test_oidc_user_data_carries_the_fragment_but_no_secret() -> None:
    text = user_data_of(oidc_plan("production"))
    boot = embedded_scripts(text)["ollama-boot.sh"]
    assert boot.endswith('\nmain "$@"\n') and boot.index("webui_oidc_env()") < boot.rindex("main")
    assert boot_env(text)["SIGN_IN_MODE"] == "oidc"
    assert secret_violations(text) == [] and "mock-client-secret" not in text
    assert len(userdata.compress_user_data(text)) < USER_DATA_LIMIT


def test_boot_script_fragment_needs_the_main_line() -> None:
    from ollama_infra import userdata

    original = userdata.TEMPLATE_DIR
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "ollama-boot.sh").write_text("main\n")
        (Path(tmp) / userdata.OIDC_SCRIPT).write_text("x\n")
        userdata.TEMPLATE_DIR = Path(tmp)
        try:
            with pytest.raises(UserDataError, match="main"):
                userdata.boot_script(oidc=True)
        finally:
            userdata.TEMPLATE_DIR = original


def test_oidc_user_data_is_shellcheck_clean(tmp_path: Path) -> None:
    text = user_data_of(oidc_plan("staging"))
    for name, content in {"user-data.sh": text, **embedded_scripts(text)}.items():
        path = tmp_path / name
        path.write_text(content)
        # The fragment wraps webui_env through a copy (declare -f), which shellcheck cannot
        # follow, so the original definition looks never invoked (SC2329, info).
        extra = ["--exclude=SC2329"] if name == "ollama-boot.sh" else []
        result = subprocess.run(
            [tool("shellcheck"), *extra, str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{name}:\n{result.stdout}"


def test_oidc_boot_renders_open_webui_oauth_settings_from_secrets_manager(box: Sandbox) -> None:
    ev = oidc_plan("dev")
    settings = seed_oidc(box, ev)
    result = run_user_data(box, ev)
    assert result.returncode == 0, result.stdout + result.stderr
    env = env_file(box)
    assert env["OAUTH_CLIENT_SECRET"] == CLIENT_SECRET
    assert env["OAUTH_CLIENT_ID"] == settings["client_id"]
    assert env["OPENID_PROVIDER_URL"] == settings["provider_url"]
    assert env["OPENID_REDIRECT_URI"] == "https://chat.example.com/oauth/oidc/callback"
    assert env["OAUTH_SCOPES"] == "openid email profile"
    assert env["OAUTH_ALLOWED_DOMAINS"] == "example.com"
    assert env["ENABLE_OAUTH_ROLE_MANAGEMENT"] == "true"
    assert env["OAUTH_ROLES_CLAIM"] == "cognito:groups"
    assert env["OAUTH_ALLOWED_ROLES"] == "ollama-users,ollama-admins"
    assert env["OAUTH_ADMIN_ROLES"] == "ollama-admins"
    assert env["ENABLE_LOGIN_FORM"] == env["ENABLE_PASSWORD_AUTH"] == "false"
    assert env["ENABLE_OAUTH_SIGNUP"] == "true"
    assert env["ENABLE_OAUTH_PERSISTENT_CONFIG"] == "false"
    # the headless admin is replaced by membership of the admin group
    assert "WEBUI_ADMIN_EMAIL" not in env and "WEBUI_ADMIN_PASSWORD" not in env
    # the rest of the local settings are kept
    assert env["WEBUI_SECRET_KEY"] == SECRET_KEY and env["WEBUI_URL"] == "https://chat.example.com"
    assert box.file(ENV_FILE).stat().st_mode & 0o777 == 0o600
    exposed = "\n".join(
        [result.stdout, result.stderr, "\n".join(box.calls()), box.file(BOOT_LOG).read_text()]
    )
    assert CLIENT_SECRET not in exposed
    assert box.called(
        f"aws secretsmanager get-secret-value --secret-id {settings['client_secret_arn']}"
    )


def test_any_domain_when_none_is_configured(box: Sandbox) -> None:
    ev = run_program("dev", oidc_values("dev", allowed_email_domains=[]))
    seed_oidc(box, ev)
    result = run_user_data(box, ev)
    assert result.returncode == 0, result.stdout + result.stderr
    assert env_file(box)["OAUTH_ALLOWED_DOMAINS"] == "*"


def test_oidc_boot_without_its_settings_fails_clearly(box: Sandbox) -> None:
    ev = oidc_plan("dev")
    seed_aws(box, env="dev")  # no webui/oidc parameter
    result = run_user_data(box, ev)
    assert result.returncode != 0
    assert "webui/oidc is absent" in result.stdout + result.stderr
    assert not box.called("docker run")


def test_oidc_boot_with_an_unreadable_client_secret_fails(box: Sandbox) -> None:
    ev = oidc_plan("dev")
    seed_aws(box, env="dev")
    box.put_parameter("/ollama/dev/webui/oidc", oidc_settings(ev))  # secret never stored
    result = run_user_data(box, ev)
    assert result.returncode != 0
    assert "cannot read secret" in result.stdout + result.stderr
    assert not box.called("docker run")
