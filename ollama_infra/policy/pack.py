"""The rule catalogue: every policy of the pack, its level, and the scanner checks it mirrors.

``policies()`` builds the ``pulumi_policy`` objects that ``__main__.py`` hands to
``PolicyPack`` and that the offline evaluator runs. Everything is mandatory unless
``advisory_reason`` says why the rule would block a legitimate configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from ollama_infra.policy import (
    rules_compute,
    rules_data,
    rules_identity,
    rules_network,
    rules_secrets,
    rules_storage,
)
from ollama_infra.policy.common import Report, is_taggable

PACK_NAME = "ollama-security"
# ``types`` of a rule that applies to every resource type that takes tags.
TAGGABLE = "*taggable*"
SG_TYPES = (rules_network.SECURITY_GROUP, rules_network.SG_RULE, rules_network.INGRESS_RULE)
IAM_DOC_TYPES = (
    rules_identity.ROLE,
    rules_identity.ROLE_POLICY,
    rules_identity.POLICY,
    rules_identity.USER_POLICY,
    rules_identity.GROUP_POLICY,
)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    validate: Callable[[Any, Report], None]
    types: tuple[str, ...] = ()
    """Resource types the rule looks at: a resource rule sees only these."""
    stack: bool = False
    checkov: tuple[str, ...] = ()
    trivy: tuple[str, ...] = ()
    advisory_reason: str | None = None
    config_schema: PolicyConfigSchema | None = None

    def applies_to(self, type_token: str) -> bool:
        if TAGGABLE in self.types:
            return is_taggable(type_token)
        return type_token in self.types

    @property
    def level(self) -> EnforcementLevel:
        return EnforcementLevel.ADVISORY if self.advisory_reason else EnforcementLevel.MANDATORY

    def build(self) -> ResourceValidationPolicy | StackValidationPolicy:
        kind = StackValidationPolicy if self.stack else ResourceValidationPolicy
        return kind(
            name=self.name,
            description=self.description,
            validate=self.validate if self.stack else self._validate_own_types,
            enforcement_level=self.level,
            config_schema=self.config_schema,
        )

    def _validate_own_types(self, args: Any, report: Report) -> None:
        """The engine hands every resource to every resource policy; ``types`` picks the rule's."""
        if self.applies_to(args.resource_type):
            self.validate(args, report)


PUBLIC_ALB_PORTS_SCHEMA = PolicyConfigSchema(
    properties={
        "public_alb_ports": {
            "type": "array",
            "items": {"type": "integer"},
            "default": list(rules_network.DEFAULT_PUBLIC_ALB_PORTS),
            "description": "ALB listener ports that may accept 0.0.0.0/0 and ::/0",
        }
    }
)

RULES: tuple[Rule, ...] = (
    # -- S3 (stack policies: bucket settings are separate resources in pulumi-aws 7)
    Rule(
        "s3-public-access-block",
        "Every S3 bucket has a public access block with all four flags on and no public ACL.",
        rules_storage.s3_public_access_block,
        types=(rules_storage.BUCKET, rules_storage.BUCKET_V2),
        stack=True,
        checkov=(
            "CKV_AWS_53",
            "CKV_AWS_54",
            "CKV_AWS_55",
            "CKV_AWS_56",
            "CKV2_AWS_6",
            "CKV_AWS_20",
        ),
        trivy=(
            "AVD-AWS-0086",
            "AVD-AWS-0087",
            "AVD-AWS-0091",
            "AVD-AWS-0093",
            "AVD-AWS-0094",
            "AVD-AWS-0092",
        ),
    ),
    Rule(
        "s3-encryption-at-rest",
        "Every S3 bucket has default server-side encryption.",
        rules_storage.s3_encryption_at_rest,
        types=(rules_storage.BUCKET, rules_storage.BUCKET_V2),
        stack=True,
        checkov=("CKV_AWS_19",),
        trivy=("AVD-AWS-0088 (deprecated)",),
    ),
    Rule(
        "s3-kms-encryption",
        "S3 buckets use SSE-KMS, except the access-log bucket (ALB logs support SSE-S3 only).",
        rules_storage.s3_kms_encryption,
        types=(rules_storage.BUCKET, rules_storage.BUCKET_V2),
        stack=True,
        checkov=("CKV_AWS_145",),
        trivy=("AVD-AWS-0132",),
    ),
    Rule(
        "s3-versioning",
        "Every S3 bucket has versioning enabled.",
        rules_storage.s3_versioning,
        types=(rules_storage.BUCKET, rules_storage.BUCKET_V2),
        stack=True,
        checkov=("CKV_AWS_21",),
        trivy=("AVD-AWS-0090",),
    ),
    Rule(
        "s3-tls-only",
        "Every S3 bucket policy denies requests made without TLS (aws:SecureTransport).",
        rules_storage.s3_tls_only,
        types=(rules_storage.BUCKET, rules_storage.BUCKET_V2),
        stack=True,
        checkov=("CKV_AWS_379",),
    ),
    Rule(
        "s3-bucket-policy-not-public",
        "Bucket policies do not allow Principal '*' without a condition.",
        rules_storage.s3_policy_not_public,
        types=(rules_storage.BUCKET_POLICY,),
        stack=True,
        checkov=("CKV_AWS_70",),
    ),
    # -- DynamoDB
    Rule(
        "dynamodb-encryption",
        "DynamoDB tables use KMS server-side encryption.",
        rules_storage.dynamodb_encryption,
        types=(rules_storage.TABLE,),
        checkov=("CKV_AWS_119",),
        trivy=("AVD-AWS-0025",),
    ),
    Rule(
        "dynamodb-pitr",
        "DynamoDB tables have point-in-time recovery.",
        rules_storage.dynamodb_pitr,
        types=(rules_storage.TABLE,),
        checkov=("CKV_AWS_28",),
        trivy=("AVD-AWS-0024",),
    ),
    Rule(
        "dynamodb-deletion-protection",
        "DynamoDB tables outside dev have deletion protection.",
        rules_storage.dynamodb_deletion_protection,
        types=(rules_storage.TABLE,),
    ),
    # -- compute
    Rule(
        "launch-template-imdsv2",
        "Launch templates require IMDSv2 tokens with a hop limit of at most 2.",
        rules_compute.launch_template_imdsv2,
        types=(rules_compute.LAUNCH_TEMPLATE, rules_compute.INSTANCE),
        checkov=("CKV_AWS_79", "CKV_AWS_341"),
        trivy=("AVD-AWS-0130", "AVD-AWS-0028"),
    ),
    Rule(
        "launch-template-encrypted-volumes",
        "Launch templates declare every EBS volume encrypted.",
        rules_compute.launch_template_encrypted_volumes,
        types=(rules_compute.LAUNCH_TEMPLATE,),
        checkov=("CKV_AWS_8 (instances only)",),
        trivy=("AVD-AWS-0131 (instances only)",),
    ),
    Rule(
        "launch-template-no-public-ip",
        "Launch templates and instances do not associate public IP addresses.",
        rules_compute.launch_template_no_public_ip,
        types=(rules_compute.LAUNCH_TEMPLATE, rules_compute.INSTANCE),
        checkov=("CKV_AWS_88",),
        trivy=("AVD-AWS-0009 (launch configurations)",),
    ),
    # -- security groups
    Rule(
        "sg-no-world-admin-ports",
        "No security group accepts SSH (22) or RDP (3389) from 0.0.0.0/0 or ::/0.",
        rules_network.sg_no_world_admin_ports,
        types=SG_TYPES,
        checkov=("CKV_AWS_24", "CKV_AWS_25"),
        trivy=("AVD-AWS-0107",),
    ),
    Rule(
        "sg-no-world-ingress",
        "Only the ALB security group accepts 0.0.0.0/0 or ::/0, and only on its public ports.",
        rules_network.sg_no_world_ingress,
        types=SG_TYPES,
        stack=True,
        checkov=("CKV_AWS_260", "CKV_AWS_277"),
        trivy=("AVD-AWS-0107",),
        config_schema=PUBLIC_ALB_PORTS_SCHEMA,
    ),
    # -- ALB
    Rule(
        "alb-drop-invalid-headers",
        "Application load balancers drop invalid HTTP header fields.",
        rules_network.alb_drop_invalid_headers,
        types=(rules_network.LOAD_BALANCER,),
        checkov=("CKV_AWS_131",),
        trivy=("AVD-AWS-0052",),
    ),
    Rule(
        "alb-access-logs",
        "Application load balancers write access logs to S3.",
        rules_network.alb_access_logs,
        types=(rules_network.LOAD_BALANCER,),
        checkov=("CKV_AWS_91",),
    ),
    Rule(
        "alb-deletion-protection",
        "Application load balancers outside dev have deletion protection.",
        rules_network.alb_deletion_protection,
        types=(rules_network.LOAD_BALANCER,),
        checkov=("CKV_AWS_150",),
    ),
    Rule(
        "alb-listener-tls",
        "HTTPS listeners have a certificate and a TLS 1.2+ forward-secrecy policy.",
        rules_network.alb_listener_tls,
        types=(rules_network.LISTENER,),
        checkov=("CKV_AWS_103", "CKV2_AWS_74"),
        trivy=("AVD-AWS-0047",),
    ),
    Rule(
        "alb-https-redirect",
        "On an ALB with a certificate, HTTP listeners only redirect to HTTPS.",
        rules_network.alb_https_redirect,
        types=(rules_network.LISTENER, rules_network.LISTENER_RULE),
        stack=True,
        checkov=("CKV_AWS_2", "CKV2_AWS_20"),
        trivy=("AVD-AWS-0054",),
    ),
    # -- CloudFront
    Rule(
        "cloudfront-viewer-https",
        "CloudFront behaviours redirect viewers to HTTPS (or accept HTTPS only).",
        rules_network.cloudfront_viewer_https,
        types=(rules_network.DISTRIBUTION,),
        checkov=("CKV_AWS_34",),
        trivy=("AVD-AWS-0012",),
    ),
    Rule(
        "cloudfront-tls-version",
        "CloudFront with a custom certificate requires TLSv1.2_2021 or newer.",
        rules_network.cloudfront_tls_version,
        types=(rules_network.DISTRIBUTION,),
        checkov=("CKV_AWS_174",),
        trivy=("AVD-AWS-0013",),
    ),
    Rule(
        "cloudfront-origin-https",
        "Outside dev, CloudFront reaches custom origins over HTTPS with TLS 1.2 only.",
        rules_network.cloudfront_origin_https,
        types=(rules_network.DISTRIBUTION,),
        checkov=("CKV2_AWS_72", "CKV2_AWS_54"),
    ),
    Rule(
        "cloudfront-logging",
        "CloudFront distributions write access logs.",
        rules_network.cloudfront_logging,
        types=(rules_network.DISTRIBUTION,),
        stack=True,
        checkov=("CKV_AWS_86",),
        trivy=("AVD-AWS-0010",),
    ),
    Rule(
        "cloudfront-waf-production",
        "Production CloudFront distributions have a WAF web ACL.",
        rules_network.cloudfront_waf_production,
        types=(rules_network.DISTRIBUTION,),
        checkov=("CKV_AWS_68",),
        trivy=("AVD-AWS-0011",),
    ),
    # -- IAM
    Rule(
        "iam-no-wildcard-actions",
        "IAM policies allow no '*' or '<service>:*' actions (and no NotAction).",
        rules_identity.iam_no_wildcard_actions,
        types=IAM_DOC_TYPES,
        checkov=("CKV_AWS_62", "CKV_AWS_63"),
        trivy=("AVD-AWS-0057 (deprecated)", "AVD-AWS-0345"),
    ),
    Rule(
        "iam-wildcard-resources-need-conditions",
        "IAM statements on Resource '*' carry a Condition.",
        rules_identity.iam_wildcard_resource_conditions,
        types=IAM_DOC_TYPES,
        checkov=("CKV_AWS_355",),
    ),
    Rule(
        "iam-no-admin-policies",
        "No administrator-level AWS managed policy is attached.",
        rules_identity.iam_no_admin_policies,
        types=(rules_identity.ROLE, rules_identity.ATTACHMENT, rules_identity.POLICY_ATTACHMENT),
        checkov=("CKV_AWS_274", "CKV_AWS_275", "CKV2_AWS_40", "CKV2_AWS_56"),
    ),
    Rule(
        "iam-trust-policy",
        "Role trust policies name specific principals, never '*'.",
        rules_identity.iam_trust_policy,
        types=(rules_identity.ROLE,),
        checkov=("CKV_AWS_60", "CKV_AWS_61"),
    ),
    # -- logs and notifications
    Rule(
        "log-group-retention",
        "CloudWatch log groups have a retention period.",
        rules_data.log_group_retention,
        types=(rules_data.LOG_GROUP,),
        checkov=("CKV_AWS_66",),
    ),
    Rule(
        "log-group-kms",
        "CloudWatch log groups are encrypted with a customer managed KMS key.",
        rules_data.log_group_kms,
        types=(rules_data.LOG_GROUP,),
        checkov=("CKV_AWS_158",),
        trivy=("AVD-AWS-0017",),
        advisory_reason=(
            "CloudWatch Logs already encrypts with a service key; a customer key "
            "(observability.log_kms_key_arn) is optional and costs a key per stack"
        ),
    ),
    Rule(
        "sns-encryption",
        "SNS topics are encrypted with KMS.",
        rules_data.sns_encryption,
        types=(rules_data.TOPIC,),
        checkov=("CKV_AWS_26",),
        trivy=("AVD-AWS-0095",),
    ),
    # -- RDS and ElastiCache
    Rule(
        "rds-encryption",
        "RDS storage is encrypted.",
        rules_data.rds_encryption,
        types=(rules_data.DB_INSTANCE, rules_data.DB_CLUSTER),
        checkov=("CKV_AWS_16",),
        trivy=("AVD-AWS-0080",),
    ),
    Rule(
        "rds-not-public",
        "RDS instances are not publicly accessible.",
        rules_data.rds_not_public,
        types=(rules_data.DB_INSTANCE,),
        checkov=("CKV_AWS_17",),
        trivy=("AVD-AWS-0082",),
    ),
    Rule(
        "rds-backups",
        "RDS keeps automated backups (retention of at least one day).",
        rules_data.rds_backups,
        types=(rules_data.DB_INSTANCE, rules_data.DB_CLUSTER),
        checkov=("CKV_AWS_133",),
        trivy=("AVD-AWS-0077",),
    ),
    Rule(
        "rds-deletion-protection",
        "RDS outside dev has deletion protection.",
        rules_data.rds_deletion_protection,
        types=(rules_data.DB_INSTANCE, rules_data.DB_CLUSTER),
        checkov=("CKV_AWS_293",),
    ),
    Rule(
        "elasticache-encryption-at-rest",
        "ElastiCache replication groups encrypt data at rest.",
        rules_data.elasticache_encryption_at_rest,
        types=(rules_data.REPLICATION_GROUP,),
        checkov=("CKV_AWS_29",),
        trivy=("AVD-AWS-0045",),
    ),
    Rule(
        "elasticache-encryption-in-transit",
        "ElastiCache replication groups use TLS.",
        rules_data.elasticache_encryption_in_transit,
        types=(rules_data.REPLICATION_GROUP,),
        checkov=("CKV_AWS_30",),
        trivy=("AVD-AWS-0051",),
    ),
    Rule(
        "elasticache-not-public",
        "ElastiCache replication groups are pinned to a subnet group and security groups.",
        rules_data.elasticache_not_public,
        types=(rules_data.REPLICATION_GROUP,),
    ),
    Rule(
        "elasticache-backups",
        "ElastiCache replication groups keep automatic snapshots.",
        rules_data.elasticache_backups,
        types=(rules_data.REPLICATION_GROUP,),
        checkov=("CKV_AWS_134",),
        trivy=("AVD-AWS-0050",),
        advisory_reason=(
            "the cache holds Open WebUI sessions and websocket state that are rebuilt after "
            "a restart; the durable data lives in RDS and S3, which are backed up"
        ),
    ),
    Rule(
        "secretsmanager-cmk",
        "Secrets Manager secrets use a customer managed KMS key.",
        rules_data.secret_cmk,
        types=(rules_data.SECRET,),
        checkov=("CKV_AWS_149",),
        trivy=("AVD-AWS-0098",),
        advisory_reason=(
            "the AWS managed key aws/secretsmanager still encrypts the secret; a customer "
            "key (rules_data.kms_key_arn) is optional"
        ),
    ),
    # -- secrets and tags
    Rule(
        "no-plaintext-secrets",
        "No secret-looking content in user data, String parameters or plaintext password inputs.",
        rules_secrets.no_plaintext_secrets,
        types=(
            rules_secrets.LAUNCH_TEMPLATE,
            rules_secrets.INSTANCE,
            rules_secrets.PARAMETER,
            rules_secrets.DB_INSTANCE,
        ),
        checkov=("CKV_AWS_46", "CKV2_AWS_34", "CKV_AWS_384"),
        trivy=("AVD-AWS-0129", "AVD-AWS-0029"),
    ),
    Rule(
        "secrets-not-exposed",
        "Secret values are not copied into user data, String parameters or stack outputs.",
        rules_secrets.secrets_not_exposed,
        types=(
            rules_secrets.STACK,
            rules_secrets.LAUNCH_TEMPLATE,
            rules_secrets.INSTANCE,
            rules_secrets.PARAMETER,
        ),
        stack=True,
        checkov=("CKV_AWS_46",),
        trivy=("AVD-AWS-0129",),
    ),
    Rule(
        "required-tags",
        "Every taggable resource carries Project, Environment, ManagedBy and Service "
        "(provider default tags included).",
        rules_compute.required_tags,
        types=(TAGGABLE,),
    ),
)


def rules() -> tuple[Rule, ...]:
    return RULES


def rule(name: str) -> Rule:
    for r in RULES:
        if r.name == name:
            return r
    raise KeyError(f"no policy named {name!r}; known: {', '.join(r.name for r in RULES)}")


def policies() -> list[Policy]:
    """The pulumi_policy objects of every rule (what the PolicyPack is made of)."""
    return [r.build() for r in RULES]
