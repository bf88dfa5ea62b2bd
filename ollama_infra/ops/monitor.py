"""``ollama-ops monitor``: what the Auto Scaling group, the ALB and Ollama are doing.

  scaling  group capacity, instances (lifecycle and health), recent scaling activities
           and target health
  metrics  CPU, memory, requests, response time, 5xx and alarm states
  ollama   every metric the stack publishes in its Ollama/<env> namespace (inference
           latency, model load time, ...) plus ALB 503s and target response time

The view refreshes every ``--interval`` seconds for ``--duration`` seconds (``--once``
for a single sample). ``--json`` prints one JSON document per refresh (JSON lines).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ollama_infra.ops import aws, devenv, envs, health
from ollama_infra.ops.common import EXIT_OK, EXIT_USAGE, OpsError, add_command, add_region

_sleep: Callable[[float], None] = time.sleep
_clock: Callable[[], float] = time.monotonic


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "monitor", "watch scaling, metrics and Ollama behaviour of a stack", __doc__
    )
    msub = p.add_subparsers(dest="monitor_command", metavar="VIEW", required=True)
    for view, text, collect in (
        ("scaling", "capacity, instances, scaling activities, target health", collect_scaling),
        ("metrics", "CPU, memory, requests, latency, 5xx and alarms", collect_metrics),
        ("ollama", "Ollama latency, model load time and 503s", collect_ollama),
    ):
        v = msub.add_parser(view, help=text)
        envs.add_stack_args(v)
        add_region(v)
        v.add_argument("--once", action="store_true", help="take one sample and exit")
        v.add_argument(
            "--duration", type=float, default=300.0, help="seconds to keep refreshing (default 300)"
        )
        v.add_argument(
            "--interval", type=float, default=15.0, help="seconds between refreshes (default 15)"
        )
        v.add_argument(
            "--minutes", type=int, default=15, help="metric window in minutes (default 15)"
        )
        v.add_argument("--json", action="store_true", help="print JSON (one document per sample)")
        v.set_defaults(func=run, collect=collect)


# --- collectors ----------------------------------------------------------------------------


def collect_scaling(target: aws.Target, minutes: int) -> dict[str, Any]:
    group = devenv.describe_group(target)
    name = target.names.asg
    with aws.aws_errors(f"describing {name}"):
        activities = target.client("autoscaling").describe_scaling_activities(
            AutoScalingGroupName=name, MaxRecords=10
        )["Activities"]
    targets = health.targets_healthy(target)
    return {
        "group": name,
        "capacity": devenv.capacity(group),
        "instances": [
            {
                "id": i["InstanceId"],
                "az": i["AvailabilityZone"],
                "lifecycle": i["LifecycleState"],
                "health": i["HealthStatus"],
            }
            for i in group.get("Instances", [])
        ],
        "activities": [
            {
                "start": str(a.get("StartTime")),
                "status": a.get("StatusCode"),
                "description": a.get("Description"),
            }
            for a in activities
        ],
        "targets": targets.data.get("targets", {}),
    }


def _alb_dimension(target: aws.Target) -> str | None:
    """The ALB's CloudWatch dimension value (app/<name>/<id>), None if it does not exist."""
    elb = target.client("elbv2")
    try:
        lbs = elb.describe_load_balancers(Names=[target.names.alb])["LoadBalancers"]
    except elb.exceptions.LoadBalancerNotFoundException:
        return None
    return str(lbs[0]["LoadBalancerArn"].split(":loadbalancer/", 1)[1]) if lbs else None


def metric_values(
    target: aws.Target, queries: dict[str, tuple[str, str, dict[str, str], str]], minutes: int
) -> dict[str, float | None]:
    """Latest value of each query ((namespace, metric, dimensions, stat)) in the window."""
    if not queries:
        return {}
    end = datetime.now(UTC)
    request = [
        {
            "Id": f"m{i}",
            "Label": key,
            "MetricStat": {
                "Metric": {
                    "Namespace": ns,
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                },
                "Period": 60,
                "Stat": stat,
            },
        }
        for i, (key, (ns, metric, dims, stat)) in enumerate(queries.items())
    ]
    ids = {f"m{i}": key for i, key in enumerate(queries)}
    out: dict[str, float | None] = dict.fromkeys(queries)
    cw = target.client("cloudwatch")
    with aws.aws_errors("reading CloudWatch metrics"):
        for page in cw.get_paginator("get_metric_data").paginate(
            MetricDataQueries=request,
            StartTime=end - timedelta(minutes=minutes),
            EndTime=end,
            ScanBy="TimestampDescending",
        ):
            for result in page["MetricDataResults"]:
                if result["Values"] and out[ids[result["Id"]]] is None:
                    out[ids[result["Id"]]] = round(float(result["Values"][0]), 3)
    return out


def collect_metrics(target: aws.Target, minutes: int) -> dict[str, Any]:
    asg = {"AutoScalingGroupName": target.names.asg}
    queries: dict[str, tuple[str, str, dict[str, str], str]] = {
        "cpu_percent": ("AWS/EC2", "CPUUtilization", asg, "Average"),
        # The CloudWatch agent publishes into the stack's namespace (cwagent.py).
        "memory_percent": (target.names.metric_namespace, "mem_used_percent", asg, "Average"),
    }
    with aws.aws_errors("describing the load balancer"):
        alb = _alb_dimension(target)
    if alb:
        lb = {"LoadBalancer": alb}
        queries.update(
            requests=("AWS/ApplicationELB", "RequestCount", lb, "Sum"),
            response_time_s=("AWS/ApplicationELB", "TargetResponseTime", lb, "Average"),
            target_5xx=("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, "Sum"),
        )
    alarms = health.stack_alarms(target)
    return {
        "window_minutes": minutes,
        "metrics": metric_values(target, queries, minutes),
        "alarms": {a["AlarmName"]: a["StateValue"] for a in alarms},
    }


def collect_ollama(target: aws.Target, minutes: int) -> dict[str, Any]:
    namespace = target.names.metric_namespace
    cw = target.client("cloudwatch")
    with aws.aws_errors(f"listing metrics in {namespace}"):
        metrics = aws.paginate(cw, "list_metrics", "Metrics", Namespace=namespace)
        alb = _alb_dimension(target)
    queries: dict[str, tuple[str, str, dict[str, str], str]] = {}
    for m in sorted(metrics, key=lambda m: m["MetricName"]):
        dims = {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}
        suffix = "".join(f",{k}={v}" for k, v in sorted(dims.items()))
        queries[f"{m['MetricName']}{suffix}"] = (namespace, m["MetricName"], dims, "Average")
    if alb:
        lb = {"LoadBalancer": alb}
        queries["alb_503"] = ("AWS/ApplicationELB", "HTTPCode_ELB_503_Count", lb, "Sum")
        queries["target_5xx"] = ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, "Sum")
        queries["response_time_s"] = ("AWS/ApplicationELB", "TargetResponseTime", lb, "Average")
    return {
        "namespace": namespace,
        "window_minutes": minutes,
        "metrics": metric_values(target, queries, minutes),
    }


# --- rendering -----------------------------------------------------------------------------


def render_text(view: str, stack: str, doc: dict[str, Any]) -> str:
    stamp = datetime.now(UTC).strftime("%H:%M:%S UTC")
    lines = [f"ollama-ops monitor {view}  stack={stack}  {stamp}", ""]
    if "capacity" in doc:
        c = doc["capacity"]
        lines.append(f"{doc['group']}: min {c['min']}  desired {c['desired']}  max {c['max']}")
        lines.append(f"{'INSTANCE':<22}{'AZ':<14}{'LIFECYCLE':<16}{'HEALTH':<10}TARGET")
        for i in doc["instances"]:
            state = doc["targets"].get(i["id"], "-")
            lines.append(f"{i['id']:<22}{i['az']:<14}{i['lifecycle']:<16}{i['health']:<10}{state}")
        lines.append("")
        lines.append("recent scaling activities:")
        for a in doc["activities"] or [{"start": "-", "status": "none", "description": ""}]:
            lines.append(f"  {a['start']}  {a['status']}  {a['description']}")
    if "metrics" in doc:
        lines.append(f"{'METRIC':<48}LATEST ({doc['window_minutes']} min window)")
        for key, value in doc["metrics"].items():
            lines.append(f"{key:<48}{'no data' if value is None else value}")
    if "alarms" in doc:
        lines.append("")
        lines.append("alarms:")
        for name, state in sorted(doc["alarms"].items()):
            lines.append(f"  {state:<18}{name}")
    return "\n".join(lines)


def validate(args: argparse.Namespace) -> None:
    if not args.once and not 1 <= args.duration <= 86400:
        raise OpsError(
            f"--duration {args.duration}: must be 1-86400 seconds",
            "pass --duration 300, or --once",
            EXIT_USAGE,
        )
    if not 1 <= args.interval <= 3600:
        raise OpsError(
            f"--interval {args.interval}: must be 1-3600 seconds", "pass --interval 15", EXIT_USAGE
        )
    if not 1 <= args.minutes <= 1440:
        raise OpsError(f"--minutes {args.minutes}: must be 1-1440", "pass --minutes 15", EXIT_USAGE)


def run(args: argparse.Namespace) -> int:
    validate(args)
    envs.guard(args)
    target = aws.resolve_target(args.stack, args.region)
    view = args.monitor_command
    live = sys.stdout.isatty() and not args.json and not args.once
    end = _clock() + (0 if args.once else args.duration)
    while True:
        doc = {"view": view, "stack": args.stack, **args.collect(target, args.minutes)}
        if args.json:
            print(json.dumps(doc, sort_keys=True, default=str), flush=True)
        else:
            if live:
                sys.stdout.write("\033[2J\033[H")
            print(render_text(view, args.stack, doc), flush=True)
        if args.once or _clock() + args.interval > end:
            return EXIT_OK
        _sleep(args.interval)
