"""Network invariants, checked on every stack and shown to catch a broken plan."""

from __future__ import annotations

import ipaddress

import pytest
from harness import STACKS, config_for, evaluated, replace_record

from ollama_infra.offline.evaluate import Evaluation

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOC = "aws:ec2/routeTableAssociation:RouteTableAssociation"


def network_violations(ev: Evaluation) -> list[str]:
    """Everything wrong with the network of a plan; empty when the invariants hold."""
    out: list[str] = []
    vpcs = ev.of_type("aws:ec2/vpc:Vpc")
    if len(vpcs) != 1:
        return [f"expected one VPC, found {len(vpcs)}"]
    vpc = vpcs[0]
    vpc_net = ipaddress.ip_network(vpc.inputs["cidrBlock"])
    subnets = ev.of_type(SUBNET)
    by_id = {s.id: s for s in subnets}
    for tier in ("public", "private"):
        tier_subnets = [s for s in subnets if s.inputs["tags"]["Tier"] == tier]
        azs = [s.inputs["availabilityZone"] for s in tier_subnets]
        if len(set(azs)) != len(azs):
            out.append(f"{tier} subnets share an AZ: {azs}")
        if not 2 <= len(azs) <= 3:
            out.append(f"{tier} subnets span {len(azs)} AZs")
    nets = [(s.name, ipaddress.ip_network(s.inputs["cidrBlock"])) for s in subnets]
    for name, net in nets:
        if not net.subnet_of(vpc_net):  # type: ignore[arg-type]
            out.append(f"{name} {net} is outside the VPC {vpc_net}")
    for i, (name, net) in enumerate(nets):
        for other, other_net in nets[i + 1 :]:
            if net.overlaps(other_net):
                out.append(f"{name} overlaps {other}")
    tables = {t.id: t for t in ev.of_type(ROUTE_TABLE)}
    for assoc in ev.of_type(ASSOC):
        subnet = by_id[assoc.inputs["subnetId"]]
        routes = tables[assoc.inputs["routeTableId"]].inputs.get("routes", [])
        default = [r for r in routes if r.get("cidrBlock") == "0.0.0.0/0"]
        tier = subnet.inputs["tags"]["Tier"]
        if tier == "private":
            if subnet.inputs.get("mapPublicIpOnLaunch"):
                out.append(f"private subnet {subnet.name} maps public IPs")
            if not default or any("gatewayId" in r for r in default):
                out.append(f"private subnet {subnet.name} does not route to a NAT gateway")
            if default and not all(r.get("natGatewayId", "").startswith("nat-") for r in default):
                out.append(f"private subnet {subnet.name} default route is not a NAT gateway")
        elif not default or not default[0].get("gatewayId", "").startswith("igw-"):
            out.append(f"public subnet {subnet.name} has no internet gateway route")
    associated = {a.inputs["subnetId"] for a in ev.of_type(ASSOC)}
    for s in subnets:
        if s.id not in associated:
            out.append(f"{s.name} has no route table association")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_network_invariants_hold(stack: str) -> None:
    assert network_violations(evaluated(stack)) == []


def test_public_ip_on_a_private_subnet_is_caught() -> None:
    ev = evaluated("dev")
    broken = replace_record(ev, "ollama-network-private-us-east-1a", mapPublicIpOnLaunch=True)
    assert any("maps public IPs" in v for v in network_violations(broken))


def test_subnet_outside_the_vpc_is_caught() -> None:
    ev = evaluated("dev")
    broken = replace_record(ev, "ollama-network-public-us-east-1b", cidrBlock="192.168.0.0/24")
    assert any("outside the VPC" in v for v in network_violations(broken))


def test_private_route_to_internet_gateway_is_caught() -> None:
    ev = evaluated("dev")
    rt = ev.named("ollama-network-private-rt-us-east-1a")
    broken = replace_record(
        ev, rt.name, routes=[{"cidrBlock": "0.0.0.0/0", "gatewayId": "igw-0123456789abcdef0"}]
    )
    assert any("does not route to a NAT" in v for v in network_violations(broken))


@pytest.mark.parametrize("stack", STACKS)
def test_nat_gateways_follow_the_mode(stack: str) -> None:
    cfg = config_for(stack)
    nats = evaluated(stack).of_type("aws:ec2/natGateway:NatGateway")
    expected = cfg.network.az_count if cfg.network.nat_gateway_mode == "per_az" else 1
    assert len(nats) == expected
    assert (stack == "production") == (cfg.network.nat_gateway_mode == "per_az")


@pytest.mark.parametrize("stack", STACKS)
def test_endpoints_and_flow_logs(stack: str) -> None:
    cfg = config_for(stack)
    ev = evaluated(stack)
    endpoints = ev.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    gateway = {
        e.inputs["serviceName"].rsplit(".", 1)[1]
        for e in endpoints
        if e.inputs["vpcEndpointType"] == "Gateway"
    }
    interface = {
        e.inputs["serviceName"].rsplit(".", 1)[1]
        for e in endpoints
        if e.inputs["vpcEndpointType"] == "Interface"
    }
    assert gateway == {"s3", "dynamodb"}
    assert interface == set(cfg.network.interface_endpoints)
    for e in endpoints:
        if e.inputs["vpcEndpointType"] == "Interface":
            assert e.inputs["privateDnsEnabled"] is True
    (flow,) = ev.of_type("aws:ec2/flowLog:FlowLog")
    (vpc,) = ev.of_type("aws:ec2/vpc:Vpc")
    assert flow.inputs["vpcId"] == vpc.id
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    group = next(
        g
        for g in ev.of_type("aws:cloudwatch/logGroup:LogGroup")
        if g.state["arn"] == flow.inputs["logDestination"]
    )
    assert group.inputs["retentionInDays"] == cfg.observability.log_retention_days
