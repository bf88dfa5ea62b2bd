"""Render docs/configuration.md from the typed config (``python -m ollama_infra.configdoc``)."""

from __future__ import annotations

import json
import sys

from ollama_infra.config import CONFIG_NAMESPACE, SECTIONS
from ollama_infra.userdata import (
    WEBUI_FIRST_USER_SETTINGS,
    WEBUI_OIDC_SETTINGS,
    WEBUI_PERSISTENT_SETTINGS,
)


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
    return "\n".join(lines + _first_start_section())


def _first_start_section() -> list[str]:
    """The Open WebUI settings the stack owns only at Open WebUI's first start."""
    lines = [
        "## Settings Open WebUI owns after the first start",
        "",
        "Open WebUI stores the settings it marks PersistentConfig in its database on its first "
        "start and reads them from there afterwards; the environment the boot passes is then "
        "ignored. The stack keeps Open WebUI's default (`ENABLE_PERSISTENT_CONFIG=true`, stated "
        "in the env file) so that a change made in the admin panel reaches every instance "
        "through the shared database and Redis. With it set to false, Open WebUI ignores the "
        "database at start but stops syncing admin changes through Redis, so instances would "
        "disagree after any change in the admin panel. So the stack sets these only on the "
        "first start against a database; afterwards change them in Open WebUI. Sources and "
        "version: docs/UPSTREAM.md.",
        "",
        "| Variable | Set from | Change on a running fleet |",
        "|---|---|---|",
    ]
    for name, (source, change) in WEBUI_PERSISTENT_SETTINGS.items():
        lines.append(f"| `{name}` | {source} | {change} |")
    lines += [
        "",
        "The initial admin is created only while the database has no user (creating it also "
        "switches sign-up off, whatever `webui.enable_signup` says):",
        "",
        "| Variable | Set from | Change on a running fleet |",
        "|---|---|---|",
    ]
    for name, (source, change) in WEBUI_FIRST_USER_SETTINGS.items():
        lines.append(f"| `{name}` | {source} | {change} |")
    lines += [
        "",
        "With `auth.mode: oidc` the sign-in settings are the stack's at every start. Open WebUI "
        "reads its OAuth settings (those stored under `oauth.` in its database) from the "
        "environment on each start unless `ENABLE_OAUTH_PERSISTENT_CONFIG` is true; the stack "
        "states its default, false, so a stack change reaches every instance on its next boot "
        "and an admin-panel change to them lasts only until the next restart. The login form "
        "switch is an ordinary PersistentConfig setting, so the stack also turns password "
        "sign-in off through a plain environment variable. No headless admin is created: roles "
        "follow group membership (docs/identity.md).",
        "",
        "| Variable | Set from | Who wins after the first start |",
        "|---|---|---|",
    ]
    for name, (source, wins) in WEBUI_OIDC_SETTINGS.items():
        lines.append(f"| `{name}` | {source} | {wins} |")
    lines.append("")
    return lines


if __name__ == "__main__":
    sys.stdout.write(render())
