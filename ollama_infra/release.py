"""The versions a stack runs (its release) and the record of the last deployed one.

Open WebUI migrates its database schema when a new version starts, and two versions
against one database are not supported. So a release change on a stack whose Open WebUI
shares a database is rolled out with every old instance stopped first, both by the program
(the instance refresh preferences, ``ollama_infra.compute``) and by ``ollama-ops deploy``
(the one-instance procedure, ``ollama_infra.ops.upgrade``). Both need to know what runs
now: each deployment writes its release to the SSM parameter ``/ollama/<env>/release/versions``
after the group is updated, and the next one compares against it.

Plain data, no Pulumi: the program and the ops CLI share it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ollama_infra.config import OllamaConfig, WebUIConfig
from ollama_infra.naming import StackNames
from ollama_infra.userdata import webui_image

RECORD_ROLE = "release/versions"


def record_name(names: StackNames) -> str:
    return names.parameter(RECORD_ROLE)


@dataclass(frozen=True)
class Release:
    """What a rollout of a new version changes: the Open WebUI image and the Ollama release."""

    webui: str
    """``image:tag`` or ``image:tag@sha256:...``, as the boot pulls it."""
    ollama: str
    """``script <version>`` or ``snap <channel>``: what the boot installs."""

    @classmethod
    def from_config(cls, ollama: OllamaConfig, webui: WebUIConfig) -> Release:
        installed = ollama.version if ollama.install_method == "script" else ollama.snap_channel
        return cls(webui=webui_image(webui), ollama=f"{ollama.install_method} {installed}")

    def to_json(self) -> str:
        return json.dumps({"webui": self.webui, "ollama": self.ollama}, sort_keys=True)

    @classmethod
    def parse(cls, text: str) -> Release | None:
        """The record's value; None when it is not one (treated as unknown, hence changed)."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        webui, ollama = data.get("webui"), data.get("ollama")
        if not isinstance(webui, str) or not isinstance(ollama, str):
            return None
        return cls(webui=webui, ollama=ollama)

    def changes(self, deployed: Release | None) -> list[str]:
        """Human lines for what differs from ``deployed`` (None: nothing recorded)."""
        if deployed is None:
            return [
                f"no record of the deployed versions; deploying Open WebUI {self.webui}, "
                f"Ollama {self.ollama}"
            ]
        lines = []
        if deployed.webui != self.webui:
            lines.append(f"Open WebUI {deployed.webui} -> {self.webui}")
        if deployed.ollama != self.ollama:
            lines.append(f"Ollama {deployed.ollama} -> {self.ollama}")
        return lines


def is_upgrade(wanted: Release, deployed: Release | None) -> bool:
    """A rollout that may start another version: anything but an equal record."""
    return deployed != wanted
