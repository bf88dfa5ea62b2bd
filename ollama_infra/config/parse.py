"""From a stack's config map to a validated ``StackConfig``, or every problem at once."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ollama_infra.config.fields import (
    CONFIG_NAMESPACE,
    DOCS_HINT,
    ENVIRONMENTS,
    MESSAGES,
    Model,
    check_region,
    closest,
)
from ollama_infra.config.rules import cross_checks
from ollama_infra.config.sections import SECTIONS
from ollama_infra.config.stack import ConfigError, ConfigIssue, StackConfig

# Config namespaces a stack file may use: this program's, the AWS provider's, Pulumi's own.
NAMESPACES: tuple[str, ...] = (CONFIG_NAMESPACE, "aws", "pulumi")


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


def _key_issues(values: Mapping[str, Any]) -> list[ConfigIssue]:
    """Keys in an unknown namespace (``ollam:compute``) or unknown ``ollama:`` keys."""
    sections = [f"{CONFIG_NAMESPACE}:{s}" for s in SECTIONS]
    issues = []
    for key, value in values.items():
        namespace, sep, name = key.partition(":")
        if not sep or namespace not in NAMESPACES:
            rule = f"unknown config namespace '{namespace if sep else key}'"
            fix = (
                f"write {CONFIG_NAMESPACE}:<section> for this program's settings or aws:<key> "
                f"for the AWS provider{closest(key, [*sections, 'aws:region'])}"
            )
        elif namespace == CONFIG_NAMESPACE and name not in SECTIONS:
            rule, fix = "unknown config key", f"use one of: {', '.join(sections)}"
        else:
            continue
        issues.append(ConfigIssue(key=key, value=value, rule=rule, fix=fix))
    return issues


def _region_issue(stack: str, region: Any) -> ConfigIssue | None:
    command = f"`pulumi config set aws:region <region> --stack {stack}`"
    if not isinstance(region, str) or not region:
        rule, fix = "the AWS region must be set", f"run {command.replace('<region>', 'us-east-1')}"
    else:
        try:
            check_region(region)
            return None
        except ValueError as exc:
            rule, fix = _split(str(exc))
            fix = f"{fix}; set it with {command}"
    return ConfigIssue(key="aws:region", value=region, rule=rule, fix=fix)


def _section(
    section: str, model: type[Model], raw: dict[str, Any]
) -> tuple[Model, list[ConfigIssue], set[str]]:
    """The validated section, its issues, and the keys (``section.key``) whose invalid values
    were replaced by their defaults so the cross-key rules can still run."""
    try:
        return model.model_validate(raw), [], set()
    except ValidationError as exc:
        issues = _pydantic_issues(section, exc)
        bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
    try:
        repaired = model.model_validate({k: v for k, v in raw.items() if k not in bad})
    except ValidationError:
        repaired, bad = model.model_validate({}), set(model.model_fields)
    return repaired, issues, {f"{section}.{key}" for key in bad}


def parse_config(stack: str, values: Mapping[str, Any], source: str | None = None) -> StackConfig:
    """Build a validated StackConfig from a stack's config map.

    ``values`` maps full config keys (``ollama:network``, ``aws:region``) to values,
    structured values either as objects or as JSON strings (as the Pulumi runtime holds them).
    Raises ConfigError listing every problem of the whole map at once: a key with an invalid
    value stands in with its default for the cross-key rules, and a rule that read such a
    key is not reported (its verdict would be about the default, not about the file).
    ``source`` names the stack file in the message.
    """
    issues = _key_issues(values)
    substituted: set[str] = set()
    region = values.get("aws:region")
    region_issue = _region_issue(stack, region)
    if region_issue is not None:
        issues.append(region_issue)
        substituted.add("region")
        region = "us-east-1"
    sections: dict[str, Any] = {}
    for section, model in SECTIONS.items():
        raw, problems = _section_values(stack, section, values.get(f"{CONFIG_NAMESPACE}:{section}"))
        if problems:
            substituted |= {f"{section}.{key}" for key in model.model_fields}
        sections[section], found, bad = _section(section, model, raw)
        issues += problems + found
        substituted |= bad
    if "environment.name" in substituted and stack in ENVIRONMENTS:
        substituted.discard("environment.name")  # the stack name stands in: rules still apply
        sections["environment"] = sections["environment"].model_copy(update={"name": stack})
    cfg = StackConfig(stack=stack, region=str(region), **sections)
    issues += cross_checks(cfg, frozenset(substituted))
    if issues:
        raise ConfigError(stack, issues, source)
    return cfg


def config_from_pulumi() -> StackConfig:
    """Read the running stack's config through the Pulumi runtime and validate it."""
    import pulumi

    from ollama_infra.pulumi_sdk import stack_config

    return parse_config(pulumi.get_stack(), stack_config())
