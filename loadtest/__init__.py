"""Locust load tests for the Ollama API, measuring what LLM users feel.

The pure modules (``stream``, ``metrics``, ``gate``, ``prompts``, ``schedule``, ``settings``)
do not import locust, so they can be unit-tested and reused by the standalone gate;
``locustfile`` wires them to locust.
"""
