"""Shared by the rules modules: declaring a rule, reading props safely, tags, IAM documents and
secret patterns.

Everything here works on what ``pulumi_policy`` hands a validation function: ``props`` is a
mapping (during ``pulumi preview`` an unknown-checking proxy, so ``isinstance(x, dict)`` is
false; use ``Mapping``/``Sequence``), and reading a value that is still unknown raises
``UnknownValueError``. Helpers never swallow that error: ``pulumi_policy`` turns it into an
advisory "can't run policy during preview" note, and the offline evaluator does the same.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    StackValidationPolicy,
)

from ollama_infra import naming

DEV = "dev"


class ResourceLike(Protocol):
    """What both ResourceValidationArgs and PolicyResource offer (plus the adapters offline)."""

    resource_type: str
    props: Mapping[str, Any]
    urn: str
    name: str
    provider: Any


Report = Callable[..., None]
Validate = Callable[[Any, Report], None]
# ``types`` of a rule that applies to every resource type that takes tags.
TAGGABLE = "*taggable*"


@dataclass(frozen=True)
class Rule:
    """One policy of the pack: its validation function and the scanner checks it mirrors."""

    name: str
    description: str
    validate: Validate
    types: tuple[str, ...]
    """Resource types the rule looks at: a resource rule sees only these."""
    stack: bool = False
    """A stack rule sees every resource of the stack at once (and the stack outputs)."""
    checkov: tuple[str, ...] = ()
    trivy: tuple[str, ...] = ()
    advisory_reason: str | None = None
    """Why the rule would block a legitimate configuration; the rule is mandatory without one."""
    config_schema: PolicyConfigSchema | None = None

    def applies_to(self, type_token: str) -> bool:
        if TAGGABLE in self.types:
            return is_taggable(type_token)
        return type_token in self.types

    @property
    def level(self) -> EnforcementLevel:
        return EnforcementLevel.ADVISORY if self.advisory_reason else EnforcementLevel.MANDATORY

    def build(self) -> ResourceValidationPolicy | StackValidationPolicy:
        kind = StackValidationPolicy if self.stack else ResourceValidationPolicy
        return kind(
            name=self.name,
            description=self.description,
            validate=self.validate if self.stack else self._validate_own_types,
            enforcement_level=self.level,
            config_schema=self.config_schema,
        )

    def _validate_own_types(self, args: Any, report: Report) -> None:
        """The engine hands every resource to every resource policy; ``types`` picks the rule's."""
        if self.applies_to(args.resource_type):
            self.validate(args, report)


def policy(
    name: str,
    description: str,
    *types: str,
    stack: bool = False,
    checkov: tuple[str, ...] = (),
    trivy: tuple[str, ...] = (),
    advisory_reason: str | None = None,
    config_schema: PolicyConfigSchema | None = None,
) -> Callable[[Validate], Rule]:
    """Declare the decorated validation function a rule of the pack (see ``Rule``)."""

    def declare(validate: Validate) -> Rule:
        return Rule(
            name,
            description,
            validate,
            types,
            stack,
            checkov,
            trivy,
            advisory_reason,
            config_schema,
        )

    return declare


def get(obj: Any, *path: str | int, default: Any = None) -> Any:
    """``obj[path[0]][path[1]]...`` through mappings and lists; ``default`` when absent."""
    cur = obj
    for key in path:
        if isinstance(key, int):
            if not is_list(cur) or key >= len(cur):
                return default
            cur = cur[key]
        else:
            if not isinstance(cur, Mapping) or key not in cur:
                return default
            cur = cur[key]
        if cur is None:
            return default
    return cur


def is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def as_list(value: Any) -> list[Any]:
    """None -> [], a list -> its items, anything else -> [value]."""
    if value is None:
        return []
    if is_list(value):
        return [value[i] for i in range(len(value))]
    return [value]


def truthy(value: Any) -> bool:
    """True for ``True`` and the string ``"true"`` (launch template EBS flags are strings)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def of_type(args: Any, type_token: str) -> list[Any]:
    """A stack policy's resources of one type."""
    return [r for r in args.resources if r.resource_type == type_token]


def by_prop(args: Any, type_token: str, prop: str) -> dict[str, Any]:
    """A stack policy's resources of one type, by the text of one of their properties (an id,
    ARN or name another resource refers to)."""
    return {str(r.props.get(prop)): r for r in of_type(args, type_token)}


def flag(report: Report, res: ResourceLike, problem: str, fix: str) -> None:
    """Report ``res`` in the message format of every rule: the resource, what is wrong, the fix.

    The urn places a stack policy's finding; pulumi_policy ignores it for resource policies.
    """
    report(f"{res.resource_type} '{res.name}': {problem}. Fix: {fix}.", res.urn)


# ---------------------------------------------------------------------------- tags


def _as_mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def provider_default_tags(res: ResourceLike) -> dict[str, str]:
    """``defaultTags.tags`` of the resource's AWS provider (object or JSON string), if known."""
    provider = getattr(res, "provider", None)
    props = getattr(provider, "props", None)
    if not isinstance(props, Mapping):
        return {}
    default_tags = _as_mapping(props.get("defaultTags"))
    tags = _as_mapping(default_tags.get("tags"))
    return {str(k): str(v) for k, v in tags.items() if v is not None}


def resource_tags(props: Mapping[str, Any]) -> dict[str, str]:
    """The resource's own tags; ASG tag lists (key/value/propagateAtLaunch) become a dict."""
    tags = props.get("tags")
    if isinstance(tags, Mapping):
        return {str(k): str(v) for k, v in tags.items() if v is not None}
    out: dict[str, str] = {}
    for item in as_list(tags):
        if isinstance(item, Mapping) and "key" in item:
            out[str(item["key"])] = str(item.get("value", ""))
    return out


def merged_tags(res: ResourceLike) -> dict[str, str]:
    """Provider default tags overlaid with the resource's tags (what AWS ends up with)."""
    return {**provider_default_tags(res), **resource_tags(res.props)}


def environment(res: ResourceLike) -> str | None:
    """The Environment tag (merged). Rules that relax something in dev need it to say dev."""
    return merged_tags(res).get("Environment")


def outside_dev(res: ResourceLike) -> bool:
    """True unless the resource is tagged Environment=dev (missing tag: treated strictly)."""
    return environment(res) != DEV


@functools.lru_cache(maxsize=512)
def is_taggable(type_token: str) -> bool:
    try:
        return naming.is_taggable(type_token)
    except ImportError:
        return False


# ---------------------------------------------------------------------------- IAM documents


def policy_document(value: Any) -> Mapping[str, Any] | None:
    """A policy document from a JSON string or a mapping; None if it is not one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def statements(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if doc is None:
        return []
    return [s for s in as_list(doc.get("Statement")) if isinstance(s, Mapping)]


def strings(value: Any) -> list[str]:
    return [str(v) for v in as_list(value)]


def principals(statement: Mapping[str, Any]) -> list[str]:
    """Every principal of a statement (``"*"`` for a bare wildcard)."""
    principal = statement.get("Principal")
    if isinstance(principal, str):
        return [principal]
    if isinstance(principal, Mapping):
        return [p for v in principal.values() for p in strings(v)]
    return []


# ---------------------------------------------------------------------------- secrets

# Content that must never appear in plain text in user data, parameters or outputs.
_SECRET_NAME = r"[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET_KEY|SECRET|API_KEY|AUTH_TOKEN|TOKEN)"  # noqa: S105
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    (
        "AWS secret access key",
        re.compile(r"(?i)aws_?secret_?access_?key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}\b"),
    ),
    ("private key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    (
        "literal secret assignment",
        # A literal value given to a name ending in a secret word, in the three shapes that
        # assign in user data, env files, JSON and YAML: NAME=value (no spaces, shell),
        # NAME = "value" / "NAME": "value" (quoted literal), and a YAML line NAME: value.
        # Expansions ($VAR, $(cmd), ${...}, {{...}}, <...>) are not literals.
        re.compile(
            r"(?im)(?<![A-Za-z0-9_])"
            r"(?:"
            rf"{_SECRET_NAME}=(?![$'\"<{{(])[^\s'\";]{{6,}}"
            rf"|['\"]?{_SECRET_NAME}['\"]?\s*[=:]\s*(['\"])(?![$<{{%])[^'\"\s]{{6,}}\1"
            rf"|^\s*{_SECRET_NAME}:\s+(?![$'\"<{{&*!|>#])[^\s'\"]{{6,}}\s*$"
            r")"
        ),
    ),
    ("GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b")),
    ("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
)

# Literal values the assignment pattern matches that are references, not secrets.
_REFERENCE_VALUES = re.compile(
    r"(?i)^(arn:|/ollama/|ollama/|none|null|true|false|"
    r"required|optional|disabled|enabled|file:|secretsmanager|ssm|"
    r"[a-z0-9]+:[a-z0-9]+/[a-z0-9]+:[a-z0-9]+$)"  # a Pulumi type token
)


def secret_matches(text: str) -> list[tuple[str, str]]:
    """(pattern name, matched text) for every secret pattern found in ``text``."""
    found: list[tuple[str, str]] = []
    for name, pattern in SECRET_PATTERNS:
        for match in pattern.finditer(text):
            if name == "literal secret assignment":
                value = re.split(r"[=:]", match.group(0).strip(), maxsplit=1)[1].strip(" '\"")
                if _REFERENCE_VALUES.match(value):
                    continue
            found.append((name, match.group(0)))
    return found


def find_secrets(text: str) -> list[str]:
    """Names of the secret patterns found in ``text`` (empty when it looks clean)."""
    return sorted({name for name, _ in secret_matches(text)})


def decode_user_data(value: Any) -> str:
    """User data as text: launch templates take base64 (ours gzip-compressed, which
    cloud-init unpacks), instances may take plain text."""
    if not isinstance(value, str):
        return ""
    compact = value.strip()
    if compact and re.fullmatch(r"[A-Za-z0-9+/=\s]+", compact):
        try:
            raw = base64.b64decode(compact, validate=False)
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, OSError, EOFError):
            return value
    return value


def walk_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, string) for every string inside nested mappings and lists."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key in value:
            yield from walk_strings(value[key], f"{path}.{key}" if path else str(key))
    elif is_list(value):
        for i in range(len(value)):
            yield from walk_strings(value[i], f"{path}[{i}]")
