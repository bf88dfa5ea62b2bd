"""Logs, metrics, alarms and the dashboard (see components.py for the two parts)."""

from ollama_infra.observability.components import (
    MonitoringArgs,
    MonitoringComponent,
    TelemetryArgs,
    TelemetryComponent,
)

__all__ = [
    "MonitoringArgs",
    "MonitoringComponent",
    "TelemetryArgs",
    "TelemetryComponent",
]
