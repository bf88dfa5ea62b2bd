"""Data component: catalog table, buckets, Open WebUI shared state, parameters, outputs.

Every invariant is a ``*_violations(ev)`` function over the resource records of the real
stack files (evaluated under the offline Pulumi mocks, a test double for AWS), asserted
empty for every stack and non-empty for a deliberately broken record.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from harness import (
    STACKS,
    config_for,
    evaluated,
    override,
    replace_record,
    run_program,
    stack_values,
)

from ollama_infra.config import ConfigError, parse_config
from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.offline.evaluate import unwrap_secrets as plain
from ollama_infra.userdata import decode_user_data, encode_user_data

TABLE = "aws:dynamodb/table:Table"
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
METRIC = "aws:s3/bucketMetric:BucketMetric"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
RDS = "aws:rds/instance:Instance"
CACHE = "aws:elasticache/replicationGroup:ReplicationGroup"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
TOPIC = "aws:sns/topic:Topic"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
PASSWORD = "random:index/randomPassword:RandomPassword"
PARAMETER = "aws:ssm/parameter:Parameter"
PROVIDER = "pulumi:providers:aws"


def by_bucket(ev: Evaluation, type_token: str) -> dict[str, list[ResourceRecord]]:
    out: dict[str, list[ResourceRecord]] = {}
    for r in ev.of_type(type_token):
        out.setdefault(str(r.inputs.get("bucket")), []).append(r)
    return out


def buckets(ev: Evaluation) -> list[str]:
    return [str(b.inputs["bucket"]) for b in ev.of_type(BUCKET)]


def provider_region(ev: Evaluation, record: ResourceRecord) -> str:
    """Region a record is created in: its explicit provider's, else the stack's."""
    if not record.provider:
        return ev.region
    provider_id = record.provider.rsplit("::", 1)[-1]
    for p in ev.of_type(PROVIDER):
        if p.id == provider_id:
            return str(p.inputs["region"])
    raise AssertionError(f"{record.name}: provider {record.provider} not found")


# ------------------------------------------------------------------ Property 27


def encryption_violations(ev: Evaluation) -> list[str]:
    """Property 27: encryption at rest on every bucket, table, database, cache, EBS, topic."""
    out = []
    sse = by_bucket(ev, SSE)
    for name in buckets(ev):
        rules = [rule for r in sse.get(name, []) for rule in r.inputs.get("rules", [])]
        algorithms = [
            (rule.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm")
            for rule in rules
        ]
        if not any(a in ("AES256", "aws:kms", "aws:kms:dsse") for a in algorithms):
            out.append(f"bucket {name} has no default server-side encryption")
    for t in ev.of_type(TABLE):
        if not (t.inputs.get("serverSideEncryption") or {}).get("enabled"):
            out.append(f"table {t.inputs.get('name')} has no explicit SSE")
    for db in ev.of_type(RDS):
        if db.inputs.get("storageEncrypted") is not True:
            out.append(f"database {db.inputs.get('identifier')} storage is not encrypted")
    for c in ev.of_type(CACHE):
        if c.inputs.get("atRestEncryptionEnabled") not in (True, "true"):
            out.append(f"cache {c.inputs.get('replicationGroupId')} is not encrypted at rest")
    for lt in ev.of_type(LAUNCH_TEMPLATE):
        for bdm in lt.inputs.get("blockDeviceMappings", []):
            if str((bdm.get("ebs") or {}).get("encrypted")).lower() != "true":
                out.append(f"launch template {lt.name}: EBS {bdm.get('deviceName')} unencrypted")
    for topic in ev.of_type(TOPIC):
        if not topic.inputs.get("kmsMasterKeyId"):
            out.append(f"topic {topic.inputs.get('name')} has no KMS key")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_property_27_encryption_at_rest(stack: str) -> None:
    """Property 27 (encryption at rest): every S3 bucket, the table, the database, the cache,
    EBS volumes and SNS topics are encrypted."""
    ev = evaluated(stack)
    assert ev.of_type(BUCKET) and ev.of_type(TABLE), "nothing to check"
    assert encryption_violations(ev) == []


@pytest.mark.parametrize(
    ("logical", "changes", "expected"),
    [
        ("ollama-data-storage-sse", {"rules": []}, "no default server-side encryption"),
        ("ollama-data-table", {"serverSideEncryption": {"enabled": False}}, "no explicit SSE"),
        ("ollama-data-database", {"storageEncrypted": False}, "not encrypted"),
        ("ollama-data-cache", {"atRestEncryptionEnabled": False}, "not encrypted at rest"),
    ],
)
def test_property_27_catches_unencrypted_resources(
    logical: str, changes: dict[str, Any], expected: str
) -> None:
    broken = replace_record(evaluated("production"), logical, **changes)
    assert any(expected in v for v in encryption_violations(broken))


def test_storage_encryption_follows_the_kms_setting() -> None:
    sse = evaluated("dev").named("ollama-data-storage-sse").inputs["rules"][0]
    # SSE-KMS with the AWS managed key aws/s3 unless data.kms_key_arn names one.
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ev = run_program("dev", override(stack_values("dev"), "data", kms_key_arn=key))
    rule = ev.named("ollama-data-storage-sse").inputs["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key,
    }
    assert rule["bucketKeyEnabled"] is True
    assert ev.named("ollama-data-table").inputs["serverSideEncryption"]["kmsKeyArn"] == key
    assert all(s.inputs["kmsKeyId"] == key for s in ev.of_type(SECRET) if "data" in s.name)


# ------------------------------------------------------------------ buckets


def public_access_violations(ev: Evaluation) -> list[str]:
    out = []
    blocks = by_bucket(ev, PAB)
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    for name in buckets(ev):
        pab = blocks.get(name)
        if not pab:
            out.append(f"bucket {name} has no public access block")
            continue
        off = [f for f in flags if pab[0].inputs.get(f) is not True]
        if off:
            out.append(f"bucket {name}: public access block leaves {off} off")
    return out


def tls_only_violations(ev: Evaluation) -> list[str]:
    out = []
    policies = by_bucket(ev, POLICY)
    for name in buckets(ev):
        arn = f"arn:aws:s3:::{name}"
        denied = False
        for p in policies.get(name, []):
            for st in json.loads(plain(p.inputs["policy"]))["Statement"]:
                cond = (st.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
                resources = st.get("Resource")
                resources = [resources] if isinstance(resources, str) else resources or []
                denied |= (
                    st.get("Effect") == "Deny"
                    and st.get("Principal") in ("*", {"AWS": "*"})
                    and st.get("Action") in ("s3:*", ["s3:*"])
                    and str(cond).lower() == "false"
                    and arn in resources
                    and f"{arn}/*" in resources
                )
        if not denied:
            out.append(f"bucket {name} does not deny non-TLS requests")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_every_bucket_blocks_public_access_and_plain_http(stack: str) -> None:
    ev = evaluated(stack)
    assert len(buckets(ev)) >= 2, "expected the storage and log buckets at least"
    assert public_access_violations(ev) == []
    assert tls_only_violations(ev) == []


def test_bucket_checks_catch_broken_records() -> None:
    ev = evaluated("production")
    broken = replace_record(ev, "ollama-data-storage-public-access-block", ignorePublicAcls=False)
    assert any("ignorePublicAcls" in v for v in public_access_violations(broken))
    bucket = ev.named("ollama-data-storage-dr").inputs["bucket"]
    broken = replace_record(ev, "ollama-data-storage-dr-public-access-block", bucket="other")
    assert f"bucket {bucket} has no public access block" in public_access_violations(broken)
    policy = json.loads(plain(ev.named("ollama-data-storage-policy").inputs["policy"]))
    policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] = "true"
    broken = replace_record(ev, "ollama-data-storage-policy", policy=json.dumps(policy))
    assert any("ollama-storage-production" in v for v in tls_only_violations(broken))
    policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] = "false"
    policy["Statement"][0]["Resource"] = policy["Statement"][0]["Resource"][:1]
    broken = replace_record(ev, "ollama-data-storage-policy", policy=json.dumps(policy))
    assert any("ollama-storage-production" in v for v in tls_only_violations(broken))


@pytest.mark.parametrize("stack", STACKS)
def test_storage_bucket_versioning_lifecycle_logging_and_metrics(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    name = f"ollama-storage-{stack}-123456789012"
    assert name in buckets(ev)
    assert by_bucket(ev, VERSIONING)[name][0].inputs["versioningConfiguration"] == {
        "status": "Enabled"
    }
    (rule,) = by_bucket(ev, LIFECYCLE)[name][0].inputs["rules"]
    assert rule["status"] == "Enabled"
    assert [(t["days"], t["storageClass"]) for t in rule["transitions"]] == [
        (cfg.data.storage_ia_after_days, "STANDARD_IA"),
        (cfg.data.storage_glacier_after_days, "GLACIER"),
    ]
    assert rule["noncurrentVersionExpiration"] == {
        "noncurrentDays": cfg.data.noncurrent_version_expiry_days
    }
    (logging,) = by_bucket(ev, LOGGING)[name]
    assert logging.inputs["targetBucket"] == f"ollama-logs-{stack}-123456789012"
    assert logging.inputs["targetPrefix"] == "s3-access/"
    assert logging.inputs["targetBucket"] in buckets(ev), "log bucket must exist in the stack"
    (metric,) = by_bucket(ev, METRIC)[name]
    assert metric.inputs["name"] == "EntireBucket"
    assert "filter" not in metric.inputs  # the whole bucket


def test_production_replicates_storage_to_a_versioned_dr_bucket_in_another_region() -> None:
    ev, cfg = evaluated("production"), config_for("production")
    dr = ev.named("ollama-data-storage-dr")
    assert dr.inputs["bucket"] == "ollama-storage-dr-production-123456789012"
    assert provider_region(ev, dr) == cfg.data.replication_region != ev.region
    for role in ("versioning", "sse", "public-access-block", "policy", "lifecycle"):
        assert provider_region(ev, ev.named(f"ollama-data-storage-dr-{role}")) == "us-west-2"
    assert by_bucket(ev, VERSIONING)[dr.inputs["bucket"]][0].inputs["versioningConfiguration"][
        "status"
    ] == ("Enabled")
    (repl,) = ev.of_type(REPLICATION)
    assert repl.inputs["bucket"] == "ollama-storage-production-123456789012"
    (rule,) = repl.inputs["rules"]
    assert rule["destination"]["bucket"] == "arn:aws:s3:::ollama-storage-dr-production-123456789012"
    assert rule["status"] == "Enabled"
    assert rule["deleteMarkerReplication"] == {"status": "Enabled"}
    # SSE-KMS objects replicate only when selected, into a key in the DR region.
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    dr_key = ev.named("ollama-data-storage-dr-key")
    assert provider_region(ev, dr_key) == "us-west-2"
    assert dr_key.inputs["enableKeyRotation"] is True
    assert ":us-west-2:" in dr_key.state["arn"]
    assert rule["destination"]["encryptionConfiguration"] == {
        "replicaKmsKeyId": dr_key.state["arn"]
    }
    dr_sse = ev.named("ollama-data-storage-dr-sse").inputs["rules"][0]
    assert dr_sse["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == dr_key.state["arn"]
    role = ev.named("ollama-data-replication-role")
    assert repl.inputs["role"] == f"arn:aws:iam::123456789012:role/{role.state['name']}"
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    policy = json.loads(ev.named("ollama-data-replication-policy").inputs["policy"])
    statements = {st["Sid"]: st for st in policy["Statement"]}
    actions = [
        a
        for st in policy["Statement"]
        for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
    ]
    assert "s3:ReplicateObject" in actions
    assert not any("*" in a for a in actions)
    assert statements["EncryptReplica"]["Resource"] == dr_key.state["arn"]
    decrypt = statements["DecryptSource"]
    assert decrypt["Resource"] == "*"  # the AWS managed aws/s3 key, usable only through S3:
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert not evaluated("staging").of_type(REPLICATION)


# ------------------------------------------------------------------ table


def table_violations(ev: Evaluation, deletion_protection: bool) -> list[str]:
    out = []
    tables = ev.of_type(TABLE)
    if len(tables) != 1:
        return [f"expected one catalog table, found {len(tables)}"]
    t = tables[0].inputs
    if not (t.get("pointInTimeRecovery") or {}).get("enabled"):
        out.append("point-in-time recovery is off")
    if t.get("deletionProtectionEnabled") is not deletion_protection:
        out.append(f"deletion protection is {t.get('deletionProtectionEnabled')}")
    if (t.get("hashKey"), t.get("rangeKey")) != ("environment", "model"):
        out.append("keys are not environment/model")
    if t.get("billingMode") != "PAY_PER_REQUEST":
        out.append("billing mode is not on-demand")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_catalog_table_pitr_keys_and_deletion_protection(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    assert cfg.deletion_protection is (stack != "dev")
    assert table_violations(ev, cfg.deletion_protection) == []
    t = ev.of_type(TABLE)[0].inputs
    assert t["name"] == f"ollama-data-table-{stack}"
    assert {(a["name"], a["type"]) for a in t["attributes"]} == {
        ("environment", "S"),
        ("model", "S"),
    }


def deletion_protection_violations(ev: Evaluation, expected: bool) -> list[str]:
    out = []
    for t in ev.of_type(TABLE):
        if t.inputs.get("deletionProtectionEnabled") is not expected:
            out.append(f"table {t.inputs['name']}: deletion protection is not {expected}")
    for db in ev.of_type(RDS):
        if db.inputs.get("deletionProtection") is not expected:
            out.append(f"database {db.inputs['identifier']}: deletion protection is not {expected}")
        if not expected and db.inputs.get("skipFinalSnapshot") is not True:
            out.append(f"database {db.inputs['identifier']}: unprotected but keeps snapshots")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_deletion_protection_where_configured(stack: str) -> None:
    cfg = config_for(stack)
    assert deletion_protection_violations(evaluated(stack), cfg.deletion_protection) == []


def test_deletion_protection_can_be_switched_on_in_dev_and_is_checked() -> None:
    values = override(stack_values("dev"), "data", deletion_protection=True, database_enabled=True)
    ev = run_program("dev", values)
    assert deletion_protection_violations(ev, True) == []
    broken = replace_record(ev, "ollama-data-database", deletionProtection=False)
    assert any("ollama-webui-db-dev" in v for v in deletion_protection_violations(broken, True))
    broken = replace_record(ev, "ollama-data-table", deletionProtectionEnabled=False)
    assert any("ollama-data-table-dev" in v for v in deletion_protection_violations(broken, True))


VAULT = "aws:backup/vault:Vault"


def force_destroy_violations(ev: Evaluation) -> list[str]:
    """Outside dev, no bucket or backup vault may be deleted together with its contents."""
    if ev.stack == "dev":
        return []
    return [
        f"{r.type.rsplit(':', 1)[-1]} {r.physical_name}: force_destroy outside dev"
        for r in [*ev.of_type(BUCKET), *ev.of_type(VAULT)]
        if r.inputs.get("forceDestroy") is not False
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_buckets_and_vaults_keep_their_contents_outside_dev(stack: str) -> None:
    ev = evaluated(stack)
    names = {r.physical_name for r in ev.of_type(BUCKET)}
    assert f"ollama-storage-{stack}-123456789012" in names  # the storage bucket is checked
    assert ev.of_type(VAULT)
    assert force_destroy_violations(ev) == []
    if stack == "dev":  # dev may be torn down with its objects and recovery points
        assert all(r.inputs.get("forceDestroy") is True for r in ev.of_type(BUCKET))


@pytest.mark.parametrize("logical_name", ["ollama-data-storage", "ollama-backup-vault"])
def test_force_destroy_check_catches_a_broken_record(logical_name: str) -> None:
    broken = replace_record(evaluated("production"), logical_name, forceDestroy=True)
    assert len(force_destroy_violations(broken)) == 1


def test_table_checks_catch_broken_records() -> None:
    ev = evaluated("staging")
    assert "point-in-time recovery is off" in table_violations(
        replace_record(ev, "ollama-data-table", pointInTimeRecovery={"enabled": False}), True
    )
    assert "deletion protection is False" in table_violations(
        replace_record(ev, "ollama-data-table", deletionProtectionEnabled=False), True
    )
    assert "keys are not environment/model" in table_violations(
        replace_record(ev, "ollama-data-table", rangeKey="name"), True
    )


# ------------------------------------------------------------------ database and cache


def private_service_violations(ev: Evaluation) -> list[str]:
    """The database and cache: private, in their own SG, reachable only from the app SG (and
    the database also from its login rotation function's own group)."""
    out = []
    groups = {g.inputs["tags"]["Name"]: g.id for g in ev.of_type(SG)}
    app = groups[f"ollama-app-sg-{ev.stack}"]
    rotation = groups.get(f"ollama-db-rotation-sg-{ev.stack}")
    services = [
        (RDS, "vpcSecurityGroupIds", f"ollama-db-sg-{ev.stack}", 5432, {app, rotation}),
        (CACHE, "securityGroupIds", f"ollama-cache-sg-{ev.stack}", 6379, {app}),
    ]
    for type_token, sg_key, sg_name, port, clients in services:
        for r in ev.of_type(type_token):
            if r.inputs.get("publiclyAccessible"):
                out.append(f"{r.name} is publicly accessible")
            if r.inputs.get(sg_key) != [groups.get(sg_name)]:
                out.append(f"{r.name} is not in exactly its own group {sg_name}")
            rules = [
                i for i in ev.of_type(INGRESS) if i.inputs["securityGroupId"] == groups[sg_name]
            ]
            if not rules:
                out.append(f"{sg_name} has no ingress rule")
            for rule in rules:
                i = rule.inputs
                if i.get("referencedSecurityGroupId") not in clients - {None} or any(
                    i.get(k) for k in ("cidrIpv4", "cidrIpv6", "prefixListId")
                ):
                    out.append(f"{rule.name} admits something other than the app SG")
                if (i.get("fromPort"), i.get("toPort")) != (port, port):
                    out.append(f"{rule.name} opens ports other than {port}")
            if type_token == RDS and rotation is not None:
                sources = {rule.inputs.get("referencedSecurityGroupId") for rule in rules}
                if rotation not in sources:
                    out.append(f"{sg_name} does not admit the rotation function")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_database_and_cache_reachable_only_from_the_app(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    assert len(ev.of_type(RDS)) == int(cfg.data.database_enabled)
    assert len(ev.of_type(CACHE)) == int(cfg.data.cache_enabled)
    assert private_service_violations(ev) == []


@pytest.mark.parametrize(
    ("logical", "changes", "expected"),
    [
        ("ollama-data-database", {"publiclyAccessible": True}, "publicly accessible"),
        ("ollama-data-cache", {"securityGroupIds": ["sg-0123"]}, "not in exactly its own group"),
        (
            "ollama-security-db-from-app",
            {"cidrIpv4": "10.30.0.0/16"},
            "admits something other than the app SG",
        ),
        ("ollama-security-cache-from-app", {"toPort": 6390}, "opens ports other than 6379"),
        (
            "ollama-security-db-from-rotation",
            {"referencedSecurityGroupId": "sg-0123"},
            "admits something other than the app SG",
        ),
        ("ollama-security-db-from-rotation", {"toPort": 5433}, "opens ports other than 5432"),
    ],
)
def test_private_service_check_catches_broken_records(
    logical: str, changes: dict[str, Any], expected: str
) -> None:
    broken = replace_record(evaluated("production"), logical, **changes)
    assert any(expected in v for v in private_service_violations(broken))


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_database_settings(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    (db,) = ev.of_type(RDS)
    i = db.inputs
    assert i["identifier"] == f"ollama-webui-db-{stack}"
    assert i["engine"] == "postgres"
    assert i["engineVersion"] == cfg.data.database_engine_version
    assert int(i["engineVersion"].split(".")[0]) >= 15  # pgvector for VECTOR_DB
    assert i["manageMasterUserPassword"] is True
    assert "password" not in i
    assert i["multiAz"] is (stack == "production")
    assert i["deletionProtection"] is cfg.deletion_protection is True
    assert i["skipFinalSnapshot"] is False and i["finalSnapshotIdentifier"]
    assert i["backupRetentionPeriod"] == cfg.data.database_backup_retention_days
    assert i["performanceInsightsEnabled"] is cfg.data.database_performance_insights
    subnets = ev.named("ollama-data-db-subnets").inputs["subnetIds"]
    assert subnets == ev.outputs["ollama_private_subnet_ids"]


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_cache_settings(stack: str) -> None:
    ev = evaluated(stack)
    (cache,) = ev.of_type(CACHE)
    i = cache.inputs
    multi_az = stack == "production"
    assert i["replicationGroupId"] == f"ollama-webui-cache-{stack}"
    assert i["transitEncryptionEnabled"] is True
    assert i["transitEncryptionMode"] == "required"
    assert plain(i["authToken"]) == plain(
        ev.named("ollama-data-redis-auth-value").inputs["secretString"]
    )
    assert i["automaticFailoverEnabled"] is multi_az
    assert i["multiAzEnabled"] is multi_az
    assert i["numCacheClusters"] == (2 if multi_az else 1)
    subnets = ev.named("ollama-data-cache-subnets").inputs["subnetIds"]
    assert subnets == ev.outputs["ollama_private_subnet_ids"]


def test_dev_has_no_database_or_cache_and_no_dangling_references() -> None:
    ev = evaluated("dev")
    assert not ev.of_type(RDS) and not ev.of_type(CACHE)
    names = {p.inputs["name"] for p in ev.of_type(PARAMETER)}
    assert "/ollama/dev/webui/storage" in names
    assert "/ollama/dev/webui/database" not in names
    assert "/ollama/dev/webui/redis" not in names
    assert not {"ollama_database_endpoint", "ollama_cache_endpoint"} & set(ev.outputs)
    assert "ollama/dev/redis-auth" not in {s.inputs["name"] for s in ev.of_type(SECRET)}


# ------------------------------------------------------------------ secrets and parameters


def generated_secrets(ev: Evaluation) -> dict[str, str]:
    """Values generated by the data component (mock stand-ins), by logical name."""
    return {
        r.name: str(r.state["result"])
        for r in ev.of_type(PASSWORD)
        if r.name.startswith("ollama-data-")
    }


# Where a generated value may legitimately appear: its own secret version, and the
# cache's AUTH token (ElastiCache needs it as an input).
_SECRET_CONSUMERS = {SECRET_VERSION: "secretString", CACHE: "authToken"}


def _searchable(record: ResourceRecord) -> str:
    """A record's inputs as text, user data decoded, its legitimate secret consumer left out."""
    inputs = {k: v for k, v in record.inputs.items() if k != _SECRET_CONSUMERS.get(record.type)}
    text = json.dumps(plain(inputs), default=str)
    user_data = inputs.get("userData")
    if isinstance(user_data, str):
        text += decode_user_data(user_data)
    return text


def secret_leak_violations(ev: Evaluation) -> list[str]:
    out = []
    values = generated_secrets(ev)
    outputs = json.dumps(ev.outputs, default=str)
    texts = {r.name: _searchable(r) for r in ev.resources if r.type != PASSWORD}
    for logical, value in values.items():
        if value in outputs:
            out.append(f"the value of {logical} appears in the stack outputs")
        for name, text in texts.items():
            if value in text:
                out.append(f"the value of {logical} appears in the inputs of {name}")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_in_outputs_parameters_or_user_data(stack: str) -> None:
    """Secret values reach only Secrets Manager (and the cache's AUTH setting): never stack
    outputs, SSM parameters, launch-template user data or any other resource input."""
    ev = evaluated(stack)
    values = generated_secrets(ev)
    expected = {"ollama-data-webui-secret-key-password", "ollama-data-webui-admin-password"}
    if config_for(stack).data.cache_enabled:
        expected.add("ollama-data-redis-auth-password")
    if config_for(stack).data.database_enabled:
        expected.add("ollama-data-webui-db-password")  # the login's first version only
    assert set(values) == expected
    assert secret_leak_violations(ev) == []
    for key, value in ev.outputs.items():
        if key.endswith("_secret_arn"):
            assert str(value).startswith("arn:aws:secretsmanager:"), key


def test_secret_leak_check_catches_leaks() -> None:
    ev = evaluated("production")
    values = generated_secrets(ev)
    admin = values["ollama-data-webui-admin-password"]
    broken = replace_record(ev, "ollama-data-param-webui-storage", value=f'{{"x": "{admin}"}}')
    assert any("ollama-data-param-webui-storage" in v for v in secret_leak_violations(broken))
    # A launch template whose user data embeds the admin password: plain base64, and
    # gzip-compressed as the stack stores it.
    script = f"#!/bin/bash\nexport WEBUI_ADMIN_PASSWORD={admin}\n"
    for poisoned in (base64.b64encode(script.encode()).decode(), encode_user_data(script)):
        template = ResourceRecord(
            LAUNCH_TEMPLATE, "ollama-leaky-lt", {"userData": poisoned}, True, None, "lt-0", {}
        )
        with_template = Evaluation(ev.stack, ev.region, [*ev.resources, template], [], ev.outputs)
        assert any("ollama-leaky-lt" in v for v in secret_leak_violations(with_template))
    leaky = Evaluation(
        ev.stack,
        ev.region,
        ev.resources,
        ev.components,
        {**ev.outputs, "ollama_oops": values["ollama-data-webui-secret-key-password"]},
    )
    assert any("stack outputs" in v for v in secret_leak_violations(leaky))


@pytest.mark.parametrize("stack", STACKS)
def test_secrets_names_and_values(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    secrets = {s.inputs["name"]: s for s in ev.of_type(SECRET) if s.name.startswith("ollama-data")}
    expected = {f"ollama/{stack}/webui-secret-key", f"ollama/{stack}/webui-admin"}
    if cfg.data.cache_enabled:
        expected.add(f"ollama/{stack}/redis-auth")
    if cfg.data.database_enabled:
        expected.add(f"ollama/{stack}/webui-db")
        login = json.loads(plain(ev.named("ollama-data-webui-db-value").inputs["secretString"]))
        assert login["username"] == "webui_app"
        assert login["password"] == generated_secrets(ev)["ollama-data-webui-db-password"]
        assert login["masterarn"] == ev.outputs["ollama_database_secret_arn"]
    assert set(secrets) == expected
    admin = json.loads(plain(ev.named("ollama-data-webui-admin-value").inputs["secretString"]))
    assert admin == {
        "email": cfg.webui.admin_email,
        "password": generated_secrets(ev)["ollama-data-webui-admin-password"],
    }
    window = {s.inputs["recoveryWindowInDays"] for s in secrets.values()}
    assert window == ({0} if stack == "dev" else {30})
    for pw in ev.of_type(PASSWORD):
        if pw.name.startswith("ollama-data-"):
            assert pw.inputs["length"] >= 32


@pytest.mark.parametrize("stack", STACKS)
def test_parameters_follow_the_boot_contract(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    params = {
        p.inputs["name"]: json.loads(plain(p.inputs["value"]))
        for p in ev.of_type(PARAMETER)
        if p.name.startswith("ollama-data-")
    }
    for p in ev.of_type(PARAMETER):
        if p.name.startswith("ollama-data-"):
            assert p.inputs["type"] == "String"
    assert params[f"/ollama/{stack}/webui/storage"] == {
        "bucket": f"ollama-storage-{stack}-123456789012",
        "prefix": "open-webui/",
        "region": ev.region,
    }
    if cfg.data.database_enabled:
        db = params[f"/ollama/{stack}/webui/database"]
        # The login (which of the two alternating users, and its password) is in the secret.
        assert set(db) == {"host", "port", "dbname", "secret_arn"}
        assert db["host"] == ev.outputs["ollama_database_endpoint"]
        assert db["secret_arn"] == ev.outputs["ollama_database_app_secret_arn"]
        assert db["secret_arn"] != ev.outputs["ollama_database_secret_arn"]  # not the master
        assert db["secret_arn"].startswith("arn:aws:secretsmanager:")
        assert db["port"] == 5432
    if cfg.data.cache_enabled:
        assert params[f"/ollama/{stack}/webui/redis"] == {
            "host": ev.outputs["ollama_cache_endpoint"],
            "port": 6379,
            "tls": True,
        }


@pytest.mark.parametrize("stack", STACKS)
def test_outputs(stack: str) -> None:
    ev, cfg = evaluated(stack), config_for(stack)
    out = ev.outputs
    assert out["ollama_table_name"] == f"ollama-data-table-{stack}"
    assert out["ollama_storage_bucket_name"] == f"ollama-storage-{stack}-123456789012"
    assert out["ollama_webui_secret_key_secret_arn"].endswith(
        f":secret:ollama/{stack}/webui-secret-key-AbCdEf"
    )
    assert ":secret:ollama/" in out["ollama_webui_admin_secret_arn"]
    assert ("ollama_redis_auth_secret_arn" in out) is cfg.data.cache_enabled
    assert ("ollama_database_endpoint" in out) is cfg.data.database_enabled
    assert ("ollama_storage_dr_bucket_name" in out) is (cfg.data.replication_region is not None)
    assert not any("password" in k for k in out)


# ------------------------------------------------------------------ config validation


def _issues(stack: str, section: str, **changes: Any) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(stack, override(stack_values(stack), section, **changes))
    return str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        {"database_enabled": False, "cache_enabled": True},
        {"database_enabled": True, "cache_enabled": False},
        {"database_enabled": False, "cache_enabled": False},
    ],
)
def test_more_than_one_instance_needs_postgres_and_redis(data: dict[str, bool]) -> None:
    """An ASG maximum above 1 without PostgreSQL or without Redis is refused, saying why."""
    values = override(stack_values("staging"), "data", **data)
    with pytest.raises(ConfigError) as info:
        parse_config("staging", values)
    message = str(info.value)
    assert "ollama:compute.max_size = 3" in message
    assert "Open WebUI" in message and "PostgreSQL and Redis" in message
    assert "data.database_enabled and data.cache_enabled" in message
    # The same stack is accepted with one instance, or with both stores.
    parse_config("staging", override(values, "compute", max_size=1, desired_capacity=1))
    parse_config("staging", override(values, "data", database_enabled=True, cache_enabled=True))


@pytest.mark.parametrize(
    ("changes", "key", "words"),
    [
        ({"database_engine_version": "14"}, "database_engine_version", "pgvector"),
        ({"database_engine_version": "latest"}, "database_engine_version", "PostgreSQL 15"),
        ({"database_instance_class": "m7g.large"}, "database_instance_class", "db.t4g.micro"),
        ({"database_storage_gb": 10}, "database_storage_gb", "20-65536"),
        ({"database_backup_retention_days": 0}, "database_backup_retention_days", "1-35"),
        ({"database_backup_retention_days": 36}, "database_backup_retention_days", "1-35"),
        ({"cache_node_type": "t4g.micro"}, "cache_node_type", "cache.t4g.micro"),
        ({"cache_engine_version": "6.2"}, "cache_engine_version", "Valkey"),
        ({"storage_ia_after_days": 7}, "storage_ia_after_days", "at least 30 days"),
        (
            {"database_storage_gb": 200, "database_max_storage_gb": 100},
            "database_max_storage_gb",
            "below the allocated storage",
        ),
        ({"replication_region": "us-east-1"}, "replication_region", "same region"),
        (
            {"kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/abcd-1234"},
            "kms_key_arn",
            "KMS keys are regional",
        ),
    ],
)
def test_invalid_data_config_is_rejected(changes: dict[str, Any], key: str, words: str) -> None:
    message = _issues("staging", "data", **changes)
    assert f"ollama:data.{key}" in message
    assert words in message
    assert "Fix:" in message


def test_database_settings_follow_config() -> None:
    values = override(
        stack_values("staging"),
        "data",
        database_instance_class="db.r7g.large",
        database_engine_version="17",
        database_storage_gb=50,
        database_max_storage_gb=500,
        database_iam_auth=True,
        database_performance_insights=True,
    )
    db = run_program("staging", values).named("ollama-data-database").inputs
    assert db["instanceClass"] == "db.r7g.large"
    assert db["engineVersion"] == "17"
    assert (db["allocatedStorage"], db["maxAllocatedStorage"]) == (50, 500)
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsRetentionPeriod"] == 7
