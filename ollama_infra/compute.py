"""Launch template, Auto Scaling group, scaling policies, CPU alarms and schedules.

Instances live in the private subnets behind the ALB's target groups (passed in by the
edge component), boot from the user data rendered in ``ollama_infra.userdata`` and are
replaced when their ELB health check fails: the boot script blocks until Open WebUI and
Ollama (with every catalog model) answer, so an instance that did not finish its boot
never serves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ollama_infra import cwagent, release
from ollama_infra.config import ComputeConfig, OllamaConfig, WebUIConfig
from ollama_infra.context import StackContext
from ollama_infra.deployed import Deployed
from ollama_infra.observability import alarms
from ollama_infra.userdata import BootSettings, encode_user_data, render_user_data

SERVICE = "compute"
ROOT_DEVICE = "/dev/sda1"  # the root device name of Ubuntu AMIs
# Open WebUI runs in Docker's bridge network: its IMDSv2 token response crosses one more
# hop than the host's, so the instance role is only reachable from it with a limit of 2.
METADATA_HOP_LIMIT = 2
# Scale out fast (3 one-minute datapoints, detailed monitoring), scale in slowly (3 x 5 min).
SCALE_OUT_PERIOD, SCALE_OUT_EVALUATIONS = 60, 3
SCALE_IN_PERIOD, SCALE_IN_EVALUATIONS = 300, 3
# Alarms of the monitoring component an instance refresh also watches (they exist from the
# first deployment on; a refresh only starts on a later one).
ROLLBACK_MONITORING_ALARMS = ("alb-5xx-rate", "ollama-503-rate")


@dataclass(frozen=True)
class ComputeArgs:
    ctx: StackContext
    """The stack: names and tags of the template, group, policies and alarms."""
    compute: ComputeConfig
    """Instance type, sizes, scaling and schedules (ollama:compute)."""
    ollama: OllamaConfig
    """Ollama version, install method and models, rendered into the user data."""
    webui: WebUIConfig
    """Open WebUI image and settings, rendered into the user data."""
    private_subnet_ids: Sequence[pulumi.Input[str]]
    """Subnets the group launches into (no public IPs), one per AZ."""
    app_security_group_id: pulumi.Input[str]
    """The instances' group: reachable from the ALB only."""
    instance_profile_arn: pulumi.Input[str]
    """Profile of the instance role (identity component)."""
    target_group_arns: Sequence[pulumi.Input[str]]
    """The ALB target groups the instances register in (edge component)."""
    alert_topic_arn: pulumi.Input[str] | None = None
    """SNS topic the CPU alarms notify; None derives ollama-alerts-<env>'s ARN from its name."""
    alb_arn_suffix: pulumi.Input[str] | None = None
    """ALB dimension of the requests-per-target metric."""
    target_group_arn_suffix: pulumi.Input[str] | None = None
    """Both needed for target tracking on requests per target (compute.requests_per_target)."""
    oidc: bool = False
    """Single sign-on (auth.mode oidc): the boot wires Open WebUI to the OIDC provider."""
    shared_database: bool = False
    """Open WebUI on every instance uses one database (data.database_enabled): a release
    change must never run two versions against it (``_refresh``)."""
    backend_tls: bool = False
    """edge.backend_tls: the boot runs the TLS proxy the HTTPS target groups reach."""
    deployed: Deployed = field(default_factory=Deployed)
    """What the last deployment left in SSM (its release record); empty for a new stack."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """IAM grants the instances need at boot; the group is created after them (and after
    the default-models parameter the boot reads)."""


class ComputeComponent(pulumi.ComponentResource):
    """``ollama-asg-<env>`` from launch template ``ollama-lt-<env>-*``, with its scaling."""

    def __init__(
        self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:compute:Compute", name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        ctx, cfg = args.ctx, args.compute

        self.rollout_alarms = self._rollout_alarms()
        self.default_models = self._default_models_parameter()
        self.user_data = render_user_data(
            BootSettings.from_config(
                ctx.names,
                ctx.region,
                args.ollama,
                args.webui,
                gpu=cfg.gpu_enabled,
                oidc=args.oidc,
                backend_tls=args.backend_tls,
            )
        )
        self.release = release.Release.from_config(args.ollama, args.webui)
        deployed, recorded = self._deployed_release()
        self.upgrade = (
            args.shared_database and deployed and release.is_upgrade(self.release, recorded)
        )
        self.launch_template = self._launch_template()
        self.group = self._group()
        self.release_record = self._release_record()
        topic = args.alert_topic_arn or ctx.arn("sns", ctx.names.alerts_topic)
        if cfg.scaling_metric == "gpu":
            self._gpu_tracking()
        else:
            self._cpu_scaling(topic)
        self._request_tracking()
        self._schedules()

        self.asg_name = self.group.name
        self.launch_template_id = self.launch_template.id
        self.register_outputs(
            {"asg_name": self.asg_name, "launch_template_id": self.launch_template_id}
        )

    def rollback_alarm_names(self) -> list[str]:
        """Every alarm an instance refresh watches: any of them in ALARM fails (and, with
        compute.refresh_auto_rollback, rolls back) the refresh."""
        names = self._args.ctx.names
        own = [names.alarm(role) for role in self.rollout_alarms]
        return own + [names.alarm(role) for role in ROLLBACK_MONITORING_ALARMS]

    def _rollout_alarms(self) -> dict[str, aws.cloudwatch.MetricAlarm]:
        """The rollout-only alarms, declared before the group so they exist when a refresh
        that names them starts (also on the deployment that introduces them)."""
        args, ctx, cfg = self._args, self._args.ctx, self._args.compute
        topic = args.alert_topic_arn or ctx.arn("sns", ctx.names.alerts_topic)
        specs = [alarms.boot_failure_alarm(ctx.names.metric_namespace)]
        if args.alb_arn_suffix is not None and args.target_group_arn_suffix is not None:
            specs.append(
                alarms.rollout_unhealthy_alarm(
                    "webui",
                    args.alb_arn_suffix,
                    args.target_group_arn_suffix,
                    cfg.health_check_grace_period_seconds,
                )
            )
        out = {}
        for spec in specs:
            alarm_name = ctx.names.alarm(spec.role)
            out[spec.role] = aws.cloudwatch.MetricAlarm(
                f"{self._name}-{spec.role}",
                name=alarm_name,
                alarm_actions=[topic],
                ok_actions=[topic],
                tags=ctx.tags(SERVICE, alarm_name),
                opts=self._child,
                **spec.resource_args(),
            )
        return out

    def _cpu_scaling(self, topic: pulumi.Input[str]) -> None:
        cfg = self._args.compute
        self.scale_out_policy, self.scale_in_policy = self._step_policies()
        self.high_cpu_alarm = self._cpu_alarm(
            "high-cpu",
            "GreaterThanThreshold",
            cfg.scale_out_cpu_percent,
            SCALE_OUT_PERIOD,
            SCALE_OUT_EVALUATIONS,
            [self.scale_out_policy.arn, topic],
            [topic],
        )
        self.low_cpu_alarm = self._cpu_alarm(
            "low-cpu",
            "LessThanThreshold",
            cfg.scale_in_cpu_percent,
            SCALE_IN_PERIOD,
            SCALE_IN_EVALUATIONS,
            [self.scale_in_policy.arn, topic],
            [topic],
        )

    def _gpu_tracking(self) -> None:
        """Target tracking on the group's average GPU utilization (the agent's nvidia_gpu
        metric, aggregated per group); it scales both ways, so no CPU policies exist."""
        ctx, cfg = self._args.ctx, self._args.compute
        aws.autoscaling.Policy(
            f"{self._name}-gpu-utilization",
            name=ctx.name("gpu-utilization"),
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=cfg.scaling_cooldown_seconds,
            target_tracking_configuration={
                "customized_metric_specification": {
                    "namespace": ctx.names.metric_namespace,
                    "metric_name": cwagent.GPU_UTILIZATION,
                    "metric_dimensions": [
                        {"name": cwagent.ASG_DIMENSION, "value": self.group.name}
                    ],
                    "statistic": "Average",
                },
                "target_value": float(cfg.gpu_target_utilization_percent),
            },
            opts=self._child,
        )

    def _default_models_parameter(self) -> aws.ssm.Parameter:
        """The model list the boot script falls back to while the catalog has no entries."""
        ctx = self._args.ctx
        param_name = ctx.names.parameter("ollama/default-models")
        return aws.ssm.Parameter(
            f"{self._name}-default-models",
            name=param_name,
            type="String",
            description="Models pulled at boot when the model catalog table lists none (JSON)",
            value=json.dumps(self._args.ollama.models),
            tags=ctx.tags(SERVICE, ctx.name("default-models")),
            opts=self._child,
        )

    def _image_id(self) -> str:
        cfg = self._args.compute
        if cfg.ami_id:
            return cfg.ami_id
        # Resolved at deploy time, so a new Ubuntu release reaches instances through a
        # deliberate `pulumi up` (new template version, instance refresh), never by surprise.
        return aws.ssm.get_parameter(name=cfg.ubuntu_ami_parameter).value

    def _launch_template(self) -> aws.ec2.LaunchTemplate:
        args, ctx, cfg = self._args, self._args.ctx, self._args.compute
        instance_name = ctx.names.asg  # the ASG propagates the same Name to its instances
        key_name = None
        if cfg.ssh_enabled:
            key_name = aws.ec2.KeyPair(
                f"{self._name}-key",
                key_name=ctx.names.key_pair,
                public_key=cfg.ssh_public_key,
                tags=ctx.tags(SERVICE, ctx.names.key_pair),
                opts=self._child,
            ).key_name
        return aws.ec2.LaunchTemplate(
            f"{self._name}-lt",
            name_prefix=ctx.names.launch_template_prefix,
            description=f"Ollama + Open WebUI instances of {ctx.env}",
            image_id=self._image_id(),
            instance_type=cfg.instance_type,
            iam_instance_profile={"arn": args.instance_profile_arn},
            key_name=key_name,
            user_data=encode_user_data(self.user_data),
            update_default_version=True,
            ebs_optimized="true",
            monitoring={"enabled": True},
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",
                "http_put_response_hop_limit": METADATA_HOP_LIMIT,
            },
            network_interfaces=[
                {
                    "device_index": 0,
                    "associate_public_ip_address": "false",
                    "delete_on_termination": "true",
                    "security_groups": [args.app_security_group_id],
                }
            ],
            block_device_mappings=[
                {
                    "device_name": ROOT_DEVICE,
                    "ebs": {
                        "volume_size": cfg.root_volume_size_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            tag_specifications=[
                {"resource_type": "instance", "tags": ctx.tags(SERVICE, instance_name)},
                {"resource_type": "volume", "tags": ctx.tags(SERVICE, ctx.name("root-volume"))},
            ],
            tags=ctx.tags(SERVICE, ctx.name("lt")),
            opts=self._child,
        )

    def _mixed_instances(self) -> aws.autoscaling.GroupMixedInstancesPolicyArgs | None:
        """Spot capacity over instance_type and spot_instance_types (dev only, config-checked)."""
        cfg = self._args.compute
        if not cfg.spot_enabled:
            return None
        types = [cfg.instance_type, *cfg.spot_instance_types]
        return aws.autoscaling.GroupMixedInstancesPolicyArgs(
            instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
                on_demand_base_capacity=0,
                on_demand_percentage_above_base_capacity=0,
                spot_allocation_strategy="price-capacity-optimized",
            ),
            launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                launch_template_specification=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                    launch_template_id=self.launch_template.id,
                    version=self._template_version(),
                ),
                overrides=[
                    aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(
                        instance_type=t
                    )
                    for t in types
                ],
            ),
        )

    def _template_version(self) -> pulumi.Output[str]:
        # The explicit latest version makes every template change an instance refresh.
        return self.launch_template.latest_version.apply(str)

    def _group(self) -> aws.autoscaling.Group:
        args, ctx, cfg = self._args, self._args.ctx, self._args.compute
        single = cfg.max_size == 1
        mixed = self._mixed_instances()
        template = (
            None
            if mixed
            else aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self._template_version()
            )
        )
        return aws.autoscaling.Group(
            f"{self._name}-asg",
            name=ctx.names.asg,
            vpc_zone_identifiers=args.private_subnet_ids,
            min_size=cfg.min_size,
            max_size=cfg.max_size,
            desired_capacity=cfg.desired_capacity,
            target_group_arns=args.target_group_arns,
            launch_template=template,
            mixed_instances_policy=mixed,
            capacity_rebalance=True if mixed else None,
            # ELB checks replace instances whose Open WebUI stops answering; the grace period
            # covers boot, installs and the model pull (the API default of 0 would not).
            health_check_type="ELB",
            health_check_grace_period=cfg.health_check_grace_period_seconds,
            default_instance_warmup=cfg.scaling_cooldown_seconds,
            wait_for_capacity_timeout=f"{cfg.health_check_grace_period_seconds}s",
            enabled_metrics=[
                aws.autoscaling.Metric.GROUP_MIN_SIZE,
                aws.autoscaling.Metric.GROUP_MAX_SIZE,
                aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
                aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
                aws.autoscaling.Metric.GROUP_PENDING_INSTANCES,
                aws.autoscaling.Metric.GROUP_TERMINATING_INSTANCES,
            ],
            instance_refresh=self._refresh(single),
            tags=[
                aws.autoscaling.GroupTagArgs(
                    key=str(tag["key"]),
                    value=str(tag["value"]),
                    propagate_at_launch=bool(tag["propagate_at_launch"]),
                )
                for tag in ctx.tagger.asg_tags(SERVICE, ctx.names.asg)
            ],
            # Scaling policies and schedules own the desired capacity after creation; a later
            # `pulumi up` must not reset it to the configured starting value.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *args.depends_on,
                    self.default_models,
                    *self.rollout_alarms.values(),
                ],
                ignore_changes=["desiredCapacity"],
            ),
        )

    def _deployed_release(self) -> tuple[bool, release.Release | None]:
        """Whether the stack is deployed already, and the release its last deployment
        recorded (None: no record, or one that does not parse).

        A stack with parameters but no record was deployed before the record existed: its
        running release is unknown and counts as a change.
        """
        deployed = self._args.deployed
        value = deployed.parameters.get(release.record_name(self._args.ctx.names))
        return deployed.exists, None if value is None else release.Release.parse(value)

    def _release_record(self) -> aws.ssm.Parameter:
        """What this deployment runs, for the next one to compare against."""
        ctx = self._args.ctx
        return aws.ssm.Parameter(
            f"{self._name}-release",
            name=release.record_name(ctx.names),
            type="String",
            description="Open WebUI image and Ollama release of the last deployment (JSON); "
            "a change on a stack with a shared database replaces every instance at once",
            value=self.release.to_json(),
            tags=ctx.tags(SERVICE, ctx.name("release")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.group]),
        )

    def _refresh(self, single: bool) -> aws.autoscaling.GroupInstanceRefreshArgs:
        """Rolling refresh on every template change, watched by the rollback alarms.

        Auto rollback needs an explicit template version (not $Latest/$Default) and an AMI id
        in the template (not an SSM parameter): both hold here (``_template_version``,
        ``_image_id``). Checkpoints pause the refresh so the alarms see the first new
        instances serve before the rest are replaced.

        A release change (``self.upgrade``) on a stack whose Open WebUI shares a database
        must never run two versions against it: a minimum of 0 % replaces every instance in
        one batch and a maximum of 100 % terminates before it launches, so no old instance is
        left in service beside a new one. Checkpoints would split that batch, and a rollback
        would start the old version again on a schema the new one migrated (besides running
        both side by side if it kept instances), so neither is set for that refresh.
        """
        ctx, cfg = self._args.ctx, self._args.compute
        if self.upgrade:
            lowest, highest, rollback, checkpoints = 0, 100, False, []
        else:
            # One instance: start the new one before stopping the old (no downtime).
            # Several: replace half at a time so capacity never doubles.
            lowest, highest = (100, 200) if single else (50, 100)
            rollback = cfg.refresh_auto_rollback
            checkpoints = cfg.checkpoints(ctx.env == "production")
        return aws.autoscaling.GroupInstanceRefreshArgs(
            strategy="Rolling",
            preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                min_healthy_percentage=lowest,
                max_healthy_percentage=highest,
                instance_warmup=str(cfg.health_check_grace_period_seconds),
                skip_matching=True,
                auto_rollback=rollback,
                alarm_specification=aws.autoscaling.GroupInstanceRefreshPreferencesAlarmSpecificationArgs(
                    alarms=self.rollback_alarm_names()
                ),
                checkpoint_percentages=checkpoints or None,
                checkpoint_delay=(
                    str(cfg.refresh_checkpoint_delay_seconds) if checkpoints else None
                ),
            ),
        )

    def _step_policies(self) -> tuple[aws.autoscaling.Policy, aws.autoscaling.Policy]:
        ctx, cfg = self._args.ctx, self._args.compute
        policies = []
        # One step each: +1 above the high-CPU threshold, -1 below the low-CPU threshold.
        steps = {
            "scale-out": aws.autoscaling.PolicyStepAdjustmentArgs(
                scaling_adjustment=1, metric_interval_lower_bound="0"
            ),
            "scale-in": aws.autoscaling.PolicyStepAdjustmentArgs(
                scaling_adjustment=-1, metric_interval_upper_bound="0"
            ),
        }
        for role, step in steps.items():
            policies.append(
                aws.autoscaling.Policy(
                    f"{self._name}-{role}",
                    name=ctx.name(role),
                    autoscaling_group_name=self.group.name,
                    policy_type="StepScaling",
                    adjustment_type="ChangeInCapacity",
                    metric_aggregation_type="Average",
                    estimated_instance_warmup=cfg.scaling_cooldown_seconds,
                    step_adjustments=[step],
                    opts=self._child,
                )
            )
        return policies[0], policies[1]

    def _cpu_alarm(
        self,
        role: str,
        comparison: str,
        threshold: float,
        period: int,
        evaluations: int,
        actions: list[pulumi.Input[str]],
        ok_actions: list[pulumi.Input[str]],
    ) -> aws.cloudwatch.MetricAlarm:
        ctx = self._args.ctx
        alarm_name = ctx.names.alarm(role)
        return aws.cloudwatch.MetricAlarm(
            f"{self._name}-{role}",
            name=alarm_name,
            alarm_description=f"Average CPU of {ctx.names.asg} {comparison} {threshold:g} % "
            f"for {period * evaluations // 60} min: step scaling (compute.*_cpu_percent)",
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            dimensions={"AutoScalingGroupName": self.group.name},
            statistic="Average",
            comparison_operator=comparison,
            threshold=threshold,
            period=period,
            evaluation_periods=evaluations,
            # No datapoints means no running instances (dev scaled to zero at night, or a
            # group between replacements): neither a reason to scale nor to page anyone.
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            # Recovery notifies the topic only; the scaling policy acts on ALARM alone.
            ok_actions=ok_actions,
            tags=ctx.tags(SERVICE, alarm_name),
            opts=self._child,
        )

    def _request_tracking(self) -> None:
        args, ctx, cfg = self._args, self._args.ctx, self._args.compute
        if cfg.requests_per_target is None:
            return
        if args.alb_arn_suffix is None or args.target_group_arn_suffix is None:
            pulumi.log.warn(
                "compute.requests_per_target is set but the ALB/target group ARN suffixes are "
                "not wired into the compute component; request-count target tracking is skipped"
            )
            return
        label = pulumi.Output.concat(args.alb_arn_suffix, "/", args.target_group_arn_suffix)
        aws.autoscaling.Policy(
            f"{self._name}-requests",
            name=ctx.name("requests-per-target"),
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=cfg.scaling_cooldown_seconds,
            target_tracking_configuration={
                "predefined_metric_specification": {
                    "predefined_metric_type": "ALBRequestCountPerTarget",
                    "resource_label": label,
                },
                "target_value": float(cfg.requests_per_target),
                # Scale-in stays with the CPU policy so the two never fight.
                "disable_scale_in": True,
            },
            opts=self._child,
        )

    def _schedules(self) -> None:
        ctx, cfg = self._args.ctx, self._args.compute
        if cfg.schedule_scale_down_cron is None or cfg.schedule_scale_up_cron is None:
            return
        for role, cron, min_size, desired in (
            ("scale-down", cfg.schedule_scale_down_cron, 0, 0),
            ("scale-up", cfg.schedule_scale_up_cron, cfg.min_size, cfg.desired_capacity),
        ):
            aws.autoscaling.Schedule(
                f"{self._name}-{role}",
                scheduled_action_name=ctx.name(role),
                autoscaling_group_name=self.group.name,
                recurrence=cron,
                time_zone=cfg.schedule_timezone,
                min_size=min_size,
                max_size=cfg.max_size,
                desired_capacity=desired,
                opts=self._child,
            )
