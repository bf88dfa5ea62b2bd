"""From a stack's config map to a validated ``StackConfig``, or every problem at once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ollama_infra.config.fields import CONFIG_NAMESPACE, DOCS_HINT, MESSAGES, REGION_RE
from ollama_infra.config.rules import cross_checks
from ollama_infra.config.sections import SECTIONS
from ollama_infra.config.stack import ConfigError, ConfigIssue, StackConfig


def _split(message: str) -> tuple[str, str]:
    """'rule; fix' -> (rule, fix); a message without a fix points at the docs."""
    rule, sep, fix = message.rpartition("; ")
    return (rule, fix) if sep else (message, f"set a valid value ({DOCS_HINT})")


def _pydantic_issues(section: str, exc: ValidationError) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors():
        path = [str(p) for p in err["loc"] if not isinstance(p, int)]  # list items: the key
        key = ".".join([f"{CONFIG_NAMESPACE}:{section}", *path])
        table_key = f"{section}.{path[0]}" if path else section
        if err["type"] == "extra_forbidden":
            known = ", ".join(SECTIONS[section].model_fields)
            rule, fix = "unknown key", f"remove it or use one of: {known}"
        elif err["type"] == "value_error":  # a validator's own "rule; fix" message
            rule, fix = _split(err["msg"].removeprefix("Value error, "))
        elif table_key in MESSAGES:  # a declared range, pattern or type
            rule, fix = _split(MESSAGES[table_key])
        else:
            rule, fix = err["msg"], f"set a valid value ({DOCS_HINT})"
        issues.append(ConfigIssue(key=key, value=err.get("input"), rule=rule, fix=fix))
    return issues


def _section_values(stack: str, section: str, raw: Any) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """The mapping of one section (JSON strings as the Pulumi runtime holds them, or objects)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raw = None
    if raw is None:
        raw = {}
    problems = []
    if not isinstance(raw, dict):
        problems.append(
            ConfigIssue(
                key=f"{CONFIG_NAMESPACE}:{section}",
                value=raw,
                rule="must be a mapping of keys to values",
                fix="write it as a YAML mapping in the stack file",
            )
        )
        raw = {}
    if section == "environment":
        raw = {"name": stack, **raw}
    return raw, problems


def parse_config(stack: str, values: Mapping[str, Any]) -> StackConfig:
    """Build a validated StackConfig from a stack's config map.

    ``values`` maps full config keys (``ollama:network``, ``aws:region``) to values,
    structured values either as objects or as JSON strings (as the Pulumi runtime holds them).
    Raises ConfigError listing every problem.
    """
    issues: list[ConfigIssue] = []
    for key, value in values.items():
        namespace, _, name = key.partition(":")
        if namespace == CONFIG_NAMESPACE and name not in SECTIONS:
            issues.append(
                ConfigIssue(
                    key=key,
                    value=value,
                    rule="unknown config key",
                    fix=f"use one of: {', '.join(f'{CONFIG_NAMESPACE}:{s}' for s in SECTIONS)}",
                )
            )
    region = values.get("aws:region")
    if not isinstance(region, str) or not REGION_RE.match(region):
        issues.append(
            ConfigIssue(
                key="aws:region",
                value=region,
                rule="the AWS region must be set",
                fix=f"run `pulumi config set aws:region us-east-1 --stack {stack}`",
            )
        )
        region = "us-east-1"
    sections: dict[str, Any] = {}
    for section, model in SECTIONS.items():
        raw, problems = _section_values(stack, section, values.get(f"{CONFIG_NAMESPACE}:{section}"))
        issues += problems
        try:
            sections[section] = model.model_validate(raw)
        except ValidationError as exc:
            issues += _pydantic_issues(section, exc)
    if issues:
        raise ConfigError(stack, issues)
    cfg = StackConfig(stack=stack, region=region, **sections)
    issues = cross_checks(cfg)
    if issues:
        raise ConfigError(stack, issues)
    return cfg


def config_from_pulumi() -> StackConfig:
    """Read the running stack's config through the Pulumi runtime and validate it."""
    import pulumi

    from ollama_infra.pulumi_sdk import stack_config

    return parse_config(pulumi.get_stack(), stack_config())
