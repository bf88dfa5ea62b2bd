"""docs/UPSTREAM.md is the register of facts about software the stack does not own; the code
may use only registered names, and the register's versions are the pinned ones.

Each check compares the names the code really uses (read from the boot and install scripts,
the CloudWatch agent config, the evaluated plans of the three stacks) with the register's
rows, and each has a test feeding it a broken input to show it can fail.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from harness import STACKS, evaluated
from test_metric_filters import CloudWatchFilter
from upstream_register import (
    USERDATA,
    account_table,
    apt_packages,
    config_keys,
    endpoints,
    facts,
    iam_names,
    names,
    ollama_env_names,
    register_text,
    samples,
    snap_keys,
    webui_env_names,
    webui_settings,
)

from ollama_infra import cwagent, versions
from ollama_infra.edge import regions
from ollama_infra.edge.alb import PROXY_PREFIX, blocked_paths
from ollama_infra.naming import StackNames
from ollama_infra.observability import filters
from ollama_infra.security import CLOUDFRONT_PREFIX_LIST
from ollama_infra.userdata import (
    OIDC_CALLBACK_PATH,
    WEBUI_OIDC_SETTINGS,
    WEBUI_PERSISTENT_SETTINGS,
    WEBUI_STACK_SETTINGS,
    boot_script,
)

TEXT = register_text()
# The boot script as an oidc stack ships it (ollama-webui-oidc.sh appended), so the single
# sign-on variables are checked too; local stacks ship the file alone.
BOOT = boot_script(oidc=True, backend_tls=True).decode()
INSTALL = (USERDATA / "ollama-install.sh").read_text()
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
PORT_KIND = {
    port: kind
    for kind, ports in (("webui_endpoint", (8080, 8443)), ("ollama_endpoint", (11434, 11443)))
    for port in ports
}


def unregistered(used: set[str], text: str, *kinds: str) -> set[str]:
    """Names the code uses that no row of ``kinds`` registers."""
    return used - names(text, *kinds)


def used_by_scripts(boot: str, install: str) -> dict[str, set[str]]:
    """Every upstream name the boot and install scripts use, by register kind."""
    calls = endpoints(boot + install)
    return {
        "webui_env": webui_env_names(boot),
        "ollama_env": ollama_env_names(install),
        "snap_key": snap_keys(install),
        "apt_package": apt_packages(boot),
        "webui_endpoint": calls["webui_endpoint"],
        "webui_setting": webui_settings(boot),
        "ollama_endpoint": calls["ollama_endpoint"],
    }


# ------------------------------------------------------------------ the register itself


def test_the_register_parses_into_every_kind() -> None:
    """The parser finds the tables; an empty result would make every check below vacuous."""
    kinds = {f.kind for f in facts(TEXT)}
    assert {
        "pin", "ollama_env", "ollama_log", "ollama_install", "ollama_endpoint", "systemd_unit",
        "snap_key", "webui_env", "webui_endpoint", "cwagent_key", "cwagent_call", "iam_action",
        "iam_condition", "managed_policy", "prefix_list", "aws_account_table", "apt_package",
    } <= kinds  # fmt: skip
    for fact in facts(TEXT):
        assert fact.name and fact.checked_against and fact.source, fact
    assert len(samples(TEXT)) >= 15


# ------------------------------------------------------------------ scripts


@pytest.mark.parametrize(
    "kind",
    [
        "webui_env",
        "ollama_env",
        "snap_key",
        "apt_package",
        "webui_endpoint",
        "webui_setting",
        "ollama_endpoint",
    ],
)
def test_boot_and_install_scripts_use_only_registered_names(kind: str) -> None:
    used = used_by_scripts(BOOT, INSTALL)[kind]
    assert used, f"found no {kind} in the scripts: the extraction is broken"
    assert unregistered(used, TEXT, kind) == set()


@pytest.mark.parametrize(
    ("kind", "boot", "install", "name"),
    [
        ("webui_env", 'env_line ENABLE_SIGNUPS "$x"\n', "", "ENABLE_SIGNUPS"),
        ("ollama_env", "", "Environment=OLLAMA_FLASH=1\n", "OLLAMA_FLASH"),
        ("snap_key", "", "for key in host=$HOST flash=$F; do", "flash"),
        (
            "apt_package",
            "apt-get install -y -q --no-install-recommends docker.io lshw ||",
            "",
            "lshw",
        ),
        ("webui_endpoint", "curl http://127.0.0.1:8080/healthz\n", "", "/healthz"),
        ("ollama_endpoint", "", 'curl "$API/api/status"\n', "/api/status"),
    ],
)
def test_an_unregistered_script_name_is_caught(
    kind: str, boot: str, install: str, name: str
) -> None:
    used = used_by_scripts(BOOT + boot, INSTALL + install)[kind]
    assert unregistered(used, TEXT, kind) == {name}


@pytest.mark.parametrize("stack", STACKS)
def test_health_check_paths_are_registered(stack: str) -> None:
    for tg in evaluated(stack).of_type(TARGET_GROUP):
        kind = PORT_KIND[int(tg.inputs["port"])]
        path = tg.inputs["healthCheck"]["path"]
        assert unregistered({path}, TEXT, kind) == set(), tg.name


def test_an_unregistered_health_check_path_is_caught() -> None:
    assert unregistered({"/"}, TEXT, "webui_endpoint") == {"/"}


@pytest.mark.parametrize("method", sorted(cwagent.OLLAMA_UNITS))
def test_the_log_forwarders_follow_registered_units(method: str) -> None:
    unit = cwagent.ollama_unit(method)
    assert unregistered({unit}, TEXT, "systemd_unit") == set()
    assert unregistered({"ollama-listener.service"}, TEXT, "systemd_unit") == {
        "ollama-listener.service"
    }


# ------------------------------------------------------------------ CloudWatch agent


@pytest.mark.parametrize("stack", STACKS)
def test_agent_config_uses_only_registered_keys(stack: str) -> None:
    config = cwagent.agent_config(StackNames(stack, "123456789012"), "us-east-1")
    used = config_keys(config)
    assert len(used) > 20
    assert unregistered(used, TEXT, "cwagent_key") == set()


def test_an_unregistered_agent_key_is_caught() -> None:
    config = cwagent.agent_config(StackNames("dev", "123456789012"), "us-east-1")
    config["logs"]["logs_collected"]["journald"] = {"collect_list": [{"units": ["x"]}]}
    assert unregistered(config_keys(config), TEXT, "cwagent_key") == {
        "logs.logs_collected.journald",
        "logs.logs_collected.journald.collect_list",
        "logs.logs_collected.journald.collect_list[].units",
    }


# ------------------------------------------------------------------ IAM and AWS tables


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("kind", ["iam_action", "iam_condition", "managed_policy"])
def test_iam_uses_only_registered_names(stack: str, kind: str) -> None:
    used = iam_names(evaluated(stack).resources)[kind]
    assert used, f"no {kind} in the {stack} plan: the extraction is broken"
    assert unregistered(used, TEXT, kind) == set()


def test_an_unregistered_iam_name_is_caught() -> None:
    ev = evaluated("dev")
    policy = next(r for r in ev.resources if r.name == "ollama-identity-telemetry")
    broken_doc = policy.inputs["policy"].replace("ec2:DescribeTags", "ec2:DescribeVolumes")
    broken = dataclasses.replace(policy, inputs={**policy.inputs, "policy": broken_doc})
    attachment = next(r for r in ev.resources if r.name == "ollama-identity-ssm-core")
    managed = dataclasses.replace(
        attachment,
        inputs={"policyArn": "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"},
    )
    used = iam_names([broken, managed])
    assert unregistered(used["iam_action"], TEXT, "iam_action") == {"ec2:DescribeVolumes"}
    # The avoided policy has a row of its own kind, so attaching it is still caught.
    assert unregistered(used["managed_policy"], TEXT, "managed_policy") == {
        "CloudWatchAgentServerPolicy"
    }


def test_agent_calls_and_instance_role_agree() -> None:
    """The agent's calls registered from its source are exactly what the instance role grants
    for telemetry (tests/test_identity.py checks their scoping)."""
    from test_identity import AGENT_ACTIONS

    assert names(TEXT, "cwagent_call") == AGENT_ACTIONS


def test_prefix_list_is_registered() -> None:
    assert unregistered({CLOUDFRONT_PREFIX_LIST}, TEXT, "prefix_list") == set()
    assert unregistered({"com.amazonaws.global.cloudfront"}, TEXT, "prefix_list")


def test_elb_account_table_equals_the_register() -> None:
    assert account_table(TEXT) == regions.ELB_LOG_DELIVERY_ACCOUNTS


def test_a_changed_elb_account_is_caught() -> None:
    table = account_table(TEXT)
    broken = {**regions.ELB_LOG_DELIVERY_ACCOUNTS, "ap-southeast-3": "000000000000"}
    assert broken != table
    missing = {k: v for k, v in regions.ELB_LOG_DELIVERY_ACCOUNTS.items() if k != "ap-southeast-3"}
    assert missing != table


# ------------------------------------------------------------------ Open WebUI first start


def persistent_in_register(text: str) -> set[str]:
    return {
        f.name
        for f in facts(text)
        if f.kind == "webui_env" and re.search(r"PersistentConfig", f.source + f.relies)
    }


def test_first_start_settings_match_the_register() -> None:
    """docs/configuration.md lists WEBUI_PERSISTENT_SETTINGS as first-start-only and
    WEBUI_STACK_SETTINGS as re-applied at every boot; together they are the boot's variables
    the register marks PersistentConfig, no more and no fewer."""
    persistent = persistent_in_register(TEXT)
    reapplied = set(WEBUI_STACK_SETTINGS) & webui_env_names(BOOT)
    assert reapplied == {"ENABLE_SIGNUP", "WEBUI_URL"}
    oidc_first_start = {
        k for k, (_, wins) in WEBUI_OIDC_SETTINGS.items() if "PersistentConfig" in wins
    }
    assert oidc_first_start == {"ENABLE_LOGIN_FORM"}
    assert persistent == set(WEBUI_PERSISTENT_SETTINGS) | {"ENABLE_PERSISTENT_CONFIG"} | (
        oidc_first_start | reapplied
    )


def test_a_missed_persistent_setting_is_caught() -> None:
    text = TEXT.replace(
        "| webui_env | `CORS_ALLOW_ORIGIN` | Open WebUI v0.9.6 | `config.py` |",
        "| webui_env | `CORS_ALLOW_ORIGIN` | Open WebUI v0.9.6 | `config.py` (PersistentConfig) |",
    )
    assert persistent_in_register(text) - set(WEBUI_PERSISTENT_SETTINGS) >= {"CORS_ALLOW_ORIGIN"}


# ------------------------------------------------------------------ metric filters


def test_every_metric_filter_matches_a_registered_sample() -> None:
    lines = [s.line for s in samples(TEXT).values()]
    for spec in filters.metric_filters(60):
        f = CloudWatchFilter(spec.pattern, spec.value)
        hits = [line for line in lines if f.published(line, strip_delimiters=True) is not None]
        assert hits, f"{spec.role}: no sample line in docs/UPSTREAM.md matches {spec.pattern}"


def test_a_filter_without_a_registered_line_is_caught() -> None:
    old = '[ts, level="level=INFO", source, msg="*llama", w_runner="runner", w_started="started", w_in="in", load_seconds, unit="seconds*"]'  # noqa: E501
    f = CloudWatchFilter(old, "$load_seconds")
    lines = [s.line for s in samples(TEXT).values() if s.expect != "none"]
    assert not [line for line in lines if f.published(line, True) is not None]


# ------------------------------------------------------------------ edge paths


def unregistered_blocked_paths(paths: list[str], text: str) -> set[str]:
    """Blocked paths whose route (or its twin with or without the /ollama prefix) has no row."""
    routes = names(text, "ollama_route", "webui_route")
    twin = {p: p.removeprefix(PROXY_PREFIX) if p.startswith(PROXY_PREFIX) else PROXY_PREFIX + p
            for p in paths}  # fmt: skip
    return {p for p in paths if p not in routes and twin[p] not in routes}


def test_every_blocked_path_is_a_registered_route() -> None:
    assert unregistered_blocked_paths(blocked_paths(), TEXT) == set()


def test_an_unregistered_blocked_path_is_caught() -> None:
    paths = [*blocked_paths(), "/api/show", "/ollama/api/experimental"]
    assert unregistered_blocked_paths(paths, TEXT) == {"/api/show", "/ollama/api/experimental"}


# ------------------------------------------------------------------ pins


PINS = {
    name: value
    for name, value in vars(versions).items()
    if name.isupper() and isinstance(value, str)
}
SOFTWARE = {
    "ollama_": ("OLLAMA_VERSION", "Ollama {}"),
    "webui_": ("OPEN_WEBUI_VERSION", "Open WebUI {}"),
    "cwagent_": ("CLOUDWATCH_AGENT_VERSION", "CloudWatch agent {}"),
}


def pin_problems(text: str, pins: dict[str, str]) -> list[str]:
    out = []
    rows = {f.name: f.checked_against for f in facts(text) if f.kind == "pin"}
    for name, value in pins.items():
        if rows.get(name) != value:
            out.append(f"pin {name}={value} but the register says {rows.get(name)!r}")
    for fact in facts(text):
        for prefix, (pin, label) in SOFTWARE.items():
            if fact.kind.startswith(prefix) and fact.checked_against != label.format(pins[pin]):
                out.append(f"{fact.kind} {fact.name}: checked against {fact.checked_against}")
    return out


def test_register_versions_are_the_pins() -> None:
    assert PINS.keys() >= {"OLLAMA_VERSION", "OPEN_WEBUI_VERSION", "CLOUDWATCH_AGENT_VERSION"}
    assert pin_problems(TEXT, PINS) == []


def test_a_moved_pin_fails_until_the_rows_are_rechecked() -> None:
    moved = {**PINS, "OLLAMA_VERSION": "0.33.0"}
    problems = pin_problems(TEXT, moved)
    assert any("pin OLLAMA_VERSION=0.33.0" in p for p in problems)
    assert any(p.startswith("ollama_env OLLAMA_HOST") for p in problems)


# ------------------------------------------------------------------ single sign-on


def test_oidc_settings_and_callback_are_registered() -> None:
    """Every variable the oidc fragment writes, the table in docs/configuration.md and the
    callback path the app client allows are registered facts about Open WebUI."""
    used = webui_env_names(BOOT) - webui_env_names((USERDATA / "ollama-boot.sh").read_text())
    assert used == set(WEBUI_OIDC_SETTINGS), "fragment and WEBUI_OIDC_SETTINGS disagree"
    assert unregistered(used, TEXT, "webui_env") == set()
    assert unregistered({OIDC_CALLBACK_PATH}, TEXT, "webui_endpoint") == set()
    assert unregistered({"/oauth/oidc/login"}, TEXT, "webui_endpoint") == {"/oauth/oidc/login"}


def test_cognito_facts_are_registered() -> None:
    from ollama_infra import auth

    assert unregistered({"cognito:groups"}, TEXT, "oidc_claim") == set()
    assert unregistered({auth.DISCOVERY_PATH}, TEXT, "oidc_endpoint") == set()
