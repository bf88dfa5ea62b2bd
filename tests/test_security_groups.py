"""Security-group invariants.

No world ingress except the ALB on 80/443; the app is reachable from the ALB only.
"""

from __future__ import annotations

import pytest
from harness import STACKS, evaluated, is_world, override, replace_record, run_program, stack_values

from ollama_infra.offline.evaluate import Evaluation

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SG = "aws:ec2/securityGroup:SecurityGroup"


def sg_violations(ev: Evaluation) -> list[str]:
    out: list[str] = []
    groups = {g.id: g.inputs["tags"]["Name"] for g in ev.of_type(SG)}
    alb = next(i for i, n in groups.items() if n.startswith("ollama-alb-sg-"))
    app = next(i for i, n in groups.items() if n.startswith("ollama-app-sg-"))
    for g in ev.of_type(SG):
        if "ingress" in g.inputs or "egress" in g.inputs:
            out.append(f"{g.name} uses inline rules (use separate rule resources)")
    for rule in ev.of_type(INGRESS) + ev.of_type(EGRESS):
        if not rule.inputs.get("description"):
            out.append(f"{rule.name} has no description")
    for rule in ev.of_type(INGRESS):
        target = rule.inputs["securityGroupId"]
        world = is_world(rule.inputs.get("cidrIpv4")) or is_world(rule.inputs.get("cidrIpv6"))
        port = rule.inputs.get("fromPort"), rule.inputs.get("toPort")
        if world and not (target == alb and port in ((80, 80), (443, 443))):
            out.append(f"{rule.name} opens port {port} to the internet")
        if rule.inputs.get("ipProtocol") == "-1":
            out.append(f"{rule.name} allows all protocols")
        from_alb = rule.inputs.get("referencedSecurityGroupId") == alb
        if target == app and port != (22, 22) and not from_alb:
            out.append(f"{rule.name} lets something other than the ALB reach the app")
        if port == (22, 22) and world:
            out.append(f"{rule.name} allows SSH from the internet")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_security_group_invariants_hold(stack: str) -> None:
    assert sg_violations(evaluated(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_alb_accepts_cloudfront_on_one_port(stack: str) -> None:
    ev = evaluated(stack)
    alb = next(
        g.id for g in ev.of_type(SG) if g.inputs["tags"]["Name"].startswith("ollama-alb-sg-")
    )
    from_prefix = [
        r
        for r in ev.of_type(INGRESS)
        if r.inputs["securityGroupId"] == alb and r.inputs.get("prefixListId")
    ]
    # One port only: the CloudFront list counts ~55 rules against the SG quota of 60.
    assert len(from_prefix) == 1
    has_cert = stack != "dev"
    assert from_prefix[0].inputs["fromPort"] == (443 if has_cert else 80)


def test_world_ingress_to_the_app_is_caught() -> None:
    ev = evaluated("dev")
    rule = next(r for r in ev.of_type(INGRESS) if r.name.endswith("app-from-alb-11434"))
    broken = replace_record(ev, rule.name, cidrIpv4="0.0.0.0/0", referencedSecurityGroupId=None)
    problems = sg_violations(broken)
    assert any("opens port" in p for p in problems)
    assert any("other than the ALB" in p for p in problems)


def test_missing_description_is_caught() -> None:
    ev = evaluated("dev")
    rule = ev.of_type(EGRESS)[0]
    assert any(
        "no description" in p for p in sg_violations(replace_record(ev, rule.name, description=""))
    )


def test_ssh_rules_only_when_enabled_and_only_from_admin_cidrs() -> None:
    values = override(
        stack_values("dev"),
        "compute",
        ssh_enabled=True,
        ssh_admin_cidrs=["198.51.100.0/24"],
        ssh_public_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyOnlyForTests admin",
    )
    ev = run_program("dev", values)
    ssh = [r for r in ev.of_type(INGRESS) if r.inputs["fromPort"] == 22]
    assert [r.inputs["cidrIpv4"] for r in ssh] == ["198.51.100.0/24"]
    assert sg_violations(ev) == []
    assert not [r for r in evaluated("dev").of_type(INGRESS) if r.inputs["fromPort"] == 22]


def app_ports_from_alb(ev: Evaluation) -> set[int]:
    """Ports the app group accepts from the ALB group (and the ALB may send to the app)."""
    groups = {g.id: g.inputs["tags"]["Name"] for g in ev.of_type(SG)}
    app = next(i for i, n in groups.items() if n.startswith("ollama-app-sg-"))
    alb = next(i for i, n in groups.items() if n.startswith("ollama-alb-sg-"))
    ingress = {
        int(r.inputs["fromPort"])
        for r in ev.of_type(INGRESS)
        if r.inputs["securityGroupId"] == app and r.inputs.get("referencedSecurityGroupId") == alb
    }
    egress = {
        int(r.inputs["fromPort"])
        for r in ev.of_type(EGRESS)
        if r.inputs["securityGroupId"] == alb and r.inputs.get("referencedSecurityGroupId") == app
    }
    assert ingress == egress, (ingress, egress)
    return ingress


@pytest.mark.parametrize("stack", STACKS)
def test_the_alb_reaches_only_the_ports_its_target_groups_use(stack: str) -> None:
    """With backend TLS (production) the app group admits only the TLS proxy's ports, so
    Open WebUI and Ollama are not reachable in plain HTTP from the network at all."""
    ev = evaluated(stack)
    tg_ports = {int(r.inputs["port"]) for r in ev.of_type("aws:lb/targetGroup:TargetGroup")}
    assert app_ports_from_alb(ev) == tg_ports
    expected = {8443, 11443} if stack == "production" else {8080, 11434}
    assert tg_ports == expected


def test_switching_to_tls_keeps_the_rules_urns() -> None:
    """The production rules changed port in place; their aliases name the former rules."""
    ev = evaluated("production")
    rule = next(r for r in ev.of_type(INGRESS) if r.name.endswith("app-from-alb-8443"))
    assert any(a.endswith("::ollama-security-app-from-alb-8080") for a in rule.aliases)
    assert sg_violations(ev) == []
