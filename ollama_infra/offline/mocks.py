"""Placeholder answers for Pulumi's mock monitor, used by the offline plan and the tests.

Every value here is synthetic: ids are derived from the logical name so runs are
deterministic, the account is the documentation example account, and ARNs follow the
real formats so policies and IAM documents built from them look like the real thing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_ACCOUNT_ID = "123456789012"
EXAMPLE_AMI_ID = "ami-0a1b2c3d4e5f67890"
CLOUDFRONT_PREFIX_LIST_ID = "pl-3b927c52"

# id prefix per resource type token (what AWS would return).
_ID_PREFIX: dict[str, str] = {
    "aws:ec2/vpc:Vpc": "vpc-",
    "aws:ec2/subnet:Subnet": "subnet-",
    "aws:ec2/securityGroup:SecurityGroup": "sg-",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg-",
    "aws:ec2/internetGateway:InternetGateway": "igw-",
    "aws:ec2/natGateway:NatGateway": "nat-",
    "aws:ec2/eip:Eip": "eipalloc-",
    "aws:ec2/routeTable:RouteTable": "rtb-",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc-",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce-",
    "aws:ec2/flowLog:FlowLog": "fl-",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt-",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr-",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr-",
    "aws:kms/key:Key": "",
    "aws:cloudfront/distribution:Distribution": "E",
}

# ARN templates per type token: {p} partition, {r} region, {a} account, {n} physical name, {i} id.
_ARN: dict[str, str] = {
    "aws:iam/role:Role": "arn:{p}:iam::{a}:role/{n}",
    "aws:iam/instanceProfile:InstanceProfile": "arn:{p}:iam::{a}:instance-profile/{n}",
    "aws:iam/policy:Policy": "arn:{p}:iam::{a}:policy/{n}",
    "aws:s3/bucket:Bucket": "arn:{p}:s3:::{n}",
    "aws:s3/bucketV2:BucketV2": "arn:{p}:s3:::{n}",
    "aws:dynamodb/table:Table": "arn:{p}:dynamodb:{r}:{a}:table/{n}",
    "aws:cloudwatch/logGroup:LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{n}",
    "aws:sns/topic:Topic": "arn:{p}:sns:{r}:{a}:{n}",
    "aws:kms/key:Key": "arn:{p}:kms:{r}:{a}:key/{i}",
    "aws:secretsmanager/secret:Secret": "arn:{p}:secretsmanager:{r}:{a}:secret:{n}-AbCdEf",
    "aws:ssm/parameter:Parameter": "arn:{p}:ssm:{r}:{a}:parameter{n}",
    "aws:lb/loadBalancer:LoadBalancer": "arn:{p}:elasticloadbalancing:{r}:{a}:loadbalancer/app/{n}/{i}",
    "aws:lb/targetGroup:TargetGroup": "arn:{p}:elasticloadbalancing:{r}:{a}:targetgroup/{n}/{i}",
    "aws:lb/listener:Listener": "arn:{p}:elasticloadbalancing:{r}:{a}:listener/app/{n}/{i}",
    "aws:autoscaling/group:Group": "arn:{p}:autoscaling:{r}:{a}:autoScalingGroup:{i}:autoScalingGroupName/{n}",
    "aws:autoscaling/policy:Policy": "arn:{p}:autoscaling:{r}:{a}:scalingPolicy:{i}:autoScalingGroupName/asg:policyName/{n}",
    "aws:cloudfront/distribution:Distribution": "arn:{p}:cloudfront::{a}:distribution/{i}",
    "aws:wafv2/webAcl:WebAcl": "arn:{p}:wafv2:us-east-1:{a}:global/webacl/{n}/{i}",
    "aws:rds/instance:Instance": "arn:{p}:rds:{r}:{a}:db:{n}",
    "aws:elasticache/replicationGroup:ReplicationGroup": "arn:{p}:elasticache:{r}:{a}:replicationgroup:{n}",
    "aws:backup/vault:Vault": "arn:{p}:backup:{r}:{a}:backup-vault:{n}",
    "aws:backup/plan:Plan": "arn:{p}:backup:{r}:{a}:backup-plan:{i}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:{p}:cloudwatch:{r}:{a}:alarm:{n}",
    "aws:cloudwatch/dashboard:Dashboard": "arn:{p}:cloudwatch::{a}:dashboard/{n}",
}

# Name-like input per type (what AWS calls the resource's name).
_NAME_INPUTS = (
    "name",
    "bucket",
    "tableName",
    "identifier",
    "replicationGroupId",
    "dashboardName",
    "alarmName",
    "namePrefix",
    "bucketPrefix",
)


def _hex(seed: str, length: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def physical_name(inputs: dict[str, Any]) -> str | None:
    """The AWS name a resource would get, from its name-like input or Name tag."""
    for key in _NAME_INPUTS:
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return value
    tags = inputs.get("tags")
    if isinstance(tags, dict) and isinstance(tags.get("Name"), str):
        return tags["Name"]
    return None


def _repo_path(path: str) -> str:
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else path


def describe_asset(value: Any) -> Any:
    """A Lambda code archive as plain, reproducible data (files by repository path), so a
    plan record reads the same on every machine; anything else unchanged."""
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {k: describe_asset(v) for k, v in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        kind = "file_archive" if isinstance(value, pulumi.FileArchive) else "file"
        return {kind: _repo_path(value.path)}
    return value


@dataclass(frozen=True)
class MockedResource:
    """One registration as the mocks answered it."""

    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    provider: str | None
    id: str
    state: dict[str, Any]


@dataclass
class OfflineMocks(pulumi.runtime.Mocks):
    """Records every registration and answers with realistic placeholder values."""

    region: str = "us-east-1"
    account_id: str = EXAMPLE_ACCOUNT_ID
    partition: str = "aws"
    resources: list[MockedResource] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # provider id -> region of explicit providers, so resources created through one get
    # that region in their ARNs (DR bucket, backup copy vault, us-east-1 alarms).
    provider_regions: dict[str, str] = field(default_factory=dict)
    # SSM parameters that exist before the program runs (name -> value): a deployed stack's
    # release record. Empty by default: the plan shows a stack deployed for the first time.
    parameters: dict[str, str] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        recorded = {key: describe_asset(value) for key, value in inputs.items()}
        if not args.custom:
            self.resources.append(
                MockedResource(args.typ, args.name, recorded, False, None, "", {})
            )
            return None, {}
        seed = f"{args.typ}::{args.name}"
        prefix = _ID_PREFIX.get(args.typ)
        provider_id = (args.provider or "").rsplit("::", 1)[-1]
        region = inputs.get("region") or self.provider_regions.get(provider_id) or self.region
        pname = physical_name(inputs) or f"{args.name}-{_hex(seed, 7)}"
        if not inputs.get("name") and isinstance(inputs.get("namePrefix"), str):
            # AWS names it: the prefix plus the provider's 26-character unique suffix.
            pname = f"{inputs['namePrefix']}{int(_hex(seed, 20), 16) % 10**26:026d}"
        if args.typ.startswith("pulumi:providers:"):
            rid = _hex(seed, 8)
            if isinstance(inputs.get("region"), str):
                self.provider_regions[rid] = inputs["region"]
        elif prefix is not None:
            rid = f"{prefix}{_hex(seed, 17)}"
        else:
            rid = pname
        if args.typ == "aws:cognito/userPool:UserPool":
            rid = f"{region}_{_hex(seed, 9)}"  # Cognito pool ids: <region>_<9 characters>
        elif args.typ == "aws:cognito/userPoolClient:UserPoolClient":
            rid = _hex(seed, 26)
        state: dict[str, Any] = dict(inputs)
        state.setdefault("name", pname)
        template = _ARN.get(args.typ)
        if template:
            state["arn"] = template.format(
                p=self.partition, r=region, a=self.account_id, n=pname, i=_hex(seed, 16)
            )
        else:
            service = args.typ.split(":")[1].split("/")[0]
            state["arn"] = f"arn:{self.partition}:{service}:{region}:{self.account_id}:{rid}"
        state.update(self._extra_state(args.typ, pname, rid, region, seed))
        self.resources.append(
            MockedResource(args.typ, args.name, recorded, True, args.provider, rid, state)
        )
        return rid, state

    def _extra_state(
        self, typ: str, pname: str, rid: str, region: str, seed: str
    ) -> dict[str, Any]:
        if typ == "aws:lb/loadBalancer:LoadBalancer":
            return {
                "dnsName": f"{pname}-{int(_hex(seed, 8), 16) % 10**10}.{region}.elb.amazonaws.com",
                "zoneId": "Z35SXDOTRQ7X7K",
                "arnSuffix": f"app/{pname}/{_hex(seed, 16)}",
            }
        if typ == "aws:lb/targetGroup:TargetGroup":
            return {"arnSuffix": f"targetgroup/{pname}/{_hex(seed, 16)}"}
        if typ == "aws:cloudfront/distribution:Distribution":
            return {
                "domainName": f"d{_hex(seed, 13)}.cloudfront.net",
                "hostedZoneId": "Z2FDTNDATAQYW2",
            }
        if typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            return {
                "bucket": pname,
                "bucketRegionalDomainName": f"{pname}.s3.{region}.amazonaws.com",
                "bucketDomainName": f"{pname}.s3.amazonaws.com",
            }
        if typ == "aws:rds/instance:Instance":
            return {
                "address": f"{pname}.c{_hex(seed, 12)}.{region}.rds.amazonaws.com",
                "endpoint": f"{pname}.c{_hex(seed, 12)}.{region}.rds.amazonaws.com:5432",
                "port": 5432,
                "masterUserSecrets": [
                    {
                        "secretArn": f"arn:{self.partition}:secretsmanager:{region}:"
                        f"{self.account_id}:secret:rds!db-{_hex(seed, 8)}-AbCdEf",
                        "secretStatus": "active",
                        "kmsKeyId": "",
                    }
                ],
            }
        if typ == "aws:elasticache/replicationGroup:ReplicationGroup":
            return {
                "primaryEndpointAddress": f"master.{pname}.{_hex(seed, 6)}.use1.cache.amazonaws.com",
                "port": 6379,
            }
        if typ == "aws:autoscaling/group:Group":
            return {"name": pname}
        if typ == "aws:kms/key:Key":
            kid = (
                f"{_hex(seed, 8)}-{_hex(seed + '1', 4)}-{_hex(seed + '2', 4)}-"
                f"{_hex(seed + '3', 4)}-{_hex(seed + '4', 12)}"
            )
            return {
                "keyId": kid,
                "arn": f"arn:{self.partition}:kms:{region}:{self.account_id}:key/{kid}",
            }
        if typ == "random:index/randomPassword:RandomPassword":
            # A stand-in for the generated value, unique per resource (tests look for leaks).
            return {"result": f"mock-{_hex(seed, 32)}", "bcryptHash": f"$2a$10${_hex(seed, 53)}"}
        if typ == "aws:secretsmanager/secretVersion:SecretVersion":
            return {"versionId": _hex(seed, 32)}
        if typ == "aws:ec2/launchTemplate:LaunchTemplate":
            return {"latestVersion": 1, "defaultVersion": 1}
        if typ == "aws:sns/topic:Topic":
            return {"name": pname}
        if typ == "aws:cognito/userPool:UserPool":
            pool_id = f"{region}_{_hex(seed, 9)}"
            return {
                "arn": f"arn:{self.partition}:cognito-idp:{region}:{self.account_id}:userpool/{pool_id}",
                "endpoint": f"cognito-idp.{region}.amazonaws.com/{pool_id}",
            }
        if typ == "aws:cognito/userPoolClient:UserPoolClient":
            # A stand-in for the generated secret, unique per client (tests look for leaks).
            return {"clientSecret": f"mock-client-secret-{_hex(seed, 24)}"}
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        tok, inputs = args.token, dict(args.args)
        self.calls.append((tok, inputs))
        region = inputs.get("region") or self.region
        if tok == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account_id,
                "arn": f"arn:{self.partition}:iam::{self.account_id}:user/offline-plan",
                "userId": "AIDAEXAMPLEOFFLINE",
                "id": self.account_id,
            }
        if tok == "aws:index/getPartition:getPartition":
            return {"partition": self.partition, "dnsSuffix": "amazonaws.com", "id": self.partition}
        if tok == "aws:index/getRegion:getRegion":
            return {
                "name": region,
                "region": region,
                "id": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }
        if tok == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{region}{s}" for s in "abc"]
            return {
                "names": names,
                "zoneIds": [f"use1-az{i}" for i in (1, 2, 4)],
                "id": region,
                "groupNames": [region],
            }
        if tok == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            return {
                "id": CLOUDFRONT_PREFIX_LIST_ID,
                "name": inputs.get("name", ""),
                "arn": f"arn:{self.partition}:ec2:{region}:aws:prefix-list/"
                f"{CLOUDFRONT_PREFIX_LIST_ID}",
                "maxEntries": 55,
            }
        if tok == "aws:ssm/getParameter:getParameter":
            return {
                "name": inputs.get("name"),
                "value": EXAMPLE_AMI_ID,
                "insecureValue": EXAMPLE_AMI_ID,
                "type": "String",
                "version": 1,
                "id": inputs.get("name"),
                "arn": f"arn:{self.partition}:ssm:{region}::parameter{inputs.get('name')}",
            }
        if tok == "aws:ssm/getParametersByPath:getParametersByPath":
            folder = str(inputs.get("path", "")).rstrip("/") + "/"
            deep = bool(inputs.get("recursive"))
            found = sorted(
                (name, value)
                for name, value in self.parameters.items()
                if name.startswith(folder) and (deep or "/" not in name[len(folder) :])
            )
            return {
                "id": inputs.get("path"),
                "path": inputs.get("path"),
                "names": [name for name, _ in found],
                "values": [value for _, value in found],
                "types": ["String" for _ in found],
                "arns": [
                    f"arn:{self.partition}:ssm:{region}:{self.account_id}:parameter{name}"
                    for name, _ in found
                ],
            }
        if tok == "aws:ec2/getAmi:getAmi":
            return {"id": EXAMPLE_AMI_ID, "imageId": EXAMPLE_AMI_ID, "architecture": "x86_64"}
        if tok == "aws:s3/getCanonicalUserId:getCanonicalUserId":
            return {"id": _hex(f"canonical::{self.account_id}", 64), "displayName": "offline-plan"}
        if tok == "aws:cloudfront/getLogDeliveryCanonicalUserId:getLogDeliveryCanonicalUserId":
            # The documented canonical user of CloudFront's log delivery (awslogsdelivery).
            return {"id": "c4c1ede66af53448b93c283ce9448c4ba468c9432aa01d700d3878632f77d2d0"}
        if tok == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps({"Version": "2012-10-17", "Statement": []}), "id": "doc"}
        return {"id": f"{tok.rsplit(':', 1)[-1]}-offline"}
