"""Database monitoring and query logging (CKV_AWS_118, CKV2_AWS_30): enhanced monitoring with
its own role at the configured interval, a parameter group that logs connections, DDL and slow
statements, and export log groups created with the stack's retention.

Checked on the resource records of the real staging and production stack files (offline
Pulumi mocks, a test double for AWS); the check is shown failing on broken records.
"""

from __future__ import annotations

import json

import pytest
from harness import config_for, evaluated, override, replace_record, run_program, stack_values

from ollama_infra.offline.evaluate import Evaluation


def logging_violations(ev: Evaluation, interval: int, slow_ms: int, retention: int) -> list[str]:
    out = []
    db = ev.named("ollama-data-database")
    if db.inputs.get("monitoringInterval") != interval:
        out.append(f"monitoring interval {db.inputs.get('monitoringInterval')} not {interval}")
    role = ev.named("ollama-data-db-monitoring-role")
    if db.inputs.get("monitoringRoleArn") != role.state["arn"]:
        out.append("the database does not use the monitoring role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    if trust["Principal"] != {"Service": "monitoring.rds.amazonaws.com"}:
        out.append(f"monitoring role trusts {trust['Principal']}")
    group = ev.named("ollama-data-database-params")
    if db.inputs.get("parameterGroupName") != group.state["name"]:
        out.append("the database does not use the query logging parameter group")
    params = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    if params.get("log_min_duration_statement") != str(slow_ms):
        out.append(f"slow statements logged above {params.get('log_min_duration_statement')}")
    if params.get("rds.force_ssl") != "1":
        out.append("the database accepts connections without TLS")
    if params.get("log_statement") != "ddl" or params.get("log_connections") != "1":
        out.append(f"parameters {params}")
    if "postgresql" not in db.inputs.get("enabledCloudwatchLogsExports", []):
        out.append("postgresql logs not exported")
    identifier = db.inputs["identifier"]
    groups = {g.inputs["name"]: g for g in ev.of_type("aws:cloudwatch/logGroup:LogGroup")}
    for export in db.inputs.get("enabledCloudwatchLogsExports", []):
        log_group = groups.get(f"/aws/rds/instance/{identifier}/{export}")
        if log_group is None or log_group.inputs.get("retentionInDays") != retention:
            out.append(f"export {export} has no log group with {retention}-day retention")
    return out


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_database_has_monitoring_and_query_logging(stack: str) -> None:
    cfg = config_for(stack)
    data, days = cfg.data, cfg.observability.log_retention_days
    ev = evaluated(stack)
    assert (
        logging_violations(
            ev, data.database_monitoring_interval_seconds, data.database_slow_statement_ms, days
        )
        == []
    )
    assert (
        "ollama-data-database-postgresql-logs"
        in ev.named("ollama-data-database").options["dependsOn"]
    )


def test_logging_check_catches_broken_records() -> None:
    ev = evaluated("production")
    off = replace_record(ev, "ollama-data-database", monitoringInterval=0)
    assert logging_violations(off, 60, 1000, 365) == ["monitoring interval 0 not 60"]
    default_group = replace_record(ev, "ollama-data-database", parameterGroupName="default")
    assert logging_violations(default_group, 60, 1000, 365) == [
        "the database does not use the query logging parameter group"
    ]
    group = ev.named("ollama-data-database-params")
    plain = [p for p in group.inputs["parameters"] if p["name"] != "rds.force_ssl"]
    assert logging_violations(
        replace_record(ev, "ollama-data-database-params", parameters=plain), 60, 1000, 365
    ) == ["the database accepts connections without TLS"]
    no_export = replace_record(ev, "ollama-data-database", enabledCloudwatchLogsExports=["upgrade"])
    assert logging_violations(no_export, 60, 1000, 365) == ["postgresql logs not exported"]


def test_interval_and_threshold_come_from_config() -> None:
    values = override(
        stack_values("staging"),
        "data",
        database_monitoring_interval_seconds=15,
        database_slow_statement_ms=250,
    )
    assert logging_violations(run_program("staging", values), 15, 250, 30) == []
    off = override(stack_values("staging"), "data", database_monitoring_interval_seconds=0)
    ev = run_program("staging", off)
    assert "monitoringRoleArn" not in ev.named("ollama-data-database").inputs
    assert not [r for r in ev.resources if r.name == "ollama-data-db-monitoring-role"]
