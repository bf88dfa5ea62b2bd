"""Run the policy pack offline against the records of an evaluated stack.

The records come from ``ollama_infra.offline.evaluate`` (what ``ollama-ops plan`` prints).
Each record becomes the argument object ``pulumi_policy`` itself would pass:

- resource policies get a ``ResourceValidationArgs`` whose ``props`` are the record's inputs
  (camelCase, as the engine sends them) and whose ``provider`` carries the AWS provider's
  props (``defaultTags``...): an explicit provider's inputs, or for the default provider the
  stack's ``aws:*`` config;
- stack policies get a ``StackValidationArgs`` whose resources' ``props`` are the records'
  outputs (inputs plus ``id``, ``arn`` and the other values the mocks return), plus the
  ``pulumi:pulumi:Stack`` resource whose props are the stack outputs.

Props are wrapped in ``pulumi_policy``'s unknown-checking proxy, exactly as during
``pulumi preview``. A rule that reads a value that is not known yet raises
``UnknownValueError``; like the Pulumi engine, the evaluator records that as an advisory
"cannot run during preview" note for that rule and resource instead of a violation.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.policy.common import Rule
from ollama_infra.policy.pack import PACK_NAME, RULES
from ollama_infra.policy.rules_network import DEFAULT_PUBLIC_ALB_PORTS

PROJECT = "ollama"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class Violation:
    policy: str
    level: str  # "mandatory" or "advisory"
    message: str
    resource: str | None  # logical name, None for the stack as a whole
    urn: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "level": self.level,
            "message": self.message,
            "resource": self.resource,
            "urn": self.urn,
        }


@dataclass
class PolicyResult:
    rule: Rule
    violations: list[Violation] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    checked: int = 0  # resources of the rule's types in the plan

    @property
    def level(self) -> str:
        return self.rule.level.value

    @property
    def status(self) -> str:
        if self.violations:
            return "fail" if self.level == "mandatory" else "warn"
        if self.unknown:
            return "unknown"
        return "pass" if self.checked else "n/a"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.rule.name,
            "description": self.rule.description,
            "level": self.level,
            "kind": "stack" if self.rule.stack else "resource",
            "status": self.status,
            "checked": self.checked,
            "violations": [v.to_json() for v in self.violations],
            "unknown": self.unknown,
            "advisory_reason": self.rule.advisory_reason,
        }


@dataclass
class PolicyReport:
    pack: str
    results: list[PolicyResult]

    @property
    def violations(self) -> list[Violation]:
        return [v for r in self.results for v in r.violations]

    @property
    def mandatory_violations(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def advisory_violations(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "advisory"]

    @property
    def passed(self) -> bool:
        return not self.mandatory_violations

    def result(self, name: str) -> PolicyResult:
        for r in self.results:
            if r.rule.name == name:
                return r
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "passed": self.passed,
            "mandatory_violations": len(self.mandatory_violations),
            "advisory_violations": len(self.advisory_violations),
            "rules": [r.to_json() for r in self.results],
        }


# ---------------------------------------------------------------------------- adapters


def _opts(options: Mapping[str, Any] | None = None) -> PolicyResourceOptions:
    """Resource options as the engine hands them to a policy (the recorded ones, if any)."""
    options = options or {}
    return PolicyResourceOptions(
        protect=bool(options.get("protect")),
        ignore_changes=list(options.get("ignoreChanges", [])),
        delete_before_replace=options.get("deleteBeforeReplace") or None,
        aliases=list(options.get("aliases", [])),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=None,
    )


def _props(values: Mapping[str, Any]) -> Any:
    """Props as the engine hands them to a policy: secrets unwrapped, unknowns guarded."""
    return unknown_checking_proxy(deserialize_properties(copy.deepcopy(dict(values))))


def _urn(stack: str, type_token: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_token}::{name}"


def default_provider_props(stack_values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Props of the default AWS provider: the stack's ``aws:*`` config without the prefix."""
    out: dict[str, Any] = {}
    for key, value in (stack_values or {}).items():
        if key.startswith("aws:"):
            out[key[len("aws:") :]] = copy.deepcopy(value)
    return out


class _Providers:
    """Resolves a record's provider reference to a PolicyProviderResource."""

    def __init__(self, ev: Evaluation, stack_values: Mapping[str, Any] | None) -> None:
        self._stack = ev.stack
        self._by_name = {r.name: r for r in ev.resources if r.type.startswith("pulumi:providers:")}
        self._default = PolicyProviderResource(
            "pulumi:providers:aws",
            _props(default_provider_props(stack_values)),
            _urn(ev.stack, "pulumi:providers:aws", "default"),
            "default",
        )

    def for_record(self, record: ResourceRecord) -> PolicyProviderResource | None:
        if not record.type.startswith("aws:"):
            return None
        ref = record.provider or ""
        parts = ref.split("::")
        name = parts[3] if len(parts) >= 4 else ""
        provider = self._by_name.get(name)
        if provider is None or name.startswith("default"):
            return self._default
        return PolicyProviderResource(
            provider.type,
            _props(provider.inputs),
            _urn(self._stack, provider.type, provider.name),
            provider.name,
        )


def resource_args(
    record: ResourceRecord,
    stack: str,
    provider: PolicyProviderResource | None,
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    """What a ResourceValidationPolicy receives for ``record`` (props = inputs)."""
    return ResourceValidationArgs(
        record.type,
        _props(record.inputs),
        _urn(stack, record.type, record.name),
        record.name,
        _opts(record.options),
        provider,
        dict(config or {}),
    )


def stack_resources(ev: Evaluation, providers: _Providers) -> list[PolicyResource]:
    """What a StackValidationPolicy sees: every resource's outputs, plus the Stack's outputs."""
    out = []
    for record in ev.resources:
        # Outputs = the inputs plus what the provider computes (id, arn, dns names...).
        props = _props({**record.state, **record.inputs, "id": record.id})
        out.append(
            PolicyResource(
                record.type,
                props,
                _urn(ev.stack, record.type, record.name),
                record.name,
                _opts(record.options),
                providers.for_record(record),
                None,
                [],
                {},
            )
        )
    name = f"{PROJECT}-{ev.stack}"
    out.append(
        PolicyResource(
            STACK_TYPE,
            _props(ev.outputs),
            _urn(ev.stack, STACK_TYPE, name),
            name,
            _opts(),
            None,
            None,
            [],
            {},
        )
    )
    return out


# ---------------------------------------------------------------------------- evaluation


def rule_config(rule: Rule, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The rule's config: schema defaults overlaid with ``overrides[rule.name]``."""
    out: dict[str, Any] = {}
    if rule.config_schema is not None:
        for key, spec in (rule.config_schema.properties or {}).items():
            if isinstance(spec, Mapping) and "default" in spec:
                out[key] = copy.deepcopy(spec["default"])
    out.update((overrides or {}).get(rule.name, {}))
    return out


def policy_config_from_stack(stack: str, stack_values: Mapping[str, Any]) -> dict[str, Any]:
    """Per-rule config implied by the stack's own settings (what --policy-pack-config carries).

    The ALB may be public on the API listener port only when the operator acknowledged it
    (``ollama:ollama_api.acknowledge_public_access``); the config validation guarantees that
    a world CIDR in ``allowed_cidrs`` needs that acknowledgement.
    """
    from ollama_infra.config import parse_config

    cfg = parse_config(stack, dict(stack_values))
    ports = list(DEFAULT_PUBLIC_ALB_PORTS)
    api = cfg.ollama_api
    if api.enabled and api.acknowledge_public_access:
        ports.append(api.port)
    return {"sg-no-world-ingress": {"public_alb_ports": ports}}


def evaluate_policies(
    ev: Evaluation,
    stack_values: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    rules: Iterable[Rule] = RULES,
) -> PolicyReport:
    """Run every rule against ``ev`` and collect violations per rule.

    ``stack_values`` (the stack file's config map) supplies the default provider's props and,
    unless ``config`` is given, the per-rule config (see ``policy_config_from_stack``).
    """
    if config is None and stack_values is not None:
        config = policy_config_from_stack(ev.stack, stack_values)
    providers = _Providers(ev, stack_values)
    stack_view: list[PolicyResource] | None = None
    results: list[PolicyResult] = []
    for rule in rules:
        result = PolicyResult(rule)
        cfg = rule_config(rule, config)
        if rule.stack:
            if stack_view is None:
                stack_view = stack_resources(ev, providers)
            by_urn = {r.urn: r.name for r in stack_view}

            def report(
                message: str,
                urn: str | None = None,
                _r: PolicyResult = result,
                _names: dict[str, str] = by_urn,
            ) -> None:
                _r.violations.append(
                    Violation(_r.rule.name, _r.level, message, _names.get(urn or ""), urn)
                )

            result.checked = sum(1 for r in stack_view if rule.applies_to(r.resource_type))
            try:
                stack_policy = rule.build()
                assert isinstance(stack_policy, StackValidationPolicy)
                stack_policy.validate(StackValidationArgs(stack_view, cfg), report)
            except UnknownValueError as exc:
                result.unknown.append(
                    f"can't run policy '{rule.name}' during preview: {exc.message}"
                )
        else:
            policy = rule.build()
            assert isinstance(policy, ResourceValidationPolicy)
            for record in ev.resources:
                if not rule.applies_to(record.type):
                    continue
                result.checked += 1
                args = resource_args(record, ev.stack, providers.for_record(record), cfg)

                def report_resource(
                    message: str,
                    urn: str | None = None,
                    _a: ResourceValidationArgs = args,
                    _r: PolicyResult = result,
                ) -> None:
                    _r.violations.append(
                        Violation(_r.rule.name, _r.level, message, _a.name, _a.urn)
                    )

                try:
                    policy.validate(args, report_resource)
                except UnknownValueError as exc:
                    result.unknown.append(
                        f"can't run policy '{rule.name}' on {record.name} during preview: "
                        f"{exc.message}"
                    )
        results.append(result)
    return PolicyReport(PACK_NAME, results)
