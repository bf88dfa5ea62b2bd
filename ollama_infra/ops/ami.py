"""``ollama-ops ami cleanup``: keep the newest N baked ``ollama-`` AMIs, delete the rest.

Only AMIs owned by this account whose name starts with the prefix are considered. AMIs
that running instances or the stack's launch templates still use are kept whatever
their age. Without ``--apply`` this is a dry run that lists what would go. With it,
every deregistration and snapshot deletion is first checked with an EC2 ``DryRun``
call, so a missing permission stops the command before anything is deleted; then each
AMI is deregistered and its EBS snapshots deleted (AWS refuses to delete a snapshot
while its AMI is registered).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from botocore.exceptions import ClientError

from ollama_infra.ops import aws
from ollama_infra.ops.common import (
    EXIT_OK,
    EXIT_USAGE,
    OpsError,
    add_command,
    add_region,
    add_stack,
    add_yes,
    confirm,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "ami", "manage the baked AMIs", __doc__)
    asub = p.add_subparsers(dest="ami_command", metavar="ACTION", required=True)
    c = asub.add_parser("cleanup", help="keep the newest N ollama- AMIs, deregister the rest")
    add_stack(c, required=False)
    add_region(c)
    add_yes(c)
    c.add_argument("--keep", type=int, default=3, help="how many of the newest AMIs to keep")
    c.add_argument("--prefix", default="ollama-", help="AMI name prefix (default ollama-)")
    c.add_argument("--apply", action="store_true", help="really delete (default: dry run)")
    c.add_argument("--json", action="store_true", help="print the plan as JSON")
    c.set_defaults(func=run_cleanup)


def images_in_use(ec2: Any) -> set[str]:
    """AMI ids used by non-terminated instances or by any launch template's latest version."""
    used: set[str] = set()
    for reservation in aws.paginate(
        ec2,
        "describe_instances",
        "Reservations",
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]}],
    ):
        used.update(i["ImageId"] for i in reservation["Instances"])
    for version in _latest_template_versions(ec2):
        image = version.get("LaunchTemplateData", {}).get("ImageId")
        if image:
            used.add(image)
    return used


def _latest_template_versions(ec2: Any) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = []
    for template in aws.paginate(ec2, "describe_launch_templates", "LaunchTemplates"):
        versions.extend(
            ec2.describe_launch_template_versions(
                LaunchTemplateId=template["LaunchTemplateId"], Versions=["$Latest"]
            )["LaunchTemplateVersions"]
        )
    return versions


def plan_cleanup(ec2: Any, prefix: str, keep: int) -> dict[str, Any]:
    images = ec2.describe_images(
        Owners=["self"], Filters=[{"Name": "name", "Values": [f"{prefix}*"]}]
    )["Images"]
    images = sorted(images, key=lambda i: (i["CreationDate"], i["ImageId"]), reverse=True)
    in_use = images_in_use(ec2)
    kept = images[:keep]
    delete = []
    for image in images[keep:]:
        if image["ImageId"] in in_use:
            kept.append(image)
            continue
        snapshots = [
            m["Ebs"]["SnapshotId"]
            for m in image.get("BlockDeviceMappings", [])
            if m.get("Ebs", {}).get("SnapshotId")
        ]
        delete.append({"image": image["ImageId"], "name": image["Name"], "snapshots": snapshots})
    return {
        "keep": [{"image": i["ImageId"], "name": i["Name"]} for i in kept],
        "delete": delete,
        "in_use": sorted(in_use & {i["ImageId"] for i in images}),
    }


def _preflight(ec2: Any, plan: dict[str, Any]) -> None:
    """Check every deletion with DryRun=True; raise before any change if one is not allowed."""
    for item in plan["delete"]:
        checks: list[tuple[str, dict[str, str]]] = [
            ("deregister_image", {"ImageId": item["image"]})
        ]
        checks += [("delete_snapshot", {"SnapshotId": s}) for s in item["snapshots"]]
        for method, params in checks:
            try:
                getattr(ec2, method)(DryRun=True, **params)
            except ClientError as exc:
                if aws.error_code(exc) == "DryRunOperation":
                    continue
                if aws.error_code(exc) == "InvalidSnapshot.InUse":
                    continue  # expected until its AMI is deregistered
                what = next(iter(params.values()))
                raise aws.to_ops_error(exc, f"{method} {what} (dry run)") from exc


def run_cleanup(args: argparse.Namespace) -> int:
    if args.keep < 1:
        raise OpsError(
            f"--keep {args.keep}: at least 1 AMI must be kept",
            "pass --keep 1 or more (the newest AMI is what the next deploy uses)",
            EXIT_USAGE,
        )
    if not args.prefix.startswith("ollama-"):
        raise OpsError(
            f"--prefix {args.prefix!r} must start with 'ollama-'",
            "this command only manages the project's own AMIs",
            EXIT_USAGE,
        )
    if not args.region and not args.stack:
        raise OpsError("--region or --stack is required", "pass --region us-east-1", EXIT_USAGE)
    region = aws.stack_region(args.stack or "", args.region)  # validates --region too
    ec2 = aws.client("ec2", region)
    with aws.aws_errors("listing AMIs"):
        plan = plan_cleanup(ec2, args.prefix, args.keep)
    if args.json:
        print(json.dumps({"region": region, "apply": args.apply, **plan}, indent=2))
    else:
        for item in plan["keep"]:
            print(f"  keep    {item['image']}  {item['name']}")
        for item in plan["delete"]:
            snaps = ", ".join(item["snapshots"]) or "no snapshots"
            print(f"  delete  {item['image']}  {item['name']}  ({snaps})")
    if not plan["delete"]:
        print("nothing to delete")
        return EXIT_OK
    if not args.apply:
        print(f"dry run: {len(plan['delete'])} AMI(s) would be deleted; add --apply to delete")
        return EXIT_OK
    _preflight(ec2, plan)
    confirm(f"Deregister {len(plan['delete'])} AMI(s) and delete their snapshots?", yes=args.yes)
    for item in plan["delete"]:
        with aws.aws_errors(f"deleting AMI {item['image']}"):
            ec2.deregister_image(ImageId=item["image"])
            for snapshot in item["snapshots"]:
                ec2.delete_snapshot(SnapshotId=snapshot)
        print(f"deleted {item['image']} and {len(item['snapshots'])} snapshot(s)")
    return EXIT_OK
