"""The pack against the real program: every stack file passes every mandatory rule, every
rule finds something to check, and broken real records are caught.

Generated configs are covered in tests/test_security_properties.py
(``test_generated_configs_pass_every_mandatory_rule_and_properties``), where one program
run per example serves every rule and the security properties.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from harness import STACKS, evaluated, override, replace_record, run_program, stack_values
from oidc_stack import oidc_values

from ollama_infra.offline.evaluate import Evaluation
from ollama_infra.policy.evaluate import PolicyReport, evaluate_policies, resource_args
from ollama_infra.policy.pack import RULES


def report_for(stack: str) -> PolicyReport:
    return evaluate_policies(evaluated(stack), stack_values(stack))


def _messages(report: PolicyReport) -> list[str]:
    return [v.message for v in report.mandatory_violations]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_passes_every_mandatory_rule(stack: str) -> None:
    report = report_for(stack)
    assert report.passed, _messages(report)


@functools.cache
def oidc_report(stack: str) -> PolicyReport:
    """The pack on a stack file switched to single sign-on (no shipped stack uses it)."""
    values = oidc_values(stack)
    return evaluate_policies(run_program(stack, values), values)


def test_every_rule_checks_something_in_some_stack() -> None:
    """A rule whose type token matches nothing in any stack is either dead or misspelt.
    The single sign-on rules are found in the oidc test config of production."""
    checked = {r.name: 0 for r in RULES}
    for report in [*(report_for(stack) for stack in STACKS), oidc_report("production")]:
        for result in report.results:
            checked[result.rule.name] += result.checked
    assert [name for name, n in checked.items() if n == 0] == []


@pytest.mark.parametrize("stack", STACKS)
def test_oidc_stack_passes_every_mandatory_rule(stack: str) -> None:
    report = oidc_report(stack)
    assert report.passed, _messages(report)


@pytest.mark.parametrize(
    ("type_token", "changes", "name"),
    [
        ("aws:cognito/userPool:UserPool", {"mfaConfiguration": "OFF"}, "cognito-mfa-in-production"),
        (
            "aws:cognito/userPoolClient:UserPoolClient",
            {"allowedOauthFlows": ["implicit"]},
            "cognito-no-implicit-flow",
        ),
        (
            "aws:cognito/userPoolClient:UserPoolClient",
            {"callbackUrls": ["https://attacker.example.net/oauth/oidc/callback"]},
            "cognito-callbacks-on-stack-domain",
        ),
    ],
)
def test_broken_real_identity_records_are_caught(
    type_token: str, changes: dict[str, Any], name: str
) -> None:
    values = oidc_values("production")
    ev = run_program("production", values)
    broken = replace_record(ev, _first(ev, type_token), **changes)
    report = evaluate_policies(broken, values)
    assert name in {v.policy for v in report.mandatory_violations}, _messages(report)


def _first(ev: Evaluation, type_token: str) -> str:
    records = ev.of_type(type_token)
    assert records, f"{type_token} is not in the plan"
    return records[0].name


# (type of the record to break, input changes, rule that must catch it)
BREAKS: list[tuple[str, dict[str, Any], str]] = [
    (
        "aws:ec2/launchTemplate:LaunchTemplate",
        {"metadataOptions": {"httpTokens": "optional"}},
        "launch-template-imdsv2",
    ),
    ("aws:dynamodb/table:Table", {"pointInTimeRecovery": {"enabled": False}}, "dynamodb-pitr"),
    (
        "aws:lb/loadBalancer:LoadBalancer",
        {"dropInvalidHeaderFields": False},
        "alb-drop-invalid-headers",
    ),
    ("aws:cloudfront/distribution:Distribution", {"webAclId": None}, "cloudfront-waf-production"),
    ("aws:rds/instance:Instance", {"publiclyAccessible": True}, "rds-not-public"),
    (
        "aws:elasticache/replicationGroup:ReplicationGroup",
        {"transitEncryptionEnabled": False},
        "elasticache-encryption-in-transit",
    ),
    ("aws:sns/topic:Topic", {"kmsMasterKeyId": None}, "sns-encryption"),
    ("aws:cloudwatch/logGroup:LogGroup", {"retentionInDays": None}, "log-group-retention"),
    ("aws:ec2/vpc:Vpc", {"tags": {"Name": "ollama-vpc-production"}}, "required-tags"),
    (
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        {
            "cidrIpv4": "0.0.0.0/0",
            "fromPort": 22.0,
            "toPort": 22.0,
            "prefixListId": None,
            "referencedSecurityGroupId": None,
        },
        "sg-no-world-admin-ports",
    ),
]


@pytest.mark.parametrize(("type_token", "changes", "rule_name"), BREAKS, ids=[b[2] for b in BREAKS])
def test_broken_real_record_is_caught(
    type_token: str, changes: dict[str, Any], rule_name: str
) -> None:
    ev = evaluated("production")
    name = _first(ev, type_token)
    report = evaluate_policies(replace_record(ev, name, **changes), stack_values("production"))
    hits = [v for v in report.result(rule_name).violations if v.resource == name]
    assert hits and all("Fix:" in v.message for v in hits)
    assert not report.passed


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_real_http_listener_that_forwards_is_caught(stack: str) -> None:
    """With a certificate the ALB's HTTP listener may only redirect (stack rule, real records)."""
    ev = evaluated(stack)
    http = [r for r in ev.of_type("aws:lb/listener:Listener") if r.inputs.get("protocol") == "HTTP"]
    assert http, f"{stack}: no HTTP listener to break"
    forward = [{"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:tg/x"}]
    broken = replace_record(ev, http[0].name, defaultActions=forward)
    report = evaluate_policies(broken, stack_values(stack))
    hits = report.result("alb-https-redirect").violations
    assert [v.resource for v in hits] == [http[0].name]


def test_acknowledged_public_api_port_is_the_only_public_exception() -> None:
    """ollama_api.acknowledge_public_access lets the API port take 0.0.0.0/0 on the ALB
    security group (the stack's own config becomes the rule's config); without that config
    the same plan is a violation naming the API ingress rule."""
    values = override(
        stack_values("staging"),
        "ollama_api",
        enabled=True,
        allowed_cidrs=["0.0.0.0/0"],
        acknowledge_public_access=True,
    )
    ev = run_program("staging", values)
    assert evaluate_policies(ev, values).result("sg-no-world-ingress").violations == []
    strict = evaluate_policies(ev, values, config={}).result("sg-no-world-ingress")
    assert strict.violations and all("8443" in v.message for v in strict.violations)
    assert all(v.resource and "api" in v.resource for v in strict.violations)


def test_policies_see_the_recorded_resource_options() -> None:
    """A policy gets the options the engine would hand it (protect, delete-before-replace)."""
    for stack, protected in (("production", True), ("dev", False)):
        table = evaluated(stack).named("ollama-data-table")
        opts = resource_args(table, stack, None).opts
        assert opts.protect is protected
        assert opts.delete_before_replace is True
