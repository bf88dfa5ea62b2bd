"""The model catalog: which Ollama models an environment serves, in ``ollama-data-table-<env>``.

Item schema (one item per environment and model):

  environment  S     partition key: dev, staging or production
  model        S     sort key: an Ollama reference name[:tag] (validated, see below)
  digest       S     optional pin, sha256:<64 hex>, recorded with the entry
  added_by     S     the AWS identity (ARN) that added or last changed the item
  added_at     S     ISO 8601 UTC time of that change
  enabled      BOOL  instances pull enabled models only

Instances query ``environment = <env>`` at boot and pull the enabled models; an empty
catalog falls back to the ``/ollama/<env>/ollama/default-models`` parameter. Model names
end up in shell commands and URLs on the instances, so every name is checked with
``config.check_model_name`` before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ollama_infra.config import DIGEST_RE, ENVIRONMENTS, check_model_name


class CatalogError(ValueError):
    """A catalog entry is invalid; the message names the value, the rule and the fix."""


@dataclass(frozen=True)
class CatalogEntry:
    environment: str
    model: str
    added_by: str
    added_at: str
    enabled: bool = True
    digest: str | None = None

    def to_item(self) -> dict[str, dict[str, Any]]:
        """DynamoDB low-level item (attribute values with type keys)."""
        item: dict[str, dict[str, Any]] = {
            "environment": {"S": self.environment},
            "model": {"S": self.model},
            "added_by": {"S": self.added_by},
            "added_at": {"S": self.added_at},
            "enabled": {"BOOL": self.enabled},
        }
        if self.digest:
            item["digest"] = {"S": self.digest}
        return item

    @classmethod
    def from_item(cls, item: dict[str, dict[str, Any]]) -> CatalogEntry:
        def text(key: str, default: str = "") -> str:
            return str(item.get(key, {}).get("S", default))

        return cls(
            environment=text("environment"),
            model=text("model"),
            added_by=text("added_by", "unknown"),
            added_at=text("added_at"),
            enabled=bool(item.get("enabled", {}).get("BOOL", True)),
            digest=text("digest") or None,
        )


def validate_environment(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise CatalogError(
            f"environment '{env}' is not one of {', '.join(ENVIRONMENTS)}; "
            "pass --stack dev, staging or production"
        )
    return env


def parse_model(model: str, digest: str | None = None) -> tuple[str, str | None]:
    """Validated (name[:tag], digest): a ``@sha256:`` suffix on the name becomes the digest."""
    try:
        check_model_name(model)
    except ValueError as exc:
        raise CatalogError(str(exc)) from None
    name, _, suffix = model.partition("@")
    if suffix:
        if digest and digest != suffix:
            raise CatalogError(
                f"model '{model}' carries digest {suffix} but --digest is {digest}; "
                "give the digest once"
            )
        digest = suffix
    if digest is not None and not DIGEST_RE.match(digest):
        raise CatalogError(
            f"digest '{digest}' is not sha256:<64 lowercase hex characters>; copy it from "
            "`ollama show --modelfile` or the registry manifest"
        )
    return name, digest


def new_entry(
    environment: str,
    model: str,
    added_by: str,
    digest: str | None = None,
    enabled: bool = True,
    now: datetime | None = None,
) -> CatalogEntry:
    """A validated entry stamped with who and when (UTC, second precision)."""
    name, pin = parse_model(model, digest)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return CatalogEntry(
        environment=validate_environment(environment),
        model=name,
        added_by=added_by,
        added_at=stamp,
        enabled=enabled,
        digest=pin,
    )


def list_entries(dynamodb: Any, table: str, environment: str) -> list[CatalogEntry]:
    """Every entry of one environment, sorted by model name (follows pagination)."""
    entries: list[CatalogEntry] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#env = :env",
        "ExpressionAttributeNames": {"#env": "environment"},
        "ExpressionAttributeValues": {":env": {"S": validate_environment(environment)}},
        "ConsistentRead": True,
    }
    while True:
        page = dynamodb.query(**kwargs)
        entries.extend(CatalogEntry.from_item(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(entries, key=lambda e: e.model)


def get_entry(dynamodb: Any, table: str, environment: str, model: str) -> CatalogEntry | None:
    name, _ = parse_model(model)
    item = dynamodb.get_item(
        TableName=table,
        Key={"environment": {"S": validate_environment(environment)}, "model": {"S": name}},
        ConsistentRead=True,
    ).get("Item")
    return CatalogEntry.from_item(item) if item else None


def put_entry(dynamodb: Any, table: str, entry: CatalogEntry) -> None:
    """Write (or replace) one entry; the entry is re-validated first."""
    parse_model(entry.model, entry.digest)
    validate_environment(entry.environment)
    dynamodb.put_item(TableName=table, Item=entry.to_item())


def delete_entry(dynamodb: Any, table: str, environment: str, model: str) -> None:
    """Delete one entry; raises ConditionalCheckFailedException when it does not exist."""
    name, _ = parse_model(model)
    dynamodb.delete_item(
        TableName=table,
        Key={"environment": {"S": validate_environment(environment)}, "model": {"S": name}},
        ConditionExpression="attribute_exists(#m)",
        ExpressionAttributeNames={"#m": "model"},
    )
