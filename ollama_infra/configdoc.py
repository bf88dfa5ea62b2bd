"""Render docs/configuration.md from the typed config (``python -m ollama_infra.configdoc``)."""

from __future__ import annotations

import json
import sys

from ollama_infra.config import CONFIG_NAMESPACE, SECTIONS


def render() -> str:
    lines = [
        "# Stack configuration reference",
        "",
        "Generated from `ollama_infra/config/` by `python -m ollama_infra.configdoc`; "
        "a test fails when this file is out of date.",
        "",
        "Every key lives in the stack file (`Pulumi.<stack>.yaml`) under the `ollama:` namespace, "
        "one mapping per section, and is validated before any resource is declared. "
        "`aws:region` sets the region (one botocore lists). Defaults suit `dev`.",
        "",
        "One run reports every problem of the file at once, each with the key, the value, "
        "the rule and the fix: YAML syntax errors and keys given twice (with line and "
        "column), keys outside the `ollama:`, `aws:` and `pulumi:` namespaces, unknown "
        "regions, cron fields out of range, unknown IANA time zones, and every rule below. "
        "Warnings (a public VPC range, the placeholder certificate ARNs and example.com "
        "names of the shipped stack files) are printed by `ollama-ops plan` and "
        "`pulumi preview`; `ollama-ops deploy` refuses the placeholders.",
        "",
    ]
    for section, model in SECTIONS.items():
        lines += [f"## `{CONFIG_NAMESPACE}:{section}`", "", (model.__doc__ or "").strip(), ""]
        lines += ["| Key | Default | Description |", "|---|---|---|"]
        for name, field in model.model_fields.items():
            default = json.dumps(field.default)
            lines.append(f"| `{name}` | `{default}` | {field.description} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
