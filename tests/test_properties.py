"""Cross-cutting seed properties over every stack file and over generated configs.

Written against the resource records, not against a list of resources, so every
component added later is covered without new per-resource code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from harness import (
    GENERATED_EXAMPLES,
    GENERATED_GROUP,
    STACKS,
    config_for,
    evaluated,
    replace_record,
    run_generated,
    shared_examples,
)
from hypothesis import given, settings
from test_config import valid_configs

from loadtest import scaling
from loadtest import settings as loadtest_settings
from ollama_infra import naming
from ollama_infra.config import SECTIONS
from ollama_infra.offline.evaluate import Evaluation
from ollama_infra.stack import OUTPUT_DOCS

ROOT = Path(__file__).resolve().parents[1]
NAME_RE = re.compile(r"^ollama(-[a-z0-9]+)*-(?P<env>dev|staging|production)(-\d{12})?$")
# Secrets Manager names ollama/<env>/<role>; Parameter Store paths /ollama/<env>/<role>.
SECRET_RE = re.compile(r"^ollama/(?P<env>dev|staging|production)/[a-z0-9][a-z0-9/-]*$")
PARAMETER_RE = re.compile(r"^/ollama/(?P<env>dev|staging|production)/[a-z0-9][a-z0-9/._-]*$")
LOG_GROUP_RE = re.compile(
    r"^/aws/ec2/ollama-[a-z0-9]+(-[a-z0-9]+)*-(?P<env>dev|staging|production)$"
)
# Log group names the service dictates (RDS exports, WAF's aws-waf-logs- prefix, Lambda's
# /aws/lambda/<function>).
SERVICE_LOG_GROUP_RE = re.compile(
    r"^(/aws/rds/instance/ollama-webui-db-(?P<env>dev|staging|production)/(postgresql|upgrade)"
    r"|aws-waf-logs-ollama-waf-(?P<waf_env>dev|staging|production)"
    r"|/aws/lambda/ollama-db-rotation-(?P<fn_env>dev|staging|production))$"
)
# Name-like inputs AWS shows as the resource's name (Name tags included).
NAME_KEYS = (
    "name",
    "bucket",
    "tableName",
    "identifier",
    "replicationGroupId",
    "dashboardName",
    "alarmName",
)
PREFIX_KEYS = ("namePrefix", "bucketPrefix")
# Types whose `name` input is an id inside another resource, not an AWS resource name.
# S3 request metrics: the filter id "EntireBucket" is what the S3 console and alarms expect.
SUB_RESOURCE_NAMES = {"aws:s3/bucketMetric:BucketMetric"}


def _name_pattern(type_token: str, value: str) -> re.Pattern[str]:
    if type_token.startswith("aws:secretsmanager/"):
        return SECRET_RE
    if type_token.startswith("aws:ssm/"):
        return PARAMETER_RE
    if type_token == "aws:cloudwatch/logGroup:LogGroup" and SERVICE_LOG_GROUP_RE.match(value):
        return SERVICE_LOG_GROUP_RE
    return LOG_GROUP_RE if value.startswith("/") else NAME_RE


def naming_violations(ev: Evaluation) -> list[str]:
    out = []
    for r in ev.resources:
        names = [
            (k, r.inputs[k])
            for k in NAME_KEYS
            if isinstance(r.inputs.get(k), str)
            and not (k == "name" and r.type in SUB_RESOURCE_NAMES)
        ]
        if r.tags and "Name" in r.tags:
            names.append(("tags.Name", r.tags["Name"]))
        for key, value in names:
            m = _name_pattern(r.type if key == "name" else "", value).match(value)
            if not m:
                out.append(f"{r.type} {r.name}: {key}={value!r} is not ollama-<role>-<env>")
            elif next((g for g in m.groupdict().values() if g), None) != ev.stack:
                out.append(f"{r.name}: {key}={value!r} names another environment")
        for key in PREFIX_KEYS:
            value = r.inputs.get(key)
            if isinstance(value, str) and not value.startswith("ollama-"):
                out.append(f"{r.name}: {key}={value!r} does not start with ollama-")
        if not r.name.startswith("ollama-"):
            out.append(f"{r.type}: logical name {r.name!r} does not start with ollama-")
    return out


def tagging_violations(ev: Evaluation) -> list[str]:
    out = []
    for r in ev.resources:
        if not naming.is_taggable(r.type):
            continue
        tags = r.tags or {}
        if r.type == "aws:autoscaling/group:Group":
            tags = {t["key"]: t["value"] for t in r.inputs.get("tags", [])}
        missing = [k for k in naming.REQUIRED_TAG_KEYS if not tags.get(k)]
        if missing:
            out.append(f"{r.type} {r.name} lacks tags {missing}")
            continue
        if tags["Project"] != "ollama" or tags["ManagedBy"] != "pulumi":
            out.append(f"{r.name}: Project/ManagedBy are {tags['Project']}/{tags['ManagedBy']}")
        if tags["Environment"] != ev.stack:
            out.append(f"{r.name}: Environment tag {tags['Environment']} != {ev.stack}")
    return out


# ------------------------------------------------------------------ Property 1


@pytest.mark.parametrize("stack", STACKS)
def test_property_1_resource_naming_consistency(stack: str) -> None:
    """Property 1 (resource naming consistency): every physical name and Name tag follows
    ollama-<role>-<env> (log groups /aws/ec2/ollama-<role>-<env>) for the stack's environment."""
    assert naming_violations(evaluated(stack)) == []


def test_property_1_catches_a_foreign_name() -> None:
    ev = evaluated("dev")
    vpc = ev.of_type("aws:ec2/vpc:Vpc")[0]
    broken = replace_record(ev, vpc.name, tags={**vpc.inputs["tags"], "Name": "legacy-app-vpc"})
    assert any("legacy-app-vpc" in v for v in naming_violations(broken))
    broken = replace_record(ev, vpc.name, tags={**vpc.inputs["tags"], "Name": "ollama-vpc-staging"})
    assert any("another environment" in v for v in naming_violations(broken))


def test_naming_helper_enforces_aws_limits() -> None:
    assert naming.name("alb", "production", "alb") == "ollama-alb-production"
    with pytest.raises(naming.NamingError, match="limit is 32"):
        naming.name("very-long-load-balancer-role", "production", "alb")
    with pytest.raises(naming.NamingError, match="valid S3 bucket"):
        naming.bucket_name("Storage", "dev", "123456789012")
    for env in STACKS:
        for role, full, kind in naming.all_names(env, "123456789012"):
            assert len(full) <= naming.NAME_LIMITS[kind], (role, full)


# ------------------------------------------------------------------ Property 4


def _stack_keys(stack: str) -> list[str]:
    import yaml

    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    keys = []
    for key, value in data["config"].items():
        keys.append(key)
        if isinstance(value, dict):
            keys.extend(f"{key}.{sub}" for sub in value)
    return keys


KEY_RE = re.compile(r"^(aws:region|ollama:[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?)$")


def config_key_violations(keys: list[str]) -> list[str]:
    out = []
    for key in keys:
        if not KEY_RE.match(key):
            out.append(f"{key} is not ollama:<section>[.<snake_case>]")
            continue
        if key.startswith("ollama:"):
            section, _, field = key[len("ollama:") :].partition(".")
            if section not in SECTIONS:
                out.append(f"{key}: unknown section")
            elif field and field not in SECTIONS[section].model_fields:
                out.append(f"{key}: unknown key")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_4_config_key_naming(stack: str) -> None:
    """Property 4 (config key naming, the Pulumi analogue of Terraform variable naming):
    stack files use only namespaced snake_case keys that the typed config defines, and every
    defined key is snake_case with a description."""
    assert config_key_violations(_stack_keys(stack)) == []
    for section, model in SECTIONS.items():
        assert re.match(r"^[a-z][a-z0-9_]*$", section)
        for field_name, field in model.model_fields.items():
            assert re.match(r"^[a-z][a-z0-9_]*$", field_name), field_name
            assert field.description and len(field.description) > 10, f"{section}.{field_name}"


def test_property_4_catches_bad_keys() -> None:
    assert (
        config_key_violations(
            [
                "ollama:network.VpcCidr",
                "ollama:net.vpc_cidr",
                "ollama:network.vpc_cider",
                "network:vpc_cidr",
            ]
        )
        != []
    )
    assert (
        len(
            config_key_violations(
                ["ollama:network.VpcCidr", "ollama:net.vpc_cidr", "ollama:network.vpc_cider"]
            )
        )
        == 3
    )


# ------------------------------------------------------------------ Property 5


@pytest.mark.parametrize("stack", STACKS)
def test_property_5_tagging(stack: str) -> None:
    """Property 5 (tagging): every taggable resource carries Project=ollama, Environment=<env>,
    ManagedBy=pulumi and a Service tag, plus Owner/CostCenter when configured. Tags are explicit
    resource inputs, so these records are exactly what AWS receives."""
    ev = evaluated(stack)
    assert tagging_violations(ev) == []
    cfg = config_for(stack)
    taggable = [r for r in ev.resources if naming.is_taggable(r.type) and r.tags]
    assert taggable, "no taggable resources found: the check would be vacuous"
    for r in taggable:
        if cfg.environment.owner:
            assert r.tags["Owner"] == cfg.environment.owner  # type: ignore[index]
        if cfg.environment.cost_center:
            assert r.tags["CostCenter"] == cfg.environment.cost_center  # type: ignore[index]


def test_property_5_catches_missing_tags() -> None:
    ev = evaluated("dev")
    subnet = ev.of_type("aws:ec2/subnet:Subnet")[0]
    tags = {k: v for k, v in subnet.inputs["tags"].items() if k != "Service"}
    assert any(
        "lacks tags ['Service']" in v
        for v in tagging_violations(replace_record(ev, subnet.name, tags=tags))
    )
    assert any(
        "Environment tag" in v
        for v in tagging_violations(
            replace_record(ev, subnet.name, tags={**subnet.inputs["tags"], "Environment": "prod"})
        )
    )


# ------------------------------------------------------------------ Property 6


OUTPUT_RE = re.compile(r"^ollama_[a-z0-9]+(_[a-z0-9]+)*$")


def output_violations(outputs: dict[str, Any]) -> list[str]:
    docs = (ROOT / "docs" / "outputs.md").read_text()
    out = []
    for key in outputs:
        if not OUTPUT_RE.match(key):
            out.append(f"output {key} is not ollama_<snake_case>")
        if key not in OUTPUT_DOCS:
            out.append(f"output {key} has no description in OUTPUT_DOCS")
        if f"`{key}`" not in docs:
            out.append(f"output {key} is not documented in docs/outputs.md")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_6_output_naming(stack: str) -> None:
    """Property 6 (output naming): every stack output is ollama_<snake_case>, described in
    OUTPUT_DOCS and documented in docs/outputs.md."""
    outputs = evaluated(stack).outputs
    assert outputs
    assert output_violations(outputs) == []


def test_property_6_catches_bad_outputs() -> None:
    assert len(output_violations({"vpcId": 1, "ollama_undocumented_thing": 2})) >= 3


# ------------------------------------------------------------------ Property 9

ASG = "aws:autoscaling/group:Group"
ALB = "aws:lb/loadBalancer:LoadBalancer"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def loadtest_naming_violations(ev: Evaluation) -> list[str]:
    """The names the load tests use (loadtest/scaling.py, the stack output the locustfile
    reads for --api-mode direct) against the stack's resource records."""
    env, out = ev.stack, []
    asg, (scale_out, scale_in) = scaling.asg_name(env), scaling.alarm_names(env)
    if (asg, scale_out, scale_in) != (
        f"ollama-asg-{env}",
        f"ollama-high-cpu-{env}",
        f"ollama-low-cpu-{env}",
    ):
        out.append(f"load test uses {asg}, {scale_out}, {scale_in}: not the ollama- names")
    if asg not in {r.inputs.get("name") for r in ev.of_type(ASG)}:
        out.append(f"no auto scaling group {asg}")
    alarms = {r.inputs.get("name"): r.inputs for r in ev.of_type(ALARM)}
    for name in (scale_out, scale_in):
        got = alarms.get(name)
        if got is None:
            out.append(f"no alarm {name}")
        elif (got.get("namespace"), got.get("metricName"), got.get("dimensions")) != (
            "AWS/EC2",
            "CPUUtilization",
            {"AutoScalingGroupName": asg},
        ):
            out.append(f"alarm {name} does not watch CPUUtilization of {asg}")
    if f"ollama-alb-{env}" not in {r.inputs.get("name") for r in ev.of_type(ALB)}:
        out.append(f"no load balancer ollama-alb-{env}")
    if not str(ev.outputs.get("ollama_alb_dns_name", "")).startswith(f"ollama-alb-{env}-"):
        out.append(f"output ollama_alb_dns_name is not the DNS name of ollama-alb-{env}")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_9_load_test_resource_naming(stack: str, tmp_path: Path) -> None:
    """Property 9 (load-test resource naming): the ALB, the ASG and the CPU alarms and metric
    the load tests watch are the stack's ollama- ones, and --stack-outputs in direct mode
    targets that ALB."""
    ev = evaluated(stack)
    assert loadtest_naming_violations(ev) == []
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(ev.outputs, default=str))
    host = loadtest_settings.host_from_stack_outputs(outputs, "direct")
    assert host == f"http://{ev.outputs['ollama_alb_dns_name']}"


@pytest.mark.parametrize(
    ("logical_name", "changes"),
    [
        ("ollama-compute-asg", {"name": "asg-staging"}),
        ("ollama-compute-high-cpu", {"dimensions": {"AutoScalingGroupName": "other"}}),
        ("ollama-compute-low-cpu", {"metricName": "NetworkIn"}),
        ("ollama-edge-alb-lb", {"name": "alb-staging"}),
    ],
)
def test_property_9_catches_other_names(logical_name: str, changes: dict[str, Any]) -> None:
    broken = replace_record(evaluated("staging"), logical_name, **changes)
    assert len(loadtest_naming_violations(broken)) == 1


# ------------------------------------------------------------------ generated configs


@GENERATED_GROUP
@shared_examples
@settings(max_examples=GENERATED_EXAMPLES)
@given(valid_configs())
def test_generated_configs_build_and_keep_the_properties(case: tuple[str, dict[str, Any]]) -> None:
    """Properties 1, 5 and 6 hold for generated valid configs, not just the stack files."""
    env, values = case
    ev = run_generated(env, values)
    assert ev.resources
    assert naming_violations(ev) == []
    assert tagging_violations(ev) == []
    assert output_violations(ev.outputs) == []
    from test_network import network_violations
    from test_security_groups import sg_violations

    assert network_violations(ev) == []
    assert sg_violations(ev) == []
