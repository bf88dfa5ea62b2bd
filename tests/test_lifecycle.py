"""Replacements cannot collide on names; stateful resources are protected outside dev.

The expectations here are written down independently of ollama_infra/lifecycle.py (which
AWS names are unique, which types hold data), so a type that loses its entry there, or a
new named type nobody classified, fails these tests.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from harness import (
    GENERATED_EXAMPLES,
    GENERATED_GROUP,
    STACKS,
    evaluated,
    run_generated,
    shared_examples,
)
from hypothesis import given, settings
from test_config import valid_configs

from ollama_infra import lifecycle
from ollama_infra.offline.evaluate import Evaluation

# Inputs that carry the name AWS knows a resource by (a bucket's settings name their bucket
# in ``bucket`` too, so the bucket itself is found by type).
NAME_INPUTS = (
    "name",
    "namePrefix",
    "tableName",
    "identifier",
    "replicationGroupId",
    "dashboardName",
    "alarmName",
    "keyName",
)

# Named types whose name AWS requires to be unique in its account, region or VPC (or, for
# overwrite-by-name APIs, whose Put overwrites within its parent).
UNIQUE_NAMES = {
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/launchTemplate:LaunchTemplate",
    "aws:ec2/keyPair:KeyPair",
    "aws:iam/role:Role",
    "aws:iam/instanceProfile:InstanceProfile",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:lb/targetGroup:TargetGroup",
    "aws:autoscaling/group:Group",
    "aws:autoscaling/policy:Policy",
    "aws:autoscaling/schedule:Schedule",
    "aws:dynamodb/table:Table",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketMetric:BucketMetric",
    "aws:rds/instance:Instance",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/logMetricFilter:LogMetricFilter",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:ssm/parameter:Parameter",
    "aws:sns/topic:Topic",
    "aws:secretsmanager/secret:Secret",
    "aws:backup/vault:Vault",
    "aws:backup/plan:Plan",
    "aws:backup/selection:Selection",
    "aws:cloudfront/function:Function",
    "aws:wafv2/webAcl:WebAcl",
    # Cognito: pool names may repeat in AWS, but the ops CLI looks the pool up by name;
    # domains are unique per region, groups per pool, and the client is read by id at boot.
    "aws:cognito/userPool:UserPool",
    "aws:cognito/userPoolClient:UserPoolClient",
    "aws:cognito/userPoolDomain:UserPoolDomain",
    "aws:cognito/userGroup:UserGroup",
    "aws:budgets/budget:Budget",
    "aws:lambda/function:Function",
}

# Overwrite-by-name APIs: create-then-delete would delete the new resource.
OVERWRITE_BY_NAME = {
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:cloudwatch/logMetricFilter:LogMetricFilter",
    "aws:ssm/parameter:Parameter",
    "aws:sns/topic:Topic",
    "aws:autoscaling/policy:Policy",
    "aws:autoscaling/schedule:Schedule",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:s3/bucketMetric:BucketMetric",
}

# Types the provider replaces only when the name itself changes (pulumi-aws 7.51 schema:
# name/name_prefix are their only force-new inputs; scope is the web ACL's namespace).
RENAME_ONLY = {
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:cloudfront/function:Function",
    "aws:wafv2/webAcl:WebAcl",
    "aws:lambda/function:Function",
}

# Types that hold data (the catalog table, storage, DR and log buckets, the database, the
# backup vaults, KMS keys, secrets).
STATEFUL = {
    "aws:dynamodb/table:Table",
    "aws:s3/bucket:Bucket",
    "aws:rds/instance:Instance",
    "aws:backup/vault:Vault",
    "aws:kms/key:Key",
    "aws:secretsmanager/secret:Secret",
    "aws:cognito/userPool:UserPool",
}

# Replacement means an outage (or an empty table): explicit in the plan.
DOWNTIME = {"aws:lb/loadBalancer:LoadBalancer", "aws:dynamodb/table:Table"}


def _named(type_token: str, inputs: dict[str, Any]) -> bool:
    # a hosted-UI domain is named by its ``domain`` input (an EIP's ``domain`` is "vpc")
    if type_token in ("aws:s3/bucket:Bucket", "aws:cognito/userPoolDomain:UserPoolDomain"):
        return True
    return any(isinstance(inputs.get(k), str) and inputs[k] for k in NAME_INPUTS)


def lifecycle_violations(ev: Evaluation) -> list[str]:
    """Every way a resource of ``ev`` could fail or lose data when replaced or deleted."""
    out: list[str] = []
    for r in ev.resources:
        opts, where = r.options, f"{r.type} {r.name}"
        has_prefix = bool(r.inputs.get("namePrefix")) and not r.inputs.get("name")
        dbr = opts.get("deleteBeforeReplace") is True
        if _named(r.type, r.inputs) and r.type not in UNIQUE_NAMES and r.type.startswith("aws:"):
            out.append(f"{where}: a named type nobody classified (add it here and in lifecycle)")
        if r.type in UNIQUE_NAMES and not (has_prefix or dbr or r.type in RENAME_ONLY):
            out.append(f"{where}: unique name without name_prefix or deleteBeforeReplace")
        if r.type in OVERWRITE_BY_NAME and not dbr:
            out.append(f"{where}: overwrite-by-name API without deleteBeforeReplace")
        if has_prefix and dbr:
            out.append(f"{where}: name_prefix needs no deleteBeforeReplace (it only adds a gap)")
        if r.type in RENAME_ONLY and dbr:
            out.append(f"{where}: in use while live; deleting it first would fail")
        if r.type in STATEFUL and ev.stack != "dev" and opts.get("protect") is not True:
            out.append(f"{where}: holds data but is not protected outside dev")
        if r.type in STATEFUL and ev.stack == "dev" and opts.get("protect"):
            out.append(f"{where}: protected in dev, which is torn down and rebuilt")
        if r.type in DOWNTIME and not opts.get("replaceOnChanges"):
            out.append(f"{where}: replacement means downtime; replaceOnChanges must say when")
    return out


def _with_options(ev: Evaluation, logical_name: str, **changes: Any) -> Evaluation:
    resources = [
        dataclasses.replace(r, options={**r.options, **changes}) if r.name == logical_name else r
        for r in ev.resources
    ]
    return dataclasses.replace(ev, resources=resources)


@pytest.mark.parametrize("stack", STACKS)
def test_replacements_cannot_collide_and_state_is_protected(stack: str) -> None:
    """Every uniquely named resource has a prefix or deletes first; data is protected."""
    ev = evaluated(stack)
    assert lifecycle_violations(ev) == []


@GENERATED_GROUP
@shared_examples
@settings(max_examples=GENERATED_EXAMPLES)
@given(valid_configs())
def test_generated_configs_keep_the_lifecycle_properties(case: tuple[str, dict[str, Any]]) -> None:
    env, values = case
    assert lifecycle_violations(run_generated(env, values)) == []


@pytest.mark.parametrize(
    ("stack", "logical", "changes", "expected"),
    [
        (
            "production",
            "ollama-monitoring-alb-5xx-rate",
            {"deleteBeforeReplace": False},
            "overwrite",
        ),
        ("staging", "ollama-edge-alb-webui-tg", {"deleteBeforeReplace": False}, "unique name"),
        ("production", "ollama-data-table", {"protect": False}, "not protected"),
        ("staging", "ollama-data-storage", {"protect": False}, "not protected"),
        ("production", "ollama-edge-alb-lb", {"replaceOnChanges": []}, "downtime"),
        ("dev", "ollama-data-table", {"protect": True}, "protected in dev"),
        ("dev", "ollama-edge-cdn-block-model-mgmt", {"deleteBeforeReplace": True}, "in use"),
    ],
)
def test_lifecycle_check_catches_broken_records(
    stack: str, logical: str, changes: dict[str, Any], expected: str
) -> None:
    broken = _with_options(evaluated(stack), logical, **changes)
    found = lifecycle_violations(broken)
    assert any(logical in v and expected in v for v in found), found


def test_lifecycle_check_catches_a_fixed_name_and_an_unclassified_type() -> None:
    ev = evaluated("production")
    sg = next(r for r in ev.resources if r.name == "ollama-security-app-sg")
    fixed = dataclasses.replace(sg, inputs={**sg.inputs, "name": "ollama-app-sg-production"})
    broken = dataclasses.replace(ev, resources=[fixed if r is sg else r for r in ev.resources])
    assert any("without name_prefix" in v for v in lifecycle_violations(broken))
    eip = next(r for r in ev.resources if r.type == "aws:ec2/eip:Eip")
    named = dataclasses.replace(eip, type="aws:ec2/newThing:NewThing", inputs={"name": "x"})
    broken = dataclasses.replace(ev, resources=[*ev.resources, named])
    assert any("nobody classified" in v for v in lifecycle_violations(broken))


def test_the_decision_table_matches_the_expectations() -> None:
    """lifecycle.py and this file agree type by type (neither may drift alone)."""
    strategies = {t: r.strategy for t, r in lifecycle.REPLACEMENT.items()}
    assert set(strategies) == UNIQUE_NAMES
    assert {t for t, s in strategies.items() if s is lifecycle.Strategy.RENAME_ONLY} == RENAME_ONLY
    assert all(strategies[t] is lifecycle.Strategy.DELETE_FIRST for t in OVERWRITE_BY_NAME)
    assert set(lifecycle.STATEFUL) == STATEFUL
    assert set(lifecycle.REPLACE_ON_CHANGES) == DOWNTIME
    assert all(r.reason for r in lifecycle.REPLACEMENT.values())


def test_dev_is_unprotected_and_production_retains_its_data() -> None:
    dev, prod = evaluated("dev"), evaluated("production")
    assert not any(r.options["protect"] or r.options["retainOnDelete"] for r in dev.resources)
    retained = {r.name for r in prod.resources if r.options["retainOnDelete"]}
    assert {"ollama-data-table", "ollama-data-storage", "ollama-data-database"} <= retained
    # A secret is protected but not retained: a retained one would block its own re-creation.
    secret = prod.named("ollama-data-webui-secret-key").options
    assert secret["protect"] and not secret["retainOnDelete"]
