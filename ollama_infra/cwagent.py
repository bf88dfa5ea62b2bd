"""The CloudWatch agent configuration the instances fetch from SSM at boot, and the
small journald forwarding it relies on.

Ollama logs to the journal of its systemd unit, whose name depends on the install method
(``OLLAMA_UNITS``: the install script writes ``ollama.service``; the snap's daemon app
``listener`` runs as ``snap.ollama.listener.service``), and Open WebUI runs in Docker with
the journald log driver (``--log-opt tag=open-webui``). The agent's file collector works
with every agent release, while native journald collection only arrived in agent
1.300070.0, so each journal stream is copied to a plain file by a tiny systemd unit
(``journalctl -f -o cat``: the message exactly as the program wrote it, which is what the
metric filters parse) and the agent ships those files. ``journald_forwarders()`` renders
those units and ``logrotate_config()`` keeps the files bounded; the compute user data
installs both.

Everything here is plain data: no Pulumi, so the generator is testable on its own and the
JSON can be validated against the agent's schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ollama_infra.naming import StackNames

# Files on the instance that the agent ships (paths the compute user data must create).
OLLAMA_LOG_FILE = "/var/log/ollama/ollama.log"
WEBUI_LOG_FILE = "/var/log/open-webui/open-webui.log"
BOOTSTRAP_LOG_FILE = "/var/log/ollama-bootstrap.log"

# The systemd unit that runs the Ollama server, per ollama.install_method (docs/UPSTREAM.md).
OLLAMA_UNITS: dict[str, str] = {
    "script": "ollama.service",
    "snap": "snap.ollama.listener.service",
}

# The agent dimension the memory alarm and the dashboard use.
ASG_DIMENSION = "AutoScalingGroupName"
# Host metrics collected by the agent (CloudWatch names are <measurement prefix>_<name>).
AGENT_METRICS: dict[str, list[str]] = {
    "mem": ["mem_used_percent"],
    "disk": ["disk_used_percent"],
    "swap": ["swap_used_percent"],
}
# NVIDIA GPU measurements (agent section nvidia_gpu; CloudWatch names nvidia_smi_<name>),
# collected on the GPU profile only. Per GPU they carry the agent's index/name dimensions.
GPU_SECTION = "nvidia_gpu"
GPU_MEASUREMENTS = (
    "utilization_gpu",
    "memory_used",
    "memory_total",
    "temperature_gpu",
    "power_draw",
)
GPU_UTILIZATION = "nvidia_smi_utilization_gpu"
GPU_MEMORY_USED = "nvidia_smi_memory_used"
GPU_MEMORY_TOTAL = "nvidia_smi_memory_total"
METRICS_INTERVAL_SECONDS = 60
# SSM Standard parameters hold up to 4 KB; above that the Advanced tier is needed.
SSM_STANDARD_LIMIT = 4096


@dataclass(frozen=True)
class LogSource:
    """One log the agent ships: the file on the instance and the log group it lands in."""

    key: str
    file_path: str
    log_group: str
    description: str
    # journalctl selector the forwarder copies from; None for files written directly.
    journal_selector: tuple[str, ...] | None = None
    # Regex marking the first line of a multi-line event (Python tracebacks in Open WebUI).
    multi_line_start: str | None = None


def ollama_unit(install_method: str) -> str:
    """The systemd unit of the Ollama server for ``install_method`` (script or snap)."""
    try:
        return OLLAMA_UNITS[install_method]
    except KeyError:
        raise ValueError(
            f"install method {install_method!r} has no known Ollama unit; use one of "
            f"{sorted(OLLAMA_UNITS)}"
        ) from None


def log_sources(names: StackNames, install_method: str = "script") -> list[LogSource]:
    """Every log the agent ships, keyed by a stable role. Only the Ollama forwarder depends
    on ``install_method``; the agent config itself does not."""
    unit = ollama_unit(install_method)
    return [
        LogSource(
            key="ollama",
            file_path=OLLAMA_LOG_FILE,
            log_group=names.service_log_group,
            description=f"Ollama server (journal of {unit})",
            journal_selector=("-u", unit),
        ),
        LogSource(
            key="open-webui",
            file_path=WEBUI_LOG_FILE,
            log_group=names.app_log_group,
            description="Open WebUI container (docker journald driver, tag open-webui)",
            journal_selector=("-t", "open-webui"),
            # Loguru lines start with a date; traceback lines do not.
            multi_line_start=r"^\d{4}-\d{2}-\d{2}",
        ),
        LogSource(
            key="bootstrap",
            file_path=BOOTSTRAP_LOG_FILE,
            log_group=names.bootstrap_log_group,
            description="Instance bootstrap script (user data)",
        ),
    ]


def agent_config(names: StackNames, region: str, gpu: bool = False) -> dict[str, Any]:
    """The agent JSON: host metrics with the ASG dimension (and the GPU's on the GPU
    profile), and the three log files."""
    collect_list = []
    for source in log_sources(names):
        entry: dict[str, Any] = {
            "file_path": source.file_path,
            "log_group_name": source.log_group,
            # One stream per instance; instance ids never collide inside the ASG.
            "log_stream_name": "{instance_id}",
            "timezone": "UTC",
        }
        if source.multi_line_start:
            entry["multi_line_start_pattern"] = source.multi_line_start
        collect_list.append(entry)
    measured: dict[str, Any] = {
        prefix: {
            "measurement": list(metrics),
            "metrics_collection_interval": METRICS_INTERVAL_SECONDS,
        }
        for prefix, metrics in AGENT_METRICS.items()
    }
    # Root filesystem only: the models live there and overlay/tmpfs mounts are noise.
    measured["disk"]["resources"] = ["/"]
    measured["disk"]["ignore_file_system_types"] = ["sysfs", "devtmpfs", "tmpfs", "overlay"]
    if gpu:
        measured[GPU_SECTION] = {
            "measurement": list(GPU_MEASUREMENTS),
            "metrics_collection_interval": METRICS_INTERVAL_SECONDS,
        }
    return {
        "agent": {
            "metrics_collection_interval": METRICS_INTERVAL_SECONDS,
            "region": region,
            "logfile": "/opt/aws/amazon-cloudwatch-agent/logs/amazon-cloudwatch-agent.log",
        },
        "metrics": {
            "namespace": names.metric_namespace,
            # The agent resolves ${aws:...} from instance metadata at start.
            "append_dimensions": {
                ASG_DIMENSION: "${aws:AutoScalingGroupName}",
                "InstanceId": "${aws:InstanceId}",
            },
            # Also publish the per-ASG aggregate so alarms need no instance ids.
            "aggregation_dimensions": [[ASG_DIMENSION]],
            "metrics_collected": measured,
        },
        "logs": {
            "logs_collected": {"files": {"collect_list": collect_list}},
            "force_flush_interval": 15,
        },
    }


def render(config: dict[str, Any]) -> str:
    """Compact, key-sorted JSON (stable diffs, and it keeps the parameter small)."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def parameter_tier(value: str) -> str:
    """SSM tier for the value: Standard up to 4 KB, Advanced above."""
    return "Standard" if len(value.encode()) <= SSM_STANDARD_LIMIT else "Advanced"


def journald_forwarders(names: StackNames, install_method: str) -> dict[str, str]:
    """systemd units (file name -> text) copying each journal stream to the file the agent ships.

    ``--cursor-file`` makes a restarted forwarder continue where it stopped instead of
    replaying or losing lines; ``-o cat`` keeps the program's own line format.
    """
    units = {}
    for source in log_sources(names, install_method):
        if source.journal_selector is None:
            continue
        state = f"/var/lib/ollama-log-forward/{source.key}.cursor"
        selector = " ".join(source.journal_selector)
        units[f"ollama-log-forward-{source.key}.service"] = "\n".join(
            [
                "[Unit]",
                f"Description=Copy the {source.description} journal to {source.file_path}",
                "After=systemd-journald.service",
                "",
                "[Service]",
                "Type=simple",
                f"ExecStartPre=/usr/bin/install -d -m 0755 /var/lib/ollama-log-forward "
                f"{source.file_path.rsplit('/', 1)[0]}",
                f"ExecStart=/usr/bin/journalctl {selector} --follow --output=cat "
                f"--cursor-file={state}",
                f"StandardOutput=append:{source.file_path}",
                "StandardError=journal",
                "Restart=always",
                "RestartSec=5",
                "",
                "[Install]",
                "WantedBy=multi-user.target",
                "",
            ]
        )
    return units


def logrotate_config(names: StackNames) -> str:
    """logrotate rules for the forwarded files; copytruncate because the forwarder keeps
    its file open (the agent follows truncated files)."""
    paths = " ".join(s.file_path for s in log_sources(names) if s.journal_selector is not None)
    return "\n".join(
        [
            f"{paths} {{",
            "    daily",
            "    rotate 3",
            "    maxsize 200M",
            "    missingok",
            "    notifempty",
            "    compress",
            "    copytruncate",
            "}",
            "",
        ]
    )
