"""How each kind of resource survives a replacement, and which ones Pulumi must never delete.

Pulumi replaces a resource create-before-delete by default. For a resource whose physical
name AWS requires to be unique, the create step then fails on the name the old resource
still holds, halfway through ``pulumi up``; for an API that overwrites by name (``Put...``),
the create succeeds and the delete step then removes what was just created. So every type
that carries a name gets one strategy here, with the reason:

- ``PREFIX``: the component sets ``name_prefix`` (``ollama-<role>-<env>-``); AWS appends a
  unique suffix, the old and new resource coexist, and the ``Name`` tag keeps the plain
  ``ollama-<role>-<env>``. Only where nothing looks the resource up by its exact name.
- ``DELETE_FIRST``: ``delete_before_replace``. Fixed names others rely on (the ops CLI, the
  boot script, IAM scopes, the agent config), APIs without a usable prefix, and every
  overwrite-by-name API. The cost is a gap between delete and create; where that gap is an
  outage or data loss, ``REPLACE_ON_CHANGES`` names the inputs that cause it and
  docs/runbooks/deployment.md says what it costs.
- ``RENAME_ONLY``: the provider forces a replacement only when the name itself changes, so a
  replacement never reuses the name and create-before-delete is right; deleting first would
  fail while the resource is in use (a subnet group under a database, a function or web ACL
  on the distribution).

Stateful resources (``STATEFUL``) are protected outside dev: ``pulumi up`` and
``pulumi destroy`` refuse to delete or replace them until someone runs
``pulumi state unprotect`` on purpose. Those whose loss a refactor could turn into lost data
are also retained on delete: Pulumi forgets them instead of deleting them.

``stack_transformation`` applies all of this to every resource the program declares, so no
component can forget it; ``ollama-ops plan`` shows the result under each resource's options.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pulumi


class Strategy(enum.Enum):
    PREFIX = "name_prefix"
    DELETE_FIRST = "delete_before_replace"
    RENAME_ONLY = "rename_only"


@dataclass(frozen=True)
class Replacement:
    strategy: Strategy
    reason: str


_PREFIX = Strategy.PREFIX
_DELETE = Strategy.DELETE_FIRST
_RENAME = Strategy.RENAME_ONLY
_OVERWRITES = "the API overwrites by name, so create-then-delete would delete the new one"

# Type token -> replacement strategy. Every type that carries a physical name is listed
# (tests/test_lifecycle.py fails on a named type missing here).
REPLACEMENT: dict[str, Replacement] = {
    # name_prefix where nothing depends on the exact name
    "aws:ec2/securityGroup:SecurityGroup": Replacement(
        _PREFIX, "unique per VPC; a changed description forces a replacement; referenced by id"
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": Replacement(
        _PREFIX, "unique per region; the ASG refers to it by id"
    ),
    "aws:iam/role:Role": Replacement(
        _PREFIX, "unique per account, path changes force a replacement; referenced by ARN"
    ),
    "aws:rds/parameterGroup:ParameterGroup": Replacement(
        _PREFIX,
        "a new family (major upgrade) forces a replacement; the database must switch to the new "
        "group before the old one can go; referenced by its generated name",
    ),
    "aws:iam/instanceProfile:InstanceProfile": Replacement(
        _PREFIX, "unique per account, path changes force a replacement; referenced by ARN"
    ),
    # fixed names that other parts of the system look up
    "aws:lb/loadBalancer:LoadBalancer": Replacement(
        _DELETE,
        "the ops CLI finds it by name and name_prefix allows 6 characters; a replacement is an "
        "outage and a new DNS name",
    ),
    "aws:lb/targetGroup:TargetGroup": Replacement(
        _DELETE,
        "`ollama-ops health` finds it by name and name_prefix allows 6 characters; port or "
        "protocol changes force a replacement, which fails while a listener rule still uses "
        "the group (pulumi-aws#4220), so the stack never changes them in place: "
        "edge.backend_tls switches to differently named groups, created before the old go",
    ),
    "aws:autoscaling/group:Group": Replacement(
        _DELETE, "the ops CLI, alarms and schedules use its name; a replacement is an outage"
    ),
    "aws:dynamodb/table:Table": Replacement(
        _DELETE,
        "instances and the ops CLI read it by name; no prefix exists; a key schema change "
        "means a new, empty table",
    ),
    "aws:s3/bucket:Bucket": Replacement(
        _DELETE,
        "globally unique; IAM, the boot config and replication use the name; AWS refuses to "
        "delete a non-empty bucket without force_destroy",
    ),
    "aws:rds/instance:Instance": Replacement(
        _DELETE, "unique per region; alarms, backups and the ops CLI use the identifier"
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": Replacement(
        _DELETE, "unique per region; no prefix exists"
    ),
    "aws:cloudwatch/logGroup:LogGroup": Replacement(
        _DELETE,
        "the agent config, metric filters and IAM scopes use the exact name; a replacement "
        "deletes the logs it holds",
    ),
    "aws:secretsmanager/secret:Secret": Replacement(
        _DELETE, "instances read it by name; IAM scopes to ollama/<env>/"
    ),
    "aws:lambda/function:Function": Replacement(
        _RENAME,
        "only a new name (or package type, fixed here) replaces it; the log group and IAM scope "
        "follow the name, and deleting "
        "first would leave the secret's rotation without its function",
    ),
    "aws:backup/vault:Vault": Replacement(
        _DELETE,
        "unique per region; no prefix exists; AWS refuses to delete a vault with recovery points",
    ),
    "aws:backup/plan:Plan": Replacement(_DELETE, "unique per region; no prefix exists"),
    "aws:backup/selection:Selection": Replacement(
        _DELETE, "every input forces a replacement and the name is unique within the plan"
    ),
    "aws:ec2/keyPair:KeyPair": Replacement(
        _DELETE, "the key name ollama-key-<env> is what operators configure"
    ),
    "aws:cognito/userPool:UserPool": Replacement(
        _DELETE,
        "`ollama-ops users` finds the pool by name (AWS allows duplicates, so two would be "
        "ambiguous); no prefix exists; a replacement is a new, empty pool (protected)",
    ),
    "aws:cognito/userPoolClient:UserPoolClient": Replacement(
        _DELETE,
        "instances read its id and secret at boot; a replacement issues new ones either way "
        "and an instance refresh picks them up",
    ),
    "aws:cognito/userPoolDomain:UserPoolDomain": Replacement(
        _DELETE,
        "the prefix is a DNS name under amazoncognito.com, so two cannot coexist; no prefix exists",
    ),
    "aws:cognito/userGroup:UserGroup": Replacement(
        _DELETE, "unique within its pool; roles are mapped by the exact group name"
    ),
    # overwrite-by-name APIs
    "aws:cloudwatch/metricAlarm:MetricAlarm": Replacement(
        _DELETE, f"PutMetricAlarm: {_OVERWRITES}"
    ),
    "aws:cloudwatch/dashboard:Dashboard": Replacement(_DELETE, f"PutDashboard: {_OVERWRITES}"),
    "aws:cloudwatch/logMetricFilter:LogMetricFilter": Replacement(
        _DELETE, f"PutMetricFilter: {_OVERWRITES}"
    ),
    "aws:ssm/parameter:Parameter": Replacement(
        _DELETE, f"PutParameter: {_OVERWRITES}; instances read fixed paths"
    ),
    "aws:sns/topic:Topic": Replacement(
        _DELETE, f"CreateTopic returns the existing topic of that name: {_OVERWRITES}"
    ),
    "aws:autoscaling/policy:Policy": Replacement(_DELETE, f"PutScalingPolicy: {_OVERWRITES}"),
    "aws:budgets/budget:Budget": Replacement(
        _DELETE, "budget names are unique per account and the docs name ollama-budget-<env>"
    ),
    "aws:autoscaling/schedule:Schedule": Replacement(
        _DELETE, f"PutScheduledUpdateGroupAction: {_OVERWRITES}"
    ),
    "aws:iam/rolePolicy:RolePolicy": Replacement(_DELETE, f"PutRolePolicy: {_OVERWRITES}"),
    "aws:s3/bucketMetric:BucketMetric": Replacement(
        _DELETE, f"PutBucketMetricsConfiguration: {_OVERWRITES}"
    ),
    # only the name forces a replacement (pulumi-aws schema), and they are in use while live
    "aws:rds/subnetGroup:SubnetGroup": Replacement(
        _RENAME, "only name forces a replacement; it cannot be deleted while the database uses it"
    ),
    "aws:elasticache/subnetGroup:SubnetGroup": Replacement(
        _RENAME, "only name forces a replacement; it cannot be deleted while the cache uses it"
    ),
    "aws:cloudfront/function:Function": Replacement(
        _RENAME, "only name forces a replacement; it cannot be deleted while associated"
    ),
    "aws:wafv2/webAcl:WebAcl": Replacement(
        _RENAME,
        "only name and scope (its namespace) force a replacement; it cannot be deleted while "
        "associated",
    ),
}


@dataclass(frozen=True)
class Stateful:
    retain_on_delete: bool
    reason: str


# Type token -> what losing one costs. Protected outside dev; retained on delete as well
# where a deletion would lose data that nothing else holds.
STATEFUL: dict[str, Stateful] = {
    "aws:dynamodb/table:Table": Stateful(True, "the model catalog"),
    "aws:s3/bucket:Bucket": Stateful(True, "uploads, their DR replica and the access logs"),
    "aws:rds/instance:Instance": Stateful(True, "Open WebUI's users, chats and settings"),
    "aws:backup/vault:Vault": Stateful(True, "the recovery points"),
    "aws:kms/key:Key": Stateful(True, "a deleted key makes what it encrypted unreadable"),
    "aws:cognito/userPool:UserPool": Stateful(
        True, "the users, their MFA devices and group memberships"
    ),
    "aws:secretsmanager/secret:Secret": Stateful(
        False,
        "sessions and the admin login depend on it; deletion keeps a 30-day recovery window "
        "outside dev, and a retained secret would block its re-creation by name",
    ),
}


# Type token -> (inputs whose change replaces the resource, what that replacement costs).
# The provider already replaces on these; listing them makes the outage explicit in the plan.
REPLACE_ON_CHANGES: dict[str, tuple[tuple[str, ...], str]] = {
    "aws:lb/loadBalancer:LoadBalancer": (
        ("name", "internal", "load_balancer_type"),
        "an outage until the new ALB is active and CloudFront follows its new DNS name",
    ),
    "aws:dynamodb/table:Table": (
        ("name", "hash_key", "range_key", "local_secondary_indexes"),
        "a new, empty catalog table: restore it (docs/runbooks/backup-and-restore.md)",
    ),
}


def protected(env: str) -> bool:
    """Whether stateful resources of environment ``env`` are protected (all but dev)."""
    return env != "dev"


def options_for(type_token: str, env: str) -> pulumi.ResourceOptions | None:
    """The lifecycle options of one resource type in ``env`` (None: nothing to add)."""
    replacement = REPLACEMENT.get(type_token)
    stateful = STATEFUL.get(type_token) if protected(env) else None
    on_changes = REPLACE_ON_CHANGES.get(type_token)
    if replacement is None and stateful is None and on_changes is None:
        return None
    delete_first = replacement is not None and replacement.strategy is Strategy.DELETE_FIRST
    return pulumi.ResourceOptions(
        delete_before_replace=True if delete_first else None,
        protect=True if stateful else None,
        retain_on_delete=True if stateful and stateful.retain_on_delete else None,
        replace_on_changes=list(on_changes[0]) if on_changes else None,
    )


def stack_transformation(env: str) -> pulumi.ResourceTransformation:
    """A stack transformation that adds ``options_for`` to every resource declared after it.

    A transformation runs in the SDK while each resource is constructed, so ``pulumi up`` and
    the offline evaluation register exactly the same options.
    """

    def apply(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult:
        extra = options_for(args.type_, env)
        opts = args.opts if extra is None else pulumi.ResourceOptions.merge(args.opts, extra)
        return pulumi.ResourceTransformationResult(args.props, opts)

    return apply
