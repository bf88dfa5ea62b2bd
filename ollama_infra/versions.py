"""The versions of the software the stack does not own, pinned in one place.

Every fact the stack relies on about these programs (environment variables, log lines,
health endpoints, install prerequisites, agent config keys) was checked against exactly
these versions and is registered in docs/UPSTREAM.md; a test keeps the register's
"checked against" versions equal to these. Upgrading one is the procedure in
docs/UPSTREAM.md ("Upgrading a pin"): re-check the facts listed there first.

The config defaults (``ollama.version``, ``webui.version``) and the Packer template's
defaults come from here (tests/test_packer.py and tests/test_upstream.py compare them).
"""

from __future__ import annotations

# Ollama release installed by the official install script (the script itself is fetched
# from the same tag, so its prerequisites are those of this version). The newest release
# whose tagged source the facts in docs/UPSTREAM.md were checked against; newer ones exist
# (0.33.x) and are reached through the upgrade procedure there.
OLLAMA_VERSION = "0.32.15"
# The oldest Ollama whose log lines the metric filters parse: v0.30.0 replaced
# "llama runner started in N seconds" with "llama-server started in N seconds". Older
# versions (a stack file's ollama.version, or a snap channel that lags) are refused.
OLLAMA_MIN_VERSION = "0.30.0"

# Open WebUI container image and tag.
OPEN_WEBUI_IMAGE = "ghcr.io/open-webui/open-webui"
OPEN_WEBUI_VERSION = "v0.9.6"

# CloudWatch agent release the agent config (cwagent.py) and IAM statements were checked
# against. AWS documents only the "latest" package path for Ubuntu, so the boot installs
# that and then refuses an agent older than this one (its config keys may be missing) and
# logs a newer one, so drift is visible in the bootstrap log.
CLOUDWATCH_AGENT_VERSION = "1.300071.0"


def version_tuple(version: str) -> tuple[int, ...]:
    """``"0.32.15"`` -> ``(0, 32, 15)``; a leading ``v`` and a build suffix are ignored."""
    core = version.lstrip("v").split("b", 1)[0].split("-", 1)[0]
    return tuple(int(part) for part in core.split("."))
