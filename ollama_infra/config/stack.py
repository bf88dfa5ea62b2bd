"""The validated configuration of one stack, and how problems with it are reported."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from ollama_infra.config.fields import CONFIG_NAMESPACE, DOCS_HINT
from ollama_infra.config.sections import (
    AuthConfig,
    BackupConfig,
    ComputeConfig,
    CostConfig,
    DataConfig,
    EdgeConfig,
    EnvironmentConfig,
    NetworkConfig,
    ObservabilityConfig,
    OllamaApiConfig,
    OllamaConfig,
    WebUIConfig,
)
from ollama_infra.config.stackname import parse_stack_name


class ConfigIssue(BaseModel):
    """One problem with the stack configuration."""

    model_config = ConfigDict(frozen=True)

    key: str
    value: Any
    rule: str
    fix: str

    def render(self) -> str:
        value = json.dumps(self.value, default=str)
        return f"{self.key} = {value}: {self.rule}. Fix: {self.fix}"


def issue(key: str, value: Any, rule: str, fix: str) -> ConfigIssue:
    """An issue with ``ollama:<key>``."""
    return ConfigIssue(key=f"{CONFIG_NAMESPACE}:{key}", value=value, rule=rule, fix=fix)


class ConfigError(Exception):
    """The stack configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, stack: str, issues: list[ConfigIssue], source: str | None = None) -> None:
        self.stack = stack
        self.issues = issues
        lines = "\n".join(f"  - {i.render()}" for i in issues)
        super().__init__(
            f"invalid configuration for stack '{stack}' ({source or f'Pulumi.{stack}.yaml'}), "
            f"{len(issues)} problem(s):\n{lines}\n({DOCS_HINT})"
        )


@dataclass(frozen=True)
class StackConfig:
    """The whole validated configuration of one stack."""

    stack: str
    region: str
    environment: EnvironmentConfig
    network: NetworkConfig
    edge: EdgeConfig
    ollama_api: OllamaApiConfig
    compute: ComputeConfig
    ollama: OllamaConfig
    webui: WebUIConfig
    auth: AuthConfig
    data: DataConfig
    observability: ObservabilityConfig
    backup: BackupConfig
    cost: CostConfig

    @property
    def env(self) -> str:
        return self.environment.name

    @property
    def name_suffix(self) -> str:
        """The ``<env>`` of physical names: the environment, or a DR stack's region suffix."""
        return parse_stack_name(self.stack).suffix

    @property
    def is_dr(self) -> bool:
        """A DR copy of a primary stack, named ``<env>-<region>``."""
        return parse_stack_name(self.stack).is_dr

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def deletion_protection(self) -> bool:
        """Table/database protection: explicit setting, else on outside dev."""
        flag = self.data.deletion_protection
        return self.env != "dev" if flag is None else flag

    @property
    def oidc(self) -> bool:
        """Single sign-on through OIDC (auth.mode oidc)."""
        return self.auth.mode == "oidc"

    @property
    def model_access(self) -> str:
        """Who may use the catalog's models: explicit, else group (local) or admin-only (oidc)."""
        return self.webui.access(self.oidc)

    @property
    def cognito_pool(self) -> bool:
        """The stack creates and owns a Cognito user pool."""
        return self.oidc and self.auth.provider == "cognito"

    @property
    def alb_deletion_protection(self) -> bool:
        flag = self.edge.deletion_protection
        return self.env != "dev" if flag is None else flag

    @property
    def creates_data_key(self) -> bool:
        """The stack creates its data key: data.data_key (default: production) and no key ARN."""
        flag = self.data.data_key
        wanted = self.is_production if flag is None else flag
        return wanted and self.data.kms_key_arn is None

    @property
    def waf_enabled(self) -> bool:
        flag = self.edge.waf_enabled
        return self.is_production if flag is None else flag

    @property
    def backend_tls(self) -> bool:
        """ALB to instance traffic over TLS (edge.backend_tls; default: production)."""
        flag = self.edge.backend_tls
        return self.is_production if flag is None else flag
