"""Pieces of the text plan: the summary by resource type, the key fields, plain numbers.

The text plan shortens each resource's inputs to one line; the fields a reviewer checks
before paying for a stack (instance types, sizes, engines, classes, ports, CIDRs) are
printed in full on their own line instead, wherever they sit in the inputs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

# Input properties (Pulumi names, at any depth) that the text plan never shortens.
KEY_FIELDS: frozenset[str] = frozenset(
    {
        # what runs, and how many
        "instanceType",
        "instanceTypes",
        "minSize",
        "maxSize",
        "desiredCapacity",
        "instanceClass",
        "nodeType",
        "numCacheClusters",
        "multiAz",
        "multiAzEnabled",
        "engine",
        "engineVersion",
        # sizes
        "volumeSize",
        "volumeType",
        "allocatedStorage",
        "maxAllocatedStorage",
        "storageType",
        # who can reach what
        "port",
        "fromPort",
        "toPort",
        "protocol",
        "ipProtocol",
        "cidrBlock",
        "cidrBlocks",
        "cidrIpv4",
        "cidrIpv6",
    }
)


def plain_numbers(value: Any) -> Any:
    """``value`` with whole floats as ints: the mocks hand every number over as a float."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list) or all(not isinstance(v, dict | list) for v in value)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key in sorted(value):
            sub = f"{path}.{key}" if path else key
            if key in KEY_FIELDS and _scalar(value[key]):
                yield sub, value[key]
            else:
                yield from _walk(value[key], sub)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, path)


def key_fields(inputs: dict[str, Any]) -> list[str]:
    """The key fields of one resource's inputs as ``path=value`` text, in full.

    Nested fields keep their path (``blockDeviceMappings.ebs.volumeSize=150``); list
    positions are left out.
    """
    found = [f"{path}={json.dumps(plain_numbers(v), default=str)}" for path, v in _walk(inputs, "")]
    return [", ".join(found)] if found else []


def print_summary(doc: dict[str, Any]) -> None:
    """How many resources of each type the plan declares, most numerous first."""
    counts = Counter(r["type"] for r in doc["resources"])
    print(f"Summary: {doc['resource_count']} resources of {len(counts)} types")
    for type_token, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {count:>4}  {type_token}")
