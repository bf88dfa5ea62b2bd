"""Rewrite the price file from the AWS Price List API (boto3 ``pricing``, GetProducts).

Each catalog key that the API can answer has a query: a service code and TERM_MATCH filters
on product attributes, plus (for products whose usage type carries a region prefix such as
``USW2-NatGateway-Hours``) the usage type suffix to pick. The on-demand price is the first
non-zero tier of the product's OnDemand term. Keys without a query (CloudFront's edge
prices, transfer rates) keep their page-sourced value and are reported as not refreshed.

The product attributes and usage types queried (instanceType, operatingSystem, tenancy,
capacitystatus; databaseEngine and deploymentOption for RDS; cacheEngine for ElastiCache;
productFamily "NAT Gateway" with NatGateway-Hours/-Bytes; "Load Balancer-Application" with
LoadBalancerUsage/LCUUsage) are the Price List's own, as infracost's AWS price filters use
them (infracost/infracost internal/resources/aws). The GetProducts request and response
shapes (Filters of Type/Field/Value, PriceList of JSON strings) are botocore's service model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

# The Price List API answers only in these regions; one of them serves every region's prices.
PRICING_API_REGION = "us-east-1"
SOURCE_ID = "aws-price-list-api"


@dataclass(frozen=True)
class Query:
    service: str
    filters: dict[str, str]
    usagetype_suffix: str | None = None
    per: float = 1.0  # multiply the API's unit price by this (per request -> per million)


def _query(key: str) -> Query | None:
    """The Price List query answering catalog ``key``, or None when the API is not asked."""
    family, _, rest = key.partition(".")
    if family == "ec2" and rest.startswith("instance."):
        return Query(
            "AmazonEC2",
            {
                "instanceType": rest.removeprefix("instance."),
                "operatingSystem": "Linux",
                "tenancy": "Shared",
                "preInstalledSw": "NA",
                "capacitystatus": "Used",
            },
        )
    if family == "rds" and rest.startswith("postgres.db."):
        return Query(
            "AmazonRDS",
            {
                "instanceType": rest.removeprefix("postgres."),
                "databaseEngine": "PostgreSQL",
                "deploymentOption": "Single-AZ",
            },
        )
    if family == "elasticache" and rest.startswith("valkey."):
        return Query(
            "AmazonElastiCache",
            {"instanceType": rest.removeprefix("valkey."), "cacheEngine": "Valkey"},
        )
    return _FIXED.get(key)


_FIXED: dict[str, Query] = {
    "ebs.gp3": Query("AmazonEC2", {"productFamily": "Storage", "volumeApiName": "gp3"}),
    "vpc.nat_gateway": Query("AmazonEC2", {"productFamily": "NAT Gateway"}, "NatGateway-Hours"),
    "vpc.nat_data": Query("AmazonEC2", {"productFamily": "NAT Gateway"}, "NatGateway-Bytes"),
    "elb.alb": Query("AWSELB", {"productFamily": "Load Balancer-Application"}, "LoadBalancerUsage"),
    "elb.alb_lcu": Query("AWSELB", {"productFamily": "Load Balancer-Application"}, "LCUUsage"),
    "kms.key": Query("awskms", {}, "KMS-Keys"),
    "secretsmanager.secret": Query("AWSSecretsManager", {}, "AWSSecretsManager-Secrets"),
}


def _on_demand_usd(product: dict[str, Any]) -> float | None:
    """The first non-zero tier price of a GetProducts PriceList item's OnDemand term."""
    for term in (product.get("terms", {}).get("OnDemand") or {}).values():
        dimensions = sorted(
            (term.get("priceDimensions") or {}).values(),
            key=lambda d: float(d.get("beginRange", "0") or 0),
        )
        for dim in dimensions:
            usd = float((dim.get("pricePerUnit") or {}).get("USD", "0"))
            if usd > 0:
                return usd
    return None


def lookup(client: Any, query: Query, region: str) -> float | None:
    """The price the API gives for ``query`` in ``region`` (None when no product matches)."""
    filters = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
    filters += [{"Type": "TERM_MATCH", "Field": f, "Value": v} for f, v in query.filters.items()]
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {
            "ServiceCode": query.service,
            "Filters": filters,
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if token:
            kwargs["NextToken"] = token
        page = client.get_products(**kwargs)
        for raw in page.get("PriceList", []):
            product = json.loads(raw) if isinstance(raw, str) else raw
            usage = str(product.get("product", {}).get("attributes", {}).get("usagetype", ""))
            if query.usagetype_suffix and not usage.endswith(query.usagetype_suffix):
                continue
            usd = _on_demand_usd(product)
            if usd is not None:
                return usd * query.per
        token = page.get("NextToken")
        if not token:
            return None


@dataclass
class RefreshReport:
    updated: list[tuple[str, str, float | None, float]]
    not_found: list[tuple[str, str]]
    not_queried: list[str]


def refresh(
    doc: dict[str, Any],
    client: Any,
    regions: list[str],
    today: Callable[[], date] = date.today,
) -> RefreshReport:
    """Update ``doc`` (a price file document) in place from the API for ``regions``."""
    report = RefreshReport([], [], [])
    doc["sources"][SOURCE_ID] = {
        "url": "AWS Price List API (pricing:GetProducts)",
        "publisher": "AWS",
        "dated": today().isoformat(),
        "says": "on-demand list price of the matching product, first non-zero tier",
    }
    for region in regions:
        body = doc["regions"].setdefault(region, {"location": region, "prices": {}})
        for key in doc["catalog"]:
            query = _query(key)
            if query is None:
                if region == regions[0]:
                    report.not_queried.append(key)
                body["prices"].setdefault(
                    key, {"usd": None, "missing": "not in the Price List queries; add a source"}
                )
                continue
            usd = lookup(client, query, region)
            entry = body["prices"].get(key) or {}
            if usd is None:
                report.not_found.append((region, key))
                body["prices"].setdefault(
                    key, {"usd": None, "missing": "the Price List API returned no product"}
                )
                continue
            report.updated.append((region, key, entry.get("usd"), usd))
            body["prices"][key] = {"usd": round(usd, 6), "source": SOURCE_ID}
    doc["prices_as_of"] = today().isoformat()
    doc["compiled_from"] = "the AWS Price List API where queried; public pages otherwise"
    return report
