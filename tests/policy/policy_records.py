"""Hand-made resource records for the policy tests (test doubles, not real plans).

Each builder returns records shaped like the offline mocks' records (camelCase inputs,
``state`` = inputs plus id/arn), so the rules see exactly what they see in a real plan.
Every credential-looking string below is fake and exists only to trip the secret rules.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ollama_infra.offline.evaluate import Evaluation, ResourceRecord

ACCOUNT = "123456789012"
PROD_TAGS = {
    "Project": "ollama",
    "Environment": "production",
    "ManagedBy": "pulumi",
    "Service": "test",
}
DEV_TAGS = {**PROD_TAGS, "Environment": "dev"}


def rec(type_token: str, name: str, /, rid: str | None = None, **inputs: Any) -> ResourceRecord:
    rid = rid or inputs.get("bucket") or inputs.get("name") or f"{name}-id"
    state = {**inputs, "arn": f"arn:aws:test:us-east-1:{ACCOUNT}:{rid}"}
    return ResourceRecord(type_token, name, inputs, True, None, str(rid), state)


def plan(*records: ResourceRecord, stack: str = "production", **outputs: Any) -> Evaluation:
    return Evaluation(stack, "us-east-1", list(records), [], dict(outputs))


# ---------------------------------------------------------------------------- S3

BUCKET = "aws:s3/bucket:Bucket"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
STORAGE = f"ollama-storage-production-{ACCOUNT}"
LOGS = f"ollama-logs-production-{ACCOUNT}"


def tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def bucket_set(
    name: str = STORAGE,
    logical: str = "ollama-data-storage",
    algorithm: str = "aws:kms",
    pab: dict[str, Any] | None = None,
    versioning: str | None = "Enabled",
    policy: str | None = None,
    **bucket_inputs: Any,
) -> list[ResourceRecord]:
    """A bucket with its companion resources; each argument can break one of them."""
    out = [rec(BUCKET, logical, bucket=name, tags=PROD_TAGS, **bucket_inputs)]
    flags = {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    if pab is not None:
        out.append(rec(PAB, f"{logical}-pab", bucket=name, **{**flags, **pab}))
    if algorithm:
        rule = {"applyServerSideEncryptionByDefault": {"sseAlgorithm": algorithm}}
        out.append(rec(SSE, f"{logical}-sse", bucket=name, rules=[rule]))
    if versioning:
        out.append(
            rec(
                VERSIONING,
                f"{logical}-ver",
                bucket=name,
                versioningConfiguration={"status": versioning},
            )
        )
    out.append(
        rec(BUCKET_POLICY, f"{logical}-policy", bucket=name, policy=policy or tls_only_policy(name))
    )
    return out


def good_bucket(**changes: Any) -> list[ResourceRecord]:
    return bucket_set(pab=changes.pop("pab", {}), **changes)


# ---------------------------------------------------------------------------- compute

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
GOOD_METADATA = {
    "httpTokens": "required",
    "httpEndpoint": "enabled",
    "httpPutResponseHopLimit": 2.0,
}
GOOD_VOLUMES = [{"deviceName": "/dev/sda1", "ebs": {"encrypted": "true", "volumeSize": 60.0}}]
GOOD_NICS = [{"deviceIndex": 0.0, "associatePublicIpAddress": "false"}]
GOOD_USER_DATA = (
    "#!/bin/bash\nSECRET_PREFIX=ollama/production/\n"
    'WEBUI_SECRET_KEY="$(aws secretsmanager get-secret-value --secret-id "$SECRET_PREFIX'
    'webui-secret-key" --query SecretString --output text)"\n'
)
# Fake credentials, labelled as such: they only exist to trip the secret rules.
FAKE_ACCESS_KEY = "AKIA" + "FAKEFAKEFAKEFAKE"
BAD_USER_DATA = "#!/bin/bash\nexport WEBUI_SECRET_KEY=fake-literal-value-123\n"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def launch_template(**changes: Any) -> ResourceRecord:
    inputs: dict[str, Any] = {
        "namePrefix": "ollama-lt-production-",
        "metadataOptions": GOOD_METADATA,
        "blockDeviceMappings": GOOD_VOLUMES,
        "networkInterfaces": GOOD_NICS,
        "userData": b64(GOOD_USER_DATA),
        "tags": PROD_TAGS,
    }
    inputs.update(changes)
    return rec(LAUNCH_TEMPLATE, "ollama-compute-lt", **inputs)


# ---------------------------------------------------------------------------- single sign-on

USER_POOL = "aws:cognito/userPool:UserPool"
POOL_CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
PARAMETER = "aws:ssm/parameter:Parameter"
PUBLIC_HOST = "chat.example.com"
OIDC_SECRET_ARN = (
    f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:ollama/production/oidc-client-AbCdEf"
)


def user_pool(tags: dict[str, str] = PROD_TAGS, **changes: Any) -> ResourceRecord:
    inputs = {"name": "ollama-users-production", "mfaConfiguration": "ON", "tags": tags}
    return rec(USER_POOL, "ollama-auth-pool", **{**inputs, **changes})


def pool_client(**changes: Any) -> ResourceRecord:
    inputs = {
        "name": "ollama-webui-production",
        "allowedOauthFlows": ["code"],
        "callbackUrls": [f"https://{PUBLIC_HOST}/oauth/oidc/callback"],
        "logoutUrls": [f"https://{PUBLIC_HOST}"],
    }
    return rec(POOL_CLIENT, "ollama-auth-client", **{**inputs, **changes})


def public_distribution() -> ResourceRecord:
    record = rec(DISTRIBUTION, "ollama-edge-cdn-distribution", aliases=[PUBLIC_HOST])
    record.state["domainName"] = "d111111abcdef8.cloudfront.net"
    return record


def oidc_parameter(**settings: Any) -> ResourceRecord:
    value = {"client_id": "abc", "client_secret_arn": OIDC_SECRET_ARN, **settings}
    value = {k: v for k, v in value.items() if v is not None}
    return rec(
        PARAMETER,
        "ollama-auth-oidc",
        name="/ollama/production/webui/oidc",
        type="String",
        value=json.dumps(value),
        tags=PROD_TAGS,
    )
