"""``ollama-ops secrets rotate --secret origin-header``, end to end on moto (test doubles).

The fake Pulumi CLI's ``up`` runs the real program under the mocks with the parameters moto
holds (what the program reads at deploy time) and applies what it declares for the origin
header to moto, in the engine's order (the rule, then the secret and the distribution, which
waits for the rule): the web rule's accepted values, the secret's value, the distribution's
header and tag, and the state parameter (created once; its value is left to the CLI). So the
state the CLI writes is the state the program reads, and every moment of each deployment is
checked: CloudFront's value, old or new, is always accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import ops_support
import pytest
from harness import stack_values
from ops_support import ACCOUNT, AwsRecorder, FakePulumi, cli, setup_client
from test_origin_header import accepted, generation, sent, stored

from ollama_infra import origin_header
from ollama_infra.naming import StackNames
from ollama_infra.offline.evaluate import evaluate
from ollama_infra.ops.common import EXIT_NOT_FOUND, EXIT_OK, EXIT_REFUSED, EXIT_USAGE
from ollama_infra.origin_header import RotationState

aws_env = ops_support.aws_env
pulumi = ops_support.pulumi

STACK = "dev"
NAMES = StackNames(STACK, ACCOUNT)
STATE = origin_header.state_name(NAMES)
SECRET_ID = NAMES.secret("origin-header")
DEPLOY = ("deploy", "--stack", STACK, "--yes", "--skip-permission-check", "--skip-health")


class EdgeDeployment:
    """What ``pulumi up`` leaves in moto for the origin header (a test double)."""

    def __init__(self) -> None:
        ec2 = setup_client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=az)["Subnet"][
                "SubnetId"
            ]
            for i, az in enumerate(("us-east-1a", "us-east-1b"))
        ]
        elb = setup_client("elbv2")
        lb = elb.create_load_balancer(Name=NAMES.alb, Subnets=subnets)["LoadBalancers"][0]
        tg = elb.create_target_group(
            Name=NAMES.webui_target_group, Protocol="HTTP", Port=8080, VpcId=vpc
        )
        self.target_group = tg["TargetGroups"][0]["TargetGroupArn"]
        self.listener = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[
                {
                    "Type": "fixed-response",
                    "FixedResponseConfig": {"StatusCode": "403", "ContentType": "text/plain"},
                }
            ],
        )["Listeners"][0]["ListenerArn"]
        self.rule: str | None = None
        self.distribution: str | None = None
        self.moments: list[tuple[str, str, list[str]]] = []
        """(moment, value CloudFront sends, values the rule accepts) during each deployment."""

    def __call__(self, _argv: list[str]) -> None:
        ssm = setup_client("ssm")
        found = ssm.get_parameters_by_path(Path=NAMES.parameter_path, Recursive=True)
        parameters = {p["Name"]: p["Value"] for p in found["Parameters"]}
        ev = evaluate(STACK, stack_values(STACK), parameters)
        before = self._sent()
        self._rule(accepted(ev))
        self.moments.append(("rule updated", before, self._accepted()))
        self._secret(stored(ev))
        self._distribution(sent(ev), generation(ev))
        self.moments.append(("distribution updated", self._sent(), self._accepted()))
        if STATE not in parameters:  # created once; ignore_changes leaves it to the CLI
            ssm.put_parameter(Name=STATE, Value=RotationState().to_json(), Type="String")
        # the program's other parameters: a deployed stack holds them
        ssm.put_parameter(
            Name=NAMES.parameter("ollama/default-models"), Value="[]", Type="String", Overwrite=True
        )

    def _rule(self, values: list[str]) -> None:
        elb = setup_client("elbv2")
        conditions = [
            {
                "Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": origin_header.HEADER, "Values": values},
            }
        ]
        if self.rule is None:
            self.rule = elb.create_rule(
                ListenerArn=self.listener,
                Priority=100,
                Conditions=conditions,
                Actions=[{"Type": "forward", "TargetGroupArn": self.target_group}],
            )["Rules"][0]["RuleArn"]
        else:
            elb.modify_rule(RuleArn=self.rule, Conditions=conditions)

    def _accepted(self) -> list[str]:
        rules = setup_client("elbv2").describe_rules(ListenerArn=self.listener)["Rules"]
        return [
            v
            for r in rules
            for c in r["Conditions"]
            for v in c.get("HttpHeaderConfig", {}).get("Values", [])
        ]

    @staticmethod
    def _secret(value: str) -> None:
        sm = setup_client("secretsmanager")
        try:
            old = sm.get_secret_value(SecretId=SECRET_ID)["SecretString"]
        except sm.exceptions.ResourceNotFoundException:
            sm.create_secret(Name=SECRET_ID, SecretString=value)
            return
        if old != value:
            sm.put_secret_value(SecretId=SECRET_ID, SecretString=value)

    def _sent(self) -> str | None:
        if self.distribution is None:
            return None
        cf = setup_client("cloudfront")
        config = cf.get_distribution_config(Id=self.distribution)["DistributionConfig"]
        (origin,) = config["Origins"]["Items"]
        return str(origin["CustomHeaders"]["Items"][0]["HeaderValue"])

    def _distribution(self, value: str, generation: int) -> None:
        cf = setup_client("cloudfront")
        config = _distribution_config(value)
        tags = [
            {"Key": "Name", "Value": NAMES.distribution},
            {"Key": origin_header.GENERATION_TAG, "Value": str(generation)},
        ]
        if self.distribution is None:
            made = cf.create_distribution_with_tags(
                DistributionConfigWithTags={"DistributionConfig": config, "Tags": {"Items": tags}}
            )
            self.distribution = made["Distribution"]["Id"]
            return
        current = cf.get_distribution_config(Id=self.distribution)
        config["CallerReference"] = current["DistributionConfig"]["CallerReference"]
        cf.update_distribution(
            Id=self.distribution, IfMatch=current["ETag"], DistributionConfig=config
        )
        arn = cf.get_distribution(Id=self.distribution)["Distribution"]["ARN"]
        cf.tag_resource(Resource=arn, Tags={"Items": tags})


def _distribution_config(value: str) -> dict[str, Any]:
    return {
        "CallerReference": "ollama-dev",
        "Comment": "Ollama + Open WebUI (dev)",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "alb",
                    "DomainName": "ollama-alb-dev.us-east-1.elb.amazonaws.com",
                    "CustomHeaders": {
                        "Quantity": 1,
                        "Items": [{"HeaderName": origin_header.HEADER, "HeaderValue": value}],
                    },
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "http-only",
                    },
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "alb",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
        },
    }


@pytest.fixture
def deployed(
    aws_env: AwsRecorder, pulumi: FakePulumi
) -> Iterator[tuple[EdgeDeployment, FakePulumi]]:
    """dev deployed once (generation 0) with every deploy prerequisite met."""
    aws_env.respond(
        "sts",
        "GetCallerIdentity",
        {"UserId": "AROA:ci", "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:role/ci"},
    )
    edge = EdgeDeployment()
    pulumi.hooks[("up",)] = edge
    assert cli(*DEPLOY) == EXIT_OK
    yield edge, pulumi


def rotate(*extra: str) -> int:
    return cli("secrets", "rotate", "--stack", STACK, "--secret", "origin-header", *extra)


def state() -> RotationState:
    value = setup_client("ssm").get_parameter(Name=STATE)["Parameter"]["Value"]
    return RotationState.parse(value)


def secret_value() -> str:
    sm = setup_client("secretsmanager")
    return str(sm.get_secret_value(SecretId=SECRET_ID, VersionStage="AWSCURRENT")["SecretString"])


def test_two_rotations_never_refuse_cloudfront(
    deployed: tuple[EdgeDeployment, FakePulumi], capsys: pytest.CaptureFixture[str]
) -> None:
    edge, _ = deployed
    first = secret_value()
    assert edge._accepted() == [first] and state() == RotationState()
    for n in (1, 2):
        old = secret_value()
        assert rotate("--yes") == EXIT_OK
        assert state() == RotationState(n, n - 1)
        assert f"ollama-ops deploy --stack {STACK}" in capsys.readouterr().out
        assert cli(*DEPLOY) == EXIT_OK
        new = secret_value()
        assert new != old and sorted(edge._accepted()) == sorted([old, new])
        assert rotate("--finish", "--yes") == EXIT_OK
        assert state() == RotationState(n)
        assert cli(*DEPLOY) == EXIT_OK
        assert edge._accepted() == [new] == [edge._sent()]
    problems = [m for m in edge.moments if m[1] is not None and m[1] not in m[2]]
    assert problems == [] and len(edge.moments) == 2 * 5


def test_finish_waits_for_the_deployment_after_step_one(
    deployed: tuple[EdgeDeployment, FakePulumi], capsys: pytest.CaptureFixture[str]
) -> None:
    """Before that deployment the secret and CloudFront still agree (on the old value): the
    distribution's generation tag is what tells. Refused commands change nothing."""
    edge, _ = deployed
    assert rotate("--yes") == EXIT_OK
    assert rotate("--finish", "--yes") == EXIT_REFUSED
    assert "was not deployed since step 1" in capsys.readouterr().err
    assert rotate("--yes") == EXIT_REFUSED  # a second step 1 before the first is finished
    assert "in progress" in capsys.readouterr().err
    assert state() == RotationState(1, 0)
    assert cli(*DEPLOY) == EXIT_OK
    # CloudFront still propagating (moto keeps the status it is given)
    _set_status(edge, "InProgress")
    assert rotate("--finish", "--yes") == EXIT_REFUSED
    assert "aws cloudfront wait distribution-deployed" in capsys.readouterr().err
    _set_status(edge, "Deployed")
    assert rotate("--finish", "--dry-run") == EXIT_OK
    assert state() == RotationState(1, 0)
    assert rotate("--finish", "--yes") == EXIT_OK
    assert rotate("--finish", "--yes") == EXIT_REFUSED  # nothing left to finish
    assert "no origin header rotation is in progress" in capsys.readouterr().err


def test_finish_refuses_a_distribution_that_does_not_send_the_secret(
    deployed: tuple[EdgeDeployment, FakePulumi], capsys: pytest.CaptureFixture[str]
) -> None:
    """A deployment that stopped after tagging: the tag names the generation, but the value
    CloudFront sends is not the one stored."""
    del deployed  # deployed once; the steps below act through the CLI
    assert rotate("--yes") == EXIT_OK
    assert cli(*DEPLOY) == EXIT_OK
    setup_client("secretsmanager").put_secret_value(SecretId=SECRET_ID, SecretString="x" * 48)
    assert rotate("--finish", "--yes") == EXIT_REFUSED
    assert "does not send the value" in capsys.readouterr().err
    assert state() == RotationState(1, 0)


def test_a_stack_without_the_state_or_a_wrong_flag_is_refused_before_aws(
    aws_env: AwsRecorder, pulumi: FakePulumi, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rotate("--yes") == EXIT_NOT_FOUND  # deployed before the parameter existed
    assert "ollama-ops deploy --stack dev" in capsys.readouterr().err
    aws_env.reset()
    assert (
        cli("secrets", "rotate", "--stack", STACK, "--secret", "webui-secret-key", "--finish")
        == EXIT_USAGE
    )
    assert aws_env.calls == []


def _set_status(edge: EdgeDeployment, status: str) -> None:
    from moto.cloudfront.models import cloudfront_backends
    from moto.moto_api import state_manager

    state_manager.set_transition("cloudfront::distribution", {"progression": "manual", "times": 99})
    backend = cloudfront_backends[ACCOUNT]["global"]
    backend.distributions[edge.distribution].status = status
