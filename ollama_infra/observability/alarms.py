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

from ollama_infra import cwagent
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
GREATER = "GreaterThanThreshold"
LESS = "LessThanThreshold"
# CloudWatch's plain statistics; any other (p90, tm99...) is an extended statistic.
STATISTICS = frozenset({"SampleCount", "Average", "Sum", "Minimum", "Maximum"})
ALB = "AWS/ApplicationELB"


@dataclass(frozen=True)
class Window:
    """How long a condition must hold: ``datapoints`` of the last ``evaluations`` periods."""

    period: int
    evaluations: int
    datapoints: int


FIFTEEN_MINUTES = Window(FIVE_MINUTES, 3, 3)
TWO_OF_THREE = Window(FIVE_MINUTES, 3, 2)  # 2 of 3 five-minute periods


@dataclass(frozen=True)
class Metric:
    """One CloudWatch metric and the statistic an alarm or a metric-math input reads."""

    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    stat: str = "Sum"


@dataclass(frozen=True, kw_only=True)
class AlarmSpec:
    """One CloudWatch alarm; either a single metric or metric math (``queries``)."""

    role: str
    """The alarm is named ``ollama-<role>-<env>``."""
    description: str
    threshold: float
    window: Window
    treat_missing_data: str
    """Chosen per alarm; see the comment where each alarm is defined."""
    comparison: str = GREATER
    metric: Metric | None = None
    """The one metric the alarm watches; None for metric math."""
    queries: list[dict[str, Any]] = field(default_factory=list)
    """Metric math: the inputs and the one expression the alarm watches."""
    us_east_1: bool = False
    """Alarms on us-east-1 metrics (CloudFront, billing) live in us-east-1."""

    def resource_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "alarm_description": self.description,
            "comparison_operator": self.comparison,
            "threshold": self.threshold,
            "evaluation_periods": self.window.evaluations,
            "datapoints_to_alarm": self.window.datapoints,
            "treat_missing_data": self.treat_missing_data,
        }
        if self.metric is None:
            return {**args, "metric_queries": self.queries}
        m = self.metric
        statistic = "statistic" if m.stat in STATISTICS else "extended_statistic"
        return {
            **args,
            "namespace": m.namespace,
            "metric_name": m.name,
            "period": self.window.period,
            "dimensions": m.dimensions,
            statistic: m.stat,
        }


def _inputs(metrics: list[Metric], period: int) -> list[dict[str, Any]]:
    """Metric-math inputs m1, m2, ... (read by the expression, not alarm series themselves)."""
    return [
        {
            "id": f"m{i}",
            "return_data": False,
            "metric": {
                "namespace": m.namespace,
                "metric_name": m.name,
                "dimensions": m.dimensions,
                "period": period,
                "stat": m.stat,
            },
        }
        for i, m in enumerate(metrics, 1)
    ]


def _filled_sum(inputs: list[dict[str, Any]]) -> str:
    """The inputs added up, a missing data point counting as 0."""
    return " + ".join(f"FILL({q['id']}, 0)" for q in inputs)


def _expression(expression: str, label: str) -> dict[str, Any]:
    return {"id": "e1", "expression": expression, "label": label, "return_data": True}


def _ratio(
    role: str,
    description: str,
    numerators: list[Metric],
    denominator: Metric,
    threshold: float,
    window: Window,
    min_samples: int = 1,
) -> AlarmSpec:
    """Percent of the denominator that the numerators make up; 0 when there is no traffic."""
    *parts, total = _inputs([*numerators, denominator], window.period)
    expression = (
        f"IF({total['id']} >= {min_samples}, 100 * ({_filled_sum(parts)}) / {total['id']}, 0)"
    )
    return AlarmSpec(
        role=role,
        description=description,
        threshold=threshold,
        window=window,
        # No traffic means no data points: that is not an incident.
        treat_missing_data="notBreaching",
        queries=[*parts, total, _expression(expression, f"{role} (%)")],
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
        threshold=cfg.memory_alarm_percent,
        window=FIFTEEN_MINUTES,
        # Gaps come from scale-to-zero or an agent restart; keep the last state instead of
        # flapping to OK or ALARM.
        treat_missing_data="missing",
        metric=Metric(namespace, "mem_used_percent", {ASG_DIMENSION: asg_name}, "Average"),
    )


def alb_alarms(
    cfg: ObservabilityConfig,
    alb_suffix: pulumi.Input[str],
    target_groups: Mapping[str, pulumi.Input[str]],
) -> list[AlarmSpec]:
    """Unhealthy targets per target group, the 5xx rate and the p90 target response time."""
    lb = {"LoadBalancer": alb_suffix}
    out = [
        AlarmSpec(
            role=f"{key}-unhealthy-hosts",
            description=(
                f"The {key} target group had unhealthy targets in 3 of the last 5 minutes: "
                "an instance fails its health check (Ollama model missing, Open WebUI down)."
            ),
            threshold=0,
            window=Window(60, 5, 3),
            # The ALB reports host counts every minute while the group exists; a gap
            # carries no information about health.
            treat_missing_data="notBreaching",
            metric=Metric(ALB, "UnHealthyHostCount", {**lb, "TargetGroup": tg}, "Maximum"),
        )
        for key, tg in target_groups.items()
    ]
    out.append(
        _ratio(
            "alb-5xx-rate",
            f"More than {cfg.alb_5xx_alarm_percent:g} % of ALB requests got a 5xx (from the "
            "targets or the ALB itself) in 2 of 3 five-minute periods.",
            [
                Metric(ALB, "HTTPCode_Target_5XX_Count", lb),
                Metric(ALB, "HTTPCode_ELB_5XX_Count", lb),
            ],
            Metric(ALB, "RequestCount", lb),
            cfg.alb_5xx_alarm_percent,
            TWO_OF_THREE,
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
                threshold=cfg.target_response_time_alarm_seconds,
                window=FIFTEEN_MINUTES,
                # The ALB publishes this only when requests flow; quiet periods are fine.
                treat_missing_data="notBreaching",
                metric=Metric(
                    ALB, "TargetResponseTime", {**lb, "TargetGroup": target_groups["webui"]}, "p90"
                ),
            )
        )
    return out


def dynamodb_alarm(table_name: pulumi.Input[str]) -> AlarmSpec:
    dims = {"TableName": table_name}
    window = Window(FIVE_MINUTES, 1, 1)
    throttles = _inputs(
        [Metric("AWS/DynamoDB", m, dims) for m in ("ReadThrottleEvents", "WriteThrottleEvents")],
        window.period,
    )
    return AlarmSpec(
        role="dynamodb-throttles",
        description="The model catalog table throttled reads or writes in the last 5 minutes.",
        threshold=0,
        window=window,
        # Throttle metrics only exist when throttling happens.
        treat_missing_data="notBreaching",
        queries=[*throttles, _expression(_filled_sum(throttles), "throttled requests")],
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
            threshold=threshold,
            window=TWO_OF_THREE,
            # Request metrics are published only for periods with requests.
            treat_missing_data="notBreaching",
            metric=Metric("AWS/S3", metric, dims),
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
            comparison=LESS,
            threshold=cfg.cloudfront_cache_hit_alarm_percent,
            window=Window(ONE_HOUR, 3, 3),
            # No viewers, no data: not a caching problem.
            treat_missing_data="notBreaching",
            metric=Metric("AWS/CloudFront", "CacheHitRate", dims, "Average"),
            us_east_1=True,
        ),
        AlarmSpec(
            role="cloudfront-5xx-rate",
            description=(
                f"More than {cfg.cloudfront_5xx_alarm_percent:g} % of viewer requests got a 5xx "
                "in 2 of 3 five-minute periods (origin down or timing out)."
            ),
            threshold=cfg.cloudfront_5xx_alarm_percent,
            window=TWO_OF_THREE,
            treat_missing_data="notBreaching",
            metric=Metric("AWS/CloudFront", "5xxErrorRate", dims, "Average"),
            us_east_1=True,
        ),
    ]


def ollama_alarms(cfg: ObservabilityConfig, namespace: str) -> list[AlarmSpec]:
    """From the Ollama log metric filters: queue-full 503s and p90 inference latency."""
    requests = Metric(namespace, filters.INFERENCE_REQUESTS)
    return [
        _ratio(
            "ollama-503-rate",
            f"More than {cfg.ollama_503_alarm_percent:g} % of inference requests were rejected "
            "with 503 (Ollama's queue is full: OLLAMA_MAX_QUEUE) in 2 of 3 five-minute periods.",
            [
                Metric(
                    namespace,
                    filters.INFERENCE_REQUESTS_BY_STATUS,
                    {filters.STATUS_DIMENSION: "503"},
                )
            ],
            requests,
            cfg.ollama_503_alarm_percent,
            TWO_OF_THREE,
        ),
        _ratio(
            "inference-latency-p90",
            f"p90 inference latency (/api/generate, /api/chat) is at least "
            f"{cfg.inference_latency_p90_alarm_seconds} s: more than 10 % of requests took that "
            f"long, in two consecutive 15-minute windows with at least {LATENCY_MIN_SAMPLES} "
            "requests.",
            [Metric(namespace, filters.INFERENCE_SLOW_REQUESTS)],
            requests,
            P90_SLOW_FRACTION_PERCENT,
            Window(900, 2, 2),
            min_samples=LATENCY_MIN_SAMPLES,
        ),
    ]


def rds_alarms(cfg: ObservabilityConfig, identifier: pulumi.Input[str]) -> list[AlarmSpec]:
    dims = {"DBInstanceIdentifier": identifier}
    specs = [
        (
            "rds-cpu",
            f"Database CPU above {cfg.rds_cpu_alarm_percent:g} % for 15 minutes.",
            GREATER,
            cfg.rds_cpu_alarm_percent,
            "CPUUtilization",
        ),
        (
            "rds-free-storage",
            f"Database free storage below {cfg.rds_free_storage_alarm_gb} GiB for 15 minutes "
            "(storage autoscaling at its ceiling?).",
            LESS,
            cfg.rds_free_storage_alarm_gb * GIB,
            "FreeStorageSpace",
        ),
        (
            "rds-connections",
            f"More than {cfg.rds_connections_alarm} database connections for 15 minutes "
            "(connection leak, or more instances than the instance class allows).",
            GREATER,
            cfg.rds_connections_alarm,
            "DatabaseConnections",
        ),
    ]
    return [
        AlarmSpec(
            role=role,
            description=description,
            comparison=comparison,
            threshold=threshold,
            window=FIFTEEN_MINUTES,
            # RDS reports every minute while the instance runs; a gap (stopped, rebooting)
            # should neither raise nor clear the alarm.
            treat_missing_data="missing",
            metric=Metric("AWS/RDS", metric, dims, "Average"),
        )
        for role, description, comparison, threshold, metric in specs
    ]


def billing_alarm(cfg: ObservabilityConfig) -> AlarmSpec:
    return AlarmSpec(
        role="billing",
        description=(
            f"Estimated charges of the account this month are above "
            f"{cfg.billing_alarm_threshold_usd:g} USD (needs billing alerts enabled once in "
            "the account; see docs/monitoring.md)."
        ),
        threshold=cfg.billing_alarm_threshold_usd,
        # Estimates are published a few times a day; 6 h is the usual period.
        window=Window(SIX_HOURS, 1, 1),
        # Between estimates there is simply no data.
        treat_missing_data="notBreaching",
        metric=Metric("AWS/Billing", "EstimatedCharges", {"Currency": "USD"}, "Maximum"),
        us_east_1=True,
    )


def boot_failure_alarm(namespace: str) -> AlarmSpec:
    """A boot script that gave up (its ERROR line in the bootstrap log): a rollout stops."""
    return AlarmSpec(
        role="boot-failures",
        description=(
            "An instance's boot script failed (ERROR: boot failed in the bootstrap log) in the "
            "last 5 minutes: an instance refresh rolls back; see docs/runbooks/deployment.md."
        ),
        threshold=0,
        window=Window(FIVE_MINUTES, 1, 1),
        # The filter publishes 0 for other bootstrap lines; no lines at all is no failure.
        treat_missing_data="notBreaching",
        metric=Metric(namespace, filters.BOOT_FAILURES),
    )


def rollout_unhealthy_alarm(
    key: str, alb_suffix: pulumi.Input[str], tg_suffix: pulumi.Input[str], grace_seconds: int
) -> AlarmSpec:
    """Targets unhealthy for longer than a boot may take: a new version that never serves.

    A booting instance fails its ALB checks until Ollama and Open WebUI answer (up to the
    grace period), so the paging alarm on unhealthy hosts would also stop every healthy
    rollout; this one needs unhealthy targets in every minute of the grace period plus five.
    """
    minutes = -(-grace_seconds // 60) + 5
    return AlarmSpec(
        role=f"{key}-rollout-unhealthy",
        description=(
            f"The {key} target group had an unhealthy target in every minute of the last "
            f"{minutes} minutes (longer than an instance may take to boot): instances of the "
            "new version never pass their health check. An instance refresh rolls back."
        ),
        threshold=0,
        window=Window(60, minutes, minutes),
        treat_missing_data="notBreaching",
        metric=Metric(
            ALB,
            "UnHealthyHostCount",
            {"LoadBalancer": alb_suffix, "TargetGroup": tg_suffix},
            "Minimum",
        ),
    )


def gpu_memory_alarm(
    cfg: ObservabilityConfig, namespace: str, asg_name: pulumi.Input[str]
) -> AlarmSpec:
    """GPU memory used as a percent of GPU memory (agent nvidia_gpu metrics, ASG aggregate)."""
    dims = {ASG_DIMENSION: asg_name}
    used, total = _inputs(
        [
            Metric(namespace, cwagent.GPU_MEMORY_USED, dims, "Maximum"),
            Metric(namespace, cwagent.GPU_MEMORY_TOTAL, dims, "Maximum"),
        ],
        FIVE_MINUTES,
    )
    expression = f"IF({total['id']} > 0, 100 * {used['id']} / {total['id']}, 0)"
    return AlarmSpec(
        role="gpu-memory",
        description=(
            f"GPU memory use of the busiest instance above {cfg.gpu_memory_alarm_percent:g} % "
            "for 15 minutes: the loaded models and their KV cache are close to the GPU's memory "
            "(Ollama then offloads layers to the CPU and slows down). See docs/SIZING.md."
        ),
        threshold=cfg.gpu_memory_alarm_percent,
        window=FIFTEEN_MINUTES,
        # Gaps come from scale-to-zero or an agent restart; keep the last state.
        treat_missing_data="missing",
        queries=[used, total, _expression(expression, "GPU memory used (%)")],
    )
