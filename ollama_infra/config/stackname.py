"""Stack names: the three environments, and DR copies named ``<env>-<region>``.

A DR stack (for example ``production-us-west-2``) is an ordinary Pulumi stack with its own
stack file; its config names the primary it copies (``environment.primary``) and its
environment is the primary's, so the production rules apply to it as well. Its physical
names carry ``naming.dr_suffix`` instead of the environment, so it can share the account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ollama_infra import naming
from ollama_infra.config.fields import ENVIRONMENTS, REGION_RE

DR_STACK_RE = re.compile(
    rf"^(?P<env>{'|'.join(ENVIRONMENTS)})-(?P<region>{REGION_RE.pattern.strip('^$')})$"
)
# Every name --stack accepts: an environment, optionally followed by a DR region.
STACK_NAME_RE = re.compile(rf"^({'|'.join(ENVIRONMENTS)})(-{REGION_RE.pattern.strip('^$')})?$")
STACK_NAME_HELP = (
    "dev, staging, production, or a DR stack <env>-<region> (e.g. production-us-west-2)"
)


@dataclass(frozen=True)
class StackName:
    """What a stack's name says: its environment and, for a DR stack, its region."""

    stack: str
    env: str
    dr_region: str | None = None

    @property
    def is_dr(self) -> bool:
        return self.dr_region is not None

    @property
    def suffix(self) -> str:
        """The ``<env>`` part of the stack's physical names."""
        return naming.dr_suffix(self.env, self.dr_region) if self.dr_region else self.env


def parse_stack_name(stack: str) -> StackName:
    """The environment (and DR region) of a stack name; other names are their own env."""
    match = DR_STACK_RE.match(stack)
    if match:
        return StackName(stack, match["env"], match["region"])
    return StackName(stack, stack)


def is_known_stack_name(stack: str) -> bool:
    """A name ``--stack`` accepts: an environment or a DR stack name."""
    return STACK_NAME_RE.match(stack) is not None


def environment_of(stack: str) -> str:
    """dev, staging or production for ``production-us-west-2``; the name itself otherwise."""
    return parse_stack_name(stack).env


def name_suffix(stack: str) -> str:
    """What the physical names of ``stack`` end in (``prod-usw2`` for production-us-west-2)."""
    return parse_stack_name(stack).suffix


def stack_names(stack: str, account_id: str) -> naming.StackNames:
    """The physical names of ``stack`` (a DR stack's carry its suffix)."""
    parsed = parse_stack_name(stack)
    return naming.StackNames(
        parsed.suffix, account_id, parsed.env if parsed.suffix != parsed.env else None
    )
