"""The stack's CrossGuard policy pack (``pulumi preview --policy-pack ollama_infra/policy``).

``pack.RULES`` lists every rule; ``evaluate.evaluate_policies`` runs the same validation
functions offline against the records of ``ollama-ops plan``.
"""
