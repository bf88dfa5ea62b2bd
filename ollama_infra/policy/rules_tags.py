"""Required tags on every taggable resource, provider default tags included."""

from __future__ import annotations

from typing import Any

from ollama_infra import naming
from ollama_infra.policy.common import TAGGABLE, Report, flag, merged_tags, policy


@policy(
    "required-tags",
    "Every taggable resource carries Project, Environment, ManagedBy and Service "
    "(provider default tags included).",
    TAGGABLE,
)
def required_tags(args: Any, report: Report) -> None:
    tags = merged_tags(args)
    missing = [k for k in naming.REQUIRED_TAG_KEYS if not tags.get(k)]
    if missing:
        flag(
            report,
            args,
            f"missing required tags {missing} (own tags merged with provider default tags)",
            "pass tags=ctx.tags('<service>', <name>) (ASG: ctx.tagger.asg_tags)",
        )
        return
    wrong = {
        k: tags[k]
        for k, want in (("Project", naming.PROJECT), ("ManagedBy", "pulumi"))
        if tags[k] != want
    }
    if wrong:
        flag(
            report,
            args,
            f"tags {wrong} differ from Project=ollama, ManagedBy=pulumi",
            "use ctx.tags(...) instead of hand-written tags",
        )
