"""Typed stack configuration.

Data flows one way: the stack file's ``ollama:`` namespace -> these models -> components.
Everything is validated here, once, before any resource is declared, so a bad stack
file stops the program with a message that names the key, the value, the rule and the
fix instead of failing halfway through a deployment.

- ``sections``: one frozen model per concern under its own key (``ollama:network``, ...);
- ``fields``: reusable field types, patterns and the friendly message of each rule;
- ``rules``: the rules that involve more than one key or depend on the environment;
- ``parse``: stack config map -> ``StackConfig`` (or ``ConfigError`` with every problem);
- ``stackfile``: reading ``Pulumi.<stack>.yaml``.
"""

from ollama_infra.config.fields import (
    ACM_ARN_RE,
    CONFIG_NAMESPACE,
    CRON_RE,
    DIGEST_RE,
    ENVIRONMENTS,
    LOG_RETENTION_DAYS,
    MODEL_RE,
    REGION_RE,
    check_model_name,
)
from ollama_infra.config.parse import config_from_pulumi, parse_config
from ollama_infra.config.rules import config_warnings, placeholder_values
from ollama_infra.config.sections import (
    SECTIONS,
    AuthConfig,
    BackupConfig,
    ComputeConfig,
    CostConfig,
    DataConfig,
    EdgeConfig,
    EnvironmentConfig,
    NetworkConfig,
    ObservabilityConfig,
    OllamaApiConfig,
    OllamaConfig,
    WebUIConfig,
)
from ollama_infra.config.stack import ConfigError, ConfigIssue, StackConfig
from ollama_infra.config.stackfile import (
    PROJECT_ROOT,
    StackFileError,
    StackFileMissing,
    known_stacks,
    load_stack_values,
    set_root,
    stack_file,
    stacks_root,
)
from ollama_infra.config.stackname import (
    STACK_NAME_HELP,
    STACK_NAME_RE,
    StackName,
    environment_of,
    is_known_stack_name,
    name_suffix,
    parse_stack_name,
    stack_names,
)

__all__ = [
    "ACM_ARN_RE",
    "CONFIG_NAMESPACE",
    "CRON_RE",
    "DIGEST_RE",
    "ENVIRONMENTS",
    "LOG_RETENTION_DAYS",
    "MODEL_RE",
    "PROJECT_ROOT",
    "REGION_RE",
    "SECTIONS",
    "STACK_NAME_HELP",
    "STACK_NAME_RE",
    "AuthConfig",
    "BackupConfig",
    "ComputeConfig",
    "ConfigError",
    "ConfigIssue",
    "CostConfig",
    "DataConfig",
    "EdgeConfig",
    "EnvironmentConfig",
    "NetworkConfig",
    "ObservabilityConfig",
    "OllamaApiConfig",
    "OllamaConfig",
    "StackConfig",
    "StackFileError",
    "StackFileMissing",
    "StackName",
    "WebUIConfig",
    "check_model_name",
    "config_from_pulumi",
    "config_warnings",
    "environment_of",
    "is_known_stack_name",
    "known_stacks",
    "load_stack_values",
    "name_suffix",
    "parse_config",
    "parse_stack_name",
    "placeholder_values",
    "set_root",
    "stack_file",
    "stack_names",
    "stacks_root",
]
