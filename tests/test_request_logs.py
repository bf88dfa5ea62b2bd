"""Request logs the scanner asks for.

WAF logging (CKV2_AWS_31): the production web ACL logs to aws-waf-logs-ollama-waf-<env> in
us-east-1 (beside the CLOUDFRONT web ACL) with the stack's retention, authorization and cookie
headers redacted; stacks without a WAF have no WAF logs. DR replica access logs (CKV_AWS_18):
the replica logs to a bucket in its own (DR) region.

Checked on the resource records of every real stack file (offline Pulumi mocks, a test double
for AWS); the check is shown failing on broken records.
"""

from __future__ import annotations

import pytest
from harness import STACKS, config_for, evaluated, replace_record
from test_data import provider_region

from ollama_infra.offline.evaluate import Evaluation

ACL = "aws:wafv2/webAcl:WebAcl"
LOGGING = "aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration"


def waf_logging_violations(ev: Evaluation, retention: int) -> list[str]:
    out = []
    groups = {g.state["arn"]: g for g in ev.of_type("aws:cloudwatch/logGroup:LogGroup")}
    configs = {c.inputs["resourceArn"]: c for c in ev.of_type(LOGGING)}
    for acl in ev.of_type(ACL):
        config = configs.get(acl.state["arn"])
        if config is None:
            out.append(f"{acl.name}: not logged")
            continue
        for arn in config.inputs["logDestinationConfigs"]:
            group = groups.get(arn)
            if group is None or not group.inputs["name"].startswith("aws-waf-logs-"):
                out.append(f"{acl.name}: destination {arn} is not an aws-waf-logs- group")
            elif provider_region(ev, group) != "us-east-1":
                out.append(f"{acl.name}: log group {group.inputs['name']} not in us-east-1")
            elif group.inputs.get("retentionInDays") != retention:
                out.append(f"{acl.name}: log group keeps {group.inputs.get('retentionInDays')}")
        headers = {f["singleHeader"]["name"] for f in config.inputs.get("redactedFields", [])}
        if headers != {"authorization", "cookie"}:
            out.append(f"{acl.name}: redacts {sorted(headers)}")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_waf_logs_with_redaction(stack: str) -> None:
    cfg, ev = config_for(stack), evaluated(stack)
    assert bool(ev.of_type(ACL)) == cfg.waf_enabled
    assert bool(ev.of_type(LOGGING)) == cfg.waf_enabled
    assert waf_logging_violations(ev, cfg.observability.log_retention_days) == []


def test_waf_logging_check_catches_broken_records() -> None:
    ev = evaluated("production")
    logging = ev.of_type(LOGGING)[0]
    cookies = replace_record(
        ev, logging.name, redactedFields=[{"singleHeader": {"name": "authorization"}}]
    )
    assert waf_logging_violations(cookies, 365) == [
        "ollama-edge-cdn-waf: redacts ['authorization']"
    ]
    elsewhere = replace_record(ev, logging.name, logDestinationConfigs=["arn:aws:s3:::other"])
    assert waf_logging_violations(elsewhere, 365) == [
        "ollama-edge-cdn-waf: destination arn:aws:s3:::other is not an aws-waf-logs- group"
    ]
    assert waf_logging_violations(ev, 30) == ["ollama-edge-cdn-waf: log group keeps 365.0"]


# ------------------------------------------------ DR replica access logs (CKV_AWS_18)


def dr_logging_violations(ev: Evaluation) -> list[str]:
    replica = ev.named("ollama-data-storage-dr")
    loggings = [
        r
        for r in ev.of_type("aws:s3/bucketLogging:BucketLogging")
        if r.inputs["bucket"] == replica.inputs["bucket"]
    ]
    if not loggings:
        return ["the DR replica writes no access logs"]
    buckets = {b.inputs["bucket"]: b for b in ev.of_type("aws:s3/bucket:Bucket")}
    target = buckets.get(loggings[0].inputs["targetBucket"])
    if target is None:
        return ["the DR replica logs to a bucket outside the stack"]
    if provider_region(ev, target) != provider_region(ev, replica):
        return [f"the DR log bucket is in {provider_region(ev, target)}"]
    return []


def test_dr_replica_logs_to_a_bucket_in_its_region() -> None:
    ev = evaluated("production")
    assert provider_region(ev, ev.named("ollama-data-storage-dr")) == "us-west-2"
    assert dr_logging_violations(ev) == []
    assert ev.named("ollama-data-dr-logs").inputs["bucket"].startswith("ollama-logs-dr-production-")


def test_dr_logging_check_catches_broken_records() -> None:
    ev = evaluated("production")
    main_logs = ev.named("ollama-edge-logs-bucket").inputs["bucket"]
    logging = "ollama-data-storage-dr-access-logs"
    assert dr_logging_violations(replace_record(ev, logging, targetBucket=main_logs)) == [
        "the DR log bucket is in us-east-1"
    ]
    assert dr_logging_violations(replace_record(ev, logging, bucket="other")) == [
        "the DR replica writes no access logs"
    ]
