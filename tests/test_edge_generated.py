"""The edge invariants over generated valid configs (regions, certificates, environments).

Each example is a full program run, so only a few run per session; the stack files are
covered exhaustively by the other test_edge*.py files.
"""

from __future__ import annotations

from typing import Any

from harness import config_for, run_program
from hypothesis import given, settings
from test_config import valid_configs
from test_edge import (
    blocked_path_violations,
    name_length_violations,
    plain_http_violations,
    secret_header_violations,
)
from test_edge_cdn import cdn_violations, in_transit_violations
from test_edge_logs import log_bucket_violations


@settings(max_examples=3)
@given(valid_configs())
def test_edge_invariants_hold_for_generated_configs(case: tuple[str, dict[str, Any]]) -> None:
    env, values = case
    cfg = config_for(env, values)
    ev = run_program(env, values)
    assert plain_http_violations(ev, cfg.edge.certificate_arn is not None) == []
    assert secret_header_violations(ev) == []
    assert blocked_path_violations(ev) == []
    assert name_length_violations(ev) == []
    assert log_bucket_violations(ev) == []
    assert cdn_violations(ev, cfg) == []
    assert in_transit_violations(ev, cfg) == []
