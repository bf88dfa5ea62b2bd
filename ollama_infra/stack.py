"""The whole stack: typed config in, components built in dependency order, outputs out.

``__main__.py`` calls ``run()``; the offline plan and the tests call the same function
under Pulumi mocks, so what they check is what ``pulumi up`` would build.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from ollama_infra.config import StackConfig, config_from_pulumi
from ollama_infra.context import StackContext
from ollama_infra.network import NetworkArgs, NetworkComponent
from ollama_infra.security import SecurityArgs, SecurityComponent

# Every stack output, with what it is for. Output names are ollama_<snake_case>; the tests
# check that every exported output is listed here and documented in docs/outputs.md.
OUTPUT_DOCS: dict[str, str] = {
    "ollama_environment": "Environment name of the stack (dev, staging or production).",
    "ollama_region": "AWS region the stack is deployed in.",
    "ollama_vpc_id": "ID of the stack's VPC.",
    "ollama_public_subnet_ids": "Public subnet IDs (ALB, NAT), one per AZ.",
    "ollama_private_subnet_ids": "Private subnet IDs (instances, database, cache), one per AZ.",
    "ollama_alb_security_group_id": "Security group of the ALB (ollama-alb-sg-<env>).",
    "ollama_app_security_group_id": "Security group of the instances (ollama-app-sg-<env>).",
}


def build(cfg: StackConfig) -> dict[str, Any]:
    """Declare every resource of the stack and return its outputs (name -> value)."""
    identity = aws.get_caller_identity()
    partition = aws.get_partition().partition
    ctx = StackContext.from_config(cfg, account_id=identity.account_id, partition=partition)
    azs = list(aws.get_availability_zones(state="available").names[: cfg.network.az_count])
    if len(azs) < cfg.network.az_count:
        raise ValueError(
            f"ollama:network.az_count = {cfg.network.az_count}: region {cfg.region} offers only "
            f"{len(azs)} available AZs; lower az_count"
        )

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
    security = SecurityComponent(
        "ollama-security",
        SecurityArgs(
            ctx=ctx,
            vpc_id=network.vpc_id,
            vpc_cidr=cfg.network.vpc_cidr,
            https_origin=cfg.edge.certificate_arn is not None,
            compute=cfg.compute,
            ollama_api=cfg.ollama_api,
        ),
    )

    # Build order (each section may use the ones above it):
    # [edge:log-bucket]   the access-log bucket (ALB, S3 server access logs, CloudFront)
    # [data]              model catalog table, storage bucket, secrets, database, cache
    # [observability:pre] alerts topic, log groups, CloudWatch agent config in SSM
    # [edge:alb]          ALB, listeners, target groups
    # [compute]           instance role, launch template, ASG, scaling, CPU alarms
    # [edge:cdn]          CloudFront, WAF, public URL parameter
    # [backup]            AWS Backup vault, plan, selection
    # [observability:post] alarms, billing alarm, dashboard

    outputs: dict[str, Any] = {
        "ollama_environment": cfg.env,
        "ollama_region": cfg.region,
        "ollama_vpc_id": network.vpc_id,
        "ollama_public_subnet_ids": network.public_subnet_ids,
        "ollama_private_subnet_ids": network.private_subnet_ids,
        "ollama_alb_security_group_id": security.alb_sg_id,
        "ollama_app_security_group_id": security.app_sg_id,
    }
    return outputs


def run() -> dict[str, Any]:
    """Entry point of the Pulumi program: validate config, build, export."""
    cfg = config_from_pulumi()
    outputs = build(cfg)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs
