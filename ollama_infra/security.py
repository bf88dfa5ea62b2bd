"""Security groups: the ALB's, the instances', and private services reachable only from the app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ollama_infra.config import ComputeConfig, OllamaApiConfig
from ollama_infra.context import StackContext

SERVICE = "security"
OPEN_WEBUI_PORT = 8080
OLLAMA_PORT = 11434
# With edge.backend_tls the instance's TLS proxy listens here and forwards to the plain
# ports on the instance itself; the app group then admits only these from the ALB.
OPEN_WEBUI_TLS_PORT = 8443
OLLAMA_TLS_PORT = 11443


def backend_ports(tls: bool) -> dict[str, int]:
    """The instance port the ALB reaches each service on: ``webui`` and ``ollama``."""
    if tls:
        return {"webui": OPEN_WEBUI_TLS_PORT, "ollama": OLLAMA_TLS_PORT}
    return {"webui": OPEN_WEBUI_PORT, "ollama": OLLAMA_PORT}


# CloudFront's origin-facing managed prefix list. It weighs about 55 entries against the
# security-group rule quota (60 by default), so the ALB SG references it for one port only.
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
# The private service whose login a rotation function changes (it gets its own group).
ROTATION_CLIENT = "db"


@dataclass(frozen=True)
class PrivateService:
    """A service inside the VPC (database, cache) that only the app instances may reach."""

    port: int
    what: str
    """Its name in descriptions, e.g. PostgreSQL."""


@dataclass(frozen=True)
class SecurityArgs:
    ctx: StackContext
    """The stack: names and tags of the groups and rules."""
    vpc_id: pulumi.Input[str]
    """The stack's VPC; every group lives in it."""
    vpc_cidr: str
    """The app may reach private services and endpoints anywhere in it."""
    https_origin: bool
    """True when the ALB has a certificate: CloudFront then reaches it on 443, else on 80."""
    compute: ComputeConfig
    """SSH settings: admin CIDRs get port 22 on the app group when SSH is enabled."""
    ollama_api: OllamaApiConfig
    """The API listener's port and client CIDRs on the ALB group."""
    private_services: Mapping[str, PrivateService] = field(default_factory=dict)
    """Role (``db``, ``cache``) -> service; each gets ``ollama-<role>-sg-<env>``."""
    backend_tls: bool = False
    """edge.backend_tls: the ALB reaches the instances' TLS proxy ports, not the plain ones."""


class SecurityComponent(pulumi.ComponentResource):
    """``ollama-alb-sg-<env>`` and ``ollama-app-sg-<env>``; every rule carries a description."""

    alb_sg: aws.ec2.SecurityGroup
    app_sg: aws.ec2.SecurityGroup

    def __init__(
        self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ollama:security:Security", name, None, opts)
        self._name = name
        self._args = args
        self._private_sgs: dict[str, aws.ec2.SecurityGroup] = {}

        self.alb_sg = self._group("alb-sg", "Ollama ALB: HTTPS from CloudFront only")
        self.app_sg = self._group("app-sg", "Ollama instances: Open WebUI and Ollama from the ALB")

        prefix_list = aws.ec2.get_managed_prefix_list(name=CLOUDFRONT_PREFIX_LIST)
        origin_port = 443 if args.https_origin else 80
        self._ingress(
            "alb-from-cloudfront",
            self.alb_sg,
            origin_port,
            "CloudFront origin-facing servers to the ALB listener",
            prefix_list_id=prefix_list.id,
        )
        if args.ollama_api.enabled:
            for cidr in map(str, args.ollama_api.allowed_cidrs):
                self._ingress(
                    f"alb-api-{cidr.replace('/', '-').replace('.', '-')}",
                    self.alb_sg,
                    args.ollama_api.port,
                    f"Ollama API listener (shared-secret header required) from {cidr}",
                    cidr_ipv4=cidr,
                )
        ports, plain = backend_ports(args.backend_tls), backend_ports(False)
        over = " over TLS" if args.backend_tls else ""
        for role, what in (("webui", "Open WebUI"), ("ollama", "Ollama API")):
            port, old = ports[role], plain[role]
            # Switching to TLS changes the rules' ports in place; the aliases keep their URNs.
            self._egress(
                f"alb-to-app-{port}",
                self.alb_sg,
                port,
                f"ALB to {what}{over} on the instances",
                alias=f"alb-to-app-{old}" if port != old else None,
                referenced_security_group_id=self.app_sg.id,
            )
            self._ingress(
                f"app-from-alb-{port}",
                self.app_sg,
                port,
                f"{what}{over} from the ALB only",
                alias=f"app-from-alb-{old}" if port != old else None,
                referenced_security_group_id=self.alb_sg.id,
            )
        if args.compute.ssh_enabled:
            for cidr in map(str, args.compute.ssh_admin_cidrs):
                self._ingress(
                    f"app-ssh-{cidr.replace('/', '-').replace('.', '-')}",
                    self.app_sg,
                    22,
                    f"SSH (key only) from admin network {cidr}",
                    cidr_ipv4=cidr,
                )
        for port, what in ((443, "HTTPS"), (80, "HTTP")):
            self._egress(
                f"app-out-{port}",
                self.app_sg,
                port,
                f"{what} through NAT: OS packages, Ollama models, container images, AWS APIs",
                cidr_ipv4="0.0.0.0/0",
            )
        self._egress(
            "app-out-vpc",
            self.app_sg,
            None,
            "Private services inside the VPC (database, cache, endpoints)",
            cidr_ipv4=args.vpc_cidr,
        )

        self.private_sg_ids = {
            role: self._private_service_group(role, service)
            for role, service in args.private_services.items()
        }
        self.rotation_sg_id: pulumi.Output[str] | None = None
        if ROTATION_CLIENT in args.private_services:
            self.rotation_sg_id = self._rotation_group(args.private_services[ROTATION_CLIENT])

        self.alb_sg_id = self.alb_sg.id
        self.app_sg_id = self.app_sg.id
        self.register_outputs(
            {"alb_sg_id": self.alb_sg_id, "app_sg_id": self.app_sg_id, **self.private_sg_ids}
        )

    def _private_service_group(self, role: str, service: PrivateService) -> pulumi.Output[str]:
        what = service.what
        sg = self._group(f"{role}-sg", f"Ollama {what}: reachable from the app instances only")
        self._private_sgs[role] = sg
        self._ingress(
            f"{role}-from-app",
            sg,
            service.port,
            f"{what} from the Ollama app instances",
            referenced_security_group_id=self.app_sg.id,
        )
        return sg.id

    def _rotation_group(self, service: PrivateService) -> pulumi.Output[str]:
        """``ollama-db-rotation-sg-<env>``: the database's rotation function, which signs in
        with the master login and calls Secrets Manager, and nothing else."""
        sg = self._group("db-rotation-sg", "Ollama database login rotation function")
        self._egress(
            "db-rotation-to-db",
            sg,
            service.port,
            f"{service.what}: the rotation function sets the application login's password",
            referenced_security_group_id=self._private_sgs[ROTATION_CLIENT].id,
        )
        self._egress(
            "db-rotation-out-443",
            sg,
            443,
            "Secrets Manager API (VPC endpoint or NAT)",
            cidr_ipv4="0.0.0.0/0",
        )
        self._ingress(
            f"{ROTATION_CLIENT}-from-rotation",
            self._private_sgs[ROTATION_CLIENT],
            service.port,
            f"{service.what} from the database login rotation function",
            referenced_security_group_id=sg.id,
        )
        return sg.id

    def _group(self, role: str, description: str) -> aws.ec2.SecurityGroup:
        ctx = self._args.ctx
        sg_name = ctx.name(role)
        return aws.ec2.SecurityGroup(
            f"{self._name}-{role}",
            name_prefix=f"{sg_name}-",  # replacement strategy: ollama_infra/lifecycle.py
            description=description,
            vpc_id=self._args.vpc_id,
            tags=ctx.tags(SERVICE, sg_name),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _opts(self, alias: str | None) -> pulumi.ResourceOptions:
        """Child options; ``alias`` is the rule's former role, whose URN it keeps."""
        aliases = [pulumi.Alias(name=f"{self._name}-{alias}")] if alias else None
        return pulumi.ResourceOptions(parent=self, aliases=aliases)

    def _ingress(
        self,
        rule: str,
        sg: aws.ec2.SecurityGroup,
        port: int,
        description: str,
        alias: str | None = None,
        **source: object,
    ) -> None:
        aws.vpc.SecurityGroupIngressRule(  # type: ignore[call-overload]
            f"{self._name}-{rule}",
            security_group_id=sg.id,
            description=description,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            tags=self._args.ctx.tags(SERVICE),
            opts=self._opts(alias),
            **source,
        )

    def _egress(
        self,
        rule: str,
        sg: aws.ec2.SecurityGroup,
        port: int | None,
        description: str,
        alias: str | None = None,
        **destination: object,
    ) -> None:
        ports = {"from_port": port, "to_port": port} if port else {"from_port": 0, "to_port": 65535}
        aws.vpc.SecurityGroupEgressRule(  # type: ignore[call-overload]
            f"{self._name}-{rule}",
            security_group_id=sg.id,
            description=description,
            ip_protocol="tcp",
            tags=self._args.ctx.tags(SERVICE),
            opts=self._opts(alias),
            **ports,
            **destination,
        )
