"""The stack's one CloudWatch dashboard, built from resolved resource identifiers.

``dashboard_body`` takes plain strings (the component resolves the Outputs first), so the
JSON references the stack's real ASG name, ALB and target group ARN suffixes, table,
bucket, distribution and database, and tests can read it back and compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ollama_infra.cwagent import ASG_DIMENSION
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


Metric = list[Any]


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
    r, ns = ids.region, ids.namespace
    return [
        _widget(
            "EC2: CPU, memory, disk (%)",
            [
                ["AWS/EC2", "CPUUtilization", *asg],
                [ns, "mem_used_percent", *asg],
                [ns, "disk_used_percent", *asg],
                [ns, "swap_used_percent", *asg],
            ],
            r,
        ),
        _widget(
            "EC2: network (bytes)",
            [["AWS/EC2", "NetworkIn", *asg], ["AWS/EC2", "NetworkOut", *asg]],
            r,
            stat="Sum",
        ),
        _widget(
            "ASG: instances",
            [
                ["AWS/AutoScaling", "GroupDesiredCapacity", *asg],
                ["AWS/AutoScaling", "GroupInServiceInstances", *asg],
                ["AWS/AutoScaling", "GroupPendingInstances", *asg],
                ["AWS/AutoScaling", "GroupTerminatingInstances", *asg],
            ],
            r,
            stat="Maximum",
            period=60,
        ),
    ]


def _alb(ids: DashboardIds) -> list[dict[str, Any]]:
    if not ids.alb_suffix:
        return []
    lb = ["LoadBalancer", ids.alb_suffix]
    r = ids.region
    widgets = [
        _widget(
            "ALB: requests and errors",
            [
                ["AWS/ApplicationELB", "RequestCount", *lb],
                ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", *lb],
                ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", *lb],
                ["AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", *lb],
            ],
            r,
            stat="Sum",
        )
    ]
    if ids.webui_tg_suffix:
        tg = ["TargetGroup", ids.webui_tg_suffix, *lb]
        widgets += [
            _widget(
                "ALB: target response time (s)",
                [
                    ["AWS/ApplicationELB", "TargetResponseTime", *tg, {"stat": "p50"}],
                    ["AWS/ApplicationELB", "TargetResponseTime", *tg, {"stat": "p90"}],
                ],
                r,
            ),
            _widget(
                "ALB: healthy hosts",
                [
                    ["AWS/ApplicationELB", "HealthyHostCount", *tg],
                    ["AWS/ApplicationELB", "UnHealthyHostCount", *tg],
                ],
                r,
                stat="Maximum",
                period=60,
            ),
        ]
    return widgets


def _ollama(ids: DashboardIds) -> list[dict[str, Any]]:
    ns, r = ids.namespace, ids.region
    status = filters.STATUS_DIMENSION
    return [
        _widget(
            "Ollama: inference requests",
            [
                [ns, filters.INFERENCE_REQUESTS],
                [ns, filters.INFERENCE_SLOW_REQUESTS],
                [ns, filters.INFERENCE_REQUESTS_BY_STATUS, status, "200"],
                [ns, filters.INFERENCE_REQUESTS_BY_STATUS, status, "503"],
                [ns, filters.INFERENCE_REQUESTS_BY_STATUS, status, "500"],
            ],
            r,
            stat="Sum",
        ),
        _widget(
            "Ollama: model load time (s)",
            [
                [ns, filters.MODEL_LOAD_TIME, {"stat": "Average"}],
                [ns, filters.MODEL_LOAD_TIME, {"stat": "Maximum"}],
            ],
            r,
        ),
    ]


def _data(ids: DashboardIds) -> list[dict[str, Any]]:
    r = ids.region
    widgets = []
    if ids.table_name:
        t = ["TableName", ids.table_name]
        widgets.append(
            _widget(
                "DynamoDB: model catalog",
                [
                    ["AWS/DynamoDB", "ConsumedReadCapacityUnits", *t],
                    ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", *t],
                    ["AWS/DynamoDB", "ReadThrottleEvents", *t],
                    ["AWS/DynamoDB", "WriteThrottleEvents", *t],
                ],
                r,
                stat="Sum",
            )
        )
    if ids.bucket_name and ids.bucket_filter_id:
        b = ["BucketName", ids.bucket_name, "FilterId", ids.bucket_filter_id]
        widgets += [
            _widget(
                "S3: storage requests and errors",
                [
                    ["AWS/S3", "AllRequests", *b],
                    ["AWS/S3", "4xxErrors", *b],
                    ["AWS/S3", "5xxErrors", *b],
                ],
                r,
                stat="Sum",
            ),
            _widget(
                "S3: storage size (bytes, daily)",
                [
                    [
                        "AWS/S3",
                        "BucketSizeBytes",
                        "BucketName",
                        ids.bucket_name,
                        "StorageType",
                        "StandardStorage",
                    ]
                ],
                r,
                period=86400,
            ),
        ]
    if ids.database_id:
        d = ["DBInstanceIdentifier", ids.database_id]
        widgets.append(
            _widget(
                "Database (RDS)",
                [
                    ["AWS/RDS", "CPUUtilization", *d],
                    ["AWS/RDS", "DatabaseConnections", *d, {"yAxis": "right"}],
                    ["AWS/RDS", "FreeStorageSpace", *d, {"yAxis": "right"}],
                ],
                r,
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
            [["AWS/CloudFront", "Requests", *dist]],
            "us-east-1",
            stat="Sum",
        ),
        _widget(
            "CloudFront: cache hit and error rates (%)",
            [
                ["AWS/CloudFront", "CacheHitRate", *dist],
                ["AWS/CloudFront", "4xxErrorRate", *dist],
                ["AWS/CloudFront", "5xxErrorRate", *dist],
            ],
            "us-east-1",
        ),
    ]


def dashboard_body(ids: DashboardIds) -> dict[str, Any]:
    widgets = _ec2(ids) + _alb(ids) + _ollama(ids) + _cloudfront(ids) + _data(ids)
    for i, widget in enumerate(widgets):
        widget["x"] = (i % 2) * WIDTH
        widget["y"] = (i // 2) * HEIGHT
    return {"widgets": widgets}
