"""Price rules: what each resource type of the plan costs, from its own recorded inputs.

Every type token the program declares is either priced by a rule in ``RULES`` or listed in
``NO_CHARGE`` with the reason it adds nothing to the bill. A type in neither is reported as
"unclassified" (not priced), and tests/test_cost.py fails on it, so a new billable
resource cannot slip into a plan unpriced. A rule that lacks a price (not in the price file
for that region, or a rate no source gave) returns a line marked not priced, never zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ollama_infra.config import CostConfig
from ollama_infra.cost.prices import MissingPrice, PriceBook
from ollama_infra.cost.schedule import HOURS_PER_MONTH, monthly_hours_by_capacity
from ollama_infra.offline.evaluate import ResourceRecord


@dataclass
class Line:
    """One line of the estimate: a resource's charge for one billing dimension."""

    component: str
    name: str
    type: str
    item: str
    quantity: float
    unit: str
    unit_price: float | None
    region: str
    price_key: str | None = None
    note: str = ""
    scale: dict[str, float] | None = None
    unclassified: bool = False

    @classmethod
    def of(cls, record: ResourceRecord, region: str, item: str, **rest: Any) -> Line:
        """A line of ``record`` (its component, logical name and type), in ``region``."""
        return cls(component(record), record.name, record.type, item, region=region, **rest)

    @property
    def priced(self) -> bool:
        return self.unit_price is not None

    @property
    def monthly(self) -> float | None:
        return None if self.unit_price is None else round(self.quantity * self.unit_price, 2)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "component": self.component,
            "name": self.name,
            "type": self.type,
            "item": self.item,
            "quantity": round(self.quantity, 4),
            "unit": self.unit,
            "unit_price": self.unit_price,
            "monthly": self.monthly,
            "region": self.region,
            "priced": self.priced,
        }
        if self.price_key:
            doc["price_key"] = self.price_key
        if self.note:
            doc["note"] = self.note
        if self.scale is not None:
            doc["scale"] = {k: round(v, 2) for k, v in self.scale.items()}
        if self.unclassified:
            doc["unclassified"] = True
        return doc


@dataclass
class Context:
    """What a rule may read besides its own record."""

    region: str
    book: PriceBook
    usage: CostConfig
    records: list[ResourceRecord]
    provider_regions: dict[str, str] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[ResourceRecord]:
        return [r for r in self.records if r.type == type_token]

    def region_of(self, record: ResourceRecord) -> str:
        """The region a resource lives in: its explicit provider's, else the stack's."""
        if record.provider:
            name = record.provider.rsplit("::", 2)[-2] if "::" in record.provider else ""
            return self.provider_regions.get(name, self.region)
        return self.region

    def line(
        self,
        record: ResourceRecord,
        item: str,
        key: str,
        quantity: float,
        note: str = "",
        scale: dict[str, float] | None = None,
        region: str | None = None,
    ) -> Line:
        """A line priced at ``key`` in the record's region (not priced when the file has none)."""
        region = region or self.region_of(record)
        found = self.book.price(key, region)
        if isinstance(found, MissingPrice):
            unit = self.book.catalog.get(key, {}).get("unit", "")
            reason = f"not priced: the price file has no {key} price for {region}"
            return Line.of(
                record,
                region,
                item,
                quantity=quantity,
                unit=unit,
                unit_price=None,
                price_key=key,
                note="; ".join(x for x in (note, reason) if x),
            )
        scaled = None if scale is None else {k: v * found.usd for k, v in scale.items()}
        return Line.of(
            record,
            region,
            item,
            quantity=quantity,
            unit=found.unit,
            unit_price=found.usd,
            price_key=key,
            note=note,
            scale=scaled,
        )

    def free(
        self, record: ResourceRecord, item: str, quantity: float, unit: str, note: str
    ) -> Line:
        """A line that costs nothing, with the reason shown (a free tier, never a silent zero)."""
        return Line.of(
            record,
            self.region_of(record),
            item,
            quantity=quantity,
            unit=unit,
            unit_price=0.0,
            note=note,
        )

    def unpriced(self, record: ResourceRecord, item: str, reason: str) -> Line:
        return Line.of(
            record,
            self.region_of(record),
            item,
            quantity=1,
            unit="resource",
            unit_price=None,
            note=f"not priced: {reason}",
        )


def component(record: ResourceRecord) -> str:
    """The component a logical name belongs to: ``ollama-<component>-...``."""
    parts = record.name.split("-")
    return parts[1] if len(parts) > 2 and parts[0] == "ollama" else "other"


def _num(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) else default


Rule = Callable[[ResourceRecord, Context], list[Line]]


def _launch_template(asg: ResourceRecord, ctx: Context) -> ResourceRecord | None:
    templates = ctx.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    spec = asg.inputs.get("launchTemplate") or (
        ((asg.inputs.get("mixedInstancesPolicy") or {}).get("launchTemplate") or {}).get(
            "launchTemplateSpecification"
        )
        or {}
    )
    wanted = spec.get("id") or spec.get("launchTemplateId")
    for lt in templates:
        if lt.id == wanted:
            return lt
    return templates[0] if len(templates) == 1 else None


def _instance_hours(asg: ResourceRecord, ctx: Context) -> tuple[float, str]:
    """Instance-hours per month at the desired capacity, following the scheduled actions."""
    desired = _num(asg.inputs.get("desiredCapacity"))
    actions = [
        (str(s.inputs.get("recurrence", "")), int(_num(s.inputs.get("desiredCapacity"))))
        for s in ctx.of_type("aws:autoscaling/schedule:Schedule")
    ]
    if not actions:
        return desired * HOURS_PER_MONTH, f"{desired:g} x {HOURS_PER_MONTH:g} h (always on)"
    by_capacity = monthly_hours_by_capacity(actions)
    if by_capacity is None:
        return (
            desired * HOURS_PER_MONTH,
            f"{desired:g} x {HOURS_PER_MONTH:g} h: the schedule's crons could not be read, "
            "so always-on is assumed",
        )
    hours = sum(capacity * h for capacity, h in by_capacity.items())
    parts = ", ".join(f"{c} instance(s) for {h:.1f} h" for c, h in sorted(by_capacity.items()))
    return hours, f"scheduled: {parts} a month"


def asg_rule(asg: ResourceRecord, ctx: Context) -> list[Line]:
    lt = _launch_template(asg, ctx)
    if lt is None:
        return [ctx.unpriced(asg, "instances", "its launch template is not in the plan")]
    instance_type = str(lt.inputs.get("instanceType", ""))
    hours, how = _instance_hours(asg, ctx)
    sizes = {k: _num(asg.inputs.get(f"{k}{s}")) for k, s in (("min", "Size"), ("max", "Size"))}
    sizes["desired"] = hours / HOURS_PER_MONTH
    scale = {k: n * HOURS_PER_MONTH for k, n in sizes.items()}
    scale["min"] = min(scale["min"], hours)  # a schedule may go below min_size (to zero)
    policy = asg.inputs.get("mixedInstancesPolicy") or {}
    distribution = policy.get("instancesDistribution") or {}
    factor, spot_note = 1.0, ""
    if policy and _num(distribution.get("onDemandPercentageAboveBaseCapacity"), 100) < 100:
        factor = 1 - ctx.usage.spot_discount_percent / 100
        spot_note = (
            f"; Spot: assumed {ctx.usage.spot_discount_percent:g} % below on-demand "
            "(cost.spot_discount_percent)"
        )
    instances = ctx.line(
        asg,
        "instances",
        f"ec2.instance.{instance_type}",
        hours * factor,
        how + spot_note,
        {k: v * factor for k, v in scale.items()},
    )
    instances.unit = "instance-hour"
    lines = [instances]
    for mapping in lt.inputs.get("blockDeviceMappings") or []:
        ebs = mapping.get("ebs") or {}
        size, kind = _num(ebs.get("volumeSize")), str(ebs.get("volumeType", "gp3"))
        volume = ctx.line(
            asg,
            f"volume {mapping.get('deviceName', '')}",
            f"ebs.{kind}",
            size * hours / HOURS_PER_MONTH,
            f"{size:g} GiB per instance; exists while its instance runs",
            {k: size * v / HOURS_PER_MONTH for k, v in scale.items()},
        )
        lines.append(volume)
    return lines


def nat_rule(nat: ResourceRecord, ctx: Context) -> list[Line]:
    count = len(ctx.of_type(nat.type))
    share = ctx.usage.nat_processed_gb / count
    return [
        ctx.line(nat, "NAT gateway hours", "vpc.nat_gateway", HOURS_PER_MONTH),
        ctx.line(
            nat,
            "data processed",
            "vpc.nat_data",
            share,
            f"cost.nat_processed_gb {ctx.usage.nat_processed_gb:g} GB shared by {count} gateway(s)",
        ),
    ]


def eip_rule(eip: ResourceRecord, ctx: Context) -> list[Line]:
    return [ctx.line(eip, "public IPv4 address", "vpc.public_ipv4", HOURS_PER_MONTH)]


def endpoint_rule(endpoint: ResourceRecord, ctx: Context) -> list[Line]:
    if endpoint.inputs.get("vpcEndpointType") != "Interface":
        return [ctx.free(endpoint, "gateway endpoint", 1, "endpoint", "gateway endpoints are free")]
    interface = [
        r for r in ctx.of_type(endpoint.type) if r.inputs.get("vpcEndpointType") == "Interface"
    ]
    azs = len(endpoint.inputs.get("subnetIds") or []) or 1
    share = ctx.usage.endpoint_processed_gb / len(interface)
    return [
        ctx.line(
            endpoint,
            "endpoint hours",
            "vpc.interface_endpoint",
            azs * HOURS_PER_MONTH,
            f"{azs} AZ(s)",
        ),
        ctx.line(
            endpoint,
            "data processed",
            "vpc.interface_endpoint_data",
            share,
            f"cost.endpoint_processed_gb shared by {len(interface)} endpoint(s)",
        ),
    ]


def alb_rule(lb: ResourceRecord, ctx: Context) -> list[Line]:
    return [
        ctx.line(lb, "load balancer hours", "elb.alb", HOURS_PER_MONTH),
        ctx.line(
            lb,
            "capacity units",
            "elb.alb_lcu",
            ctx.usage.alb_lcu * HOURS_PER_MONTH,
            f"cost.alb_lcu {ctx.usage.alb_lcu:g} LCU on average",
        ),
    ]


# CloudFront's always-free allowance (account-wide, every month).
CLOUDFRONT_FREE_GB = 1024.0
CLOUDFRONT_FREE_REQUESTS_MILLIONS = 10.0


def cloudfront_rule(cdn: ResourceRecord, ctx: Context) -> list[Line]:
    out_gb = max(0.0, ctx.usage.data_out_gb - CLOUDFRONT_FREE_GB)
    requests = max(0.0, ctx.usage.requests_millions - CLOUDFRONT_FREE_REQUESTS_MILLIONS)
    return [
        ctx.line(
            cdn,
            "data out to viewers",
            "cloudfront.data_out",
            out_gb,
            f"cost.data_out_gb {ctx.usage.data_out_gb:g} GB less the "
            f"{CLOUDFRONT_FREE_GB:g} GB free",
        ),
        ctx.line(
            cdn,
            "HTTPS requests",
            "cloudfront.https_requests",
            requests * 100,
            f"cost.requests_millions {ctx.usage.requests_millions:g} M less the "
            f"{CLOUDFRONT_FREE_REQUESTS_MILLIONS:g} M free",
        ),
    ]


def cf_function_rule(fn: ResourceRecord, ctx: Context) -> list[Line]:
    return [
        ctx.line(
            fn,
            "invocations (every viewer request)",
            "cloudfront.function",
            ctx.usage.requests_millions,
        )
    ]


def waf_rule(acl: ResourceRecord, ctx: Context) -> list[Line]:
    rules = len(acl.inputs.get("rules") or [])
    return [
        ctx.line(acl, "web ACL", "waf.web_acl", 1),
        ctx.line(acl, "rules and rule groups", "waf.rule", rules),
        ctx.line(
            acl,
            "requests inspected",
            "waf.requests",
            ctx.usage.requests_millions,
            "cost.requests_millions",
        ),
    ]


def rds_rule(db: ResourceRecord, ctx: Context) -> list[Line]:
    copies = 2 if db.inputs.get("multiAz") else 1
    how = "Multi-AZ: primary and standby" if copies == 2 else "single-AZ"
    storage = _num(db.inputs.get("allocatedStorage"))
    kind = str(db.inputs.get("storageType", "gp3"))
    lines = [
        ctx.line(
            db,
            "database instance",
            f"rds.{db.inputs.get('engine')}.{db.inputs.get('instanceClass')}",
            copies * HOURS_PER_MONTH,
            how,
        ),
        ctx.line(
            db,
            "database storage",
            f"rds.{kind}",
            copies * storage,
            f"{storage:g} GiB, {how}; autoscaling may grow it up to max_allocated_storage",
        ),
    ]
    if db.inputs.get("performanceInsightsEnabled"):
        days = _num(db.inputs.get("performanceInsightsRetentionPeriod"), 7)
        if days <= 7:
            lines.append(
                ctx.free(
                    db,
                    "Performance Insights (7-day retention)",
                    1,
                    "month",
                    "the 7-day retention tier is free",
                )
            )
        else:
            lines.append(
                ctx.unpriced(
                    db,
                    f"Performance Insights ({days:g}-day retention)",
                    "longer retention is priced per vCPU; no rate in the file",
                )
            )
    return lines


def cache_rule(group: ResourceRecord, ctx: Context) -> list[Line]:
    nodes = _num(group.inputs.get("numCacheClusters"), 1)
    node_type = group.inputs.get("nodeType")
    return [
        ctx.line(
            group,
            "cache nodes",
            f"elasticache.{group.inputs.get('engine')}.{node_type}",
            nodes * HOURS_PER_MONTH,
            f"{nodes:g} node(s)",
        )
    ]


def table_rule(table: ResourceRecord, ctx: Context) -> list[Line]:
    u = ctx.usage
    if table.inputs.get("billingMode") != "PAY_PER_REQUEST":
        return [ctx.unpriced(table, "provisioned capacity", "only on-demand tables are priced")]
    lines = [
        ctx.line(table, "storage", "dynamodb.storage", u.table_gb, "cost.table_gb"),
        ctx.line(
            table, "reads", "dynamodb.read", u.table_reads_millions, "cost.table_reads_millions"
        ),
        ctx.line(
            table, "writes", "dynamodb.write", u.table_writes_millions, "cost.table_writes_millions"
        ),
    ]
    if (table.inputs.get("pointInTimeRecovery") or {}).get("enabled"):
        lines.append(
            ctx.line(table, "point-in-time recovery", "dynamodb.pitr", u.table_gb, "cost.table_gb")
        )
    return lines


def bucket_rule(bucket: ResourceRecord, ctx: Context) -> list[Line]:
    name = str(bucket.inputs.get("bucket") or bucket.inputs.get("bucketPrefix") or "")
    if "-logs-" in name or name.endswith("-logs"):
        gb, why = ctx.usage.access_log_gb, "cost.access_log_gb"
    else:
        gb, why = ctx.usage.storage_gb, "cost.storage_gb"
    return [ctx.line(bucket, "Standard storage", "s3.standard", gb, why)]


def replication_rule(config: ResourceRecord, ctx: Context) -> list[Line]:
    return [
        ctx.line(
            config,
            "cross-region replication transfer",
            "s3.replication_transfer",
            ctx.usage.replication_gb,
            "cost.replication_gb",
        )
    ]


def alarm_rule(alarm: ResourceRecord, ctx: Context) -> list[Line]:
    return [ctx.line(alarm, "alarm", "cloudwatch.alarm", 1)]


def dashboard_rule(dashboard: ResourceRecord, ctx: Context) -> list[Line]:
    return [ctx.line(dashboard, "dashboard", "cloudwatch.dashboard", 1)]


def metric_filter_rule(mf: ResourceRecord, ctx: Context) -> list[Line]:
    return [ctx.line(mf, "custom metric from a log filter", "cloudwatch.metric", 1)]


def log_group_rule(group: ResourceRecord, ctx: Context) -> list[Line]:
    count = len(ctx.of_type(group.type))
    ingest = ctx.usage.log_ingest_gb / count
    retention = _num(group.inputs.get("retentionInDays"))
    months = retention / 30 if retention else 12.0
    kept = "" if retention else "; never expires: a year of logs assumed"
    return [
        ctx.line(
            group,
            "ingestion",
            "cloudwatch.logs_ingest",
            ingest,
            f"cost.log_ingest_gb {ctx.usage.log_ingest_gb:g} GB shared by {count} group(s)",
        ),
        ctx.line(
            group,
            "storage",
            "cloudwatch.logs_storage",
            ingest * months,
            f"{retention:g}-day retention: {months:.1f} months of ingestion kept{kept}",
        ),
    ]


def secret_rule(secret: ResourceRecord, ctx: Context) -> list[Line]:
    return [ctx.line(secret, "secret", "secretsmanager.secret", 1)]


def key_rule(key: ResourceRecord, ctx: Context) -> list[Line]:
    return [
        ctx.line(
            key,
            "customer managed key",
            "kms.key",
            1,
            "rotation adds $1/month per rotated key version after each yearly rotation",
        )
    ]


def backup_plan_rule(plan: ResourceRecord, ctx: Context) -> list[Line]:
    u = ctx.usage
    lines = [ctx.line(plan, "recovery points (warm)", "backup.warm", u.backup_gb, "cost.backup_gb")]
    copies = {
        str(c.get("destinationVaultArn", "")).split(":")[3]
        for rule in plan.inputs.get("rules") or []
        for c in rule.get("copyActions") or []
        if str(c.get("destinationVaultArn", "")).count(":") >= 3
    }
    for region in sorted(copies):
        lines.append(
            ctx.line(
                plan,
                f"copies to {region}: transfer",
                "backup.copy_transfer",
                u.backup_copy_gb,
                "cost.backup_copy_gb",
            )
        )
        lines.append(
            ctx.line(
                plan,
                f"copies to {region}: storage",
                "backup.warm",
                u.backup_gb,
                "cost.backup_gb kept in the copy vault too",
                region=region,
            )
        )
    return lines


def parameter_rule(param: ResourceRecord, ctx: Context) -> list[Line]:
    if param.inputs.get("tier", "Standard") == "Standard":
        return [
            ctx.free(
                param,
                "standard parameter",
                1,
                "parameter",
                "standard-tier parameters have no storage charge",
            )
        ]
    return [ctx.unpriced(param, f"{param.inputs.get('tier')} parameter", "no rate in the file")]


def not_estimated(reason: str) -> Rule:
    """A billable type whose rate no source gave: listed, not priced, with the reason."""

    def rule(record: ResourceRecord, ctx: Context) -> list[Line]:
        return [ctx.unpriced(record, record.type.rsplit(":", 1)[-1], reason)]

    return rule


RULES: dict[str, Rule] = {
    "aws:autoscaling/group:Group": asg_rule,
    "aws:ec2/natGateway:NatGateway": nat_rule,
    "aws:ec2/eip:Eip": eip_rule,
    "aws:ec2/vpcEndpoint:VpcEndpoint": endpoint_rule,
    "aws:lb/loadBalancer:LoadBalancer": alb_rule,
    "aws:cloudfront/distribution:Distribution": cloudfront_rule,
    "aws:cloudfront/function:Function": cf_function_rule,
    "aws:cloudfront/monitoringSubscription:MonitoringSubscription": not_estimated(
        "additional CloudFront metrics are billed per metric; no rate in the price file"
    ),
    "aws:wafv2/webAcl:WebAcl": waf_rule,
    "aws:rds/instance:Instance": rds_rule,
    "aws:elasticache/replicationGroup:ReplicationGroup": cache_rule,
    "aws:dynamodb/table:Table": table_rule,
    "aws:s3/bucket:Bucket": bucket_rule,
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": replication_rule,
    "aws:s3/bucketMetric:BucketMetric": not_estimated(
        "S3 request metrics are billed as CloudWatch metrics per filter; no rate in the file"
    ),
    "aws:cloudwatch/metricAlarm:MetricAlarm": alarm_rule,
    "aws:cloudwatch/dashboard:Dashboard": dashboard_rule,
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": metric_filter_rule,
    "aws:cloudwatch/logGroup:LogGroup": log_group_rule,
    "aws:secretsmanager/secret:Secret": secret_rule,
    "aws:kms/key:Key": key_rule,
    "aws:backup/plan:Plan": backup_plan_rule,
    "aws:ssm/parameter:Parameter": parameter_rule,
    "aws:sns/topic:Topic": not_estimated(
        "billed per notification delivered; alarm e-mail volumes are not estimated"
    ),
    # Amazon Cognito developer guide, "User pool feature plans" and "Monitoring and managing
    # costs" (2026-12): new pools get the Essentials plan, billed per monthly active user.
    "aws:cognito/userPool:UserPool": not_estimated(
        "billed per monthly active user (Essentials plan by default, with a free allowance); "
        "sign-in volumes are not estimated"
    ),
}

# Types that add nothing to the bill by themselves, and why.
NO_CHARGE: dict[str, str] = {
    "pulumi:providers:aws": "a provider configuration, not a cloud resource",
    "random:index/randomPassword:RandomPassword": "generated locally by Pulumi",
    "aws:autoscaling/policy:Policy": "scaling policies have no charge",
    "aws:budgets/budget:Budget": (
        "the first two budgets of a payer account are free; each further one costs 0.02 USD "
        "a day (AWS Billing user guide, managing costs with budgets), under 1 USD a month"
    ),
    "aws:autoscaling/schedule:Schedule": "no charge; its crons set the instance hours",
    "aws:ec2/launchTemplate:LaunchTemplate": "priced through the Auto Scaling group's instances",
    "aws:ec2/vpc:Vpc": "no charge for the VPC itself",
    "aws:ec2/subnet:Subnet": "no charge",
    "aws:ec2/routeTable:RouteTable": "no charge",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "no charge",
    "aws:ec2/internetGateway:InternetGateway": "no charge (data transfer is on CloudFront)",
    "aws:ec2/securityGroup:SecurityGroup": "no charge",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "no charge",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "no charge",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "no charge",
    "aws:ec2/keyPair:KeyPair": "no charge",
    "aws:ec2/flowLog:FlowLog": "billed as ingestion into its log group (the log group's line)",
    "aws:iam/role:Role": "IAM has no charge",
    "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration": (
        "billed as ingestion into its log group (the log group's line)"
    ),
    "aws:rds/parameterGroup:ParameterGroup": "database configuration, no charge",
    "aws:iam/rolePolicy:RolePolicy": "IAM has no charge",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "IAM has no charge",
    "aws:iam/instanceProfile:InstanceProfile": "IAM has no charge",
    "aws:iam/policy:Policy": "IAM has no charge",
    "aws:lb/listener:Listener": "included in the load balancer's hours and LCUs",
    "aws:lb/listenerRule:ListenerRule": "included in the load balancer's LCUs",
    "aws:lb/targetGroup:TargetGroup": "included in the load balancer's hours and LCUs",
    "aws:s3/bucketAcl:BucketAcl": "configuration of a bucket priced on its own line",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "bucket configuration",
    "aws:s3/bucketLogging:BucketLogging": "bucket configuration (the logs are the log bucket's)",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "bucket configuration",
    "aws:s3/bucketPolicy:BucketPolicy": "bucket configuration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "bucket configuration",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket configuration"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "bucket configuration (versions are storage)",
    "aws:secretsmanager/secretVersion:SecretVersion": "included in the secret's monthly price",
    # Cognito bills a pool's active users, and app clients only for client-credentials
    # (machine-to-machine) grants, which this authorization-code client does not use
    # (developer guide "Monitoring and managing costs", 2026-12).
    "aws:cognito/userPoolClient:UserPoolClient": "no charge: an authorization-code client",
    "aws:cognito/userPoolDomain:UserPoolDomain": "no charge; sign-ins are the pool's line",
    "aws:cognito/userGroup:UserGroup": "no charge; part of the pool",
    "aws:sns/topicPolicy:TopicPolicy": "configuration of a topic",
    "aws:sns/topicSubscription:TopicSubscription": "deliveries are the topic's line",
    "aws:rds/subnetGroup:SubnetGroup": "no charge",
    "aws:elasticache/subnetGroup:SubnetGroup": "no charge",
    "aws:backup/vault:Vault": "no charge; recovery points are the backup plan's lines",
    "aws:backup/selection:Selection": "no charge; recovery points are the backup plan's lines",
    # The database login rotation: four invocations of a 128 MB function per rotation (every
    # data.secret_rotation_days), seconds each: inside Lambda's monthly free requests and
    # compute, and a fraction of a cent without them (AWS Lambda pricing, 2026-12).
    "aws:lambda/function:Function": "four short invocations per rotation: under 0.01 USD",
    "aws:lambda/permission:Permission": "a function's resource policy, no charge",
    "aws:secretsmanager/secretRotation:SecretRotation": (
        "rotation configuration; the secret and the function have their own lines"
    ),
}
