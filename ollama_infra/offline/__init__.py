"""Offline evaluation of the Pulumi program (no AWS account, no Pulumi CLI).

This is NOT a preview against AWS. The program runs in-process with Pulumi's mock
monitor; ``mocks.OfflineMocks`` answers every resource and data-source call with
placeholder values (a fixed example account id, synthetic resource ids). What it shows
is exactly which resources, inputs and tags the program declares for a stack file,
which is what ``ollama-ops plan``, the policy evaluator and the tests need.
"""

from ollama_infra.offline.evaluate import Evaluation, ResourceRecord, evaluate, evaluate_stack
from ollama_infra.offline.mocks import EXAMPLE_ACCOUNT_ID, OfflineMocks

__all__ = [
    "EXAMPLE_ACCOUNT_ID",
    "Evaluation",
    "OfflineMocks",
    "ResourceRecord",
    "evaluate",
    "evaluate_stack",
]
