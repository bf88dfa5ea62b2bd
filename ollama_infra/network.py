"""VPC, subnets keyed by AZ, NAT, gateway and interface endpoints, and flow logs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ollama_infra.builders import service_role
from ollama_infra.config import NetworkConfig
from ollama_infra.context import StackContext

SERVICE = "network"


@dataclass(frozen=True)
class NetworkArgs:
    ctx: StackContext
    """The stack: names and tags of the VPC, subnets, gateways and flow logs."""
    config: NetworkConfig
    """CIDRs, AZ count, NAT mode and endpoints (ollama:network)."""
    availability_zones: list[str]
    """The AZs to use (az_count of the region's available ones)."""
    log_retention_days: int
    """Retention of the flow-log group (observability.log_retention_days)."""
    log_kms_key_arn: str | None = None
    """Optional key of the flow-log group (observability.log_kms_key_arn)."""


class NetworkComponent(pulumi.ComponentResource):
    """One VPC per stack: public subnets for the ALB and NAT, private ones for everything else."""

    vpc: aws.ec2.Vpc
    public_subnets: dict[str, aws.ec2.Subnet]
    private_subnets: dict[str, aws.ec2.Subnet]
    private_route_tables: dict[str, aws.ec2.RouteTable]
    nat_gateways: dict[str, aws.ec2.NatGateway]

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:network:Network", name, None, opts)
        self._name = name
        self._args = args
        ctx, cfg = args.ctx, args.config
        child = pulumi.ResourceOptions(parent=self)
        public_cidrs, private_cidrs = cfg.subnet_plan()

        vpc_name = ctx.name("vpc")
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(cfg.vpc_cidr),
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=ctx.tags(SERVICE, vpc_name),
            opts=child,
        )
        # AWS creates a default SG that allows all traffic between its members; take
        # ownership of it and leave it without rules so nothing can use it by accident.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=self.vpc.id,
            tags=ctx.tags(SERVICE, ctx.name("default-sg")),
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw",
            vpc_id=self.vpc.id,
            tags=ctx.tags(SERVICE, ctx.name("igw")),
            opts=child,
        )

        self.public_subnets = {}
        self.private_subnets = {}
        for az, pub_cidr, priv_cidr in zip(
            args.availability_zones, public_cidrs, private_cidrs, strict=True
        ):
            self.public_subnets[az] = self._subnet("public", az, pub_cidr)
            self.private_subnets[az] = self._subnet("private", az, priv_cidr)

        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags=ctx.tags(SERVICE, ctx.name("public-rt")),
            opts=child,
        )
        for az, subnet in self.public_subnets.items():
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{az}",
                subnet_id=subnet.id,
                route_table_id=public_rt.id,
                opts=child,
            )

        # NAT: one per AZ (production) or a single shared one in the first AZ.
        nat_azs = (
            list(self.public_subnets)
            if cfg.nat_gateway_mode == "per_az"
            else [args.availability_zones[0]]
        )
        self.nat_gateways = {}
        for az in nat_azs:
            eip = aws.ec2.Eip(
                f"{name}-nat-eip-{az}",
                domain="vpc",
                tags=ctx.tags(SERVICE, ctx.name(f"nat-eip-{az}")),
                opts=child,
            )
            self.nat_gateways[az] = aws.ec2.NatGateway(
                f"{name}-nat-{az}",
                allocation_id=eip.id,
                subnet_id=self.public_subnets[az].id,
                tags=ctx.tags(SERVICE, ctx.name(f"nat-{az}")),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )

        self.private_route_tables = {}
        for az, subnet in self.private_subnets.items():
            nat = self.nat_gateways.get(az) or self.nat_gateways[nat_azs[0]]
            rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{az}",
                vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}],
                tags=ctx.tags(SERVICE, ctx.name(f"private-rt-{az}")),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{az}", subnet_id=subnet.id, route_table_id=rt.id, opts=child
            )
            self.private_route_tables[az] = rt

        self._gateway_endpoints(public_rt)
        self._interface_endpoints()
        self.flow_log_group = self._flow_logs()

        self.vpc_id = self.vpc.id
        self.public_subnet_ids = [s.id for s in self.public_subnets.values()]
        self.private_subnet_ids = [s.id for s in self.private_subnets.values()]
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _subnet(self, tier: str, az: str, cidr: str) -> aws.ec2.Subnet:
        ctx = self._args.ctx
        return aws.ec2.Subnet(
            f"{self._name}-{tier}-{az}",
            vpc_id=self.vpc.id,
            cidr_block=cidr,
            availability_zone=az,
            # Only the public tier hands out public IPs; the ALB and NAT live there.
            map_public_ip_on_launch=False,
            tags={**ctx.tags(SERVICE, ctx.name(f"{tier}-{az}")), "Tier": tier},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _gateway_endpoints(self, public_rt: aws.ec2.RouteTable) -> None:
        route_tables = [rt.id for rt in self.private_route_tables.values()] + [public_rt.id]
        for service in ("s3", "dynamodb"):
            self._endpoint(service, "Gateway", route_table_ids=route_tables)

    def _interface_endpoints(self) -> None:
        ctx, cfg = self._args.ctx, self._args.config
        if not cfg.interface_endpoints:
            return
        child = pulumi.ResourceOptions(parent=self)
        sg_name = ctx.name("endpoints-sg")
        endpoint_sg = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg",
            name_prefix=f"{sg_name}-",  # replacement strategy: ollama_infra/lifecycle.py
            description="Interface VPC endpoints: HTTPS from inside the VPC only",
            vpc_id=self.vpc.id,
            tags=ctx.tags(SERVICE, sg_name),
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-endpoints-https-in",
            security_group_id=endpoint_sg.id,
            description="HTTPS to AWS APIs from resources in this VPC",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4=str(cfg.vpc_cidr),
            tags=ctx.tags(SERVICE),
            opts=child,
        )
        for service in cfg.interface_endpoints:
            self._endpoint(
                service,
                "Interface",
                private_dns_enabled=True,
                subnet_ids=[s.id for s in self.private_subnets.values()],
                security_group_ids=[endpoint_sg.id],
            )

    def _endpoint(self, service: str, kind: str, **placement: Any) -> None:
        """VPC endpoint ``ollama-<service>-endpoint-<env>`` for an AWS service of the region."""
        ctx = self._args.ctx
        aws.ec2.VpcEndpoint(
            f"{self._name}-{service}-endpoint",
            vpc_id=self.vpc.id,
            service_name=f"com.amazonaws.{ctx.region}.{service}",
            vpc_endpoint_type=kind,
            tags=ctx.tags(SERVICE, ctx.name(f"{service}-endpoint")),
            opts=pulumi.ResourceOptions(parent=self),
            **placement,
        )

    def _flow_logs(self) -> aws.cloudwatch.LogGroup:
        args = self._args
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        group = aws.cloudwatch.LogGroup(
            f"{self._name}-flow-logs",
            name=ctx.names.flow_log_group,
            retention_in_days=args.log_retention_days,
            kms_key_id=args.log_kms_key_arn,
            tags=ctx.tags(SERVICE),
            opts=child,
        )
        role = service_role(
            f"{self._name}-flow-logs-role",
            ctx=ctx,
            service=SERVICE,
            role="flow-logs-role",
            principal="vpc-flow-logs.amazonaws.com",
            description="Lets VPC Flow Logs deliver to its own log group",
            parent=self,
        )
        aws.iam.RolePolicy(
            f"{self._name}-flow-logs-policy",
            role=role.id,
            # Only this log group and its streams; flow logs need nothing else.
            policy=group.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "WriteFlowLogs",
                                "Effect": "Allow",
                                "Action": [
                                    "logs:CreateLogStream",
                                    "logs:PutLogEvents",
                                    "logs:DescribeLogStreams",
                                ],
                                "Resource": [arn, f"{arn}:*"],
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{self._name}-flow-log",
            vpc_id=self.vpc.id,
            traffic_type=args.config.flow_logs_traffic_type,
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags=ctx.tags(SERVICE, ctx.name("flow-log")),
            opts=child,
        )
        return group
