"""Compute invariants on every stack's plan (launch template, Auto Scaling group, scaling,
CPU alarms, schedules), each shown to catch a deliberately broken record, plus the compute
config rules."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from harness import (
    GENERATED_EXAMPLES,
    GENERATED_GROUP,
    STACKS,
    config_for,
    evaluated,
    override,
    replace_record,
    run_generated,
    run_program,
    shared_examples,
)
from harness import stack_values as values_of
from hypothesis import given, settings
from test_config import valid_configs
from test_identity import iam_violations

from ollama_infra.config import ConfigError, StackConfig, parse_config
from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.userdata import decode_user_data

LT = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
POLICY = "aws:autoscaling/policy:Policy"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
SUBNET = "aws:ec2/subnet:Subnet"
PARAMETER = "aws:ssm/parameter:Parameter"


def _one(ev: Evaluation, type_token: str) -> ResourceRecord:
    found = ev.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, found {len(found)}"
    return found[0]


def _alarm(ev: Evaluation, name: str) -> ResourceRecord | None:
    return next((r for r in ev.of_type(ALARM) if r.inputs.get("name") == name), None)


def launch_template_violations(ev: Evaluation, cfg: StackConfig) -> list[str]:
    lt = _one(ev, LT).inputs
    out = []
    meta = lt.get("metadataOptions") or {}
    if meta.get("httpTokens") != "required":
        out.append(f"IMDSv2 not required: httpTokens={meta.get('httpTokens')!r}")
    if not 1 <= (meta.get("httpPutResponseHopLimit") or 0) <= 2:
        out.append(f"metadata hop limit {meta.get('httpPutResponseHopLimit')} is not 1-2")
    devices = lt.get("blockDeviceMappings") or []
    if not devices:
        out.append("no block device mappings: the root volume would be the AMI's default")
    for device in devices:
        ebs = device.get("ebs") or {}
        if ebs.get("encrypted") != "true":
            out.append(f"{device.get('deviceName')} is not encrypted")
        if ebs.get("volumeType") != "gp3":
            out.append(f"{device.get('deviceName')} is {ebs.get('volumeType')}, not gp3")
        if ebs.get("volumeSize") != cfg.compute.root_volume_size_gb:
            out.append(f"{device.get('deviceName')} size {ebs.get('volumeSize')} != config")
    interfaces = lt.get("networkInterfaces") or []
    if not interfaces or any(i.get("associatePublicIpAddress") != "false" for i in interfaces):
        out.append("instances may get a public IP")
    if lt.get("vpcSecurityGroupIds") or not all(i.get("securityGroups") for i in interfaces):
        out.append("the app security group must be on the network interface")
    if not (lt.get("monitoring") or {}).get("enabled"):
        out.append("detailed monitoring is off (the 1-minute scale-out alarm needs it)")
    if lt.get("instanceType") != cfg.compute.instance_type:
        out.append(f"instance type {lt.get('instanceType')} != {cfg.compute.instance_type}")
    profile_arn = (lt.get("iamInstanceProfile") or {}).get("arn", "")
    # name_prefix: ollama-ec2-profile-<env>- plus the unique suffix AWS adds
    if not re.search(rf"instance-profile/ollama-ec2-profile-{cfg.env}-\d{{26}}$", profile_arn):
        out.append("the instance profile is not ollama-ec2-profile-<env>")
    if bool(lt.get("keyName")) != cfg.compute.ssh_enabled:
        out.append(f"key pair {lt.get('keyName')!r} with ssh_enabled={cfg.compute.ssh_enabled}")
    specs = {s.get("resourceType"): s.get("tags") or {} for s in lt.get("tagSpecifications") or []}
    for kind in ("instance", "volume"):
        if specs.get(kind, {}).get("Environment") != cfg.env:
            out.append(f"launched {kind}s are not tagged")
    if not lt.get("userData"):
        out.append("no user data")
    return out


def group_violations(ev: Evaluation, cfg: StackConfig) -> list[str]:
    asg = _one(ev, ASG).inputs
    c = cfg.compute
    out = []
    if asg.get("healthCheckType") != "ELB":
        out.append(f"health check type {asg.get('healthCheckType')!r}, not ELB")
    grace = asg.get("healthCheckGracePeriod") or 0
    if grace <= 0 or grace != c.health_check_grace_period_seconds:
        out.append(f"grace period {grace} (config {c.health_check_grace_period_seconds})")
    if (asg.get("minSize"), asg.get("maxSize")) != (c.min_size, c.max_size):
        out.append(f"capacity {asg.get('minSize')}-{asg.get('maxSize')} != config")
    private = {s.id for s in ev.of_type(SUBNET) if s.inputs["tags"].get("Tier") == "private"}
    zones = set(asg.get("vpcZoneIdentifiers") or [])
    if not zones or zones != private:
        out.append("the group is not spread over exactly the private subnets")
    if not asg.get("targetGroupArns"):
        out.append("the group registers in no target group")
    if (asg.get("instanceRefresh") or {}).get("strategy") != "Rolling":
        out.append("no rolling instance refresh on template changes")
    lt_id = _one(ev, LT).id
    spec = asg.get("launchTemplate") or (
        ((asg.get("mixedInstancesPolicy") or {}).get("launchTemplate") or {}).get(
            "launchTemplateSpecification"
        )
        or {}
    )
    if lt_id not in (spec.get("id"), spec.get("launchTemplateId")):
        out.append("the group does not launch from the stack's launch template")
    if c.spot_enabled != ("mixedInstancesPolicy" in asg):
        out.append(f"mixed instances policy present={'mixedInstancesPolicy' in asg}")
    if not all(t.get("propagateAtLaunch") for t in asg.get("tags") or []):
        out.append("tags are not propagated to instances")
    return out


def scaling_violations(ev: Evaluation, cfg: StackConfig) -> list[str]:
    c, env = cfg.compute, cfg.env
    out = []
    policies = {p.inputs.get("name"): p for p in ev.of_type(POLICY)}
    wanted = {
        f"ollama-scale-out-{env}": (1, "metricIntervalLowerBound"),
        f"ollama-scale-in-{env}": (-1, "metricIntervalUpperBound"),
    }
    for name, (adjustment, bound) in wanted.items():
        policy = policies.get(name)
        if policy is None:
            out.append(f"step scaling policy {name} missing")
            continue
        steps = policy.inputs.get("stepAdjustments") or []
        if policy.inputs.get("policyType") != "StepScaling" or len(steps) != 1:
            out.append(f"{name} is not a one-step StepScaling policy")
        elif steps[0].get("scalingAdjustment") != adjustment or steps[0].get(bound) != "0":
            out.append(f"{name} step is {steps[0]}")
    alarms = {
        f"ollama-high-cpu-{env}": ("GreaterThanThreshold", c.scale_out_cpu_percent, "scale-out"),
        f"ollama-low-cpu-{env}": ("LessThanThreshold", c.scale_in_cpu_percent, "scale-in"),
    }
    for name, (comparison, threshold, policy_role) in alarms.items():
        alarm = _alarm(ev, name)
        if alarm is None:
            out.append(f"alarm {name} missing")
            continue
        a = alarm.inputs
        if (a.get("namespace"), a.get("metricName"), a.get("statistic")) != (
            "AWS/EC2",
            "CPUUtilization",
            "Average",
        ):
            out.append(f"{name} does not watch average EC2 CPU")
        if a.get("dimensions") != {"AutoScalingGroupName": f"ollama-asg-{env}"}:
            out.append(f"{name} dimensions {a.get('dimensions')}")
        if (a.get("comparisonOperator"), a.get("threshold")) != (comparison, threshold):
            out.append(f"{name}: {a.get('comparisonOperator')} {a.get('threshold')} != config")
        period, evaluations = a.get("period") or 0, a.get("evaluationPeriods") or 0
        if not (period in (10, 20, 30) or (period > 0 and period % 60 == 0)):
            out.append(f"{name}: period {period} is not 10/20/30 or a multiple of 60")
        if period * evaluations > 86_400:
            out.append(f"{name}: period x evaluations {period * evaluations} s > 1 day")
        if a.get("treatMissingData") not in ("notBreaching", "breaching", "ignore", "missing"):
            out.append(f"{name}: treatMissingData not set deliberately")
        policy = policies.get(f"ollama-{policy_role}-{env}")
        actions = a.get("alarmActions") or []
        if policy is None or policy.state.get("arn") not in actions:
            out.append(f"{name} does not trigger the {policy_role} policy")
        if not any(
            str(x).endswith(f":sns:{ev.region}:123456789012:ollama-alerts-{env}") for x in actions
        ):
            out.append(f"{name} does not notify ollama-alerts-{env}")
    schedules = {s.inputs.get("scheduledActionName"): s.inputs for s in ev.of_type(SCHEDULE)}
    if c.schedule_scale_down_cron is None:
        if schedules:
            out.append(f"scheduled actions without a configured schedule: {sorted(schedules)}")
    else:
        down = schedules.get(f"ollama-scale-down-{env}") or {}
        up = schedules.get(f"ollama-scale-up-{env}") or {}
        if down.get("recurrence") != c.schedule_scale_down_cron or down.get("desiredCapacity") != 0:
            out.append(f"scale-down schedule {down}")
        if down.get("minSize") != 0:
            out.append("the scale-down schedule keeps a minimum above zero")
        if up.get("recurrence") != c.schedule_scale_up_cron or up.get("minSize") != c.min_size:
            out.append(f"scale-up schedule {up}")
        if {down.get("timeZone"), up.get("timeZone")} != {c.schedule_timezone}:
            out.append("schedules ignore schedule_timezone")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_scales_out_above_40_and_in_below_30_percent_cpu(stack: str) -> None:
    """The seed's thresholds, written out here rather than read from the config defaults (a
    changed default would otherwise pass the config-following check above)."""
    env = stack
    expected = {
        f"ollama-high-cpu-{env}": ("GreaterThanThreshold", 40.0),
        f"ollama-low-cpu-{env}": ("LessThanThreshold", 30.0),
    }
    for name, wanted in expected.items():
        alarm = _alarm(evaluated(stack), name)
        assert alarm is not None, name
        assert (alarm.inputs["comparisonOperator"], alarm.inputs["threshold"]) == wanted


def compute_violations(ev: Evaluation, cfg: StackConfig) -> list[str]:
    return (
        launch_template_violations(ev, cfg)
        + group_violations(ev, cfg)
        + scaling_violations(ev, cfg)
    )


@pytest.mark.parametrize("stack", STACKS)
def test_compute_invariants(stack: str) -> None:
    """IMDSv2, encrypted gp3 volumes, no public IPs, ELB health checks with a grace period,
    private subnets, rolling refresh, step scaling and CPU alarms with the configured
    thresholds, schedules only where configured."""
    assert compute_violations(evaluated(stack), config_for(stack)) == []


def _broken_lt(ev: Evaluation, **changes: Any) -> Evaluation:
    lt = _one(ev, LT)
    return replace_record(ev, lt.name, **changes)


def _lt_inputs(ev: Evaluation) -> dict[str, Any]:
    return _one(ev, LT).inputs


BROKEN_LT: dict[str, Any] = {
    "IMDSv2": lambda i: {"metadataOptions": {**i["metadataOptions"], "httpTokens": "optional"}},
    "hop limit": lambda i: {
        "metadataOptions": {**i["metadataOptions"], "httpPutResponseHopLimit": 5}
    },
    "encrypted": lambda i: {
        "blockDeviceMappings": [
            {
                **i["blockDeviceMappings"][0],
                "ebs": {**i["blockDeviceMappings"][0]["ebs"], "encrypted": "false"},
            }
        ]
    },
    "gp3": lambda i: {
        "blockDeviceMappings": [
            {
                **i["blockDeviceMappings"][0],
                "ebs": {**i["blockDeviceMappings"][0]["ebs"], "volumeType": "gp2"},
            }
        ]
    },
    "public IP": lambda i: {
        "networkInterfaces": [{**i["networkInterfaces"][0], "associatePublicIpAddress": "true"}]
    },
    "monitoring": lambda i: {"monitoring": {"enabled": False}},
    "key pair": lambda i: {"keyName": "someone-elses-key"},
}


@pytest.mark.parametrize("what", sorted(BROKEN_LT))
def test_launch_template_check_catches(what: str) -> None:
    ev, cfg = evaluated("staging"), config_for("staging")
    broken = _broken_lt(ev, **BROKEN_LT[what](_lt_inputs(ev)))
    assert launch_template_violations(broken, cfg) != []


BROKEN_ASG: dict[str, dict[str, Any]] = {
    "EC2 health checks": {"healthCheckType": "EC2"},
    "no grace period": {"healthCheckGracePeriod": 0},
    "public subnets": {"vpcZoneIdentifiers": ["subnet-0000000000000000a"]},
    "no target groups": {"targetGroupArns": []},
    "no instance refresh": {"instanceRefresh": None},
    "tags not propagated": {
        "tags": [{"key": "Environment", "value": "dev", "propagateAtLaunch": False}]
    },
}


@pytest.mark.parametrize("what", sorted(BROKEN_ASG))
def test_group_check_catches(what: str) -> None:
    ev, cfg = evaluated("production"), config_for("production")
    broken = replace_record(ev, _one(ev, ASG).name, **BROKEN_ASG[what])
    assert group_violations(broken, cfg) != []


@pytest.mark.parametrize(
    ("record", "changes"),
    [
        ("ollama-compute-high-cpu", {"threshold": 80.0}),
        ("ollama-compute-low-cpu", {"comparisonOperator": "GreaterThanThreshold"}),
        ("ollama-compute-high-cpu", {"alarmActions": []}),
        ("ollama-compute-low-cpu", {"period": 45.0}),
        ("ollama-compute-low-cpu", {"period": 3600.0, "evaluationPeriods": 48.0}),
        ("ollama-compute-high-cpu", {"dimensions": {"AutoScalingGroupName": "other"}}),
        (
            "ollama-compute-scale-out",
            {"stepAdjustments": [{"scalingAdjustment": -1, "metricIntervalLowerBound": "0"}]},
        ),
        ("ollama-compute-scale-down", {"minSize": 1.0}),
        ("ollama-compute-scale-up", {"timeZone": "UTC"}),
    ],
)
def test_scaling_check_catches(record: str, changes: dict[str, Any]) -> None:
    ev, cfg = evaluated("dev"), config_for("dev")
    assert scaling_violations(replace_record(ev, record, **changes), cfg) != []


def test_schedules_only_where_configured() -> None:
    assert evaluated("dev").of_type(SCHEDULE), "dev scales to zero at night"
    for stack in ("staging", "production"):
        assert evaluated(stack).of_type(SCHEDULE) == []
    cfg = config_for("staging")
    stray = evaluated("dev").of_type(SCHEDULE)
    ev = evaluated("staging")
    with_stray = Evaluation(ev.stack, ev.region, [*ev.resources, *stray], ev.components, ev.outputs)
    assert any("without a configured schedule" in v for v in scaling_violations(with_stray, cfg))


def test_default_models_parameter_holds_the_config_list() -> None:
    for stack in STACKS:
        cfg = config_for(stack)
        (param,) = [
            p
            for p in evaluated(stack).of_type(PARAMETER)
            if p.inputs["name"] == f"/ollama/{stack}/ollama/default-models"
        ]
        value = param.inputs["value"]
        value = value.get("value") if isinstance(value, dict) else value  # secret wrapper
        assert json.loads(value) == cfg.ollama.models
        assert param.inputs["type"] == "String"


# ------------------------------------------------------------------ config variants


def _plan(
    section_changes: dict[str, dict[str, Any]], stack: str = "dev"
) -> tuple[Evaluation, StackConfig]:
    values = values_of(stack)
    for section, changes in section_changes.items():
        values = override(values, section, **changes)
    return run_program(stack, values), parse_config(stack, values)


def test_spot_gpu_ssh_and_request_tracking_variants() -> None:
    """One dev plan with Spot, the GPU profile, SSH and request-based target tracking on."""
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOfflinePlanExampleKeyOnly admin@example.com"
    ev, cfg = _plan(
        {
            "compute": {
                "instance_type": "g6.xlarge",
                "gpu_enabled": True,
                "spot_enabled": True,
                "spot_instance_types": ["g5.xlarge"],
                "ssh_enabled": True,
                "ssh_admin_cidrs": ["203.0.113.0/24"],
                "ssh_public_key": key,
                "requests_per_target": 20,
            },
            "ollama": {"install_method": "script"},
        }
    )
    assert compute_violations(ev, cfg) == []
    asg = _one(ev, ASG).inputs
    mixed = asg["mixedInstancesPolicy"]
    assert mixed["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 0
    overrides = [o["instanceType"] for o in mixed["launchTemplate"]["overrides"]]
    assert overrides == ["g6.xlarge", "g5.xlarge"]
    assert asg["capacityRebalance"] is True
    lt = _lt_inputs(ev)
    assert lt["instanceType"] == "g6.xlarge"
    assert lt["keyName"] == "ollama-key-dev"
    assert "GPU=true" in decode_user_data(lt["userData"])
    (tracking,) = [
        p for p in ev.of_type(POLICY) if p.inputs["policyType"] == "TargetTrackingScaling"
    ]
    spec = tracking.inputs["targetTrackingConfiguration"]
    assert spec["targetValue"] == 20
    label = spec["predefinedMetricSpecification"]["resourceLabel"]
    assert label.startswith("app/ollama-alb-dev/") and "/targetgroup/ollama-tg-dev/" in label


def test_single_instance_refresh_launches_before_terminating() -> None:
    dev = _one(evaluated("dev"), ASG).inputs["instanceRefresh"]["preferences"]
    assert (dev["minHealthyPercentage"], dev["maxHealthyPercentage"]) == (100, 200)
    prod = _one(evaluated("production"), ASG).inputs["instanceRefresh"]["preferences"]
    assert (prod["minHealthyPercentage"], prod["maxHealthyPercentage"]) == (50, 100)


def test_baked_ami_is_used_as_is() -> None:
    ev, _ = _plan({"compute": {"ami_id": "ami-0123456789abcdef0"}})
    assert _lt_inputs(ev)["imageId"] == "ami-0123456789abcdef0"
    assert not any(
        tok == "aws:ssm/getParameter:getParameter" and "ubuntu" in str(args.get("name"))
        for tok, args in ev.calls
    )


def test_ubuntu_ami_comes_from_the_public_parameter() -> None:
    cfg = config_for("production")
    calls = [
        a for tok, a in evaluated("production").calls if tok == "aws:ssm/getParameter:getParameter"
    ]
    assert {"name": cfg.compute.ubuntu_ami_parameter} in [{"name": a.get("name")} for a in calls]


# ------------------------------------------------------------------ config rules


INVALID: list[tuple[str, str, dict[str, Any], str, str]] = [
    (
        "dev",
        "compute",
        {"spot_instance_types": ["g5.xlarge"]},
        "compute.spot_instance_types",
        "only used with Spot",
    ),
    (
        "dev",
        "compute",
        {"spot_instance_types": ["huge"]},
        "compute.spot_instance_types",
        "not an EC2 instance type",
    ),
    (
        "dev",
        "compute",
        {"instance_type": "m7g.xlarge"},
        "compute.ubuntu_ami_parameter",
        "architecture",
    ),
    (
        "dev",
        "compute",
        {"scaling_cooldown_seconds": -1},
        "compute.scaling_cooldown_seconds",
        "0-3600",
    ),
    ("dev", "compute", {"requests_per_target": 0}, "compute.requests_per_target", "1-100000"),
    ("dev", "ollama", {"install_method": "snap"}, "ollama.models_dir", "strictly confined"),
    ("staging", "compute", {"spot_enabled": True}, "compute.spot_enabled", "dev only"),
    ("staging", "compute", {"instance_type": "t3.2xlarge"}, "compute.instance_type", "CPU credits"),
    ("dev", "compute", {"scale_in_cpu_percent": 45.0}, "compute.scale_in_cpu_percent", "flaps"),
]


@pytest.mark.parametrize(("stack", "section", "changes", "key", "words"), INVALID)
def test_invalid_compute_config_is_rejected(
    stack: str, section: str, changes: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(stack, override(values_of(stack), section, **changes))
    rendered = [issue.render() for issue in info.value.issues]
    assert any(r.startswith(f"ollama:{key}") and words in r for r in rendered), rendered


def test_graviton_with_the_arm64_parameter_is_valid() -> None:
    arm = "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id"
    cfg = parse_config(
        "dev",
        override(values_of("dev"), "compute", instance_type="m7g.xlarge", ubuntu_ami_parameter=arm),
    )
    assert cfg.compute.instance_type == "m7g.xlarge"


@GENERATED_GROUP
@shared_examples
@settings(max_examples=GENERATED_EXAMPLES)
@given(valid_configs())
def test_generated_configs_keep_the_compute_invariants(case: tuple[str, dict[str, Any]]) -> None:
    """The compute and IAM invariants hold for generated valid configs, not only the stack
    files (capacity, thresholds, instance families and regions vary)."""
    env, values = case
    ev = run_generated(env, values)
    assert compute_violations(ev, parse_config(env, values)) == []
    assert iam_violations(ev) == []
