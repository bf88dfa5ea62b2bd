"""Alarms in the plan: Property 22, CloudWatch's period rules, regions, scaling wiring.

Every check reads the resource records of the evaluated stack, so it covers every
MetricAlarm in the plan (the compute component's scaling alarms included), and each has a
case built with ``replace_record`` that proves it can fail.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from typing import Any

import pytest
from harness import (
    STACKS,
    config_for,
    evaluated,
    override,
    replace_record,
    run_program,
    stack_values,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_infra.config import ObservabilityConfig
from ollama_infra.observability import alarms, filters
from ollama_infra.offline.evaluate import Evaluation, ResourceRecord

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
KEY = "aws:kms/key:Key"
PROVIDER = "pulumi:providers:aws"
TREAT_MISSING = {"breaching", "notBreaching", "ignore", "missing"}


def region_of(ev: Evaluation, record: ResourceRecord) -> str:
    """The region a resource is created in: its explicit provider's, else the stack's."""
    if record.provider:
        logical = record.provider.split("::")[-2]
        for p in ev.of_type(PROVIDER):
            if p.name == logical and p.inputs.get("region"):
                return str(p.inputs["region"])
    return str(record.inputs.get("region") or ev.region)


def _topics(ev: Evaluation) -> dict[str, ResourceRecord]:
    return {str(t.state["arn"]): t for t in ev.of_type(TOPIC)}


def _key_grants_cloudwatch(ev: Evaluation, key_ref: str, alarm: ResourceRecord) -> bool:
    """The key's policy lets CloudWatch use it on behalf of this alarm (conditions included)."""
    alarm_arn = str(alarm.state["arn"])
    for key in ev.of_type(KEY):
        if key_ref not in (key.state.get("arn"), key.id, key.state.get("keyId")):
            continue
        for statement in json.loads(key.inputs["policy"])["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            if not (
                statement["Effect"] == "Allow"
                and statement.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
                and "kms:Decrypt" in actions
                and any(a.startswith("kms:GenerateDataKey") for a in actions)
            ):
                continue
            condition = statement.get("Condition", {})
            account = condition.get("StringEquals", {}).get("aws:SourceAccount")
            source = condition.get("ArnLike", {}).get("aws:SourceArn")
            if account not in (None, alarm_arn.split(":")[4]):
                continue
            if source is not None and not fnmatch.fnmatchcase(alarm_arn, source):
                continue
            return True
        return False
    return False


def alarm_notification_violations(ev: Evaluation) -> list[str]:
    """Property 22: every alarm notifies a declared SNS topic in its own region, on ALARM and
    on OK, and that topic can really receive from CloudWatch (encrypted with a key whose
    policy grants cloudwatch.amazonaws.com)."""
    topics = _topics(ev)
    alarms = ev.of_type(ALARM)
    out = [] if alarms else ["the plan has no alarms: nothing would be checked"]
    for alarm in alarms:
        region = region_of(ev, alarm)
        for key in ("alarmActions", "okActions"):
            arns = [a for a in alarm.inputs.get(key) or [] if a in topics]
            if not arns:
                out.append(f"{alarm.name}: {key} has no SNS topic of this stack")
                continue
            for arn in arns:
                topic = topics[arn]
                if region_of(ev, topic) != region:
                    out.append(
                        f"{alarm.name} ({region}) notifies {arn} in {region_of(ev, topic)}: "
                        "alarm actions must be in the alarm's region"
                    )
                key_ref = topic.inputs.get("kmsMasterKeyId")
                if not key_ref:
                    out.append(f"{arn}: not encrypted")
                elif key_ref.startswith("alias/aws/") or not _key_grants_cloudwatch(
                    ev, key_ref, alarm
                ):
                    out.append(f"{arn}: CloudWatch cannot use key {key_ref} (notifications drop)")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_22_every_alarm_notifies_the_sns_topic(stack: str) -> None:
    """Property 22 (alarm notification): every CloudWatch alarm of the stack, including the
    scaling alarms, sends ALARM and OK notifications to the stack's alerts topic in its region
    (us-east-1 alarms to the us-east-1 topic)."""
    ev = evaluated(stack)
    assert alarm_notification_violations(ev) == []
    # The billing alarm has its own us-east-1 topic (ollama-billing-alerts-<env>) by design.
    billing_arn = ev.outputs["ollama_billing_alerts_topic_arn"]
    regional = [
        a
        for a in ev.of_type(ALARM)
        if region_of(ev, a) == ev.region and billing_arn not in a.inputs["alarmActions"]
    ]
    assert len(regional) >= 10
    alerts_arn = ev.outputs["ollama_alerts_topic_arn"]
    assert all(alerts_arn in a.inputs["alarmActions"] for a in regional)


def test_property_22_catches_an_alarm_without_the_topic() -> None:
    ev = evaluated("dev")
    alarm = ev.named("ollama-monitoring-high-memory")
    assert any(
        "okActions has no SNS topic" in v
        for v in alarm_notification_violations(replace_record(ev, alarm.name, okActions=[]))
    )
    foreign = ["arn:aws:sns:us-east-1:999999999999:someone-elses-topic"]
    assert any(
        "alarmActions has no SNS topic" in v
        for v in alarm_notification_violations(replace_record(ev, alarm.name, alarmActions=foreign))
    )


def test_property_22_catches_a_topic_cloudwatch_cannot_publish_to() -> None:
    ev = evaluated("dev")
    broken = replace_record(ev, "ollama-observability-alerts", kmsMasterKeyId="alias/aws/sns")
    assert any("CloudWatch cannot use key" in v for v in alarm_notification_violations(broken))


def test_property_22_catches_a_key_policy_scoped_to_other_alarms() -> None:
    ev = evaluated("dev")
    key = ev.named("ollama-observability-alerts-key")
    policy = json.loads(key.inputs["policy"])
    for statement in policy["Statement"]:
        if "ArnLike" in statement.get("Condition", {}):
            statement["Condition"]["ArnLike"]["aws:SourceArn"] = (
                "arn:aws:cloudwatch:us-east-1:123456789012:alarm:ollama-*-staging"
            )
    broken = replace_record(ev, key.name, policy=json.dumps(policy))
    assert any("CloudWatch cannot use key" in v for v in alarm_notification_violations(broken))


def test_property_22_catches_a_cross_region_action() -> None:
    ev = evaluated("dev")
    billing_topic = ev.outputs["ollama_billing_alerts_topic_arn"]
    if ev.region == "us-east-1":
        # Move the alerts topic to another region's provider to get a mismatch.
        broken = replace_record(ev, "ollama-observability-alerts")
        topic = broken.named("ollama-observability-alerts")
        moved = ResourceRecord(
            topic.type,
            topic.name,
            {**topic.inputs, "region": "eu-west-1"},
            topic.custom,
            None,
            topic.id,
            topic.state,
        )
        broken.resources[broken.resources.index(topic)] = moved
    else:
        broken = replace_record(ev, "ollama-monitoring-high-memory", alarmActions=[billing_topic])
    assert any("must be in the alarm's region" in v for v in alarm_notification_violations(broken))


# --------------------------------------------------------------------------- periods


def _periods(alarm: ResourceRecord) -> list[int]:
    if alarm.inputs.get("metricQueries"):
        return [
            int(q["metric"]["period"]) for q in alarm.inputs["metricQueries"] if q.get("metric")
        ]
    return [int(alarm.inputs["period"])]


def alarm_period_violations(ev: Evaluation) -> list[str]:
    """CloudWatch PutMetricAlarm rules that a plan does not check but a deploy enforces."""
    out = []
    for alarm in ev.of_type(ALARM):
        evaluations = int(alarm.inputs["evaluationPeriods"])
        for period in _periods(alarm):
            if period not in (10, 20, 30) and period % 60:
                out.append(f"{alarm.name}: period {period} is not 10, 20, 30 or a multiple of 60")
            limit = 86_400 if period < 3_600 else 604_800
            if period * evaluations > limit:
                out.append(f"{alarm.name}: {period} s x {evaluations} periods exceeds {limit} s")
        datapoints = int(alarm.inputs.get("datapointsToAlarm") or evaluations)
        if not 1 <= datapoints <= evaluations:
            out.append(f"{alarm.name}: datapointsToAlarm {datapoints} > {evaluations} periods")
        if alarm.inputs.get("treatMissingData") not in TREAT_MISSING:
            out.append(f"{alarm.name}: treatMissingData not chosen explicitly")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_alarm_periods_and_evaluation_windows_are_valid(stack: str) -> None:
    assert alarm_period_violations(evaluated(stack)) == []


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"period": 45}, "not 10, 20, 30"),
        ({"period": 600, "evaluationPeriods": 145}, "exceeds 86400"),
        ({"period": 3600, "evaluationPeriods": 169}, "exceeds 604800"),
        ({"datapointsToAlarm": 9}, "datapointsToAlarm"),
        ({"treatMissingData": None}, "treatMissingData"),
    ],
)
def test_period_rules_catch_broken_alarms(changes: dict[str, Any], words: str) -> None:
    ev = evaluated("staging")
    broken = replace_record(ev, "ollama-monitoring-high-memory", **changes)
    assert any(words in v for v in alarm_period_violations(broken))


# --------------------------------------------------------------------------- which alarms


BASE_ROLES = {
    "high-cpu",
    "low-cpu",
    "high-memory",
    "webui-unhealthy-hosts",
    "alb-5xx-rate",
    "target-response-time",
    "dynamodb-throttles",
    "s3-4xx-errors",
    "s3-5xx-errors",
    "cloudfront-cache-hit",
    "cloudfront-5xx-rate",
    "ollama-503-rate",
    "inference-latency-p90",
    "billing",
    # the rollout alarms instance refreshes watch (docs/runbooks/deployment.md)
    "boot-failures",
    "webui-rollout-unhealthy",
}
RDS_ROLES = {"rds-cpu", "rds-free-storage", "rds-connections"}


@pytest.mark.parametrize("stack", STACKS)
def test_the_seed_alarms_exist_with_their_names(stack: str) -> None:
    ev = evaluated(stack)
    names = {a.inputs["name"] for a in ev.of_type(ALARM)}
    expected = BASE_ROLES | (RDS_ROLES if config_for(stack).data.database_enabled else set())
    assert names == {f"ollama-{role}-{stack}" for role in expected}


def test_rds_alarms_follow_the_database() -> None:
    """dev has no database and no RDS alarms; staging's watch its database instance."""
    assert not [
        a for a in evaluated("dev").of_type(ALARM) if a.inputs.get("namespace") == "AWS/RDS"
    ]
    ev = evaluated("staging")
    rds = [a for a in ev.of_type(ALARM) if a.inputs.get("namespace") == "AWS/RDS"]
    assert {a.inputs["name"] for a in rds} == {f"ollama-{r}-staging" for r in RDS_ROLES}
    db = ev.of_type("aws:rds/instance:Instance")[0]
    assert {a.inputs["dimensions"]["DBInstanceIdentifier"] for a in rds} == {
        db.inputs["identifier"]
    }


def test_the_api_target_group_gets_its_own_unhealthy_hosts_alarm() -> None:
    cert = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    values = override(
        stack_values("staging"), "ollama_api", enabled=True, allowed_cidrs=["10.0.0.0/8"]
    )
    values = override(values, "edge", certificate_arn=cert)
    ev = run_program("staging", values)
    alarm = next(
        a for a in ev.of_type(ALARM) if a.inputs["name"] == "ollama-api-unhealthy-hosts-staging"
    )
    api_tg = ev.named("ollama-edge-alb-api-tg")
    assert alarm.inputs["dimensions"]["TargetGroup"] == api_tg.state["arnSuffix"]


# --------------------------------------------------------------------------- scaling, regions


def scaling_violations(ev: Evaluation) -> list[str]:
    """The high/low CPU alarms trigger the ASG's step scaling policies (out and in)."""
    out = []
    asg = ev.of_type("aws:autoscaling/group:Group")
    policies = {
        str(p.state["arn"]): p
        for p in ev.of_type("aws:autoscaling/policy:Policy")
        if asg and p.inputs.get("autoscalingGroupName") == asg[0].inputs["name"]
    }
    for role, sign in (("high-cpu", 1), ("low-cpu", -1)):
        name = f"ollama-{role}-{ev.stack}"
        alarm = next((a for a in ev.of_type(ALARM) if a.inputs["name"] == name), None)
        if alarm is None:
            out.append(f"{name} is missing")
            continue
        if alarm.inputs.get("dimensions", {}).get("AutoScalingGroupName") != asg[0].inputs["name"]:
            out.append(f"{name} does not watch the stack's ASG")
        targets = [policies[a] for a in alarm.inputs.get("alarmActions", []) if a in policies]
        if not targets:
            out.append(f"{name} triggers no scaling policy of the ASG")
        for policy in targets:
            steps = policy.inputs.get("stepAdjustments") or [{}]
            adjustment = float(steps[0].get("scalingAdjustment", 0))
            if adjustment * sign <= 0:
                out.append(f"{name} triggers {policy.name}, which scales the wrong way")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_scaling_alarms_point_at_the_asg_policies(stack: str) -> None:
    assert scaling_violations(evaluated(stack)) == []


def test_scaling_check_catches_an_alarm_without_its_policy() -> None:
    ev = evaluated("dev")
    topic = ev.outputs["ollama_alerts_topic_arn"]
    broken = replace_record(ev, "ollama-compute-high-cpu", alarmActions=[topic])
    assert any("triggers no scaling policy" in v for v in scaling_violations(broken))
    scale_in = ev.named("ollama-compute-scale-in").state["arn"]
    broken = replace_record(ev, "ollama-compute-high-cpu", alarmActions=[scale_in, topic])
    assert any("scales the wrong way" in v for v in scaling_violations(broken))


def us_east_1_violations(ev: Evaluation) -> list[str]:
    """Billing and CloudFront metrics exist only in us-east-1: their alarms (and the billing
    topic) must be created there."""
    out = []
    for alarm in ev.of_type(ALARM):
        namespaces = {alarm.inputs.get("namespace")} | {
            q["metric"]["namespace"]
            for q in alarm.inputs.get("metricQueries") or []
            if q.get("metric")
        }
        if namespaces & {"AWS/Billing", "AWS/CloudFront"} and region_of(ev, alarm) != "us-east-1":
            out.append(f"{alarm.name}: {namespaces} metrics are only in us-east-1")
        if "AWS/CloudFront" in namespaces and alarm.inputs["dimensions"].get("Region") != "Global":
            out.append(f"{alarm.name}: CloudFront metrics need the dimension Region=Global")
    billing_topic = ev.outputs.get("ollama_billing_alerts_topic_arn")
    topic = _topics(ev).get(str(billing_topic))
    if topic is None or region_of(ev, topic) != "us-east-1":
        out.append("the billing topic is not in us-east-1")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_billing_and_cloudfront_alarms_are_in_us_east_1(stack: str) -> None:
    ev = evaluated(stack)
    assert us_east_1_violations(ev) == []
    billing = next(a for a in ev.of_type(ALARM) if a.inputs["name"] == f"ollama-billing-{stack}")
    assert billing.inputs["namespace"] == "AWS/Billing"
    assert billing.inputs["metricName"] == "EstimatedCharges"
    assert billing.inputs["dimensions"] == {"Currency": "USD"}
    assert (
        billing.inputs["threshold"] == config_for(stack).observability.billing_alarm_threshold_usd
    )
    assert billing.inputs["alarmActions"] == [ev.outputs["ollama_billing_alerts_topic_arn"]]


def test_region_check_catches_a_billing_alarm_in_the_stack_region() -> None:
    ev = evaluated("production")
    billing = ev.named("ollama-monitoring-billing")
    moved = ResourceRecord(
        billing.type,
        billing.name,
        {**billing.inputs, "region": "eu-west-1"},
        True,
        None,
        billing.id,
        billing.state,
    )
    broken = replace_record(ev, billing.name)
    broken.resources[broken.resources.index(broken.named(billing.name))] = moved
    assert any("only in us-east-1" in v for v in us_east_1_violations(broken))
    cf = ev.named("ollama-monitoring-cloudfront-5xx-rate")
    dims = {**cf.inputs["dimensions"], "Region": "us-east-1"}
    assert any(
        "Region=Global" in v
        for v in us_east_1_violations(replace_record(ev, cf.name, dimensions=dims))
    )


# --------------------------------------------------------------------------- Ollama alarms


def test_ollama_alarms_read_the_metric_filter_metrics() -> None:
    ev = evaluated("production")
    namespace = "Ollama/production"
    published = {
        (r.inputs["metricTransformation"]["namespace"], r.inputs["metricTransformation"]["name"])
        for r in ev.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    }
    for role in ("ollama-503-rate", "inference-latency-p90"):
        alarm = ev.named(f"ollama-monitoring-{role}")
        metrics = [q["metric"] for q in alarm.inputs["metricQueries"] if q.get("metric")]
        for m in metrics:
            assert (m["namespace"], m["metricName"]) in published
        assert metrics[0]["namespace"] == namespace
    rate = ev.named("ollama-monitoring-ollama-503-rate")
    assert rate.inputs["metricQueries"][0]["metric"]["dimensions"] == {
        filters.STATUS_DIMENSION: "503"
    }
    p90 = ev.named("ollama-monitoring-inference-latency-p90")
    assert p90.inputs["threshold"] == 10  # p90 >= T  <=>  more than 10 % of requests >= T


# --------------------------------------------------------------------------- generated configs


OBSERVABILITY_CONFIGS = st.builds(
    ObservabilityConfig,
    memory_alarm_percent=st.floats(1, 99),
    alb_5xx_alarm_percent=st.floats(0.1, 99),
    target_response_time_alarm_seconds=st.floats(0.5, 4000),
    inference_latency_p90_alarm_seconds=st.one_of(
        st.integers(1, 59), st.integers(1, 59).map(lambda m: m * 60)
    ),
    ollama_503_alarm_percent=st.floats(0.1, 99),
    billing_alarm_threshold_usd=st.floats(1, 1_000_000),
    rds_free_storage_alarm_gb=st.integers(1, 65536),
)


def spec_violations(spec: alarms.AlarmSpec) -> list[str]:
    """The period rules of alarm_period_violations, applied to an AlarmSpec before Pulumi."""
    window = spec.window
    periods = [q["metric"]["period"] for q in spec.queries if "metric" in q] or [window.period]
    out = []
    for period in periods:
        if period not in (10, 20, 30) and period % 60:
            out.append(f"{spec.role}: period {period}")
        if period * window.evaluations > (86_400 if period < 3_600 else 604_800):
            out.append(f"{spec.role}: window too long")
    if not 1 <= window.datapoints <= window.evaluations:
        out.append(f"{spec.role}: datapoints")
    if spec.treat_missing_data not in TREAT_MISSING:
        out.append(f"{spec.role}: treat_missing_data")
    if spec.queries and sum(bool(q.get("return_data")) for q in spec.queries) != 1:
        out.append(f"{spec.role}: metric math must return exactly one series")
    return out


@settings(max_examples=50)
@given(OBSERVABILITY_CONFIGS)
def test_every_alarm_spec_is_valid_for_any_valid_config(cfg: ObservabilityConfig) -> None:
    specs = [
        *alarms.ollama_alarms(cfg, "Ollama/dev"),
        alarms.memory_alarm(cfg, "Ollama/dev", "ollama-asg-dev"),
        *alarms.alb_alarms(cfg, "app/x/1", {"webui": "targetgroup/y/2", "api": "targetgroup/z/3"}),
        alarms.dynamodb_alarm("ollama-data-table-dev"),
        *alarms.s3_alarms("bucket", "EntireBucket"),
        *alarms.cloudfront_alarms(cfg, "E123"),
        *alarms.rds_alarms(cfg, "ollama-webui-db-dev"),
        alarms.billing_alarm(cfg),
    ]
    assert [v for spec in specs for v in spec_violations(spec)] == []
    assert len({s.role for s in specs}) == len(specs)
    slow = filters.duration_at_least_regex(cfg.inference_latency_p90_alarm_seconds)
    assert slow  # every accepted threshold has a filter


def test_spec_check_catches_a_broken_spec() -> None:
    spec = alarms.billing_alarm(ObservabilityConfig())
    assert spec_violations(spec) == []

    def broken(**window: int) -> alarms.AlarmSpec:
        return dataclasses.replace(spec, window=dataclasses.replace(spec.window, **window))

    assert spec_violations(broken(period=90))
    assert spec_violations(broken(evaluations=29))  # 6 h x 29 > 7 d
    assert spec_violations(broken(datapoints=2))
