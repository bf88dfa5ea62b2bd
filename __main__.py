"""Pulumi entry point: load and validate the stack config, build the components, export outputs."""

from ollama_infra.stack import run

run()
