"""What every component needs to know about the stack it belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from ollama_infra import naming
from ollama_infra.config import StackConfig


@dataclass(frozen=True)
class StackContext:
    """Environment, region, account and tagging shared by all components.

    ``env`` is the environment (dev, staging, production: rules, tags, the catalog key);
    ``suffix`` is what physical names end in: the environment, or a DR stack's suffix.
    """

    env: str
    region: str
    account_id: str
    partition: str
    tagger: naming.Tagger
    suffix: str = ""

    @classmethod
    def from_config(cls, cfg: StackConfig, account_id: str, partition: str = "aws") -> StackContext:
        e = cfg.environment
        tagger = naming.Tagger(
            env=cfg.env, owner=e.owner, cost_center=e.cost_center, extra=dict(e.extra_tags)
        )
        return cls(
            env=cfg.env,
            region=cfg.region,
            account_id=account_id,
            partition=partition,
            tagger=tagger,
            suffix=cfg.name_suffix,
        )

    @property
    def name_suffix(self) -> str:
        return self.suffix or self.env

    @property
    def names(self) -> naming.StackNames:
        """The stack's shared names (table, buckets, secrets, parameters, log groups...)."""
        suffix = self.name_suffix
        return naming.StackNames(suffix, self.account_id, self.env if suffix != self.env else None)

    def name(self, role: str, kind: str = "generic") -> str:
        return naming.name(role, self.name_suffix, kind)

    def tags(self, service: str, resource_name: str | None = None) -> dict[str, str]:
        return self.tagger.for_service(service, resource_name)

    def arn(self, service: str, resource: str, region: str | None = None) -> str:
        """ARN in this account; ``region=''`` for global services such as IAM and S3."""
        reg = self.region if region is None else region
        account = "" if service == "s3" else self.account_id
        return f"arn:{self.partition}:{service}:{reg}:{account}:{resource}"
