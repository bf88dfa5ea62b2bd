"""Monthly cost estimates from the offline plan and a dated price file (docs/COSTS.md).

- ``prices``: the price file (``prices.json``) and region checks;
- ``rules``: what each resource type costs, from its recorded inputs;
- ``schedule``: instance hours from the Auto Scaling schedules;
- ``estimate``: the estimate of a plan, the billing alarm check and what-if diffs;
- ``refresh``: rewriting the price file from the AWS Price List API;
- ``doc``: the generated part of docs/COSTS.md.
"""
