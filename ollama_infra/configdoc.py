"""Render docs/configuration.md from the typed config (``python -m ollama_infra.configdoc``)."""

from __future__ import annotations

import json
import sys

from ollama_infra.config import CONFIG_NAMESPACE, SECTIONS
from ollama_infra.userdata import (
    WEBUI_FIRST_USER_SETTINGS,
    WEBUI_OIDC_SETTINGS,
    WEBUI_PERSISTENT_SETTINGS,
    WEBUI_STACK_SETTINGS,
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
    """The Open WebUI settings the stack owns, and those Open WebUI owns after its first start."""
    lines = [
        "## Settings the stack owns",
        "",
        "Open WebUI stores the settings it marks PersistentConfig in its database on its first "
        "start and reads them from there afterwards; the environment the boot passes is then "
        "ignored. The stack keeps Open WebUI's default (`ENABLE_PERSISTENT_CONFIG=true`, stated "
        "in the env file) so that a change made in the admin panel reaches every instance "
        "through the shared database and Redis (with `false` the environment wins at start, "
        "but admin-panel changes neither reach the other instances nor survive a restart). "
        "The settings below are the stack's: every boot, once Open WebUI is ready and while "
        "the instance holds the first-start lock, signs in as the headless admin and writes "
        "them through Open WebUI's admin API when they differ (a second boot writes nothing). "
        "An admin-panel change to one of them lasts until the next boot; change the stack "
        "file instead. With `auth.mode: oidc` there is no headless admin: the boot applies "
        "none of them and `webui.model_access` must stay `admin-only`. Sources and version: "
        "docs/UPSTREAM.md.",
        "",
        "| Setting | Set from | How the boot applies it |",
        "|---|---|---|",
    ]
    for name, (source, how) in WEBUI_STACK_SETTINGS.items():
        lines.append(f"| `{name}` | {source} | {how} |")
    lines += [
        "",
        "## Settings Open WebUI owns after the first start",
        "",
        "Everything else set in the admin panel is Open WebUI's, stored in its database. With "
        "several instances, Open WebUI 0.9.6 loads the whole settings record once at start and "
        "every save writes that server's whole copy back, while reads prefer the per-setting "
        "copy in Redis: an edit is live on every instance at once, but a later save on another "
        "instance (which still holds the older record) overwrites it in the database, and it "
        "then survives only in Redis. The rule for admin-panel edits with more than one "
        "instance:",
        "",
        "1. Make settings changes in one browser session (the ALB's stickiness keeps it on one "
        "instance) and check them there.",
        "2. Then roll the fleet so every instance loads the saved record: "
        "`aws autoscaling start-instance-refresh --auto-scaling-group-name ollama-asg-<env>`. "
        "Until the refresh finishes, nobody else saves settings.",
        "3. Settings that must not drift belong in the stack (the table above); propose new "
        "ones there rather than relying on the admin panel.",
        "",
        "The boot itself is safe with this: it saves only right after its own start (a fresh "
        "copy of the record), one instance at a time under the first-start lock.",
        "",
        "| Variable | Set from | Change on a running fleet |",
        "|---|---|---|",
    ]
    for name, (source, change) in WEBUI_PERSISTENT_SETTINGS.items():
        lines.append(f"| `{name}` | {source} | {change} |")
    lines += [
        "",
        "The initial admin is created only while the database has no user (creating it also "
        "switches sign-up off until the boot re-applies `webui.enable_signup`). Two servers "
        "starting on an empty database at the same moment would both create it, so each "
        "instance starts Open WebUI holding the first-start lock (docs/data.md):",
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
