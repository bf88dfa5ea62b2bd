"""Paginated AWS list calls are read to the last page (botocore Stubber and moto as AWS).

A paginator that dropped a page would let `health` miss a firing alarm listed on page two,
or `backup s3` miss objects; these tests list more than one page and fail on a lost one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import ops_support
import pytest
from botocore.stub import Stubber
from ops_support import REGION, AwsRecorder, setup_client

from ollama_infra.ops import aws, health

# Fixtures (test doubles) shared by the ops tests.
aws_env = ops_support.aws_env

TARGET = aws.Target(stack="dev", region=REGION, account_id=ops_support.ACCOUNT)


@pytest.fixture
def cloudwatch() -> Iterator[tuple[Any, Stubber]]:
    """TEST DOUBLE: a CloudWatch client whose answers the test queues (botocore Stubber)."""
    client = boto3.client(
        "cloudwatch",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    previous = aws.set_client_factory(lambda service, region: client)
    try:
        with Stubber(client) as stub:
            yield client, stub
            stub.assert_no_pending_responses()
    finally:
        aws.set_client_factory(previous)


def _page(names_states: list[tuple[str, str]], next_token: str | None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "MetricAlarms": [{"AlarmName": n, "StateValue": s} for n, s in names_states]
    }
    if next_token:
        page["NextToken"] = next_token
    return page


def test_health_sees_a_firing_alarm_on_the_last_page(cloudwatch: tuple[Any, Stubber]) -> None:
    _, stub = cloudwatch
    pages = [
        (_page([("ollama-high-cpu-dev", "OK"), ("ollama-low-cpu-dev", "OK")], "p2"), None),
        (_page([("ollama-ddb-throttle-dev", "OK")], "p3"), "p2"),
        (_page([("ollama-alb-5xx-dev", "ALARM"), ("ollama-alb-5xx-staging", "OK")], None), "p3"),
    ]
    for response, token in pages:
        params = {"AlarmNamePrefix": "ollama-", **({"NextToken": token} if token else {})}
        stub.add_response("describe_alarms", response, params)
    check = health.alarms_quiet(TARGET)
    assert check.status == "failed"
    assert check.data == {"alarms": 4, "firing": ["ollama-alb-5xx-dev"]}


def test_paginate_returns_every_item_of_every_page(aws_env: AwsRecorder) -> None:
    s3 = setup_client("s3")
    s3.create_bucket(Bucket="ollama-pages-test")
    keys = [f"k{i}" for i in range(7)]
    for key in keys:
        s3.put_object(Bucket="ollama-pages-test", Key=key, Body=b"x")
    listed = aws.paginate(
        s3,
        "list_objects_v2",
        "Contents",
        Bucket="ollama-pages-test",
        PaginationConfig={"PageSize": 3},  # pages of 3, 3 and 1
    )
    assert sorted(o["Key"] for o in listed) == keys
