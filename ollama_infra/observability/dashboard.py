"""The stack's one CloudWatch dashboard, built from resolved resource identifiers.

``dashboard_body`` takes plain strings (the component resolves the Outputs first), so the
JSON references the stack's real ASG name, ALB and target group ARN suffixes, table,
bucket, distribution and database, and tests can read it back and compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ollama_infra import cwagent
from ollama_infra.cwagent import AGENT_METRICS, ASG_DIMENSION
from ollama_infra.observability import filters

WIDTH = 12
HEIGHT = 6


@dataclass(frozen=True)
class DashboardIds:
    """Resolved identifiers of the resources the widgets show (None: not in this stack)."""

    region: str
    namespace: str
    asg_name: str | None = None
    alb_suffix: str | None = None
    webui_tg_suffix: str | None = None
    table_name: str | None = None
    bucket_name: str | None = None
    bucket_filter_id: str | None = None
    distribution_id: str | None = None
    database_id: str | None = None
    gpu: bool = False


Metric = list[Any]
ALB = "AWS/ApplicationELB"


def _series(namespace: str, dims: list[str], *names: str, **options: str) -> list[Metric]:
    """One line per metric name, all with the same dimensions (and display options)."""
    return [[namespace, name, *dims, *([options] if options else [])] for name in names]


def _widget(title: str, metrics: list[Metric], region: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "metrics": metrics,
            "view": "timeSeries",
            "stat": props.pop("stat", "Average"),
            "period": props.pop("period", 300),
            **props,
        },
    }


def _ec2(ids: DashboardIds) -> list[dict[str, Any]]:
    if not ids.asg_name:
        return []
    asg = [ASG_DIMENSION, ids.asg_name]
    agent = [name for names in AGENT_METRICS.values() for name in names]
    return [
        _widget(
            "EC2: CPU, memory, disk (%)",
            _series("AWS/EC2", asg, "CPUUtilization") + _series(ids.namespace, asg, *agent),
            ids.region,
        ),
        _widget(
            "EC2: network (bytes)",
            _series("AWS/EC2", asg, "NetworkIn", "NetworkOut"),
            ids.region,
            stat="Sum",
        ),
        _widget(
            "ASG: instances",
            _series(
                "AWS/AutoScaling",
                asg,
                "GroupDesiredCapacity",
                "GroupInServiceInstances",
                "GroupPendingInstances",
                "GroupTerminatingInstances",
            ),
            ids.region,
            stat="Maximum",
            period=60,
        ),
    ]


def _per_instance(ids: DashboardIds, metric: str, stat: str, label: str) -> Metric:
    """One line per instance and GPU: a SEARCH over the group's series that carry an
    InstanceId (the per-group aggregate has none), whose ids no plan can know. Free search
    terms, not a dimension schema: the agent adds the GPU's own dimensions (index, name)."""
    query = (
        f'Namespace="{ids.namespace}" MetricName="{metric}" '
        f'{ASG_DIMENSION}="{ids.asg_name}" InstanceId'
    )
    return [{"expression": f"SEARCH('{query}', '{stat}', 300)", "label": label, "id": label}]


def _gpu(ids: DashboardIds) -> list[dict[str, Any]]:
    if not ids.gpu or not ids.asg_name:
        return []
    return [
        _widget(
            "GPU: utilization per instance (%)",
            [_per_instance(ids, cwagent.GPU_UTILIZATION, "Average", "util")],
            ids.region,
        ),
        _widget(
            "GPU: memory used per instance (MiB)",
            [
                _per_instance(ids, cwagent.GPU_MEMORY_USED, "Maximum", "used"),
                _per_instance(ids, cwagent.GPU_MEMORY_TOTAL, "Maximum", "total"),
            ],
            ids.region,
        ),
    ]


def _alb(ids: DashboardIds) -> list[dict[str, Any]]:
    if not ids.alb_suffix:
        return []
    lb = ["LoadBalancer", ids.alb_suffix]
    widgets = [
        _widget(
            "ALB: requests and errors",
            _series(
                ALB,
                lb,
                "RequestCount",
                "HTTPCode_Target_5XX_Count",
                "HTTPCode_ELB_5XX_Count",
                "HTTPCode_Target_4XX_Count",
            ),
            ids.region,
            stat="Sum",
        )
    ]
    if ids.webui_tg_suffix:
        tg = ["TargetGroup", ids.webui_tg_suffix, *lb]
        widgets += [
            _widget(
                "ALB: target response time (s)",
                _series(ALB, tg, "TargetResponseTime", stat="p50")
                + _series(ALB, tg, "TargetResponseTime", stat="p90"),
                ids.region,
            ),
            _widget(
                "ALB: healthy hosts",
                _series(ALB, tg, "HealthyHostCount", "UnHealthyHostCount"),
                ids.region,
                stat="Maximum",
                period=60,
            ),
        ]
    return widgets


def _ollama(ids: DashboardIds) -> list[dict[str, Any]]:
    ns, status = ids.namespace, filters.STATUS_DIMENSION
    return [
        _widget(
            "Ollama: inference requests",
            _series(ns, [], filters.INFERENCE_REQUESTS, filters.INFERENCE_SLOW_REQUESTS)
            + [
                [ns, filters.INFERENCE_REQUESTS_BY_STATUS, status, c] for c in ("200", "503", "500")
            ],
            ids.region,
            stat="Sum",
        ),
        _widget(
            "Ollama: model load time (s)",
            _series(ns, [], filters.MODEL_LOAD_TIME, stat="Average")
            + _series(ns, [], filters.MODEL_LOAD_TIME, stat="Maximum"),
            ids.region,
        ),
    ]


def _data(ids: DashboardIds) -> list[dict[str, Any]]:
    widgets = []
    if ids.table_name:
        widgets.append(
            _widget(
                "DynamoDB: model catalog",
                _series(
                    "AWS/DynamoDB",
                    ["TableName", ids.table_name],
                    "ConsumedReadCapacityUnits",
                    "ConsumedWriteCapacityUnits",
                    "ReadThrottleEvents",
                    "WriteThrottleEvents",
                ),
                ids.region,
                stat="Sum",
            )
        )
    if ids.bucket_name and ids.bucket_filter_id:
        bucket = ["BucketName", ids.bucket_name]
        widgets += [
            _widget(
                "S3: storage requests and errors",
                _series(
                    "AWS/S3",
                    [*bucket, "FilterId", ids.bucket_filter_id],
                    "AllRequests",
                    "4xxErrors",
                    "5xxErrors",
                ),
                ids.region,
                stat="Sum",
            ),
            _widget(
                "S3: storage size (bytes, daily)",
                _series("AWS/S3", [*bucket, "StorageType", "StandardStorage"], "BucketSizeBytes"),
                ids.region,
                period=86400,
            ),
        ]
    if ids.database_id:
        db = ["DBInstanceIdentifier", ids.database_id]
        widgets.append(
            _widget(
                "Database (RDS)",
                _series("AWS/RDS", db, "CPUUtilization")
                + _series("AWS/RDS", db, "DatabaseConnections", "FreeStorageSpace", yAxis="right"),
                ids.region,
            )
        )
    return widgets


def _cloudfront(ids: DashboardIds) -> list[dict[str, Any]]:
    if not ids.distribution_id:
        return []
    dist = ["DistributionId", ids.distribution_id, "Region", "Global"]
    # CloudFront publishes its metrics in us-east-1 only.
    return [
        _widget(
            "CloudFront: requests",
            _series("AWS/CloudFront", dist, "Requests"),
            "us-east-1",
            stat="Sum",
        ),
        _widget(
            "CloudFront: cache hit and error rates (%)",
            _series("AWS/CloudFront", dist, "CacheHitRate", "4xxErrorRate", "5xxErrorRate"),
            "us-east-1",
        ),
    ]


def dashboard_body(ids: DashboardIds) -> dict[str, Any]:
    widgets = _ec2(ids) + _gpu(ids) + _alb(ids) + _ollama(ids) + _cloudfront(ids) + _data(ids)
    for i, widget in enumerate(widgets):
        widget["x"] = (i % 2) * WIDTH
        widget["y"] = (i // 2) * HEIGHT
    return {"widgets": widgets}
