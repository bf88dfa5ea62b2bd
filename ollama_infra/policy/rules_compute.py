"""Launch templates (the ASG's instances) and stand-alone instances."""

from __future__ import annotations

from typing import Any

from ollama_infra.policy.common import Report, as_list, flag, get, number, of_type, policy, truthy

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"
# Containers on the instance (Open WebUI) sit one network hop behind the host, so they need
# a hop limit of 2 to reach IMDSv2; 1 (checkov CKV_AWS_341) would cut them off.
MAX_HOP_LIMIT = 2


@policy(
    "launch-template-imdsv2",
    "Launch templates require IMDSv2 tokens with a hop limit of at most 2.",
    LAUNCH_TEMPLATE,
    INSTANCE,
    checkov=("CKV_AWS_79", "CKV_AWS_341"),
    trivy=("AVD-AWS-0130", "AVD-AWS-0028"),
)
def launch_template_imdsv2(args: Any, report: Report) -> None:
    options = args.props.get("metadataOptions")
    tokens = get(options, "httpTokens")
    if tokens != "required":
        flag(
            report,
            args,
            f"instance metadata allows IMDSv1 (http_tokens={tokens!r})",
            "set metadata_options={'http_tokens': 'required', 'http_endpoint': 'enabled', "
            "'http_put_response_hop_limit': 2}",
        )
    hops = number(get(options, "httpPutResponseHopLimit"))
    if hops is not None and hops > MAX_HOP_LIMIT:
        flag(
            report,
            args,
            f"metadata hop limit is {int(hops)}, so tokens reach beyond the instance",
            f"set http_put_response_hop_limit to {MAX_HOP_LIMIT} or less",
        )


@policy(
    "launch-template-encrypted-volumes",
    "Launch templates declare every EBS volume encrypted.",
    LAUNCH_TEMPLATE,
    checkov=("CKV_AWS_8 (instances only)",),
    trivy=("AVD-AWS-0131 (instances only)",),
)
def launch_template_encrypted_volumes(args: Any, report: Report) -> None:
    mappings = [m for m in as_list(args.props.get("blockDeviceMappings")) if get(m, "ebs")]
    if not mappings:
        flag(
            report,
            args,
            "no EBS block device mapping, so the root volume inherits the AMI's (unencrypted) "
            "snapshot setting",
            "declare the root volume in block_device_mappings with ebs.encrypted='true'",
        )
    for m in mappings:
        if not truthy(get(m, "ebs", "encrypted")):
            flag(
                report,
                args,
                f"volume {get(m, 'deviceName')!r} is not encrypted",
                "set block_device_mappings[].ebs.encrypted='true' (kms_key_id optional)",
            )


@policy(
    "launch-template-no-public-ip",
    "Launch templates and instances do not associate public IP addresses.",
    LAUNCH_TEMPLATE,
    INSTANCE,
    checkov=("CKV_AWS_88",),
    trivy=("AVD-AWS-0009 (launch configurations)",),
)
def launch_template_no_public_ip(args: Any, report: Report) -> None:
    if args.resource_type == INSTANCE and truthy(args.props.get("associatePublicIpAddress")):
        flag(report, args, "instance gets a public IP", "launch it in a private subnet")
    if args.resource_type != LAUNCH_TEMPLATE:
        return
    for i, nic in enumerate(as_list(args.props.get("networkInterfaces"))):
        if truthy(get(nic, "associatePublicIpAddress")):
            flag(
                report,
                args,
                f"network_interfaces[{i}] associates a public IP address",
                "set associate_public_ip_address='false'; instances live in private subnets "
                "behind the ALB and NAT",
            )


# ---------------------------------------------------------------------------- production guardrails

GROUP = "aws:autoscaling/group:Group"
BUDGET = "aws:budgets/budget:Budget"


def _production_groups(args: Any) -> list[Any]:
    return [r for r in of_type(args, GROUP) if str(r.props.get("name", "")).endswith("-production")]


@policy(
    "production-budget",
    "A production stack has a monthly cost budget with a forecast notification to SNS.",
    GROUP,
    BUDGET,
    stack=True,
)
def production_budget(args: Any, report: Report) -> None:
    for group in _production_groups(args):
        budgets = of_type(args, BUDGET)
        good = [
            b
            for b in budgets
            if number(b.props.get("limitAmount")) is not None
            and any(
                n.get("notificationType") == "FORECASTED"
                and as_list(n.get("subscriberSnsTopicArns"))
                for n in as_list(b.props.get("notifications"))
            )
        ]
        if not good:
            flag(
                report,
                group,
                "the production stack has no AWS Budgets budget with a limit and a forecast "
                "notification to the alerts topic",
                "keep the stack's budget (observability.budget_limit_usd, or the estimate) and "
                "its FORECASTED notification",
            )


def _release_change(prefs: dict[str, Any]) -> bool:
    """The refresh of a release change under a shared database (compute._refresh): every
    instance in one batch, terminated before any is launched, no checkpoints. It has no
    automatic rollback on purpose: that would start the old Open WebUI on the schema the
    new one migrated; the alarms still stop it."""
    return (
        number(prefs.get("minHealthyPercentage")) == 0
        and number(prefs.get("maxHealthyPercentage")) == 100
        and not as_list(prefs.get("checkpointPercentages"))
    )


@policy(
    "production-refresh-rollback",
    "Production instance refreshes roll back automatically on the stack's health alarms.",
    GROUP,
    stack=True,
)
def production_refresh_rollback(args: Any, report: Report) -> None:
    for group in _production_groups(args):
        prefs = get(group.props, "instanceRefresh", "preferences", default={}) or {}
        alarms = as_list(get(prefs, "alarmSpecification", "alarms", default=[]))
        if not alarms or not (truthy(prefs.get("autoRollback")) or _release_change(prefs)):
            flag(
                report,
                group,
                "its instance refresh does not roll back on the stack's health alarms",
                "set compute.refresh_auto_rollback: true (the alarms come from the program)",
            )
