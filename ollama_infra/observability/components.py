"""Observability in two components, around the rest of the stack.

``TelemetryComponent`` (before compute): the alerts topic and its key, the log groups the
instances write to, the CloudWatch agent config in SSM, and the Ollama metric filters.
Compute uses ``alert_topic_arn`` for its scaling alarms.

``MonitoringComponent`` (after everything): the alarms on resources the other components
created, the billing alarm and its topic in us-east-1, and the dashboard.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ollama_infra import cwagent
from ollama_infra.builders import customer_key
from ollama_infra.config import ObservabilityConfig
from ollama_infra.context import StackContext
from ollama_infra.observability import alarms, budget, filters
from ollama_infra.observability.dashboard import DashboardIds, dashboard_body

SERVICE = "observability"
US_EAST_1 = "us-east-1"


def _budgets_statement(ctx: StackContext, actions: list[str], resource: str) -> dict[str, object]:
    """AWS Budgets notifications of this account publish to the alerts topic (and so use
    its key); without the grant a budget alert is dropped."""
    return {
        "Sid": "BudgetsPublish",
        "Effect": "Allow",
        "Principal": {"Service": "budgets.amazonaws.com"},
        "Action": actions,
        "Resource": resource,
        "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
    }


def _key_statements(
    ctx: StackContext, region: str, budgets: bool = False
) -> list[dict[str, object]]:
    """CloudWatch alarms (and, for the alerts topic, AWS Budgets) using the key to publish.

    CloudWatch calls KMS itself when an alarm publishes to an encrypted topic; without
    this grant the notification is silently dropped (which is also why the AWS managed
    aws/sns key, whose policy cannot be changed, does not work for alarm topics).
    """
    return [
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ctx.account_id},
                # Only this stack's alarms (all named ollama-<role>-<env>).
                "ArnLike": {
                    "aws:SourceArn": f"arn:{ctx.partition}:cloudwatch:{region}:"
                    f"{ctx.account_id}:alarm:ollama-*-{ctx.name_suffix}"
                },
            },
        },
        *(
            [_budgets_statement(ctx, ["kms:Decrypt", "kms:GenerateDataKey*"], "*")]
            if budgets
            else []
        ),
    ]


def _topic_policy(ctx: StackContext, topic_arn: str, budgets: bool = False) -> str:
    """CloudWatch alarms of this account may publish; the account manages the topic."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountManagesTopic",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account_id}:root"},
                    "Action": [
                        "sns:GetTopicAttributes",
                        "sns:SetTopicAttributes",
                        "sns:Subscribe",
                        "sns:ListSubscriptionsByTopic",
                        "sns:Publish",
                    ],
                    "Resource": topic_arn,
                },
                {
                    "Sid": "CloudWatchAlarmsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
                },
                *([_budgets_statement(ctx, ["sns:Publish"], topic_arn)] if budgets else []),
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def _email_key(email: str) -> str:
    """Stable logical-name fragment for a subscription (keyed by address, not position;
    the digest keeps a.b@x and a-b@x apart)."""
    readable = re.sub(r"[^a-z0-9]+", "-", email.lower()).strip("-")
    return f"{readable}-{hashlib.sha256(email.lower().encode()).hexdigest()[:6]}"


class _AlertTopic:
    """An encrypted SNS topic that CloudWatch alarms can publish to, with email subscribers."""

    def __init__(
        self,
        prefix: str,
        ctx: StackContext,
        role: str,
        topic_name: str,
        region: str,
        emails: list[str],
        kms_key_arn: str | None,
        opts: pulumi.ResourceOptions,
        budgets: bool = False,
    ) -> None:
        """``budgets``: AWS Budgets may publish to the topic too (the alerts topic)."""
        if kms_key_arn is None:
            key = customer_key(
                f"{prefix}-key",
                ctx=ctx,
                service=SERVICE,
                key_name=ctx.name(f"{role}-key"),
                description=f"Encrypts SNS topic {topic_name}; CloudWatch alarms may use it",
                statements=_key_statements(ctx, region, budgets),
                opts=opts,
            )
            key_id: pulumi.Input[str] = key.arn
        else:
            key_id = kms_key_arn
        self.topic = aws.sns.Topic(
            prefix,
            name=topic_name,
            kms_master_key_id=key_id,
            tags=ctx.tags(SERVICE, topic_name),
            opts=opts,
        )
        self.arn: pulumi.Output[str] = self.topic.arn
        aws.sns.TopicPolicy(
            f"{prefix}-policy",
            arn=self.topic.arn,
            policy=self.topic.arn.apply(lambda arn: _topic_policy(ctx, arn, budgets)),
            opts=opts,
        )
        for email in emails:
            # Email subscriptions stay "pending confirmation" until the recipient clicks
            # the link AWS sends; see docs/monitoring.md.
            aws.sns.TopicSubscription(
                f"{prefix}-email-{_email_key(email)}",
                topic=self.topic.arn,
                protocol="email",
                endpoint=email,
                opts=opts,
            )


def _renamed_from(part: str, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Stacks deployed before the rename know these components (and, through them, every
    child) by the type ``ollama:observability:Observability<part>``; the alias keeps them."""
    alias = pulumi.Alias(type_=f"ollama:observability:Observability{part}")
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[alias]))


@dataclass(frozen=True)
class TelemetryArgs:
    ctx: StackContext
    """Names, tags, region and account of the stack."""
    config: ObservabilityConfig
    """The stack's ``observability`` section: retention, keys, alert emails, thresholds."""
    gpu_enabled: bool = False
    """GPU profile: the agent also collects the NVIDIA GPU metrics."""


class TelemetryComponent(pulumi.ComponentResource):
    """Alerts topic, log groups, the CloudWatch agent config and the Ollama metric filters."""

    alert_topic_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: TelemetryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:observability:Telemetry", name, None, _renamed_from("Pre", opts))
        ctx, cfg = args.ctx, args.config
        names = ctx.names
        child = pulumi.ResourceOptions(parent=self)

        topic = _AlertTopic(
            f"{name}-alerts",
            ctx,
            "alerts",
            names.alerts_topic,
            ctx.region,
            cfg.alarm_emails,
            cfg.alerts_kms_key_arn,
            child,
            budgets=True,
        )
        self.alert_topic_arn = topic.arn

        self.log_groups: dict[str, aws.cloudwatch.LogGroup] = {}
        for role, group_name in (
            ("app", names.app_log_group),
            ("service", names.service_log_group),
            ("bootstrap", names.bootstrap_log_group),
        ):
            self.log_groups[role] = aws.cloudwatch.LogGroup(
                f"{name}-{role}-logs",
                name=group_name,
                retention_in_days=cfg.log_retention_days,
                kms_key_id=cfg.log_kms_key_arn,
                tags=ctx.tags(SERVICE, group_name),
                opts=child,
            )
        self.app_log_group_name = self.log_groups["app"].name
        self.service_log_group_name = self.log_groups["service"].name
        self.bootstrap_log_group_name = self.log_groups["bootstrap"].name

        agent_json = cwagent.render(cwagent.agent_config(names, ctx.region, gpu=args.gpu_enabled))
        parameter_name = names.parameter("cloudwatch-agent/config")
        self.agent_config_parameter = aws.ssm.Parameter(
            f"{name}-cwagent-config",
            name=parameter_name,
            description="CloudWatch agent configuration the instances load at boot",
            # Not a secret (log group names and metric settings): insecure_value keeps it
            # readable in plans and diffs instead of masked like `value`.
            type="String",
            tier=cwagent.parameter_tier(agent_json),
            insecure_value=agent_json,
            tags=ctx.tags(SERVICE, ctx.name("cwagent-config")),
            # Instances read it at boot, so the log groups it names must exist first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(self.log_groups.values())),
        )
        self.agent_config_parameter_name = parameter_name

        for spec in filters.metric_filters(cfg.inference_latency_p90_alarm_seconds):
            transformation = aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=spec.metric,
                namespace=names.metric_namespace,
                value=spec.value,
                unit=spec.unit,
                # CloudWatch refuses a default value on a filter with dimensions.
                dimensions=spec.dimensions or None,
                default_value=spec.default_value,
            )
            aws.cloudwatch.LogMetricFilter(
                f"{name}-filter-{spec.role}",
                name=ctx.name(spec.role),
                log_group_name=self.log_groups["service"].name,
                pattern=spec.pattern,
                metric_transformation=transformation,
                opts=child,
            )

        for spec in filters.bootstrap_filters():
            aws.cloudwatch.LogMetricFilter(
                f"{name}-filter-{spec.role}",
                name=ctx.name(spec.role),
                log_group_name=self.log_groups["bootstrap"].name,
                pattern=spec.pattern,
                metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                    name=spec.metric,
                    namespace=names.metric_namespace,
                    value=spec.value,
                    unit=spec.unit,
                    default_value=spec.default_value,
                ),
                opts=child,
            )

        self.register_outputs(
            {
                "alert_topic_arn": self.alert_topic_arn,
                "app_log_group_name": self.app_log_group_name,
                "service_log_group_name": self.service_log_group_name,
                "bootstrap_log_group_name": self.bootstrap_log_group_name,
                "agent_config_parameter_name": self.agent_config_parameter_name,
            }
        )


@dataclass(frozen=True)
class MonitoringArgs:
    """What the alarms and the dashboard watch. Optional inputs are None when the stack
    has no such resource; their alarms and widgets are then left out."""

    ctx: StackContext
    """Names, tags, region and account of the stack."""
    config: ObservabilityConfig
    """The stack's ``observability`` section: thresholds and alert emails."""
    alert_topic_arn: pulumi.Input[str]
    """The regional alerts topic (``TelemetryComponent.alert_topic_arn``) the alarms notify."""
    us_east_1: aws.Provider | None = None
    """Creates the alarms on us-east-1 metrics and the billing alarm; None makes one here."""
    asg_name: pulumi.Input[str] | None = None
    """The instances' group: the memory alarm and the EC2 and ASG widgets."""
    alb_arn_suffix: pulumi.Input[str] | None = None
    """The ALB's LoadBalancer dimension: its 5xx alarm and widgets."""
    target_group_arn_suffixes: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """TargetGroup dimension per role: unhealthy hosts for each, response time for webui."""
    table_name: pulumi.Input[str] | None = None
    """The model catalog table: the throttling alarm and widget."""
    storage_bucket_name: pulumi.Input[str] | None = None
    """Open WebUI's storage bucket: the S3 error alarms and widgets."""
    storage_metrics_filter_id: str | None = None
    """FilterId of the bucket's request-metrics configuration (S3 request metrics need one)."""
    distribution_id: pulumi.Input[str] | None = None
    """The CloudFront distribution: cache-hit and 5xx alarms and widgets."""
    database_identifier: pulumi.Input[str] | None = None
    """The RDS instance: CPU, free storage and connection alarms and the database widget."""
    gpu_enabled: bool = False
    """GPU profile: the GPU memory alarm and the GPU widgets."""
    budget_limit_usd: float | None = None
    """Monthly limit of the stack's AWS Budgets cost budget; None: no budget."""


class MonitoringComponent(pulumi.ComponentResource):
    """The alarms, the billing alarm and its us-east-1 topic, and the dashboard."""

    def __init__(
        self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:observability:Monitoring", name, None, _renamed_from("Post", opts))
        ctx, cfg = args.ctx, args.config
        names = ctx.names
        child = pulumi.ResourceOptions(parent=self)
        us_east_1 = args.us_east_1 or aws.Provider(
            f"{name}-us-east-1", region=US_EAST_1, opts=child
        )
        east = pulumi.ResourceOptions(parent=self, provider=us_east_1)

        # Billing metrics exist only in us-east-1, and an alarm can only notify a topic in
        # its own region: the billing alarm gets its own topic there.
        billing_topic = _AlertTopic(
            f"{name}-billing-alerts",
            ctx,
            "billing-alerts",
            ctx.name("billing-alerts"),
            US_EAST_1,
            cfg.alarm_emails,
            None,
            east,
        )
        self.billing_topic_arn = billing_topic.arn
        # CloudFront alarms also live in us-east-1: the regional topic works when the stack
        # is in us-east-1, otherwise they use the us-east-1 topic.
        east_topic = args.alert_topic_arn if ctx.region == US_EAST_1 else billing_topic.arn

        specs = self._specs(args)
        self.alarms: dict[str, aws.cloudwatch.MetricAlarm] = {}
        for spec in specs:
            self.alarms[spec.role] = self._alarm(
                name, ctx, spec, east_topic if spec.us_east_1 else args.alert_topic_arn, east
            )
        billing = alarms.billing_alarm(cfg)
        self.alarms[billing.role] = self._alarm(name, ctx, billing, billing_topic.arn, east)
        self.budget = (
            budget.monthly_budget(
                f"{name}-budget", ctx, args.budget_limit_usd, args.alert_topic_arn, child
            )
            if args.budget_limit_usd is not None
            else None
        )

        ids = {
            "asg_name": args.asg_name,
            "alb_suffix": args.alb_arn_suffix,
            "webui_tg_suffix": args.target_group_arn_suffixes.get("webui"),
            "table_name": args.table_name,
            "bucket_name": args.storage_bucket_name,
            "distribution_id": args.distribution_id,
            "database_id": args.database_identifier,
        }
        present = {k: v for k, v in ids.items() if v is not None}
        resolved_ids = pulumi.Output.all(**present) if present else pulumi.Output.from_input({})
        body = resolved_ids.apply(
            lambda resolved: json.dumps(
                dashboard_body(
                    DashboardIds(
                        region=ctx.region,
                        namespace=names.metric_namespace,
                        bucket_filter_id=args.storage_metrics_filter_id,
                        gpu=args.gpu_enabled,
                        **resolved,
                    )
                )
            )
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=names.dashboard,
            dashboard_body=body,
            opts=child,
        )
        self.dashboard_url = (
            f"https://{ctx.region}.console.aws.amazon.com/cloudwatch/home?region={ctx.region}"
            f"#dashboards/dashboard/{names.dashboard}"
        )
        self.register_outputs(
            {
                "dashboard_url": self.dashboard_url,
                "billing_topic_arn": self.billing_topic_arn,
                "alarm_names": [a.name for a in self.alarms.values()],
            }
        )

    @staticmethod
    def _specs(args: MonitoringArgs) -> list[alarms.AlarmSpec]:
        cfg, namespace = args.config, args.ctx.names.metric_namespace
        specs = alarms.ollama_alarms(cfg, namespace)
        if args.asg_name is not None:
            specs.append(alarms.memory_alarm(cfg, namespace, args.asg_name))
            if args.gpu_enabled:
                specs.append(alarms.gpu_memory_alarm(cfg, namespace, args.asg_name))
        if args.alb_arn_suffix is not None:
            specs += alarms.alb_alarms(cfg, args.alb_arn_suffix, args.target_group_arn_suffixes)
        if args.table_name is not None:
            specs.append(alarms.dynamodb_alarm(args.table_name))
        if args.storage_bucket_name is not None and args.storage_metrics_filter_id:
            specs += alarms.s3_alarms(args.storage_bucket_name, args.storage_metrics_filter_id)
        if args.distribution_id is not None:
            specs += alarms.cloudfront_alarms(cfg, args.distribution_id)
        if args.database_identifier is not None:
            specs += alarms.rds_alarms(cfg, args.database_identifier)
        return specs

    def _alarm(
        self,
        name: str,
        ctx: StackContext,
        spec: alarms.AlarmSpec,
        topic_arn: pulumi.Input[str],
        east: pulumi.ResourceOptions,
    ) -> aws.cloudwatch.MetricAlarm:
        alarm_name = ctx.names.alarm(spec.role)
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.role}",
            name=alarm_name,
            # OK notifications tell the on-call person the incident is over.
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
            tags=ctx.tags(SERVICE, alarm_name),
            opts=east if spec.us_east_1 else pulumi.ResourceOptions(parent=self),
            **spec.resource_args(),
        )
