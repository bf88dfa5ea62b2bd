"""The whole stack: typed config in, components built in dependency order, outputs out.

``__main__.py`` calls ``run()``; the offline plan and the tests call the same function
under Pulumi mocks, so what they check is what ``pulumi up`` would build.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from ollama_infra import origin_header
from ollama_infra.auth import SingleSignOnArgs, SingleSignOnComponent
from ollama_infra.backup import BackupArgs, BackupComponent
from ollama_infra.compute import ComputeArgs, ComputeComponent
from ollama_infra.config import SECTIONS, StackConfig, config_from_pulumi, config_warnings
from ollama_infra.context import StackContext
from ollama_infra.cost.limit import NoEstimate, estimated_limit
from ollama_infra.cost.prices import UnknownRegion, default_book
from ollama_infra.data import (
    POSTGRES_PORT,
    REDIS_PORT,
    REQUEST_METRICS_FILTER,
    DataArgs,
    DataComponent,
)
from ollama_infra.deployed import read as read_deployed
from ollama_infra.edge import (
    AlbArgs,
    AlbComponent,
    CdnArgs,
    CdnComponent,
    LogBucketArgs,
    LogBucketComponent,
)
from ollama_infra.identity import IdentityArgs, IdentityComponent
from ollama_infra.lifecycle import stack_transformation
from ollama_infra.network import NetworkArgs, NetworkComponent
from ollama_infra.observability import (
    MonitoringArgs,
    MonitoringComponent,
    TelemetryArgs,
    TelemetryComponent,
)
from ollama_infra.security import PrivateService, SecurityArgs, SecurityComponent

# Every stack output, with what it is for. Output names are ollama_<snake_case>; the tests
# check that every exported output is listed here and documented in docs/outputs.md.
OUTPUT_DOCS: dict[str, str] = {
    "ollama_environment": "Environment name of the stack (dev, staging or production).",
    "ollama_region": "AWS region the stack is deployed in.",
    "ollama_vpc_id": "ID of the stack's VPC.",
    "ollama_public_subnet_ids": "Public subnet IDs (ALB, NAT), one per AZ.",
    "ollama_private_subnet_ids": "Private subnet IDs (instances, database, cache), one per AZ.",
    "ollama_alb_security_group_id": "Security group of the ALB (Name tag ollama-alb-sg-<env>).",
    "ollama_app_security_group_id": "Security group of the instances "
    "(Name tag ollama-app-sg-<env>).",
    "ollama_table_name": "DynamoDB model catalog table (ollama-data-table-<env>).",
    "ollama_storage_bucket_name": "S3 bucket for Open WebUI uploads "
    "(ollama-storage-<env>-<account>).",
    "ollama_storage_dr_bucket_name": "Cross-region replica of the storage bucket "
    "(only with data.replication_region).",
    "ollama_webui_secret_key_secret_arn": "ARN of the Secrets Manager secret holding "
    "WEBUI_SECRET_KEY (the ARN only, never the value).",
    "ollama_webui_admin_secret_arn": "ARN of the secret holding the initial Open WebUI admin "
    "email and password.",
    "ollama_database_endpoint": "Host name of the Open WebUI PostgreSQL database "
    "(only with data.database_enabled).",
    "ollama_database_secret_arn": "ARN of the RDS-managed master password secret, for "
    "administrators only (only with data.database_enabled).",
    "ollama_database_app_secret_arn": "ARN of Open WebUI's own database login (rotated by "
    "alternating users; only with data.database_enabled).",
    "ollama_cache_endpoint": "Primary endpoint of the Open WebUI Valkey cache "
    "(only with data.cache_enabled).",
    "ollama_redis_auth_secret_arn": "ARN of the secret holding the cache AUTH token "
    "(only with data.cache_enabled).",
    "ollama_url": "Public HTTPS URL of Open WebUI (CloudFront alias or distribution domain).",
    "ollama_cloudfront_distribution_id": "ID of the CloudFront distribution (invalidations, "
    "metrics).",
    "ollama_alb_dns_name": "DNS name of the ALB; point edge.origin_domain_name's record at it. "
    "It answers 403 to anything that does not come through CloudFront.",
    "ollama_api_endpoint": "Base URL for programmatic Ollama API clients: the dedicated API "
    "listener when ollama_api.enabled, else Open WebUI's /ollama proxy (API key required).",
    "ollama_log_bucket_name": "Access-log bucket (ALB, CloudFront, S3 server access logs).",
    "ollama_asg_name": "Auto Scaling group of the Ollama + Open WebUI instances.",
    "ollama_launch_template_id": "Launch template of the instances (new version per change, "
    "rolled out by instance refresh).",
    "ollama_instance_role_arn": "IAM role of the instances "
    "(ollama-ec2-role-<env> plus a unique suffix).",
    "ollama_backup_vault_name": "AWS Backup vault of the stack (only with backup.enabled).",
    "ollama_alerts_topic_arn": "SNS topic ollama-alerts-<env> every regional alarm notifies.",
    "ollama_billing_alerts_topic_arn": "SNS topic ollama-billing-alerts-<env> in us-east-1 "
    "(billing alarm).",
    "ollama_dashboard_url": "CloudWatch console URL of the ollama-<env> dashboard.",
    "ollama_app_log_group": "Log group of the Open WebUI container logs.",
    "ollama_service_log_group": "Log group of the Ollama server logs (metric filters).",
    "ollama_bootstrap_log_group": "Log group of the instance bootstrap log.",
    "ollama_cloudwatch_agent_parameter": "SSM parameter holding the CloudWatch agent config.",
    "ollama_oidc_issuer_url": "OIDC issuer Open WebUI signs users in with "
    "(only with auth.mode: oidc).",
    "ollama_user_pool_id": "Cognito user pool ollama-users-<env> (only with auth.mode: oidc "
    "and provider: cognito); ollama-ops users manages its members.",
}


def config_values(cfg: StackConfig) -> dict[str, Any]:
    """The validated config as stack-file values (full keys), e.g. for a child evaluation."""
    values: dict[str, Any] = {"aws:region": cfg.region}
    for section in SECTIONS:
        dumped = getattr(cfg, section).model_dump(mode="json", exclude_none=True)
        values[f"ollama:{section}"] = dumped
    return values


def budget_limit(cfg: StackConfig) -> float:
    """observability.budget_limit_usd; else the stack's estimate at maximum scale; where no
    estimate exists (a region without prices), the billing alarm threshold, with a warning."""
    if cfg.observability.budget_limit_usd is not None:
        return cfg.observability.budget_limit_usd
    try:
        default_book().check_region(cfg.region)
        return estimated_limit(cfg.stack, config_values(cfg))
    except (NoEstimate, UnknownRegion) as exc:
        fallback = cfg.observability.billing_alarm_threshold_usd
        pulumi.log.warn(
            f"ollama:observability.budget_limit_usd is unset and no cost estimate is available "
            f"({str(exc).splitlines()[0]}); the budget uses the billing alarm threshold "
            f"({fallback:g} USD). Set budget_limit_usd to choose the limit."
        )
        return fallback


def build(cfg: StackConfig) -> dict[str, Any]:
    """Declare every resource of the stack and return its outputs (name -> value)."""
    # Replacement strategy and protection per resource type (ollama_infra/lifecycle.py),
    # registered before the first resource so that every one gets them.
    pulumi.runtime.register_stack_transformation(stack_transformation(cfg.env))
    identity = aws.get_caller_identity()
    partition = aws.get_partition().partition
    ctx = StackContext.from_config(cfg, account_id=identity.account_id, partition=partition)
    azs = list(aws.get_availability_zones(state="available").names[: cfg.network.az_count])
    if len(azs) < cfg.network.az_count:
        raise ValueError(
            f"ollama:network.az_count = {cfg.network.az_count}: region {cfg.region} offers only "
            f"{len(azs)} available AZs; lower az_count"
        )
    # What runs now (release record, origin header rotation), checked before any resource.
    deployed = read_deployed(ctx.names)
    origin_rotation = origin_header.read(ctx.names, deployed.parameters)

    network = NetworkComponent(
        "ollama-network",
        NetworkArgs(
            ctx=ctx,
            config=cfg.network,
            availability_zones=azs,
            log_retention_days=cfg.observability.log_retention_days,
            log_kms_key_arn=cfg.observability.log_kms_key_arn,
        ),
    )
    private_services: dict[str, PrivateService] = {}
    if cfg.data.database_enabled:
        private_services["db"] = PrivateService(POSTGRES_PORT, "PostgreSQL")
    if cfg.data.cache_enabled:
        private_services["cache"] = PrivateService(REDIS_PORT, "Redis")
    security = SecurityComponent(
        "ollama-security",
        SecurityArgs(
            ctx=ctx,
            vpc_id=network.vpc_id,
            vpc_cidr=str(cfg.network.vpc_cidr),
            https_origin=cfg.edge.certificate_arn is not None,
            compute=cfg.compute,
            ollama_api=cfg.ollama_api,
            private_services=private_services,
            backend_tls=cfg.backend_tls,
        ),
    )

    # Build order (each section may use the ones above it):
    # [edge:log-bucket]   the access-log bucket (ALB, S3 server access logs, CloudFront)
    # [data]              model catalog table, storage bucket, secrets, database, cache
    # [telemetry]         alerts topic, log groups, CloudWatch agent config in SSM
    # [edge:alb]          ALB, listeners, target groups
    # [edge:cdn]          CloudFront, WAF, public URL parameter
    # [auth]              Cognito pool or external OIDC settings (auth.mode oidc only)
    # [compute]           instance role, launch template, ASG, scaling, CPU alarms
    # [backup]            AWS Backup vault, plan, selection
    # [monitoring]        alarms, billing alarm, dashboard

    # [edge:log-bucket]
    log_bucket = LogBucketComponent(
        "ollama-edge-logs",
        LogBucketArgs(
            ctx=ctx,
            retention_days=cfg.edge.access_log_retention_days,
            force_destroy=cfg.env == "dev",
        ),
    )

    # [data]
    data = DataComponent(
        "ollama-data",
        DataArgs(
            ctx=ctx,
            config=cfg.data,
            admin_email=cfg.webui.admin_email,
            deletion_protection=cfg.deletion_protection,
            multi_az=cfg.is_production,
            private_subnet_ids=network.private_subnet_ids,
            log_bucket=log_bucket.bucket_name,
            database_security_group_id=security.private_sg_ids.get("db"),
            cache_security_group_id=security.private_sg_ids.get("cache"),
            rotation_security_group_id=security.rotation_sg_id,
            create_data_key=cfg.creates_data_key,
            access_log_retention_days=cfg.edge.access_log_retention_days,
            log_retention_days=cfg.observability.log_retention_days,
            log_kms_key_arn=cfg.observability.log_kms_key_arn,
        ),
    )

    # [telemetry]
    telemetry = TelemetryComponent(
        "ollama-observability",
        TelemetryArgs(ctx=ctx, config=cfg.observability, gpu_enabled=cfg.compute.gpu_enabled),
    )

    # [edge:alb]
    alb = AlbComponent(
        "ollama-edge-alb",
        AlbArgs(
            ctx=ctx,
            config=cfg.edge,
            ollama_api=cfg.ollama_api,
            deletion_protection=cfg.alb_deletion_protection,
            vpc_id=network.vpc_id,
            public_subnet_ids=network.public_subnet_ids,
            alb_security_group_id=security.alb_sg_id,
            log_bucket_name=log_bucket.bucket_name,
            log_bucket_policy=log_bucket.policy,
            secrets_kms_key_arn=cfg.data.kms_key_arn,
            backend_tls=cfg.backend_tls,
            origin_rotation=origin_rotation,
        ),
    )

    # [compute]
    instance_identity = IdentityComponent(
        "ollama-identity",
        IdentityArgs(
            ctx=ctx,
            data_kms_key_arn=cfg.data.kms_key_arn,
            data_key_name=ctx.names.data_key if cfg.creates_data_key else None,
            oidc_client_secret_arn=cfg.auth.client_secret_arn if cfg.oidc else None,
        ),
    )
    # [edge:cdn]
    cdn = CdnComponent(
        "ollama-edge-cdn",
        CdnArgs(
            ctx=ctx,
            config=cfg.edge,
            waf_enabled=cfg.waf_enabled,
            https_origin=alb.https,
            alb_dns_name=alb.alb_dns_name,
            origin_header_name=alb.origin_header_name,
            origin_header_value=alb.origin_header_value,
            origin_header_generation=origin_rotation.current,
            origin_rule=alb.web_forward_rule,
            log_bucket_domain_name=log_bucket.bucket_domain_name,
            cloudfront_logging=log_bucket.cloudfront_logging,
            log_delivery_ready=log_bucket.cloudfront_log_delivery_ready,
            waf_log_retention_days=cfg.observability.log_retention_days,
        ),
    )

    # [auth] single sign-on (auth.mode oidc): its settings exist before any instance boots
    sso = (
        SingleSignOnComponent(
            "ollama-auth",
            SingleSignOnArgs(
                ctx=ctx,
                config=cfg.auth,
                public_url=cdn.url,
                deletion_protection=cfg.deletion_protection,
                secrets_kms_key_arn=cfg.data.kms_key_arn,
            ),
        )
        if cfg.oidc
        else None
    )
    compute = ComputeComponent(
        "ollama-compute",
        ComputeArgs(
            ctx=ctx,
            compute=cfg.compute,
            ollama=cfg.ollama,
            webui=cfg.webui,
            private_subnet_ids=network.private_subnet_ids,
            app_security_group_id=security.app_sg_id,
            instance_profile_arn=instance_identity.instance_profile_arn,
            target_group_arns=alb.target_group_arns,
            alert_topic_arn=telemetry.alert_topic_arn,
            alb_arn_suffix=alb.alb_arn_suffix,
            target_group_arn_suffix=alb.webui_target_group_arn_suffix,
            oidc=cfg.oidc,
            shared_database=cfg.data.database_enabled,
            backend_tls=cfg.backend_tls,
            deployed=deployed,
            depends_on=[
                *instance_identity.grants,
                *([sso.parameter] if sso else []),
                *([data.app_login_rotation] if data.app_login_rotation else []),
            ],
        ),
    )

    # [backup]
    backup = (
        BackupComponent(
            "ollama-backup",
            BackupArgs(ctx=ctx, config=cfg.backup, resource_arns=data.backup_arns()),
        )
        if cfg.backup.enabled
        else None
    )

    # [monitoring]
    target_groups = {"webui": alb.webui_target_group_arn_suffix}
    if cfg.ollama_api.enabled:
        target_groups["api"] = alb.api_target_group_arn_suffix
    monitoring = MonitoringComponent(
        "ollama-monitoring",
        MonitoringArgs(
            ctx=ctx,
            config=cfg.observability,
            alert_topic_arn=telemetry.alert_topic_arn,
            us_east_1=cdn.us_east_1,
            asg_name=compute.asg_name,
            alb_arn_suffix=alb.alb_arn_suffix,
            target_group_arn_suffixes=target_groups,
            table_name=data.table_name,
            storage_bucket_name=data.storage_bucket_name,
            storage_metrics_filter_id=REQUEST_METRICS_FILTER,
            distribution_id=cdn.distribution_id,
            database_identifier=data.database.identifier if data.database else None,
            gpu_enabled=cfg.compute.gpu_enabled,
            budget_limit_usd=budget_limit(cfg),
        ),
    )

    outputs: dict[str, Any] = {
        "ollama_environment": cfg.env,
        "ollama_region": cfg.region,
        "ollama_vpc_id": network.vpc_id,
        "ollama_public_subnet_ids": network.public_subnet_ids,
        "ollama_private_subnet_ids": network.private_subnet_ids,
        "ollama_alb_security_group_id": security.alb_sg_id,
        "ollama_app_security_group_id": security.app_sg_id,
        **data.stack_outputs(),
        "ollama_url": cdn.url,
        "ollama_cloudfront_distribution_id": cdn.distribution_id,
        "ollama_alb_dns_name": alb.alb_dns_name,
        "ollama_api_endpoint": (
            f"https://{cfg.edge.origin_domain_name}:{cfg.ollama_api.port}"
            if cfg.ollama_api.enabled
            else pulumi.Output.concat(cdn.url, "/ollama")
        ),
        "ollama_log_bucket_name": log_bucket.bucket_name,
        "ollama_asg_name": compute.asg_name,
        "ollama_launch_template_id": compute.launch_template_id,
        "ollama_instance_role_arn": instance_identity.role_arn,
        "ollama_alerts_topic_arn": telemetry.alert_topic_arn,
        "ollama_billing_alerts_topic_arn": monitoring.billing_topic_arn,
        "ollama_dashboard_url": monitoring.dashboard_url,
        "ollama_app_log_group": telemetry.app_log_group_name,
        "ollama_service_log_group": telemetry.service_log_group_name,
        "ollama_bootstrap_log_group": telemetry.bootstrap_log_group_name,
        "ollama_cloudwatch_agent_parameter": telemetry.agent_config_parameter_name,
    }
    if backup is not None:
        outputs["ollama_backup_vault_name"] = backup.vault_name
    if sso is not None:
        outputs["ollama_oidc_issuer_url"] = sso.issuer_url
        if sso.user_pool is not None:
            outputs["ollama_user_pool_id"] = sso.user_pool.id
    return outputs


def run() -> dict[str, Any]:
    """Entry point of the Pulumi program: validate config, build, export."""
    cfg = config_from_pulumi()
    for found in config_warnings(cfg):  # the offline plan and `pulumi preview` both show them
        pulumi.log.warn(found.render())
    outputs = build(cfg)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
