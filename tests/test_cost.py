"""The cost estimator: coverage of every plan type, hand-computed lines, what-ifs, the price
file, the billing alarm check, docs/COSTS.md and the Price List refresh (botocore Stubber)."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from harness import (
    STACKS,
    config_for,
    evaluated,
    override,
    replace_record,
    run_program,
    stack_values,
)

from ollama_infra.config import ConfigError
from ollama_infra.cost import doc as costs_doc
from ollama_infra.cost import prices, refresh
from ollama_infra.cost.estimate import (
    Estimate,
    UnpricedTypes,
    check_coverage,
    estimate,
    render_text,
)
from ollama_infra.cost.rules import NO_CHARGE, RULES
from ollama_infra.cost.schedule import cron_minutes_of_week, monthly_hours_by_capacity
from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.ops import aws
from ollama_infra.ops.cli import main


def cost_of(stack: str) -> Estimate:
    return estimate(evaluated(stack), config_for(stack))


def line(est: Estimate, name: str, item: str) -> Any:
    found = [x for x in est.lines if x.name == name and x.item == item]
    assert len(found) == 1, f"{name}/{item}: {[(x.name, x.item) for x in est.lines]}"
    return found[0]


# --- coverage: every type of every plan is priced or says why it is free ----------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_type_of_the_plan_has_a_price_rule(stack: str) -> None:
    est = cost_of(stack)
    check_coverage(est)  # raises UnpricedTypes naming any type without a rule
    billable = [r for r in evaluated(stack).resources if r.type in RULES]
    priced_names = {x.name for x in est.lines}
    assert billable and all(r.name in priced_names for r in billable)


def _with_record(ev: Evaluation, record: ResourceRecord) -> Evaluation:
    return replace(ev, resources=[*ev.resources, record])


def test_a_billable_type_without_a_rule_fails_and_is_listed_not_zero() -> None:
    ev = evaluated("production")
    broken = _with_record(
        ev,
        ResourceRecord(
            "aws:redshift/cluster:Cluster",
            "ollama-data-warehouse",
            {"nodeType": "ra3.large"},
            True,
            None,
            "warehouse",
            {},
        ),
    )
    est = estimate(broken, config_for("production"))
    with pytest.raises(UnpricedTypes, match=r"aws:redshift/cluster:Cluster"):
        check_coverage(est)
    listed = line(est, "ollama-data-warehouse", "unclassified type")
    assert listed.monthly is None and "not priced" in listed.note
    assert est.monthly_total == cost_of("production").monthly_total  # listed, never added as 0
    assert "aws:redshift/cluster:Cluster" not in RULES | NO_CHARGE


def test_rules_and_no_charge_reasons_do_not_overlap() -> None:
    assert not set(RULES) & set(NO_CHARGE)
    assert all(reason.strip() for reason in NO_CHARGE.values())


# --- lines pinned to hand-computed figures -----------------------------------------------------


def test_production_instances_are_two_m7i_4xlarge_for_730_hours() -> None:
    x = line(cost_of("production"), "ollama-compute-asg", "instances")
    assert x.price_key == "ec2.instance.m7i.4xlarge"
    assert x.quantity == pytest.approx(2 * 730)
    assert x.monthly == pytest.approx(round(2 * 730 * 0.8064, 2))  # 1,177.34
    assert x.scale == pytest.approx(
        {"min": 2 * 730 * 0.8064, "desired": 2 * 730 * 0.8064, "max": 6 * 730 * 0.8064}
    )


def test_dev_instance_is_priced_for_its_weekday_window_only() -> None:
    x = line(cost_of("dev"), "ollama-compute-asg", "instances")
    hours = 12 * 5 * 730 / 168  # 07:00-19:00 Monday to Friday
    assert x.quantity == pytest.approx(hours)
    assert x.monthly == pytest.approx(round(hours * 0.1664, 2))  # 43.38
    assert "scheduled" in x.note
    # its group scales to zero at night: the minimum is the window, the maximum always-on
    assert x.scale == pytest.approx(
        {"min": hours * 0.1664, "desired": hours * 0.1664, "max": 730 * 0.1664}
    )


def test_production_multi_az_database_cache_nat_and_waf() -> None:
    est = cost_of("production")
    assert line(est, "ollama-data-database", "database instance").monthly == pytest.approx(
        2 * 730 * 0.168
    )
    assert line(est, "ollama-data-database", "database storage").monthly == pytest.approx(
        2 * 50 * 0.115
    )
    assert line(est, "ollama-data-cache", "cache nodes").monthly == pytest.approx(2 * 730 * 0.158)
    nat_hours = [x for x in est.lines if x.item == "NAT gateway hours"]
    assert len(nat_hours) == 3 and all(x.monthly == pytest.approx(730 * 0.045) for x in nat_hours)
    waf = sum(x.monthly or 0 for x in est.lines if x.name == "ollama-edge-cdn-waf")
    assert waf == pytest.approx(5 + 3 * 1 + 5 * 0.60)  # ACL + 3 rules + 5 M requests


def test_staging_database_is_single_az() -> None:
    x = line(cost_of("staging"), "ollama-data-database", "database instance")
    assert x.monthly == pytest.approx(730 * 0.065) and x.note == "single-AZ"


def test_resources_are_priced_in_their_own_region() -> None:
    est = cost_of("production")
    dr_key = line(est, "ollama-data-storage-dr-key", "customer managed key")
    assert dr_key.region == "us-west-2" and dr_key.monthly == 1.0
    dr_bucket = line(est, "ollama-data-storage-dr", "Standard storage")
    assert dr_bucket.region == "us-west-2"
    assert dr_bucket.monthly is None and "us-west-2" in dr_bucket.note  # no source: not priced


def test_spot_is_a_labelled_discount_assumption() -> None:
    values = override(stack_values("dev"), "compute", spot_enabled=True)
    est = estimate(run_program("dev", values), config_for("dev", values))
    x = line(est, "ollama-compute-asg", "instances")
    hours = 12 * 5 * 730 / 168
    assert x.monthly == pytest.approx(round(hours * 0.35 * 0.1664, 2))
    assert "Spot: assumed 65 % below on-demand" in x.note


def test_an_unreadable_schedule_falls_back_to_always_on_and_says_so() -> None:
    ev = replace_record(evaluated("dev"), "ollama-compute-scale-down", recurrence="0 19 1 * *")
    x = line(estimate(ev, config_for("dev")), "ollama-compute-asg", "instances")
    assert x.quantity == pytest.approx(730) and "could not be read" in x.note


def test_weekly_crons_to_hours() -> None:
    assert cron_minutes_of_week("0 7 * * 1-5") == [d * 1440 + 7 * 60 for d in range(1, 6)]
    assert cron_minutes_of_week("0 7 * * MON-FRI") == cron_minutes_of_week("0 7 * * 1-5")
    assert cron_minutes_of_week("*/5 7 * * 1") is None
    hours = monthly_hours_by_capacity([("0 19 * * 1-5", 0), ("0 7 * * 1-5", 1)])
    assert hours == pytest.approx({1: 60 * 730 / 168, 0: 108 * 730 / 168})


# --- the price file ----------------------------------------------------------------------------


def test_price_file_is_valid_and_covers_the_stack_and_dr_regions() -> None:
    book = prices.load()
    assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"} <= set(
        book.known_regions
    )
    assert book.prices_as_of and book.currency == "USD"


def test_price_file_validation_catches_unsourced_and_unexplained_prices() -> None:
    doc = json.loads(prices.PRICE_FILE.read_text())
    assert prices.validate(doc) == []
    broken = copy.deepcopy(doc)
    broken["regions"]["us-east-1"]["prices"]["ebs.gp3"] = {"usd": 0.08, "source": "a blog"}
    broken["regions"]["eu-west-1"]["prices"]["kms.key"] = {"usd": None}
    del broken["regions"]["us-west-2"]["prices"]["elb.alb"]
    problems = prices.validate(broken)
    assert any("unknown source 'a blog'" in p for p in problems)
    assert any("eu-west-1: 'kms.key' has no price and no reason" in p for p in problems)
    assert any("us-west-2: 'elb.alb' is neither priced nor marked missing" in p for p in problems)


def test_unknown_region_is_an_error_naming_the_known_regions() -> None:
    ev = replace(evaluated("dev"), region="sa-east-1")
    with pytest.raises(prices.UnknownRegion) as err:
        estimate(ev, config_for("dev"))
    assert "sa-east-1" in str(err.value)
    assert "known regions: ap-southeast-2, eu-central-1, eu-west-1, us-east-1" in str(err.value)


def test_a_known_region_without_a_price_lists_the_line_as_not_priced() -> None:
    ev = replace(evaluated("dev"), region="ap-southeast-2")
    x = line(estimate(ev, config_for("dev")), "ollama-compute-asg", "instances")
    assert x.monthly is None and "ap-southeast-2" in x.note


# --- usage assumptions -------------------------------------------------------------------------


def test_cost_assumptions_are_validated_config() -> None:
    values = override(stack_values("dev"), "cost", data_out_gb=-1, typo_gb=3)
    with pytest.raises(ConfigError) as err:
        config_for("dev", values)
    text = str(err.value)
    assert "ollama:cost.data_out_gb" in text and "ollama:cost.typo_gb" in text


def test_estimate_states_its_assumptions() -> None:
    est = cost_of("production")
    assert est.assumptions["data_out_gb"] == 500 and est.assumptions["hours_per_month"] == 730
    out = line(est, "ollama-edge-cdn-distribution", "data out to viewers")
    assert out.quantity == 0 and "1024 GB free" in out.note  # 500 GB is inside the free TB


# --- the billing alarm check -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "warning"),
    [(3000.0, None), (1000.0, "below the estimate"), (20000.0, "more than 1.5 x")],
)
def test_billing_alarm_threshold_is_checked_against_the_estimate(
    threshold: float, warning: str | None
) -> None:
    ev = replace_record(evaluated("production"), "ollama-monitoring-billing", threshold=threshold)
    est = estimate(ev, config_for("production"))
    if warning is None:
        assert est.warnings == []
    else:
        assert len(est.warnings) == 1 and warning in est.warnings[0]


# --- surfaces: plan JSON and text, the what-if -------------------------------------------------


def test_plan_json_has_a_cost_covering_every_billable_resource(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", "--stack", "production", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cost = doc["cost"]
    assert {"currency", "prices_as_of", "region", "assumptions", "lines", "monthly_total"} <= set(
        cost
    )
    for x in cost["lines"]:
        assert {"name", "type", "quantity", "unit", "unit_price", "monthly"} <= set(x)
    billable = {r["name"] for r in doc["resources"] if r["type"] in RULES}
    assert billable <= {x["name"] for x in cost["lines"]}
    assert cost["monthly_total"] == pytest.approx(sum(x["monthly"] or 0 for x in cost["lines"]))


def test_plan_text_prints_the_cost_block_with_the_instance_scale(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", "--stack", "production"]) == 0
    out = capsys.readouterr().out
    assert "Estimated monthly cost (USD" in out
    assert "scale: min 1,177.34 / desired 1,177.34 / max 3,532.03" in out
    assert "  compute: " in out and "  total: " in out


def test_what_if_changes_exactly_the_instance_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost", "--stack", "production", "--set", "compute.instance_type=g6e.xlarge"]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(c["change"], c["name"], c["item"]) for c in doc["changes"]] == [
        ("changed", "ollama-compute-asg", "instances")
    ]
    (change,) = doc["changes"]
    assert change["after"]["monthly"] == pytest.approx(round(2 * 730 * 1.86, 2))  # 2,715.60
    assert doc["delta"] == pytest.approx(round(2 * 730 * (1.86 - 0.8064), 2))
    assert any("below the estimate" in w for w in doc["warnings_after"])  # 3,000 is too low now
    assert main(argv) == 0
    assert "changed  ollama-compute-asg: instances" in capsys.readouterr().out


def test_what_if_on_a_usage_assumption(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["cost", "--stack", "production", "--set", "cost.data_out_gb=2048", "--json"]
    assert main(argv) == 0
    (change,) = json.loads(capsys.readouterr().out)["changes"]
    assert change["item"] == "data out to viewers"
    assert change["after"]["monthly"] == pytest.approx((2048 - 1024) * 0.085)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("compute.instance_type=t3.large", "ollama:compute.instance_type"),  # T-family: dev only
        ("bogus.key=1", "unknown section 'bogus'"),
        ("compute.no_such_key=1", "'compute' has no key 'no_such_key'"),
        ("compute", "is not SECTION.KEY=VALUE"),
    ],
)
def test_what_if_is_validated_like_a_stack_file(
    setting: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cost", "--stack", "production", "--set", setting]) == 2
    assert message in capsys.readouterr().err


def test_estimation_adds_under_a_second_to_a_plan() -> None:
    ev, cfg = evaluated("production"), config_for("production")
    started = time.monotonic()
    est = estimate(ev, cfg)
    render_text(est.to_json())
    assert time.monotonic() - started < 1.0


# --- docs/COSTS.md -----------------------------------------------------------------------------


def test_costs_md_is_generated_from_the_estimator() -> None:
    text = costs_doc.COSTS_MD.read_text()
    block = costs_doc.render({s: cost_of(s) for s in STACKS})
    assert costs_doc.splice(text, block) == text, "run: python -m ollama_infra.cost.doc"
    assert "## Cost controls" in text and "Reading the tables" in text  # hand-written parts kept


def test_costs_md_check_fails_on_a_stale_figure() -> None:
    text = costs_doc.COSTS_MD.read_text()
    stale = text.replace("| **total (desired capacity)** |", "| **total (desired capacity)** | 1 |")
    block = costs_doc.render({s: cost_of(s) for s in STACKS})
    assert costs_doc.splice(stale, block) != stale


# --- ollama-ops cost refresh against the Price List API: fake answers under botocore Stubber --


def _product(usagetype: str, usd: str, tiers: bool = False) -> str:
    """One GetProducts PriceList item as the API returns it (a JSON string)."""
    dims = {
        "SKU1.JRTCKXETXF.6YS6EN2CT7": {
            "unit": "Hrs",
            "beginRange": "0",
            "endRange": "Inf",
            "pricePerUnit": {"USD": usd},
            "description": f"${usd} per hour",
        }
    }
    if tiers:
        dims = {
            "SKU1.JRTCKXETXF.FREE": {
                "unit": "Hrs",
                "beginRange": "0",
                "endRange": "750",
                "pricePerUnit": {"USD": "0.0000000000"},
            },
            "SKU1.JRTCKXETXF.PAID": {
                "unit": "Hrs",
                "beginRange": "750",
                "endRange": "Inf",
                "pricePerUnit": {"USD": usd},
            },
        }
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {"usagetype": usagetype, "regionCode": "us-west-2"},
                "sku": "SKU1",
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    "SKU1.JRTCKXETXF": {
                        "offerTermCode": "JRTCKXETXF",
                        "sku": "SKU1",
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "priceDimensions": dims,
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


def _params(service: str, region: str, **filters: str) -> dict[str, Any]:
    return {
        "ServiceCode": service,
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
        + [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }


def _small_price_doc() -> dict[str, Any]:
    doc = json.loads(prices.PRICE_FILE.read_text())
    keep = [
        "ec2.instance.m7i.4xlarge",
        "vpc.nat_gateway",
        "rds.postgres.db.m7g.large",
        "cloudfront.data_out",
    ]
    doc["catalog"] = {k: doc["catalog"][k] for k in keep}
    doc["regions"] = {
        "us-west-2": {
            "location": "US West (Oregon)",
            "prices": {k: doc["regions"]["us-west-2"]["prices"][k] for k in keep},
        }
    }
    return doc


def _stub_refresh(client: Any) -> Stubber:
    stub = Stubber(client)
    ec2 = _params(
        "AmazonEC2",
        "us-west-2",
        instanceType="m7i.4xlarge",
        operatingSystem="Linux",
        tenancy="Shared",
        preInstalledSw="NA",
        capacitystatus="Used",
    )
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [_product("USW2-BoxUsage:m7i.4xlarge", "0.8064000000", tiers=True)],
        },
        ec2,
    )
    nat = _params("AmazonEC2", "us-west-2", productFamily="NAT Gateway")
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [_product("USW2-NatGateway-Bytes", "0.0450000000")],
            "NextToken": "fake-page-2",
        },
        nat,
    )
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [_product("USW2-NatGateway-Hours", "0.0450000000")],
        },
        {**nat, "NextToken": "fake-page-2"},
    )
    rds = _params(
        "AmazonRDS",
        "us-west-2",
        instanceType="db.m7g.large",
        databaseEngine="PostgreSQL",
        deploymentOption="Single-AZ",
    )
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []}, rds)
    return stub


def _pricing_client() -> Any:
    return boto3.client(
        "pricing",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # a stubbed client: no request leaves the process
    )


def test_refresh_reads_on_demand_prices_from_get_products() -> None:
    doc, client = _small_price_doc(), _pricing_client()
    with _stub_refresh(client) as stub:
        report = refresh.refresh(doc, client, ["us-west-2"])
        stub.assert_no_pending_responses()
    got = doc["regions"]["us-west-2"]["prices"]
    assert got["ec2.instance.m7i.4xlarge"] == {"usd": 0.8064, "source": refresh.SOURCE_ID}
    assert got["vpc.nat_gateway"] == {"usd": 0.045, "source": refresh.SOURCE_ID}  # page 2, Hours
    assert got["rds.postgres.db.m7g.large"]["usd"] is None  # no product: kept, still explained
    assert report.not_found == [("us-west-2", "rds.postgres.db.m7g.large")]
    assert report.not_queried == ["cloudfront.data_out"]
    assert prices.validate(doc) == []


def test_refresh_command_dry_run_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "prices.json"
    source.write_text(json.dumps(_small_price_doc()))
    monkeypatch.setattr(prices, "PRICE_FILE", source)
    client = _pricing_client()
    previous = aws.set_client_factory(lambda service, region: client)
    try:
        with _stub_refresh(client):
            assert main(["cost", "refresh", "--region", "us-west-2", "--dry-run"]) == 0
    finally:
        aws.set_client_factory(previous)
    out = capsys.readouterr().out
    assert "us-west-2 ec2.instance.m7i.4xlarge: None -> 0.8064" in out
    assert "dry run" in out
    assert json.loads(source.read_text()) == _small_price_doc()
