"""Alarm definitions: what each alarm watches, its threshold, and how it treats gaps.

Plain data built from config and resource identifiers (which may be Outputs); the
observability component turns each ``AlarmSpec`` into an ``aws.cloudwatch.MetricAlarm``
wired to the alerts topic. docs/monitoring.md explains every alarm and what to do.

CloudWatch rules kept here: a period is 10, 20, 30 or a multiple of 60 seconds, and
period x evaluation periods stays within one day (periods under an hour) or seven days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from ollama_infra.config import ObservabilityConfig
from ollama_infra.cwagent import ASG_DIMENSION
from ollama_infra.observability import filters

FIVE_MINUTES = 300
ONE_HOUR = 3600
SIX_HOURS = 21600
GIB = 1024**3
# Requests needed in a window before the latency ratio means anything (p90 of 2 samples is
# one slow request).
LATENCY_MIN_SAMPLES = 5
# "p90 above the threshold" == "more than 10 % of requests at or above it".
P90_SLOW_FRACTION_PERCENT = 10.0


@dataclass(frozen=True)
class AlarmSpec:
    """One CloudWatch alarm; either a single metric or metric math (``queries``)."""

    role: str
    description: str
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    # Chosen per alarm; see the comment where each alarm is defined.
    treat_missing_data: str
    namespace: str | None = None
    metric_name: str | None = None
    statistic: str | None = None
    extended_statistic: str | None = None
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    queries: list[dict[str, Any]] = field(default_factory=list)
    # Alarms on us-east-1 metrics (CloudFront, billing) live in us-east-1.
    us_east_1: bool = False

    def resource_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "alarm_description": self.description,
            "comparison_operator": self.comparison,
            "threshold": self.threshold,
            "evaluation_periods": self.evaluation_periods,
            "datapoints_to_alarm": self.datapoints_to_alarm,
            "treat_missing_data": self.treat_missing_data,
        }
        if self.queries:
            args["metric_queries"] = self.queries
        else:
            args.update(
                namespace=self.namespace,
                metric_name=self.metric_name,
                period=self.period,
                dimensions=self.dimensions,
            )
            if self.extended_statistic:
                args["extended_statistic"] = self.extended_statistic
            else:
                args["statistic"] = self.statistic
        return args


def _metric(
    qid: str,
    namespace: str,
    metric: str,
    dimensions: Mapping[str, pulumi.Input[str]],
    period: int,
    stat: str = "Sum",
) -> dict[str, Any]:
    return {
        "id": qid,
        "return_data": False,
        "metric": {
            "namespace": namespace,
            "metric_name": metric,
            "dimensions": dimensions,
            "period": period,
            "stat": stat,
        },
    }


def _expression(expression: str, label: str) -> dict[str, Any]:
    return {"id": "e1", "expression": expression, "label": label, "return_data": True}


def _ratio(
    role: str,
    description: str,
    numerators: list[dict[str, Any]],
    denominator: dict[str, Any],
    threshold: float,
    period: int,
    evaluation_periods: int,
    datapoints: int,
    min_samples: int = 1,
) -> AlarmSpec:
    """Percent of the denominator that the numerators make up; 0 when there is no traffic."""
    total = denominator["id"]
    summed = " + ".join(f"FILL({q['id']}, 0)" for q in numerators)
    expression = f"IF({total} >= {min_samples}, 100 * ({summed}) / {total}, 0)"
    return AlarmSpec(
        role=role,
        description=description,
        comparison="GreaterThanThreshold",
        threshold=threshold,
        period=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints,
        # No traffic means no data points: that is not an incident.
        treat_missing_data="notBreaching",
        queries=[*numerators, denominator, _expression(expression, f"{role} (%)")],
    )


def memory_alarm(
    cfg: ObservabilityConfig, namespace: str, asg_name: pulumi.Input[str]
) -> AlarmSpec:
    return AlarmSpec(
        role="high-memory",
        description=(
            f"Average memory use of the instances above {cfg.memory_alarm_percent:g} % for "
            "15 minutes: the model and KV cache are close to the instance's RAM."
        ),
        comparison="GreaterThanThreshold",
        threshold=cfg.memory_alarm_percent,
        period=FIVE_MINUTES,
        evaluation_periods=3,
        datapoints_to_alarm=3,
        # Gaps come from scale-to-zero or an agent restart; keep the last state instead of
        # flapping to OK or ALARM.
        treat_missing_data="missing",
        namespace=namespace,
        metric_name="mem_used_percent",
        statistic="Average",
        dimensions={ASG_DIMENSION: asg_name},
    )


def alb_alarms(
    cfg: ObservabilityConfig,
    alb_suffix: pulumi.Input[str],
    target_groups: Mapping[str, pulumi.Input[str]],
) -> list[AlarmSpec]:
    """Unhealthy targets per target group, the 5xx rate and the p90 target response time."""
    lb = {"LoadBalancer": alb_suffix}
    out = []
    for key, tg_suffix in target_groups.items():
        out.append(
            AlarmSpec(
                role=f"{key}-unhealthy-hosts",
                description=(
                    f"The {key} target group had unhealthy targets in 3 of the last 5 minutes: "
                    "an instance fails its health check (Ollama model missing, Open WebUI down)."
                ),
                comparison="GreaterThanThreshold",
                threshold=0,
                period=60,
                evaluation_periods=5,
                datapoints_to_alarm=3,
                # The ALB reports host counts every minute while the group exists; a gap
                # carries no information about health.
                treat_missing_data="notBreaching",
                namespace="AWS/ApplicationELB",
                metric_name="UnHealthyHostCount",
                statistic="Maximum",
                dimensions={**lb, "TargetGroup": tg_suffix},
            )
        )
    out.append(
        _ratio(
            "alb-5xx-rate",
            f"More than {cfg.alb_5xx_alarm_percent:g} % of ALB requests got a 5xx (from the "
            "targets or the ALB itself) in 2 of 3 five-minute periods.",
            [
                _metric("m1", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, FIVE_MINUTES),
                _metric("m2", "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", lb, FIVE_MINUTES),
            ],
            _metric("m3", "AWS/ApplicationELB", "RequestCount", lb, FIVE_MINUTES),
            cfg.alb_5xx_alarm_percent,
            FIVE_MINUTES,
            3,
            2,
        )
    )
    if "webui" in target_groups:
        out.append(
            AlarmSpec(
                role="target-response-time",
                description=(
                    "p90 time until Open WebUI starts answering through the ALB is above "
                    f"{cfg.target_response_time_alarm_seconds:g} s for 15 minutes."
                ),
                comparison="GreaterThanThreshold",
                threshold=cfg.target_response_time_alarm_seconds,
                period=FIVE_MINUTES,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                # The ALB publishes this only when requests flow; quiet periods are fine.
                treat_missing_data="notBreaching",
                namespace="AWS/ApplicationELB",
                metric_name="TargetResponseTime",
                extended_statistic="p90",
                dimensions={**lb, "TargetGroup": target_groups["webui"]},
            )
        )
    return out


def dynamodb_alarm(table_name: pulumi.Input[str]) -> AlarmSpec:
    dims = {"TableName": table_name}
    return AlarmSpec(
        role="dynamodb-throttles",
        description="The model catalog table throttled reads or writes in the last 5 minutes.",
        comparison="GreaterThanThreshold",
        threshold=0,
        period=FIVE_MINUTES,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        # Throttle metrics only exist when throttling happens.
        treat_missing_data="notBreaching",
        queries=[
            _metric("m1", "AWS/DynamoDB", "ReadThrottleEvents", dims, FIVE_MINUTES),
            _metric("m2", "AWS/DynamoDB", "WriteThrottleEvents", dims, FIVE_MINUTES),
            _expression("FILL(m1, 0) + FILL(m2, 0)", "throttled requests"),
        ],
    )


def s3_alarms(bucket: pulumi.Input[str], filter_id: pulumi.Input[str]) -> list[AlarmSpec]:
    """Client and server errors on the storage bucket (Open WebUI uploads)."""
    dims = {"BucketName": bucket, "FilterId": filter_id}
    specs = [
        ("s3-4xx-errors", "4xxErrors", 20, "rejected uploads or downloads (403 = IAM/policy, 404)"),
        ("s3-5xx-errors", "5xxErrors", 0, "S3 server errors (uploads fail; Open WebUI retries)"),
    ]
    return [
        AlarmSpec(
            role=role,
            description=(
                f"More than {threshold} {metric} per 5 minutes on the storage bucket in 2 of 3 "
                f"periods: {what}."
            ),
            comparison="GreaterThanThreshold",
            threshold=threshold,
            period=FIVE_MINUTES,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            # Request metrics are published only for periods with requests.
            treat_missing_data="notBreaching",
            namespace="AWS/S3",
            metric_name=metric,
            statistic="Sum",
            dimensions=dims,
        )
        for role, metric, threshold, what in specs
    ]


def cloudfront_alarms(
    cfg: ObservabilityConfig, distribution_id: pulumi.Input[str]
) -> list[AlarmSpec]:
    # CloudFront metrics exist only in us-east-1, with Region=Global.
    dims = {"DistributionId": distribution_id, "Region": "Global"}
    return [
        AlarmSpec(
            role="cloudfront-cache-hit",
            description=(
                f"CloudFront served less than {cfg.cloudfront_cache_hit_alarm_percent:g} % from "
                "cache for 3 hours: static assets are not being cached (cache policy changed?)."
            ),
            comparison="LessThanThreshold",
            threshold=cfg.cloudfront_cache_hit_alarm_percent,
            period=ONE_HOUR,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            # No viewers, no data: not a caching problem.
            treat_missing_data="notBreaching",
            namespace="AWS/CloudFront",
            metric_name="CacheHitRate",
            statistic="Average",
            dimensions=dims,
            us_east_1=True,
        ),
        AlarmSpec(
            role="cloudfront-5xx-rate",
            description=(
                f"More than {cfg.cloudfront_5xx_alarm_percent:g} % of viewer requests got a 5xx "
                "in 2 of 3 five-minute periods (origin down or timing out)."
            ),
            comparison="GreaterThanThreshold",
            threshold=cfg.cloudfront_5xx_alarm_percent,
            period=FIVE_MINUTES,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data="notBreaching",
            namespace="AWS/CloudFront",
            metric_name="5xxErrorRate",
            statistic="Average",
            dimensions=dims,
            us_east_1=True,
        ),
    ]


def ollama_alarms(cfg: ObservabilityConfig, namespace: str) -> list[AlarmSpec]:
    """From the Ollama log metric filters: queue-full 503s and p90 inference latency."""
    status_503 = {filters.STATUS_DIMENSION: "503"}
    return [
        _ratio(
            "ollama-503-rate",
            f"More than {cfg.ollama_503_alarm_percent:g} % of inference requests were rejected "
            "with 503 (Ollama's queue is full: OLLAMA_MAX_QUEUE) in 2 of 3 five-minute periods.",
            [
                _metric(
                    "m1", namespace, filters.INFERENCE_REQUESTS_BY_STATUS, status_503, FIVE_MINUTES
                )
            ],
            _metric("m2", namespace, filters.INFERENCE_REQUESTS, {}, FIVE_MINUTES),
            cfg.ollama_503_alarm_percent,
            FIVE_MINUTES,
            3,
            2,
        ),
        _ratio(
            "inference-latency-p90",
            f"p90 inference latency (/api/generate, /api/chat) is at least "
            f"{cfg.inference_latency_p90_alarm_seconds} s: more than 10 % of requests took that "
            f"long, in two consecutive 15-minute windows with at least {LATENCY_MIN_SAMPLES} "
            "requests.",
            [_metric("m1", namespace, filters.INFERENCE_SLOW_REQUESTS, {}, 900)],
            _metric("m2", namespace, filters.INFERENCE_REQUESTS, {}, 900),
            P90_SLOW_FRACTION_PERCENT,
            900,
            2,
            2,
            min_samples=LATENCY_MIN_SAMPLES,
        ),
    ]


def rds_alarms(cfg: ObservabilityConfig, identifier: pulumi.Input[str]) -> list[AlarmSpec]:
    dims = {"DBInstanceIdentifier": identifier}

    def rds(
        role: str, description: str, comparison: str, threshold: float, metric: str
    ) -> AlarmSpec:
        return AlarmSpec(
            role=role,
            description=description,
            comparison=comparison,
            threshold=threshold,
            period=FIVE_MINUTES,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            # RDS reports every minute while the instance runs; a gap (stopped, rebooting)
            # should neither raise nor clear the alarm.
            treat_missing_data="missing",
            namespace="AWS/RDS",
            metric_name=metric,
            statistic="Average",
            dimensions=dims,
        )

    return [
        rds(
            "rds-cpu",
            f"Database CPU above {cfg.rds_cpu_alarm_percent:g} % for 15 minutes.",
            "GreaterThanThreshold",
            cfg.rds_cpu_alarm_percent,
            "CPUUtilization",
        ),
        rds(
            "rds-free-storage",
            f"Database free storage below {cfg.rds_free_storage_alarm_gb} GiB for 15 minutes "
            "(storage autoscaling at its ceiling?).",
            "LessThanThreshold",
            cfg.rds_free_storage_alarm_gb * GIB,
            "FreeStorageSpace",
        ),
        rds(
            "rds-connections",
            f"More than {cfg.rds_connections_alarm} database connections for 15 minutes "
            "(connection leak, or more instances than the instance class allows).",
            "GreaterThanThreshold",
            cfg.rds_connections_alarm,
            "DatabaseConnections",
        ),
    ]


def billing_alarm(cfg: ObservabilityConfig) -> AlarmSpec:
    return AlarmSpec(
        role="billing",
        description=(
            f"Estimated charges of the account this month are above "
            f"{cfg.billing_alarm_threshold_usd:g} USD (needs billing alerts enabled once in "
            "the account; see docs/monitoring.md)."
        ),
        comparison="GreaterThanThreshold",
        threshold=cfg.billing_alarm_threshold_usd,
        # Estimates are published a few times a day; 6 h is the usual period.
        period=SIX_HOURS,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        # Between estimates there is simply no data.
        treat_missing_data="notBreaching",
        namespace="AWS/Billing",
        metric_name="EstimatedCharges",
        statistic="Maximum",
        dimensions={"Currency": "USD"},
        us_east_1=True,
    )
