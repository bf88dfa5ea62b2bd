"""Log groups, log streaming and the dashboard (Properties 20 and 21), topic policy, outputs
and the observability config rules."""

from __future__ import annotations

import json
import re
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

from ollama_infra.config import LOG_RETENTION_DAYS, ConfigError, parse_config
from ollama_infra.offline.evaluate import Evaluation

LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
AGENT_PARAMETER = "ollama-observability-cwagent-config"
LOG_GROUP_RE = re.compile(r"^/aws/ec2/ollama-[a-z0-9]+(-[a-z0-9]+)*-(?P<env>[a-z]+)$")
# Names the service dictates: RDS exports to /aws/rds/instance/<id>/<log>, and WAF logs only
# to aws-waf-logs-*. They still carry the stack's environment.
SERVICE_NAMED_RE = re.compile(
    r"^(/aws/rds/instance/ollama-webui-db-(?P<db_env>[a-z]+)/(postgresql|upgrade)"
    r"|aws-waf-logs-ollama-waf-(?P<waf_env>[a-z]+)"
    r"|/aws/lambda/ollama-db-rotation-(?P<fn_env>[a-z]+))$"
)


# --------------------------------------------------------------------------- Property 20


def log_group_naming_violations(ev: Evaluation) -> list[str]:
    out = []
    groups = ev.of_type(LOG_GROUP)
    if not groups:
        return ["the plan declares no log groups"]
    for group in groups:
        name = str(group.inputs.get("name"))
        service = SERVICE_NAMED_RE.match(name)
        if service:
            env = service.group("db_env") or service.group("waf_env") or service.group("fn_env")
            if env != ev.stack:
                out.append(f"{group.name}: {name!r} belongs to environment {env}")
            continue
        m = LOG_GROUP_RE.match(name)
        if not m:
            out.append(f"{group.name}: {name!r} is not /aws/ec2/ollama-<role>-<env>")
        elif m.group("env") != ev.stack:
            out.append(f"{group.name}: {name!r} belongs to environment {m.group('env')}")
    names = {g.inputs.get("name") for g in groups}
    for role in ("app", "service", "bootstrap"):
        if f"/aws/ec2/ollama-{role}-{ev.stack}" not in names:
            out.append(f"the {role} log group /aws/ec2/ollama-{role}-{ev.stack} is missing")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_20_log_group_naming(stack: str) -> None:
    """Property 20 (log group naming): every log group is /aws/ec2/ollama-<role>-<env> for the
    stack's environment (or, where the service dictates the name, the RDS export and WAF
    groups of that environment), and the app (Open WebUI), service (Ollama) and bootstrap
    groups exist."""
    assert log_group_naming_violations(evaluated(stack)) == []


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("/var/log/ollama", "is not /aws/ec2/ollama-<role>-<env>"),
        ("/aws/ec2/ollama-app-production", "belongs to environment production"),
        ("ollama-app-dev", "is not /aws/ec2"),
        ("aws-waf-logs-ollama-waf-staging", "belongs to environment staging"),
        ("/aws/rds/instance/ollama-webui-db-dev/slowquery", "is not /aws/ec2"),
    ],
)
def test_property_20_catches_bad_log_group_names(name: str, words: str) -> None:
    # replace_record's own first argument is called `name`, so change the input directly.
    ev = replace_record(evaluated("dev"), "ollama-observability-app-logs")
    record = ev.named("ollama-observability-app-logs")
    record.inputs["name"] = name  # a private copy made by replace_record
    broken = ev
    violations = log_group_naming_violations(broken)
    assert any(words in v for v in violations), violations
    assert any("app log group" in v for v in violations)


# --------------------------------------------------------------------------- Property 21


def shipped_logs(ev: Evaluation) -> list[tuple[str, str]]:
    """(file, log group) for every log the CloudWatch agent config in SSM ships."""
    config = json.loads(ev.named(AGENT_PARAMETER).inputs["insecureValue"])
    files = config["logs"]["logs_collected"].get("files", {}).get("collect_list", [])
    return [(e["file_path"], e.get("log_group_name", "")) for e in files]


def log_streaming_violations(ev: Evaluation, retention_days: int) -> list[str]:
    """Every shipped log lands in a group the stack declares, with the configured retention
    (the agent would otherwise create the group itself, without retention or tags)."""
    groups = {g.inputs.get("name"): g for g in ev.of_type(LOG_GROUP)}
    shipped = shipped_logs(ev)
    out = [] if shipped else ["the agent config ships no logs"]
    for path, group_name in shipped:
        group = groups.get(group_name)
        if group is None:
            out.append(f"{path} goes to {group_name!r}, which the stack does not declare")
            continue
        retention = group.inputs.get("retentionInDays")
        if retention is None:
            out.append(f"{group_name}: no retention (logs kept forever)")
        elif int(retention) not in LOG_RETENTION_DAYS or int(retention) != retention_days:
            out.append(f"{group_name}: retention {retention} != configured {retention_days}")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_21_log_streaming_configuration(stack: str) -> None:
    """Property 21 (log streaming configuration): the Ollama journal, the Open WebUI container
    logs and the bootstrap log are shipped by the agent, each to a log group the stack
    declares with the stack's retention."""
    ev = evaluated(stack)
    assert log_streaming_violations(ev, config_for(stack).observability.log_retention_days) == []
    targets = {group.rsplit("/", 1)[-1] for _, group in shipped_logs(ev)}
    assert targets == {f"ollama-{r}-{stack}" for r in ("app", "service", "bootstrap")}


def test_property_21_catches_a_group_without_retention() -> None:
    ev = evaluated("staging")
    broken = replace_record(ev, "ollama-observability-service-logs", retentionInDays=None)
    assert any("no retention" in v for v in log_streaming_violations(broken, 30))
    broken = replace_record(ev, "ollama-observability-service-logs", retentionInDays=7)
    assert any("!= configured 30" in v for v in log_streaming_violations(broken, 30))


def test_property_21_catches_a_log_shipped_to_an_undeclared_group() -> None:
    ev = evaluated("dev")
    config = json.loads(ev.named(AGENT_PARAMETER).inputs["insecureValue"])
    config["logs"]["logs_collected"]["files"]["collect_list"][0]["log_group_name"] = "/ollama/x"
    broken = replace_record(ev, AGENT_PARAMETER, insecureValue=json.dumps(config))
    assert any("does not declare" in v for v in log_streaming_violations(broken, 14))


CMK = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
EMAILS = ["oncall@example.com", "lead@example.org"]


@pytest.fixture(scope="module")
def options_plan() -> Evaluation:
    """One fresh run of dev with the optional observability settings all set."""
    values = override(
        stack_values("dev"),
        "observability",
        log_kms_key_arn=CMK,
        alerts_kms_key_arn=CMK,
        alarm_emails=EMAILS,
    )
    return run_program("dev", values)


def test_log_groups_use_the_configured_kms_key(options_plan: Evaluation) -> None:
    key = CMK
    ev = options_plan
    groups = [g for g in ev.of_type(LOG_GROUP) if "observability" in g.name]
    assert len(groups) == 3
    assert {g.inputs.get("kmsKeyId") for g in groups} == {key}


# --------------------------------------------------------------------------- dashboard


def _dashboard(ev: Evaluation) -> dict[str, Any]:
    record = ev.of_type("aws:cloudwatch/dashboard:Dashboard")[0]
    return json.loads(record.inputs["dashboardBody"])


def _plan_dimensions(ev: Evaluation) -> dict[str, set[str]]:
    """Dimension values that identify resources of this plan."""

    def states(token: str, key: str) -> set[str]:
        return {str(r.state.get(key)) for r in ev.of_type(token) if r.state.get(key)}

    def inputs(token: str, key: str) -> set[str]:
        return {str(r.inputs.get(key)) for r in ev.of_type(token) if r.inputs.get(key)}

    buckets = inputs("aws:s3/bucket:Bucket", "bucket")
    return {
        "AutoScalingGroupName": inputs("aws:autoscaling/group:Group", "name"),
        "LoadBalancer": states("aws:lb/loadBalancer:LoadBalancer", "arnSuffix"),
        "TargetGroup": states("aws:lb/targetGroup:TargetGroup", "arnSuffix"),
        "TableName": inputs("aws:dynamodb/table:Table", "name"),
        "BucketName": buckets,
        "FilterId": inputs("aws:s3/bucketMetric:BucketMetric", "name"),
        "DistributionId": {r.id for r in ev.of_type("aws:cloudfront/distribution:Distribution")},
        "DBInstanceIdentifier": inputs("aws:rds/instance:Instance", "identifier"),
        # Fixed values AWS defines.
        "Region": {"Global"},
        "StorageType": {"StandardStorage"},
        "StatusCode": {"200", "500", "503"},
    }


def dashboard_violations(ev: Evaluation) -> list[str]:
    """Every metric on the dashboard names a real namespace and metric and the dimensions of
    resources in this plan; metric filter metrics are ones the filters publish."""
    body = _dashboard(ev)
    known = _plan_dimensions(ev)
    published = {
        r.inputs["metricTransformation"]["name"]
        for r in ev.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")
    }
    stack_namespace = f"Ollama/{ev.stack}"
    agent_metrics = {"mem_used_percent", "disk_used_percent", "swap_used_percent"}
    group_metrics = {
        m
        for g in ev.of_type("aws:autoscaling/group:Group")
        for m in g.inputs.get("enabledMetrics") or []
    }
    out = []
    widgets = body.get("widgets") or []
    if not widgets:
        return ["the dashboard has no widgets"]
    for widget in widgets:
        props = widget["properties"]
        for metric in props["metrics"]:
            parts = [p for p in metric if not isinstance(p, dict)]
            namespace, name, dims = parts[0], parts[1], parts[2:]
            if namespace.startswith("Ollama/"):
                if namespace != stack_namespace:
                    out.append(f"{props['title']}: namespace {namespace} != {stack_namespace}")
                if name not in published | agent_metrics:
                    out.append(f"{props['title']}: {name} is published by nothing in the stack")
            elif not namespace.startswith("AWS/"):
                out.append(f"{props['title']}: unknown namespace {namespace}")
            for key, value in zip(dims[::2], dims[1::2], strict=True):
                if value not in known.get(key, set()):
                    out.append(f"{props['title']}: {key}={value} matches no resource in the plan")
            if namespace == "AWS/AutoScaling" and name not in group_metrics:
                out.append(f"{props['title']}: the ASG does not collect {name} (enabled_metrics)")
            if namespace == "AWS/CloudFront" and props["region"] != "us-east-1":
                out.append(f"{props['title']}: CloudFront metrics are only in us-east-1")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_dashboard_references_real_metrics_and_dimensions(stack: str) -> None:
    ev = evaluated(stack)
    record = ev.of_type("aws:cloudwatch/dashboard:Dashboard")[0]
    assert record.inputs["dashboardName"] == f"ollama-{stack}"
    assert dashboard_violations(ev) == []
    titles = " ".join(w["properties"]["title"] for w in _dashboard(ev)["widgets"])
    for section in ("EC2", "ALB", "ASG", "DynamoDB", "S3", "CloudFront", "Ollama"):
        assert section in titles
    if config_for(stack).data.database_enabled:
        assert "Database" in titles


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("ollama-asg-", "ollama-asg-other-", "matches no resource"),
        ('"Ollama/', '"Ollama/x', "namespace"),
        ("InferenceSlowRequests", "InferenceP99", "published by nothing"),
        ('"Region": "us-east-1"', '"Region": "eu-west-1"', "only in us-east-1"),
        ("GroupPendingInstances", "GroupStandbyInstances", "does not collect"),
    ],
)
def test_dashboard_check_catches_wrong_references(old: str, new: str, words: str) -> None:
    ev = evaluated("production")
    record = ev.of_type("aws:cloudwatch/dashboard:Dashboard")[0]
    body = record.inputs["dashboardBody"]
    if old.startswith('"Region"'):
        body = body.replace('"region": "us-east-1"', '"region": "eu-west-1"')
    else:
        assert old in body
        body = body.replace(old, new)
    broken = replace_record(ev, record.name, dashboardBody=body)
    assert any(words in v for v in dashboard_violations(broken))


# --------------------------------------------------------------------------- topic, outputs


def test_alerts_topic_policy_lets_only_this_accounts_cloudwatch_publish() -> None:
    ev = evaluated("dev")
    policy = json.loads(ev.named("ollama-observability-alerts-policy").inputs["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    cw = statements["CloudWatchAlarmsPublish"]
    assert cw["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert cw["Action"] == "sns:Publish"
    assert cw["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert all(s["Principal"] != "*" for s in policy["Statement"] if s["Effect"] == "Allow")
    topic = ev.named("ollama-observability-alerts")
    assert topic.inputs["name"] == "ollama-alerts-dev"
    key = ev.named("ollama-observability-alerts-key")
    assert topic.inputs["kmsMasterKeyId"] == key.state["arn"]
    assert key.inputs["enableKeyRotation"] is True


def test_email_subscriptions_follow_the_config(options_plan: Evaluation) -> None:
    emails = EMAILS
    ev = options_plan
    subs = ev.of_type("aws:sns/topicSubscription:TopicSubscription")
    alerts = ev.outputs["ollama_alerts_topic_arn"]
    billing = ev.outputs["ollama_billing_alerts_topic_arn"]
    assert sorted((s.inputs["topic"], s.inputs["endpoint"]) for s in subs) == sorted(
        [(alerts, e) for e in emails] + [(billing, e) for e in emails]
    )
    assert {s.inputs["protocol"] for s in subs} == {"email"}


def test_a_configured_cmk_replaces_the_dedicated_key(options_plan: Evaluation) -> None:
    key = CMK
    ev = options_plan
    assert ev.named("ollama-observability-alerts").inputs["kmsMasterKeyId"] == key
    assert not [
        k for k in ev.of_type("aws:kms/key:Key") if k.name == "ollama-observability-alerts-key"
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_observability_outputs(stack: str) -> None:
    outputs = evaluated(stack).outputs
    assert outputs["ollama_app_log_group"] == f"/aws/ec2/ollama-app-{stack}"
    assert outputs["ollama_service_log_group"] == f"/aws/ec2/ollama-service-{stack}"
    assert outputs["ollama_bootstrap_log_group"] == f"/aws/ec2/ollama-bootstrap-{stack}"
    assert outputs["ollama_alerts_topic_arn"].endswith(f":ollama-alerts-{stack}")
    assert outputs["ollama_billing_alerts_topic_arn"].startswith("arn:aws:sns:us-east-1:")
    assert outputs["ollama_dashboard_url"].endswith(f"#dashboards/dashboard/ollama-{stack}")
    assert (
        outputs["ollama_cloudwatch_agent_parameter"] == f"/ollama/{stack}/cloudwatch-agent/config"
    )


# --------------------------------------------------------------------------- config rules


OTHER_REGION_KEY = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"log_retention_days": 45}, "ollama:observability.log_retention_days", "accepts only"),
    ({"alarm_emails": ["not-an-email"]}, "ollama:observability.alarm_emails", "valid email"),
    (
        {"alarm_emails": ["ops@example.com", "Ops@example.com"]},
        "ollama:observability.alarm_emails",
        "each address once",
    ),
    (
        {"billing_alarm_threshold_usd": 0},
        "ollama:observability.billing_alarm_threshold_usd",
        "1-1,000,000",
    ),
    ({"memory_alarm_percent": 100}, "ollama:observability.memory_alarm_percent", "below 100"),
    ({"ollama_503_alarm_percent": 0}, "ollama:observability.ollama_503_alarm_percent", "above 0"),
    (
        {"inference_latency_p90_alarm_seconds": 90},
        "ollama:observability.inference_latency_p90_alarm_seconds",
        "whole number of minutes",
    ),
    (
        {"target_response_time_alarm_seconds": 5000},
        "ollama:observability.target_response_time_alarm_seconds",
        "at most 4000",
    ),
    ({"alerts_kms_key_arn": "alias/aws/sns"}, "ollama:observability.alerts_kms_key_arn", "KMS key"),
    (
        {"alerts_kms_key_arn": OTHER_REGION_KEY},
        "ollama:observability.alerts_kms_key_arn",
        "stack's region (us-east-1)",
    ),
    (
        {"log_kms_key_arn": OTHER_REGION_KEY},
        "ollama:observability.log_kms_key_arn",
        "stack's region (us-east-1)",
    ),
    ({"rds_connections_alarm": 0}, "ollama:observability.rds_connections_alarm", "1-65536"),
]


@pytest.mark.parametrize(("changes", "key", "words"), INVALID)
def test_invalid_observability_values_are_rejected(
    changes: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("dev", override(stack_values("dev"), "observability", **changes))
    message = str(info.value)
    assert key in message
    assert words in message


@pytest.mark.parametrize("seconds", [1, 30, 59, 60, 120, 3540])
def test_latency_thresholds_the_filter_can_express_are_accepted(seconds: int) -> None:
    cfg = parse_config(
        "dev",
        override(stack_values("dev"), "observability", inference_latency_p90_alarm_seconds=seconds),
    )
    assert cfg.observability.inference_latency_p90_alarm_seconds == seconds


def test_dashboard_leaves_out_sections_the_stack_does_not_have() -> None:
    from ollama_infra.observability.dashboard import DashboardIds, dashboard_body

    minimal = dashboard_body(DashboardIds(region="eu-west-1", namespace="Ollama/dev"))
    titles = [w["properties"]["title"] for w in minimal["widgets"]]
    assert titles and all(t.startswith("Ollama") for t in titles)
    full = dashboard_body(
        DashboardIds(
            region="eu-west-1",
            namespace="Ollama/dev",
            asg_name="ollama-asg-dev",
            database_id="ollama-webui-db-dev",
            distribution_id="E123",
        )
    )
    regions = {w["properties"]["title"]: w["properties"]["region"] for w in full["widgets"]}
    assert regions["Database (RDS)"] == "eu-west-1"
    assert {r for t, r in regions.items() if t.startswith("CloudFront")} == {"us-east-1"}
    # Widgets are laid out two per row without overlapping.
    cells = {(w["x"], w["y"]) for w in full["widgets"]}
    assert len(cells) == len(full["widgets"])


def test_subscription_names_are_unique_per_address() -> None:
    from ollama_infra.observability.components import _email_key

    assert _email_key("a.b@example.com") != _email_key("a-b@example.com")
    assert _email_key("Ops@Example.com") == _email_key("ops@example.com")
    assert re.fullmatch(r"[a-z0-9-]+", _email_key("first.last+alerts@example.co.uk"))
