"""Logs, metrics, alarms and the dashboard (see components.py for the two parts)."""

from ollama_infra.observability.components import (
    ObservabilityPost,
    ObservabilityPostArgs,
    ObservabilityPre,
    ObservabilityPreArgs,
)

__all__ = [
    "ObservabilityPost",
    "ObservabilityPostArgs",
    "ObservabilityPre",
    "ObservabilityPreArgs",
]
