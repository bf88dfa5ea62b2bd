"""The price file (``prices.json``): AWS on-demand list prices per region, each with its source.

A price is looked up by catalog key (``ec2.instance.m7i.4xlarge``, ``vpc.nat_gateway``) and
region. A region missing from the file is an error naming the regions it knows; a key the
file has no price for (null, or absent from the catalog) is a ``MissingPrice`` the estimator
turns into a "not priced" line, never a silent zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PRICE_FILE = Path(__file__).with_name("prices.json")


class UnknownRegion(ValueError):
    """The price file has no prices for a region."""


@dataclass(frozen=True)
class Price:
    key: str
    region: str
    usd: float
    unit: str
    source: str


@dataclass(frozen=True)
class MissingPrice:
    key: str
    region: str
    reason: str


@dataclass(frozen=True)
class PriceBook:
    """A loaded, checked price file."""

    currency: str
    prices_as_of: str
    catalog: dict[str, dict[str, str]]
    sources: dict[str, dict[str, str]]
    regions: dict[str, dict[str, Any]]
    path: Path = PRICE_FILE

    @property
    def known_regions(self) -> list[str]:
        return sorted(self.regions)

    def check_region(self, region: str) -> None:
        if region not in self.regions:
            raise UnknownRegion(
                f"no prices for region '{region}' in {self.path.name}; known regions: "
                f"{', '.join(self.known_regions)}. Add the region with `ollama-ops cost refresh "
                f"--region {region}` (needs AWS credentials) or pick a known region"
            )

    def price(self, key: str, region: str) -> Price | MissingPrice:
        self.check_region(region)
        if key not in self.catalog:
            return MissingPrice(key, region, f"'{key}' is not in the price catalog")
        entry = self.regions[region]["prices"].get(key) or {}
        usd = entry.get("usd")
        if usd is None:
            reason = entry.get("missing") or "no price in the price file"
            return MissingPrice(key, region, reason)
        return Price(key, region, float(usd), self.catalog[key]["unit"], entry.get("source", ""))


def validate(doc: dict[str, Any]) -> list[str]:
    """Problems with a price file document (empty when it is usable)."""
    problems = []
    for field in ("currency", "prices_as_of", "catalog", "sources", "regions"):
        if field not in doc:
            problems.append(f"missing top-level '{field}'")
    if problems:
        return problems
    for region, body in doc["regions"].items():
        prices = body.get("prices", {})
        for key in doc["catalog"]:
            entry = prices.get(key)
            if entry is None:
                problems.append(f"{region}: '{key}' is neither priced nor marked missing")
            elif entry.get("usd") is None and not entry.get("missing"):
                problems.append(f"{region}: '{key}' has no price and no reason why")
            elif entry.get("usd") is not None:
                if not isinstance(entry["usd"], int | float) or entry["usd"] < 0:
                    problems.append(
                        f"{region}: '{key}' price {entry['usd']!r} is not a number >= 0"
                    )
                if entry.get("source") not in doc["sources"]:
                    problems.append(
                        f"{region}: '{key}' names unknown source {entry.get('source')!r}"
                    )
        for key in prices:
            if key not in doc["catalog"]:
                problems.append(f"{region}: '{key}' is not in the catalog")
    return problems


def load(path: Path = PRICE_FILE) -> PriceBook:
    doc = json.loads(path.read_text())
    problems = validate(doc)
    if problems:
        raise ValueError(f"{path.name} is not a valid price file: " + "; ".join(problems))
    return PriceBook(
        currency=doc["currency"],
        prices_as_of=doc["prices_as_of"],
        catalog=doc["catalog"],
        sources=doc["sources"],
        regions=doc["regions"],
        path=path,
    )


@cache
def default_book() -> PriceBook:
    return load(PRICE_FILE)
