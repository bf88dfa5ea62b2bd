"""Production operations v2: rollouts that roll back, GPU visibility, the monthly budget.

All on the offline plan (Pulumi mocks) except where noted; each invariant has a broken
input that it must catch.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
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

from ollama_infra import cwagent
from ollama_infra.config import ConfigError
from ollama_infra.cost.estimate import estimate
from ollama_infra.observability import alarms, budget, filters
from ollama_infra.offline.evaluate import Evaluation

ROOT = Path(__file__).resolve().parents[1]
GROUP = "aws:autoscaling/group:Group"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
POLICY = "aws:autoscaling/policy:Policy"
BUDGET = "aws:budgets/budget:Budget"
SCHEMA = ROOT.parent / "shared" / "schemas" / "cloudwatch-agent.schema.json"


def _prefs(ev: Evaluation) -> dict[str, Any]:
    return dict(ev.of_type(GROUP)[0].inputs["instanceRefresh"]["preferences"])


def rollback_violations(ev: Evaluation) -> list[str]:
    """Every alarm the refresh watches is declared in the same plan; rollback is on."""
    prefs = _prefs(ev)
    declared = {a.inputs["name"] for a in ev.of_type(ALARM)}
    named = prefs.get("alarmSpecification", {}).get("alarms", [])
    out = [f"refresh watches undeclared alarm {n}" for n in named if n not in declared]
    if not named:
        out.append("refresh watches no alarm")
    if prefs.get("autoRollback") is not True:
        out.append("auto rollback is off")
    return out


# ---------------------------------------------------------------------------- rollouts


@pytest.mark.parametrize("stack", STACKS)
def test_refresh_rolls_back_on_declared_health_alarms(stack: str) -> None:
    ev = evaluated(stack)
    assert rollback_violations(ev) == []
    assert set(_prefs(ev)["alarmSpecification"]["alarms"]) == {
        f"ollama-{role}-{stack}"
        for role in ("boot-failures", "webui-rollout-unhealthy", "alb-5xx-rate", "ollama-503-rate")
    }


def test_rollback_check_catches_a_misnamed_alarm_and_rollback_off() -> None:
    ev = evaluated("dev")
    group = ev.of_type(GROUP)[0]
    refresh = json.loads(json.dumps(group.inputs["instanceRefresh"]))
    refresh["preferences"]["alarmSpecification"]["alarms"].append("ollama-typo-dev")
    refresh["preferences"]["autoRollback"] = False
    broken = replace_record(ev, group.name, instanceRefresh=refresh)
    assert rollback_violations(broken) == [
        "refresh watches undeclared alarm ollama-typo-dev",
        "auto rollback is off",
    ]


def test_production_checkpoints_and_none_elsewhere() -> None:
    prod = _prefs(evaluated("production"))
    assert prod["checkpointPercentages"] == [50, 100]
    assert prod["checkpointDelay"] == "900"
    for stack in ("dev", "staging"):
        assert "checkpointPercentages" not in _prefs(evaluated(stack))


def test_configured_checkpoints_win_and_bad_ones_are_refused() -> None:
    values = override(stack_values("staging"), "compute", refresh_checkpoint_percentages=[25, 100])
    assert _prefs(run_program("staging", values))["checkpointPercentages"] == [25, 100]
    for bad in ([100, 50], [50], [0, 100], [50, 50, 100], []):
        values = override(stack_values("staging"), "compute", refresh_checkpoint_percentages=bad)
        with pytest.raises(ConfigError, match="refresh_checkpoint_percentages"):
            config_for("staging", values)


def test_the_group_depends_on_the_alarms_its_refresh_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rollout-only alarms are created before the group (a refresh must never name an
    alarm that does not exist yet, also on the deployment that introduces them). The group
    class is wrapped (a test double) to read the options the program passes."""
    import pulumi_aws as aws

    from ollama_infra import compute

    real = aws.autoscaling.Group
    seen: dict[str, Any] = {}

    def recording_group(resource_name: str, *args: Any, **kwargs: Any) -> Any:
        seen["depends_on"] = list(kwargs["opts"].depends_on or [])
        return real(resource_name, *args, **kwargs)

    monkeypatch.setattr(compute.aws.autoscaling, "Group", recording_group)
    run_program("production")
    names = {getattr(r, "_name", None) for r in seen["depends_on"]}
    assert {"ollama-compute-boot-failures", "ollama-compute-webui-rollout-unhealthy"} <= names


@pytest.mark.parametrize("grace", [300, 1200, 7200])
def test_rollout_unhealthy_alarm_outlasts_a_boot(grace: int) -> None:
    spec = alarms.rollout_unhealthy_alarm("webui", "app/x/1", "targetgroup/y/2", grace)
    window = spec.window
    assert window.period * window.evaluations >= grace + 300  # longer than any boot
    assert window.datapoints == window.evaluations  # unhealthy in every minute
    assert window.period * window.evaluations <= 86400  # CloudWatch's one-day rule
    assert spec.metric is not None and spec.metric.stat == "Minimum"


def _boot_trap_line() -> str:
    """The failure line the boot script's EXIT trap writes, read from the script itself."""
    script = (ROOT / "ollama_infra" / "userdata" / "ollama-boot.sh").read_text()
    match = re.search(r'log "(ERROR: boot failed[^"]*)"', script)
    assert match, "ollama-boot.sh no longer logs 'ERROR: boot failed'"
    return "2026-05-01T10:00:00Z ollama-boot: " + match.group(1)


def _term_matches(pattern: str, line: str) -> bool:
    """CloudWatch's quoted-term filter: the line contains the phrase (a test double)."""
    assert pattern.startswith('"') and pattern.endswith('"')
    return pattern[1:-1] in line


def test_boot_failure_filter_counts_the_scripts_own_failure_line() -> None:
    (spec,) = filters.bootstrap_filters()
    assert _term_matches(spec.pattern, _boot_trap_line())
    for harmless in (
        "2026-05-01T10:00:00Z ollama-boot: attempt 1 of 3 failed: apt-get update",
        "2026-05-01T10:00:00Z ollama-boot: boot complete",
    ):
        assert not _term_matches(spec.pattern, harmless)


# ---------------------------------------------------------------------------- GPU


def _gpu_values(**compute: Any) -> dict[str, Any]:
    return override(
        stack_values("production"),
        "compute",
        instance_type="g6.xlarge",
        gpu_enabled=True,
        **compute,
    )


@pytest.fixture(scope="module")
def gpu_plan() -> Evaluation:
    return run_program("production", _gpu_values(scaling_metric="gpu"))


def _agent_config(ev: Evaluation) -> dict[str, Any]:
    (param,) = [
        r
        for r in ev.of_type("aws:ssm/parameter:Parameter")
        if "cloudwatch-agent" in r.inputs["name"]
    ]
    return dict(json.loads(param.inputs["insecureValue"]))


def test_gpu_profile_collects_nvidia_measurements_schema_valid(gpu_plan: Evaluation) -> None:
    metrics = _agent_config(gpu_plan)["metrics"]["metrics_collected"]
    assert metrics[cwagent.GPU_SECTION]["measurement"] == list(cwagent.GPU_MEASUREMENTS)
    assert (
        cwagent.GPU_SECTION
        not in _agent_config(evaluated("production"))["metrics"]["metrics_collected"]
    )
    if not SCHEMA.is_file():
        pytest.skip("the CloudWatch agent schema is not checked out next to the repository")
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    config = _agent_config(gpu_plan)
    assert list(validator.iter_errors(config)) == []
    config["metrics"]["metrics_collected"][cwagent.GPU_SECTION].pop("measurement")
    assert list(validator.iter_errors(config)), "a GPU section without measurements passed"


def test_gpu_dashboard_and_memory_alarm(gpu_plan: Evaluation) -> None:
    (dash,) = gpu_plan.of_type("aws:cloudwatch/dashboard:Dashboard")
    body = json.loads(dash.inputs["dashboardBody"])
    titles = {w["properties"]["title"]: w for w in body["widgets"]}
    util = json.dumps(titles["GPU: utilization per instance (%)"])
    memory = json.dumps(titles["GPU: memory used per instance (MiB)"])
    assert cwagent.GPU_UTILIZATION in util and "InstanceId" in util
    assert cwagent.GPU_MEMORY_USED in memory and cwagent.GPU_MEMORY_TOTAL in memory
    alarm = next(
        a for a in gpu_plan.of_type(ALARM) if a.inputs["name"] == "ollama-gpu-memory-production"
    )
    names = {q["metric"]["metricName"] for q in alarm.inputs["metricQueries"] if "metric" in q}
    assert names == {cwagent.GPU_MEMORY_USED, cwagent.GPU_MEMORY_TOTAL}
    assert alarm.inputs["threshold"] == 90.0
    # CPU stacks show and alarm on no GPU.
    cpu = evaluated("production")
    assert "ollama-gpu-memory-production" not in {a.inputs["name"] for a in cpu.of_type(ALARM)}
    (cpu_dash,) = cpu.of_type("aws:cloudwatch/dashboard:Dashboard")
    assert cwagent.GPU_UTILIZATION not in cpu_dash.inputs["dashboardBody"]


def test_gpu_scaling_tracks_gpu_utilization_instead_of_cpu(gpu_plan: Evaluation) -> None:
    (policy,) = gpu_plan.of_type(POLICY)
    tracking = policy.inputs["targetTrackingConfiguration"]
    metric = tracking["customizedMetricSpecification"]
    assert metric["metricName"] == cwagent.GPU_UTILIZATION
    assert metric["namespace"] == "Ollama/production"
    assert metric["metricDimensions"] == [
        {"name": "AutoScalingGroupName", "value": "ollama-asg-production"}
    ]
    assert tracking["targetValue"] == 70.0
    names = {a.inputs["name"] for a in gpu_plan.of_type(ALARM)}
    assert not names & {"ollama-high-cpu-production", "ollama-low-cpu-production"}
    # The CPU profile keeps its step policies.
    assert {p.inputs["policyType"] for p in evaluated("production").of_type(POLICY)} == {
        "StepScaling"
    }


def test_gpu_scaling_needs_the_gpu_profile() -> None:
    values = override(stack_values("production"), "compute", scaling_metric="gpu")
    with pytest.raises(ConfigError, match="scaling_metric"):
        config_for("production", values)


# ---------------------------------------------------------------------------- budget


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_has_a_tag_filtered_budget_notifying_the_alerts_topic(stack: str) -> None:
    ev = evaluated(stack)
    (b,) = ev.of_type(BUDGET)
    cfg = config_for(stack)
    assert b.inputs["name"] == f"ollama-budget-{stack}"
    assert (b.inputs["budgetType"], b.inputs["timeUnit"]) == ("COST", "MONTHLY")
    assert float(b.inputs["limitAmount"]) == cfg.observability.budget_limit_usd
    tags = {t["tags"]["key"]: t["tags"]["values"] for t in b.inputs["filterExpression"]["ands"]}
    assert tags == {"Project": ["ollama"], "Environment": [stack]}
    topic = ev.outputs["ollama_alerts_topic_arn"]
    kinds = sorted((n["notificationType"], n["threshold"]) for n in b.inputs["notifications"])
    assert kinds == [("ACTUAL", 80.0), ("ACTUAL", 100.0), ("FORECASTED", 100.0)]
    assert all(n["subscriberSnsTopicArns"] == [topic] for n in b.inputs["notifications"])


@pytest.mark.parametrize("stack", STACKS)
def test_budgets_may_publish_to_the_alerts_topic_only(stack: str) -> None:
    ev = evaluated(stack)
    policies = {
        r.name: json.loads(r.inputs["policy"])
        for r in ev.of_type("aws:sns/topicPolicy:TopicPolicy")
    }

    def budgets_sids(doc: dict[str, Any]) -> list[str]:
        return [
            s["Sid"]
            for s in doc["Statement"]
            if s.get("Principal") == {"Service": "budgets.amazonaws.com"}
        ]

    assert budgets_sids(policies["ollama-observability-alerts-policy"]) == ["BudgetsPublish"]
    assert budgets_sids(policies["ollama-monitoring-billing-alerts-policy"]) == []
    keys = {
        r.name: json.loads(r.inputs["policy"])
        for r in ev.of_type("aws:kms/key:Key")
        if "policy" in r.inputs
    }
    assert budgets_sids(keys["ollama-observability-alerts-key"]) == ["BudgetsPublish"]


def test_stack_file_limits_cover_the_estimate_at_maximum_scale() -> None:
    """The shipped limits are the estimate at maximum scale, rounded up (as the default
    would compute them); a limit below it would alert every busy month."""
    for stack in STACKS:
        cfg = config_for(stack)
        at_max = estimate(evaluated(stack), cfg).total_at("max")
        assert cfg.observability.budget_limit_usd == budget.rounded_limit(at_max), stack


def test_unset_limit_defaults_to_the_rounded_estimate() -> None:
    """The real path: the program evaluates the same config in a child process."""
    values = override(stack_values("dev"), "observability", budget_limit_usd=None)
    ev = run_program("dev", values)
    (b,) = ev.of_type(BUDGET)
    at_max = estimate(ev, config_for("dev", values)).total_at("max")
    assert float(b.inputs["limitAmount"]) == budget.rounded_limit(at_max)


def test_rounded_limit_rounds_up_to_ten_dollars() -> None:
    assert budget.rounded_limit(201.97) == 210.0
    assert budget.rounded_limit(210.0) == 210.0
    assert budget.rounded_limit(0.5) == 10.0


def test_budget_limit_is_validated() -> None:
    for bad in (0, -5, 2_000_000):
        values = override(stack_values("dev"), "observability", budget_limit_usd=bad)
        with pytest.raises(ConfigError, match="budget_limit_usd"):
            config_for("dev", values)


def test_a_budget_below_the_usual_month_is_flagged() -> None:
    ev, cfg = evaluated("staging"), config_for("staging")
    assert estimate(ev, cfg).warnings == []
    broken = replace_record(ev, "ollama-monitoring-budget", limitAmount="100.00")
    (warning,) = estimate(broken, cfg).warnings
    assert "ollama-budget-staging limit 100" in warning and "budget_limit_usd" in warning


def test_gpu_agent_keys_are_registered_upstream_facts() -> None:
    """The GPU section and its measurements are rows of docs/UPSTREAM.md (checked against
    the agent's source at the pinned version); a key outside it is caught."""
    from upstream_register import config_keys, names

    from ollama_infra.naming import StackNames

    text = (ROOT / "docs" / "UPSTREAM.md").read_text(encoding="utf-8")
    config = cwagent.agent_config(StackNames("production", "123456789012"), "us-east-1", gpu=True)
    registered = names(text, "cwagent_key")
    assert config_keys(config) - registered == set()
    measurement_row = next(
        f for f in names(text, "cwagent_key") if f.endswith("nvidia_gpu.measurement")
    )
    assert measurement_row
    config["metrics"]["metrics_collected"][cwagent.GPU_SECTION]["append_dimensions"] = {}
    assert config_keys(config) - registered == {
        "metrics.metrics_collected.nvidia_gpu.append_dimensions"
    }
    for measurement in cwagent.GPU_MEASUREMENTS:
        assert f"`{measurement}`" in text


def test_without_an_estimate_the_budget_falls_back_to_the_billing_threshold() -> None:
    """A region the price file lacks has no estimate: the billing alarm threshold is the
    limit and the plan says so (no child evaluation is started for it)."""
    values = override(stack_values("dev"), "observability", budget_limit_usd=None)
    values["aws:region"] = "ap-southeast-3"
    ev = run_program("dev", values)
    (b,) = ev.of_type(BUDGET)
    threshold = config_for("dev", values).observability.billing_alarm_threshold_usd
    assert float(b.inputs["limitAmount"]) == threshold
    assert any("budget uses the billing alarm threshold" in w for w in ev.warnings)
