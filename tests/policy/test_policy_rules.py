"""Every policy rule: a compliant plan passes, a deliberately broken plan fails.

The plans are hand-made records (tests/policy/policy_records.py) run through the same
offline evaluator ``ollama-ops plan`` uses, so each case exercises the rule exactly as the
policy pack runs it (props as the engine sends them, unknown-checking proxy included).
A failing case must name the offending resource and carry a fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from policy_records import (
    BAD_USER_DATA,
    DEV_TAGS,
    FAKE_ACCESS_KEY,
    GOOD_METADATA,
    GOOD_USER_DATA,
    LOGS,
    PROD_TAGS,
    STORAGE,
    b64,
    bucket_set,
    good_bucket,
    launch_template,
    oidc_parameter,
    plan,
    pool_client,
    public_distribution,
    rec,
    user_pool,
)

from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.policy.evaluate import PolicyResult, evaluate_policies
from ollama_infra.policy.pack import RULES, rule
from ollama_infra.userdata import encode_user_data

# Every secret-looking value in this file is fake; they exist only to trip the rules.
TABLE = "aws:dynamodb/table:Table"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"
LISTENER_RULE = "aws:lb/listenerRule:ListenerRule"
DIST = "aws:cloudfront/distribution:Distribution"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TOPIC = "aws:sns/topic:Topic"
RDS = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
SECRET = "aws:secretsmanager/secret:Secret"
PARAMETER = "aws:ssm/parameter:Parameter"
PASSWORD = "random:index/randomPassword:RandomPassword"
VPC = "aws:ec2/vpc:Vpc"
STAGING_TAGS = {**PROD_TAGS, "Environment": "staging"}
S3_LOGGING = "aws:s3/bucketLogging:BucketLogging"
DR = "ollama-storage-dr-production-123456789012"
DR_LOGS = "ollama-logs-dr-production-123456789012"
DATA_KEY = "arn:aws:kms:us-east-1:123456789012:key/00000000-1111-2222-3333-444444444444"

LB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/ollama-alb/1"
HTTPS_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/ollama-alb/1/443"
HTTP_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/ollama-alb/1/80"
FORWARD = {"type": "forward", "targetGroupArn": "arn:aws:elasticloadbalancing:tg/web"}
REDIRECT = {
    "type": "redirect",
    "redirect": {"protocol": "HTTPS", "port": "443", "statusCode": "HTTP_301"},
}


WEB_ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/ollama-waf-production/1"


def web_acl() -> ResourceRecord:
    r = rec("aws:wafv2/webAcl:WebAcl", "ollama-edge-cdn-waf", scope="CLOUDFRONT", tags=PROD_TAGS)
    r.state["arn"] = WEB_ACL_ARN
    return r


def waf_logging(
    group: str = "aws-waf-logs-ollama-waf-production",
    redact: tuple[str, ...] = ("authorization", "cookie"),
) -> ResourceRecord:
    return rec(
        "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration",
        "ollama-edge-cdn-waf-logging",
        resourceArn=WEB_ACL_ARN,
        logDestinationConfigs=[f"arn:aws:logs:us-east-1:123456789012:log-group:{group}"],
        redactedFields=[{"singleHeader": {"name": h}} for h in redact],
    )


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


KMS_KEY = "aws:kms/key:Key"
KEY_ADMIN = {
    "Sid": "AccountAdministration",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "kms:*",
    "Resource": "*",
}
BACKUP_VIA = {
    "Sid": "RecoveryPointsThroughBackup",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": ["kms:CreateGrant", "kms:Decrypt", "kms:GenerateDataKey"],
    "Resource": "*",
    "Condition": {
        "StringEquals": {
            "kms:ViaService": "backup.us-east-1.amazonaws.com",
            "kms:CallerAccount": "123456789012",
        }
    },
}


def kms_key(*statements: dict[str, Any]) -> ResourceRecord:
    return rec(KMS_KEY, "ollama-backup-vault-key", policy=doc(*statements), tags=PROD_TAGS)


def table(**changes: Any) -> ResourceRecord:
    inputs = {
        "name": "ollama-data-table-production",
        "serverSideEncryption": {"enabled": True},
        "pointInTimeRecovery": {"enabled": True},
        "deletionProtectionEnabled": True,
        "tags": PROD_TAGS,
    }
    return rec(TABLE, "ollama-data-table", **{**inputs, **changes})


def alb(**changes: Any) -> ResourceRecord:
    inputs = {
        "name": "ollama-alb-production",
        "loadBalancerType": "application",
        "dropInvalidHeaderFields": True,
        "accessLogs": {"bucket": LOGS, "enabled": True, "prefix": "alb"},
        "enableDeletionProtection": True,
        "tags": PROD_TAGS,
    }
    return rec(LB, "ollama-edge-alb", **{**inputs, **changes})


def https_listener(**changes: Any) -> ResourceRecord:
    inputs = {
        "loadBalancerArn": LB_ARN,
        "protocol": "HTTPS",
        "port": 443.0,
        "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
        "defaultActions": [FORWARD],
    }
    r = rec(LISTENER, "ollama-edge-alb-https", **{**inputs, **changes})
    r.state["arn"] = HTTPS_ARN
    return r


def http_listener(actions: list[dict[str, Any]]) -> ResourceRecord:
    r = rec(
        LISTENER,
        "ollama-edge-alb-http",
        loadBalancerArn=LB_ARN,
        protocol="HTTP",
        port=80.0,
        defaultActions=actions,
    )
    r.state["arn"] = HTTP_ARN
    return r


TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"


def target_group(logical: str = "ollama-edge-alb-webui-tls-tg", **changes: Any) -> ResourceRecord:
    """A production target group as edge.backend_tls declares it (HTTPS, HTTPS health check)."""
    inputs = {
        "name": "ollama-tls-tg-production",
        "port": 8443.0,
        "protocol": "HTTPS",
        "targetType": "instance",
        "healthCheck": {"enabled": True, "path": "/health", "protocol": "HTTPS"},
        "tags": PROD_TAGS,
    }
    return rec(TARGET_GROUP, logical, **{**inputs, **changes})


def distribution(**changes: Any) -> ResourceRecord:
    inputs = {
        "defaultCacheBehavior": {"viewerProtocolPolicy": "redirect-to-https"},
        "orderedCacheBehaviors": [{"pathPattern": "/api/*", "viewerProtocolPolicy": "https-only"}],
        "viewerCertificate": {"cloudfrontDefaultCertificate": True},
        "origins": [
            {
                "originId": "alb",
                "domainName": "origin.example.com",
                "customOriginConfig": {
                    "originProtocolPolicy": "https-only",
                    "originSslProtocols": ["TLSv1.2"],
                },
            }
        ],
        "loggingConfig": {"bucket": f"{LOGS}.s3.amazonaws.com", "prefix": "cloudfront/"},
        "webAclId": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/ollama-waf/1",
        "tags": PROD_TAGS,
    }
    return rec(DIST, "ollama-edge-cdn", **{**inputs, **changes})


def sg(name: str, sg_id: str) -> ResourceRecord:
    return rec(SG, f"ollama-security-{name}", rid=sg_id, name=name, tags=PROD_TAGS)


def ingress(logical: str, sg_id: str, port: int, **source: Any) -> ResourceRecord:
    return rec(
        INGRESS,
        logical,
        securityGroupId=sg_id,
        ipProtocol="tcp",
        fromPort=float(port),
        toPort=float(port),
        **source,
    )


def rds(**changes: Any) -> ResourceRecord:
    inputs = {
        "identifier": "ollama-webui-db-production",
        "storageEncrypted": True,
        "publiclyAccessible": False,
        "backupRetentionPeriod": 7.0,
        "deletionProtection": True,
        "manageMasterUserPassword": True,
        "engine": "postgres",
        "parameterGroupName": "ollama-webui-db-params-production-1",
        "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
        "tags": PROD_TAGS,
    }
    return rec(RDS, "ollama-data-database", **{**inputs, **changes})


def query_logging_group() -> ResourceRecord:
    settings = {"log_statement": "ddl", "log_min_duration_statement": "1000"}
    return rec(
        "aws:rds/parameterGroup:ParameterGroup",
        "ollama-data-database-params",
        name="ollama-webui-db-params-production-1",
        family="postgres16",
        parameters=[{"name": k, "value": v} for k, v in settings.items()],
        tags=PROD_TAGS,
    )


def cache(**changes: Any) -> ResourceRecord:
    inputs = {
        "replicationGroupId": "ollama-webui-cache-production",
        "atRestEncryptionEnabled": True,
        "transitEncryptionEnabled": True,
        "subnetGroupName": "ollama-cache-subnets-production",
        "securityGroupIds": ["sg-cache"],
        "snapshotRetentionLimit": 1.0,
        "tags": PROD_TAGS,
    }
    return rec(CACHE, "ollama-data-cache", **{**inputs, **changes})


def role_policy(logical: str, *statements: dict[str, Any]) -> ResourceRecord:
    return rec(ROLE_POLICY, logical, role="ollama-ec2-role-production", policy=doc(*statements))


def password() -> ResourceRecord:
    r = rec(PASSWORD, "ollama-data-admin-password", length=32.0)
    r.state["result"] = "fake-generated-0123456789abcdef"
    return r


ALLOW_SSM = {
    "Effect": "Allow",
    "Action": ["ssm:GetParameter"],
    "Resource": "arn:aws:ssm:us-east-1:123456789012:parameter/ollama/production/*",
}
PUT_METRICS = {
    "Effect": "Allow",
    "Action": ["cloudwatch:PutMetricData"],
    "Resource": "*",
    "Condition": {"StringEquals": {"cloudwatch:namespace": "Ollama/production"}},
}
EC2_TRUST = doc(
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
)
GOOD_OUTPUT = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ollama/production/x-AbCdEf"


@dataclass(frozen=True)
class Case:
    rule: str
    variant: str
    good: Callable[[], Evaluation]
    bad: Callable[[], Evaluation]
    culprit: str  # logical name the violation must name
    fix: str  # fragment of the fix the message must carry
    config: dict[str, Any] | None = None
    stack_values: dict[str, Any] | None = None


def p(*records: ResourceRecord | list[ResourceRecord], **kw: Any) -> Evaluation:
    flat: list[ResourceRecord] = []
    for r in records:
        flat.extend(r if isinstance(r, list) else [r])
    return plan(*flat, **kw)


def _asg(autoRollback: bool = True, alarms: list[str] | None = None, **more: Any) -> ResourceRecord:
    """The production group as the plan records it (only the refresh preferences matter)."""
    prefs = {
        "autoRollback": autoRollback,
        "alarmSpecification": {
            "alarms": ["ollama-boot-failures-production"] if alarms is None else alarms
        },
        **more,
    }
    return rec(
        "aws:autoscaling/group:Group",
        "ollama-compute-asg",
        name="ollama-asg-production",
        instanceRefresh={"strategy": "Rolling", "preferences": prefs},
    )


RELEASE_CHANGE = {"minHealthyPercentage": 0.0, "maxHealthyPercentage": 100.0}


def _budget(kinds: tuple[str, ...] = ("ACTUAL", "FORECASTED")) -> ResourceRecord:
    return rec(
        "aws:budgets/budget:Budget",
        "ollama-monitoring-budget",
        name="ollama-budget-production",
        limitAmount="4450.00",
        notifications=[
            {
                "notificationType": kind,
                "comparisonOperator": "GREATER_THAN",
                "threshold": 100.0,
                "thresholdType": "PERCENTAGE",
                "subscriberSnsTopicArns": ["arn:aws:sns:us-east-1:123456789012:ollama-alerts"],
            }
            for kind in kinds
        ],
    )


SECRET = "aws:secretsmanager/secret:Secret"
SECRET_ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"


def _secret(role: str) -> ResourceRecord:
    return rec(SECRET, f"ollama-data-{role}", name=f"ollama/production/{role}")


def _rotation(
    role: str, days: float = 30.0, fn: str | None = "arn:aws:lambda:fn"
) -> ResourceRecord:
    arn = _secret(role).state["arn"]
    return rec(
        SECRET_ROTATION,
        f"ollama-data-{role}-rotation",
        secretId=arn,
        rotationLambdaArn=fn,
        rotationRules={"automaticallyAfterDays": days},
    )


CASES: list[Case] = [
    # S3
    Case(
        "s3-public-access-block",
        "missing",
        lambda: p(good_bucket()),
        lambda: p(bucket_set(pab=None)),
        "ollama-data-storage",
        "BucketPublicAccessBlock",
    ),
    Case(
        "s3-public-access-block",
        "flag-off",
        lambda: p(good_bucket()),
        lambda: p(good_bucket(pab={"restrictPublicBuckets": False})),
        "ollama-data-storage-pab",
        "restrict_public_buckets",
    ),
    Case(
        "s3-public-access-block",
        "public-acl",
        lambda: p(good_bucket()),
        lambda: p(good_bucket(acl="public-read")),
        "ollama-data-storage",
        "remove the acl",
    ),
    Case(
        "s3-encryption-at-rest",
        "none",
        lambda: p(good_bucket()),
        lambda: p(good_bucket(algorithm="")),
        "ollama-data-storage",
        "sse_algorithm",
    ),
    Case(
        "s3-kms-encryption",
        "aes256",
        lambda: p(
            good_bucket(), good_bucket(name=LOGS, logical="ollama-edge-logs", algorithm="AES256")
        ),
        lambda: p(good_bucket(algorithm="AES256")),
        "ollama-data-storage",
        "aws:kms",
    ),
    Case(
        "s3-versioning",
        "suspended",
        lambda: p(good_bucket()),
        lambda: p(good_bucket(versioning="Suspended")),
        "ollama-data-storage",
        "status='Enabled'",
    ),
    Case(
        "s3-versioning",
        "missing",
        lambda: p(good_bucket()),
        lambda: p(good_bucket(versioning=None)),
        "ollama-data-storage",
        "BucketVersioning",
    ),
    Case(
        "s3-tls-only",
        "no-deny",
        lambda: p(good_bucket()),
        lambda: p(
            good_bucket(
                policy=doc(
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "logging.s3.amazonaws.com"},
                        "Action": "s3:PutObject",
                        "Resource": f"arn:aws:s3:::{STORAGE}/*",
                    }
                )
            )
        ),
        "ollama-data-storage",
        "aws:SecureTransport",
    ),
    Case(
        "s3-bucket-policy-not-public",
        "principal-star",
        lambda: p(good_bucket()),
        lambda: p(
            good_bucket(
                policy=doc(
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{STORAGE}/*",
                    }
                )
            )
        ),
        "ollama-data-storage-policy",
        "named principals",
    ),
    # DynamoDB
    Case(  # the DR replica logs to the DR log bucket, which itself is exempt as a log target
        "s3-access-logging",
        "replica-unlogged",
        lambda: p(
            good_bucket(name=DR, logical="ollama-data-storage-dr"),
            good_bucket(name=DR_LOGS, logical="ollama-data-dr-logs", algorithm="AES256"),
            rec(S3_LOGGING, "ollama-data-storage-dr-access-logs", bucket=DR, targetBucket=DR_LOGS),
        ),
        lambda: p(
            good_bucket(name=DR, logical="ollama-data-storage-dr"),
            good_bucket(name=DR_LOGS, logical="ollama-data-dr-logs", algorithm="AES256"),
        ),
        "ollama-data-storage-dr",
        "BucketLogging",
    ),
    Case(
        "dynamodb-encryption",
        "disabled",
        lambda: p(table()),
        lambda: p(table(serverSideEncryption={"enabled": False})),
        "ollama-data-table",
        "server_side_encryption",
    ),
    Case(  # staging keeps the AWS managed key (an accepted finding)
        "dynamodb-cmk",
        "aws-managed",
        lambda: p(
            table(serverSideEncryption={"enabled": True, "kmsKeyArn": DATA_KEY}),
            rec(
                TABLE,
                "ollama-staging-table",
                serverSideEncryption={"enabled": True},
                tags=STAGING_TAGS,
            ),
        ),
        lambda: p(table()),
        "ollama-data-table",
        "data.kms_key_arn",
    ),
    Case(
        "elasticache-cmk",
        "service-key",
        lambda: p(cache(kmsKeyId=DATA_KEY), rec(CACHE, "ollama-staging-cache", tags=STAGING_TAGS)),
        lambda: p(cache()),
        "ollama-data-cache",
        "kms_key_id",
    ),
    Case(  # without Performance Insights there is nothing to encrypt
        "rds-performance-insights-cmk",
        "aws-rds-key",
        lambda: p(
            rds(performanceInsightsEnabled=True, performanceInsightsKmsKeyId=DATA_KEY),
            rec(RDS, "ollama-other-db", performanceInsightsEnabled=False, tags=PROD_TAGS),
        ),
        lambda: p(rds(performanceInsightsEnabled=True)),
        "ollama-data-database",
        "performance_insights_kms_key_id",
    ),
    Case(  # dev databases may run without it
        "rds-enhanced-monitoring",
        "off",
        lambda: p(
            rds(monitoringInterval=60.0, monitoringRoleArn="arn:aws:iam::1:role/ollama-mon"),
            rec(RDS, "ollama-dev-db", monitoringInterval=0.0, tags=DEV_TAGS),
        ),
        lambda: p(rds(monitoringInterval=0.0)),
        "ollama-data-database",
        "database_monitoring_interval_seconds",
    ),
    Case(
        "rds-enhanced-monitoring",
        "no-role",
        lambda: p(rds(monitoringInterval=5.0, monitoringRoleArn="arn:aws:iam::1:role/m")),
        lambda: p(rds(monitoringInterval=5.0)),
        "ollama-data-database",
        "monitoring role",
    ),
    Case(
        "secret-rotation",
        "never-rotated",
        lambda: p(_secret("webui-db"), _rotation("webui-db"), _secret("webui-secret-key")),
        lambda: p(_secret("webui-db"), _secret("webui-secret-key")),
        "ollama-data-webui-db",
        "SecretRotation",
    ),
    Case(
        "secret-rotation",
        "too-rare",
        lambda: p(_secret("webui-db"), _rotation("webui-db", days=365.0)),
        lambda: p(_secret("webui-db"), _rotation("webui-db", days=400.0)),
        "ollama-data-webui-db",
        "secret_rotation_days",
    ),
    Case(
        "secret-rotation",
        "no-function",
        lambda: p(_secret("webui-db"), _rotation("webui-db")),
        lambda: p(_secret("webui-db"), _rotation("webui-db", fn=None)),
        "ollama-data-webui-db",
        "with a function",
    ),
    Case(
        "rds-query-logging",
        "no-parameter-group",
        lambda: p(rds(), query_logging_group()),
        lambda: p(rds(parameterGroupName="default.postgres16"), query_logging_group()),
        "ollama-data-database",
        "log_min_duration_statement",
    ),
    Case(
        "rds-query-logging",
        "not-exported",
        lambda: p(rds(), query_logging_group()),
        lambda: p(rds(enabledCloudwatchLogsExports=["upgrade"]), query_logging_group()),
        "ollama-data-database",
        "enabled_cloudwatch_logs_exports",
    ),
    Case(
        "dynamodb-pitr",
        "missing",
        lambda: p(table()),
        lambda: p(table(pointInTimeRecovery=None)),
        "ollama-data-table",
        "point_in_time_recovery",
    ),
    Case(
        "dynamodb-deletion-protection",
        "off",
        lambda: p(table(), rec(TABLE, "ollama-dev-table", tags=DEV_TAGS)),
        lambda: p(table(deletionProtectionEnabled=False)),
        "ollama-data-table",
        "deletion_protection_enabled",
    ),
    # compute
    Case(
        "launch-template-imdsv2",
        "optional",
        lambda: p(launch_template()),
        lambda: p(launch_template(metadataOptions={**GOOD_METADATA, "httpTokens": "optional"})),
        "ollama-compute-lt",
        "http_tokens",
    ),
    Case(
        "launch-template-imdsv2",
        "hops",
        lambda: p(launch_template()),
        lambda: p(
            launch_template(metadataOptions={**GOOD_METADATA, "httpPutResponseHopLimit": 5.0})
        ),
        "ollama-compute-lt",
        "http_put_response_hop_limit",
    ),
    Case(
        "launch-template-encrypted-volumes",
        "false",
        lambda: p(launch_template()),
        lambda: p(
            launch_template(
                blockDeviceMappings=[{"deviceName": "/dev/sda1", "ebs": {"encrypted": "false"}}]
            )
        ),
        "ollama-compute-lt",
        "encrypted='true'",
    ),
    Case(
        "launch-template-encrypted-volumes",
        "no-mapping",
        lambda: p(launch_template()),
        lambda: p(launch_template(blockDeviceMappings=None)),
        "ollama-compute-lt",
        "root volume",
    ),
    Case(
        "launch-template-no-public-ip",
        "public",
        lambda: p(launch_template()),
        lambda: p(
            launch_template(
                networkInterfaces=[{"deviceIndex": 0.0, "associatePublicIpAddress": "true"}]
            )
        ),
        "ollama-compute-lt",
        "associate_public_ip_address='false'",
    ),
    # security groups
    Case(
        "sg-no-world-admin-ports",
        "ssh",
        lambda: p(ingress("ollama-security-app-ssh", "sg-app", 22, cidrIpv4="10.0.0.0/8")),
        lambda: p(ingress("ollama-security-app-ssh", "sg-app", 22, cidrIpv4="0.0.0.0/0")),
        "ollama-security-app-ssh",
        "Session Manager",
    ),
    Case(
        "sg-no-world-admin-ports",
        "inline-all",
        lambda: p(
            rec(
                SG,
                "ollama-security-x",
                ingress=[
                    {
                        "protocol": "tcp",
                        "fromPort": 443.0,
                        "toPort": 443.0,
                        "cidrBlocks": ["10.0.0.0/8"],
                    }
                ],
            )
        ),
        lambda: p(
            rec(
                SG,
                "ollama-security-x",
                ingress=[
                    {"protocol": "-1", "fromPort": 0.0, "toPort": 0.0, "ipv6CidrBlocks": ["::/0"]}
                ],
            )
        ),
        "ollama-security-x",
        "Session Manager",
    ),
    Case(
        "sg-no-world-ingress",
        "app-sg",
        lambda: p(
            sg("ollama-alb-sg-production", "sg-alb"),
            ingress("ollama-security-alb-https", "sg-alb", 443, cidrIpv4="0.0.0.0/0"),
        ),
        lambda: p(
            sg("ollama-app-sg-production", "sg-app"),
            ingress("ollama-security-app-web", "sg-app", 8080, cidrIpv4="0.0.0.0/0"),
        ),
        "ollama-security-app-web",
        "prefix list",
    ),
    Case(
        "sg-no-world-ingress",
        "alb-other-port",
        lambda: p(
            sg("ollama-alb-sg-production", "sg-alb"),
            ingress("ollama-security-alb-api", "sg-alb", 8443, cidrIpv6="::/0"),
        ),
        lambda: p(
            sg("ollama-alb-sg-production", "sg-alb"),
            ingress("ollama-security-alb-api", "sg-alb", 8443, cidrIpv6="::/0"),
        ),
        "ollama-security-alb-api",
        "acknowledge_public_access",
        config={"sg-no-world-ingress": {"public_alb_ports": [80, 443, 8443]}},
    ),
    # ALB
    Case(
        "alb-drop-invalid-headers",
        "off",
        lambda: p(alb()),
        lambda: p(alb(dropInvalidHeaderFields=False)),
        "ollama-edge-alb",
        "drop_invalid_header_fields",
    ),
    Case(
        "alb-access-logs",
        "off",
        lambda: p(alb()),
        lambda: p(alb(accessLogs={"bucket": LOGS, "enabled": False})),
        "ollama-edge-alb",
        "access_logs",
    ),
    Case(
        "alb-deletion-protection",
        "off",
        lambda: p(alb(), rec(LB, "ollama-dev-alb", tags=DEV_TAGS, enableDeletionProtection=False)),
        lambda: p(alb(enableDeletionProtection=False)),
        "ollama-edge-alb",
        "enable_deletion_protection",
    ),
    Case(
        "alb-listener-tls",
        "weak",
        lambda: p(https_listener()),
        lambda: p(https_listener(sslPolicy="ELBSecurityPolicy-2016-08")),
        "ollama-edge-alb-https",
        "TLS13",
    ),
    Case(
        "alb-listener-tls",
        "unset",
        lambda: p(https_listener()),
        lambda: p(https_listener(sslPolicy=None)),
        "ollama-edge-alb-https",
        "ssl_policy",
    ),
    Case(
        "alb-https-redirect",
        "forward",
        lambda: p(https_listener(), http_listener([REDIRECT])),
        lambda: p(https_listener(), http_listener([FORWARD])),
        "ollama-edge-alb-http",
        "redirect",
    ),
    Case(
        "alb-https-redirect",
        "rule-on-http",
        lambda: p(http_listener([FORWARD])),  # dev: no certificate
        lambda: p(
            https_listener(),
            http_listener([REDIRECT]),
            rec(LISTENER_RULE, "ollama-edge-alb-web", listenerArn=HTTP_ARN, actions=[FORWARD]),
        ),
        "ollama-edge-alb-web",
        "HTTPS listener",
    ),
    Case(  # staging keeps HTTP to the instances (an accepted finding); production may not
        "alb-backend-tls",
        "plain-http",
        lambda: p(
            target_group(),
            target_group(
                "ollama-staging-tg",
                name="ollama-tg-staging",
                port=8080.0,
                protocol="HTTP",
                healthCheck={"path": "/health", "protocol": "HTTP"},
                tags=STAGING_TAGS,
            ),
        ),
        lambda: p(
            target_group(
                "ollama-edge-alb-webui-tg",
                port=8080.0,
                protocol="HTTP",
                healthCheck={"path": "/health", "protocol": "HTTP"},
            )
        ),
        "ollama-edge-alb-webui-tg",
        "edge.backend_tls",
    ),
    Case(  # health checks follow the traffic: an HTTP check would not exercise the TLS path
        "alb-backend-tls",
        "http-health-check",
        lambda: p(target_group()),
        lambda: p(target_group(healthCheck={"path": "/health", "protocol": "HTTP"})),
        "ollama-edge-alb-webui-tls-tg",
        "health_check.protocol",
    ),
    Case(  # a target group without an Environment tag is held to the production bar
        "alb-backend-tls",
        "untagged",
        lambda: p(target_group(tags={})),
        lambda: p(target_group("ollama-edge-alb-api-tg", protocol="HTTP", tags={})),
        "ollama-edge-alb-api-tg",
        "edge.backend_tls",
    ),
    # CloudFront
    Case(
        "cloudfront-viewer-https",
        "allow-all",
        lambda: p(distribution()),
        lambda: p(
            distribution(
                orderedCacheBehaviors=[
                    {"pathPattern": "/api/*", "viewerProtocolPolicy": "allow-all"}
                ]
            )
        ),
        "ollama-edge-cdn",
        "redirect-to-https",
    ),
    Case(
        "cloudfront-tls-version",
        "tls1",
        lambda: p(
            distribution(
                viewerCertificate={
                    "acmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
                    "minimumProtocolVersion": "TLSv1.2_2021",
                    "sslSupportMethod": "sni-only",
                }
            )
        ),
        lambda: p(
            distribution(
                viewerCertificate={
                    "acmCertificateArn": "arn:aws:acm:us-east-1:1:certificate/x",
                    "minimumProtocolVersion": "TLSv1",
                    "sslSupportMethod": "sni-only",
                }
            )
        ),
        "ollama-edge-cdn",
        "TLSv1.2_2021",
    ),
    Case(
        "cloudfront-origin-https",
        "http-only",
        lambda: p(
            distribution(),
            rec(
                DIST,
                "ollama-dev-cdn",
                tags=DEV_TAGS,
                origins=[
                    {
                        "originId": "alb",
                        "customOriginConfig": {
                            "originProtocolPolicy": "http-only",
                            "originSslProtocols": ["TLSv1.2"],
                        },
                    }
                ],
            ),
        ),
        lambda: p(
            distribution(
                origins=[
                    {
                        "originId": "alb",
                        "customOriginConfig": {
                            "originProtocolPolicy": "http-only",
                            "originSslProtocols": ["TLSv1.2"],
                        },
                    }
                ]
            )
        ),
        "ollama-edge-cdn",
        "https-only",
    ),
    Case(
        "cloudfront-logging",
        "none",
        lambda: p(distribution()),
        lambda: p(distribution(loggingConfig=None)),
        "ollama-edge-cdn",
        "logging_config",
    ),
    Case(  # opt-in region: no bucket there CloudFront standard logging can write to
        "cloudfront-logging",
        "opt-in-region",
        lambda: p(
            distribution(loggingConfig=None),
            good_bucket(name=LOGS, logical="ollama-edge-logs", algorithm="AES256"),
        ),
        lambda: p(
            distribution(loggingConfig=None),
            good_bucket(name=LOGS, logical="ollama-edge-logs", algorithm="AES256"),
        ),
        "ollama-edge-cdn",
        "logging_config",
        stack_values={"aws:region": "ap-southeast-3"},
    ),
    Case(
        "cloudfront-waf-production",
        "none",
        lambda: p(distribution(), rec(DIST, "ollama-dev-cdn", tags=DEV_TAGS)),
        lambda: p(distribution(webAclId=None)),
        "ollama-edge-cdn",
        "web_acl_id",
    ),
    # WAF logging (CKV2_AWS_31)
    Case(
        "waf-logging",
        "none",
        lambda: p(web_acl(), waf_logging()),
        lambda: p(web_acl()),
        "ollama-edge-cdn-waf",
        "WebAclLoggingConfiguration",
    ),
    Case(
        "waf-logging",
        "wrong-name",
        lambda: p(web_acl(), waf_logging()),
        lambda: p(web_acl(), waf_logging(group="ollama-waf-production")),
        "ollama-edge-cdn-waf",
        "aws-waf-logs-",
    ),
    Case(
        "waf-logging",
        "cookies-logged",
        lambda: p(web_acl(), waf_logging()),
        lambda: p(web_acl(), waf_logging(redact=("authorization",))),
        "ollama-edge-cdn-waf",
        "redacted_fields",
    ),
    # IAM
    Case(
        "iam-no-wildcard-actions",
        "service-star",
        lambda: p(role_policy("ollama-compute-policy", ALLOW_SSM)),
        lambda: p(role_policy("ollama-compute-policy", {**ALLOW_SSM, "Action": "s3:*"})),
        "ollama-compute-policy",
        "exact actions",
    ),
    Case(
        "iam-no-wildcard-actions",
        "inline-admin",
        lambda: p(rec(ROLE, "ollama-compute-role", assumeRolePolicy=EC2_TRUST)),
        lambda: p(
            rec(
                ROLE,
                "ollama-compute-role",
                assumeRolePolicy=EC2_TRUST,
                inlinePolicies=[
                    {
                        "name": "admin",
                        "policy": doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
                    }
                ],
            )
        ),
        "ollama-compute-role",
        "exact actions",
    ),
    Case(
        "iam-wildcard-resources-need-conditions",
        "no-condition",
        lambda: p(role_policy("ollama-compute-metrics", PUT_METRICS)),
        lambda: p(
            role_policy(
                "ollama-compute-metrics", {k: v for k, v in PUT_METRICS.items() if k != "Condition"}
            )
        ),
        "ollama-compute-metrics",
        "Condition",
    ),
    Case(
        "iam-no-admin-policies",
        "admin",
        lambda: p(
            rec(
                ATTACHMENT,
                "ollama-compute-ssm",
                role="r",
                policyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            )
        ),
        lambda: p(
            rec(
                ATTACHMENT,
                "ollama-compute-ssm",
                role="r",
                policyArn="arn:aws:iam::aws:policy/AdministratorAccess",
            )
        ),
        "ollama-compute-ssm",
        "AmazonSSMManagedInstanceCore",
    ),
    Case(
        "iam-trust-policy",
        "anyone",
        lambda: p(rec(ROLE, "ollama-compute-role", assumeRolePolicy=EC2_TRUST)),
        lambda: p(
            rec(
                ROLE,
                "ollama-compute-role",
                assumeRolePolicy=doc(
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
                ),
            )
        ),
        "ollama-compute-role",
        "service principal",
    ),
    # KMS key policies (CKV2_AWS_64)
    Case(
        "kms-key-policy",
        "missing",
        lambda: p(kms_key(KEY_ADMIN, BACKUP_VIA)),
        lambda: p(rec(KMS_KEY, "ollama-backup-vault-key", tags=PROD_TAGS)),
        "ollama-backup-vault-key",
        "customer_key",
    ),
    Case(
        "kms-key-policy",
        "unconditioned-use",
        lambda: p(kms_key(KEY_ADMIN, BACKUP_VIA)),
        lambda: p(kms_key(KEY_ADMIN, {k: v for k, v in BACKUP_VIA.items() if k != "Condition"})),
        "ollama-backup-vault-key",
        "kms:ViaService",
    ),
    Case(
        "kms-key-policy",
        "admin-to-a-service",
        lambda: p(kms_key(KEY_ADMIN, BACKUP_VIA)),
        lambda: p(
            kms_key({**KEY_ADMIN, "Principal": {"Service": "backup.amazonaws.com"}}, BACKUP_VIA)
        ),
        "ollama-backup-vault-key",
        "AccountAdministration",
    ),
    # logs, SNS
    Case(
        "log-group-retention",
        "forever",
        lambda: p(rec(LOG_GROUP, "ollama-obs-app", retentionInDays=30.0)),
        lambda: p(rec(LOG_GROUP, "ollama-obs-app", retentionInDays=0.0)),
        "ollama-obs-app",
        "retention_in_days",
    ),
    Case(  # staging keeps 30 days (an accepted finding); production keeps a year
        "log-group-retention-one-year",
        "production-90-days",
        lambda: p(
            rec(LOG_GROUP, "ollama-obs-app", retentionInDays=365.0, tags=PROD_TAGS),
            rec(LOG_GROUP, "ollama-obs-svc", retentionInDays=30.0, tags=STAGING_TAGS),
        ),
        lambda: p(rec(LOG_GROUP, "ollama-obs-app", retentionInDays=90.0, tags=PROD_TAGS)),
        "ollama-obs-app",
        "log_retention_days",
    ),
    Case(  # a log group without an Environment tag is held to the production bar
        "log-group-retention-one-year",
        "untagged",
        lambda: p(rec(LOG_GROUP, "ollama-obs-app", retentionInDays=731.0)),
        lambda: p(rec(LOG_GROUP, "ollama-obs-app", retentionInDays=30.0)),
        "ollama-obs-app",
        "365",
    ),
    Case(
        "log-group-kms",
        "service-key",
        lambda: p(
            rec(
                LOG_GROUP,
                "ollama-obs-app",
                retentionInDays=30.0,
                kmsKeyId="arn:aws:kms:us-east-1:1:key/k",
            )
        ),
        lambda: p(rec(LOG_GROUP, "ollama-obs-app", retentionInDays=30.0)),
        "ollama-obs-app",
        "log_kms_key_arn",
    ),
    Case(
        "sns-encryption",
        "plain",
        lambda: p(rec(TOPIC, "ollama-obs-alerts", kmsMasterKeyId="arn:aws:kms:us-east-1:1:key/k")),
        lambda: p(rec(TOPIC, "ollama-obs-alerts")),
        "ollama-obs-alerts",
        "kms_master_key_id",
    ),
    # RDS, ElastiCache, Secrets Manager
    Case(
        "rds-encryption",
        "off",
        lambda: p(rds()),
        lambda: p(rds(storageEncrypted=False)),
        "ollama-data-database",
        "storage_encrypted",
    ),
    Case(
        "rds-not-public",
        "public",
        lambda: p(rds()),
        lambda: p(rds(publiclyAccessible=True)),
        "ollama-data-database",
        "publicly_accessible=False",
    ),
    Case(
        "rds-backups",
        "none",
        lambda: p(rds()),
        lambda: p(rds(backupRetentionPeriod=0.0)),
        "ollama-data-database",
        "backup_retention_period",
    ),
    Case(
        "rds-deletion-protection",
        "off",
        lambda: p(rds(), rec(RDS, "ollama-dev-db", tags=DEV_TAGS, storageEncrypted=True)),
        lambda: p(rds(deletionProtection=False)),
        "ollama-data-database",
        "deletion_protection=True",
    ),
    Case(
        "elasticache-encryption-at-rest",
        "off",
        lambda: p(cache()),
        lambda: p(cache(atRestEncryptionEnabled=False)),
        "ollama-data-cache",
        "at_rest_encryption_enabled",
    ),
    Case(
        "elasticache-encryption-in-transit",
        "off",
        lambda: p(cache()),
        lambda: p(cache(transitEncryptionEnabled=False)),
        "ollama-data-cache",
        "transit_encryption_enabled",
    ),
    Case(
        "elasticache-not-public",
        "default-vpc",
        lambda: p(cache()),
        lambda: p(cache(subnetGroupName=None)),
        "ollama-data-cache",
        "subnet_group_name",
    ),
    Case(
        "elasticache-backups",
        "none",
        lambda: p(cache()),
        lambda: p(cache(snapshotRetentionLimit=0.0)),
        "ollama-data-cache",
        "snapshot_retention_limit",
    ),
    Case(
        "secretsmanager-cmk",
        "aws-key",
        lambda: p(
            rec(
                SECRET,
                "ollama-data-key",
                name="ollama/production/x",
                kmsKeyId="arn:aws:kms:us-east-1:1:key/k",
            )
        ),
        lambda: p(rec(SECRET, "ollama-data-key", name="ollama/production/x")),
        "ollama-data-key",
        "kms_key_arn",
    ),
    # secrets and tags
    Case(
        "no-plaintext-secrets",
        "user-data",
        lambda: p(launch_template()),
        lambda: p(launch_template(userData=b64(BAD_USER_DATA))),
        "ollama-compute-lt",
        "Secrets Manager",
    ),
    Case(
        "no-plaintext-secrets",
        "user-data-gzip",  # as the stack stores it: gzip, which cloud-init unpacks
        lambda: p(launch_template(userData=encode_user_data(GOOD_USER_DATA))),
        lambda: p(launch_template(userData=encode_user_data(BAD_USER_DATA))),
        "ollama-compute-lt",
        "Secrets Manager",
    ),
    Case(
        "no-plaintext-secrets",
        "parameter-value",
        lambda: p(
            rec(
                PARAMETER,
                "ollama-data-param",
                name="/ollama/production/webui/storage",
                type="String",
                value='{"bucket": "b"}',
            )
        ),
        lambda: p(
            rec(
                PARAMETER,
                "ollama-data-param",
                name="/ollama/production/webui/storage",
                type="String",
                value=f"key={FAKE_ACCESS_KEY}",
            )
        ),
        "ollama-data-param",
        "Secrets Manager",
    ),
    Case(
        "no-plaintext-secrets",
        "parameter-name",
        lambda: p(
            rec(
                PARAMETER,
                "ollama-data-param",
                name="/ollama/production/db-password",
                type="SecureString",
                value="x",
            )
        ),
        lambda: p(
            rec(
                PARAMETER,
                "ollama-data-param",
                name="/ollama/production/db-password",
                type="String",
                value="x",
            )
        ),
        "ollama-data-param",
        "SecureString",
    ),
    Case(
        "no-plaintext-secrets",
        "rds-password",
        lambda: p(rds()),
        lambda: p(rds(password="fake-password-1234")),
        "ollama-data-database",
        "manage_master_user_password",
    ),
    Case(
        "secrets-not-exposed",
        "output-value",
        lambda: p(password(), ollama_admin_secret_arn=GOOD_OUTPUT),
        lambda: p(password(), ollama_admin_password="fake-generated-0123456789abcdef"),
        "ollama-production",
        "ARN",
    ),
    Case(
        "secrets-not-exposed",
        "user-data-value",
        lambda: p(password(), launch_template()),
        lambda: p(
            password(),
            launch_template(userData=b64("#!/bin/bash\nADMIN='fake-generated-0123456789abcdef'\n")),
        ),
        "ollama-compute-lt",
        "ARN",
    ),
    Case(
        "secrets-not-exposed",
        "output-pattern",
        lambda: p(ollama_url="https://example.com"),
        lambda: p(ollama_debug=f"aws_access_key_id={FAKE_ACCESS_KEY}"),
        "ollama-production",
        "ARN",
    ),
    # single sign-on
    Case(
        "cognito-mfa-in-production",
        "off",
        lambda: p(user_pool(), user_pool(DEV_TAGS, mfaConfiguration="OFF")),
        lambda: p(user_pool(mfaConfiguration="OFF")),
        "ollama-auth-pool",
        "auth.mfa",
    ),
    Case(
        "cognito-mfa-in-production",
        "unset",
        lambda: p(user_pool(mfaConfiguration="OPTIONAL")),
        lambda: p(user_pool(mfaConfiguration=None)),
        "ollama-auth-pool",
        "auth.mfa",
    ),
    Case(
        "cognito-no-implicit-flow",
        "implicit",
        lambda: p(pool_client()),
        lambda: p(pool_client(allowedOauthFlows=["code", "implicit"])),
        "ollama-auth-client",
        "code flow",
    ),
    Case(
        "cognito-callbacks-on-stack-domain",
        "foreign-host",
        lambda: p(public_distribution(), pool_client()),
        lambda: p(
            public_distribution(),
            pool_client(callbackUrls=["https://evil.example.net/oauth/oidc/callback"]),
        ),
        "ollama-auth-client",
        "/oauth/oidc/callback",
    ),
    Case(
        "cognito-callbacks-on-stack-domain",
        "plain-http",
        lambda: p(public_distribution(), pool_client()),
        lambda: p(public_distribution(), pool_client(logoutUrls=["http://chat.example.com"])),
        "ollama-auth-client",
        "public URL",
    ),
    Case(
        "oidc-client-secret-not-plain",
        "secret-in-parameter",
        lambda: p(oidc_parameter()),
        lambda: p(oidc_parameter(client_secret="fake-client-secret-value")),
        "ollama-auth-oidc",
        "client_secret_arn",
    ),
    Case(
        "oidc-client-secret-not-plain",
        "no-arn",
        lambda: p(oidc_parameter()),
        lambda: p(oidc_parameter(client_secret_arn="fake-client-secret-value")),
        "ollama-auth-oidc",
        "Secrets Manager",
    ),
    Case(
        "oidc-client-secret-not-plain",
        "user-data",
        lambda: p(
            launch_template(userData=b64('#!/bin/bash\nenv_line OAUTH_CLIENT_SECRET "$secret"\n'))
        ),
        lambda: p(
            launch_template(userData=b64("#!/bin/bash\nOAUTH_CLIENT_SECRET=fake-value-123\n"))
        ),
        "ollama-compute-lt",
        "Secrets Manager at boot",
    ),
    Case(
        "required-tags",
        "missing",
        lambda: p(
            rec(VPC, "ollama-network-vpc", tags={**PROD_TAGS, "Name": "ollama-vpc-production"})
        ),
        lambda: p(rec(VPC, "ollama-network-vpc", tags={"Name": "ollama-vpc-production"})),
        "ollama-network-vpc",
        "ctx.tags",
    ),
    Case(
        "required-tags",
        "wrong-project",
        lambda: p(rec(VPC, "ollama-network-vpc", tags=PROD_TAGS)),
        lambda: p(rec(VPC, "ollama-network-vpc", tags={**PROD_TAGS, "Project": "other"})),
        "ollama-network-vpc",
        "ctx.tags",
    ),
    Case(
        "required-tags",
        "default-tags",
        lambda: p(rec(VPC, "ollama-network-vpc", tags={"Service": "network"})),
        lambda: p(rec(VPC, "ollama-network-vpc", tags={"Service": "network"})),
        "ollama-network-vpc",
        "ctx.tags",
        stack_values={
            "aws:defaultTags": {
                "tags": {"Project": "ollama", "Environment": "production", "ManagedBy": "pulumi"}
            }
        },
    ),
    # production guardrails (issue: rollouts and budgets)
    Case(
        "production-budget",
        "missing",
        lambda: p(_asg(), _budget()),
        lambda: p(_asg()),
        "ollama-compute-asg",
        "FORECASTED",
    ),
    Case(
        "production-budget",
        "actual-only",
        lambda: p(_asg(), _budget()),
        lambda: p(_asg(), _budget(kinds=("ACTUAL",))),
        "ollama-compute-asg",
        "FORECASTED",
    ),
    Case(
        "production-refresh-rollback",
        "off",
        lambda: p(_asg()),
        lambda: p(_asg(autoRollback=False)),
        "ollama-compute-asg",
        "refresh_auto_rollback",
    ),
    # A release change under a shared database (min 0, max 100, no checkpoints) has no
    # rollback on purpose; anything short of that form still needs it.
    Case(
        "production-refresh-rollback",
        "release-change-with-checkpoints",
        lambda: p(_asg(autoRollback=False, **RELEASE_CHANGE)),
        lambda: p(_asg(autoRollback=False, **RELEASE_CHANGE, checkpointPercentages=[50.0, 100.0])),
        "ollama-compute-asg",
        "refresh_auto_rollback",
    ),
    Case(
        "production-refresh-rollback",
        "release-change-keeping-half",
        lambda: p(_asg(autoRollback=False, **RELEASE_CHANGE)),
        lambda: p(_asg(autoRollback=False, **{**RELEASE_CHANGE, "minHealthyPercentage": 50.0})),
        "ollama-compute-asg",
        "refresh_auto_rollback",
    ),
    Case(
        "production-refresh-rollback",
        "release-change-without-alarms",
        lambda: p(_asg(autoRollback=False, **RELEASE_CHANGE)),
        lambda: p(_asg(autoRollback=False, alarms=[], **RELEASE_CHANGE)),
        "ollama-compute-asg",
        "refresh_auto_rollback",
    ),
    Case(
        "production-refresh-rollback",
        "no-alarms",
        lambda: p(_asg()),
        lambda: p(_asg(alarms=[])),
        "ollama-compute-asg",
        "refresh_auto_rollback",
    ),
]


def _result(ev: Evaluation, name: str, **kw: Any) -> PolicyResult:
    return evaluate_policies(ev, rules=[rule(name)], **kw).result(name)


def test_every_rule_has_cases() -> None:
    assert {c.rule for c in CASES} == {r.name for r in RULES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.rule}[{c.variant}]")
def test_compliant_record_passes(case: Case) -> None:
    kw: dict[str, Any] = {"config": case.config} if case.config else {}
    if case.stack_values:
        kw["stack_values"] = case.stack_values
        kw.setdefault("config", {})
    result = _result(case.good(), case.rule, **kw)
    assert result.violations == [], [v.message for v in result.violations]
    assert result.checked > 0, f"{case.rule} had nothing to check: the compliant case is vacuous"
    assert result.status == "pass"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.rule}[{c.variant}]")
def test_non_compliant_record_fails_naming_resource_and_fix(case: Case) -> None:
    # The "bad" plan is evaluated without the config/default tags that make the good one pass.
    result = _result(case.bad(), case.rule)
    assert result.violations, f"{case.rule} let a deliberately broken plan through"
    mine = [v for v in result.violations if v.resource == case.culprit]
    assert mine, [(v.resource, v.message) for v in result.violations]
    for v in mine:
        assert f"'{case.culprit}'" in v.message
        assert "Fix:" in v.message
        assert v.level == rule(case.rule).level.value
    assert any(case.fix in v.message for v in mine), [v.message for v in mine]
    assert result.status == ("fail" if rule(case.rule).advisory_reason is None else "warn")
