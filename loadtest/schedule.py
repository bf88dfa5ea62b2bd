"""Load shapes as plain stage tables (no locust import); ``locustfile`` plays them.

Durations are the real-stack defaults; ``time_scale`` shrinks every stage (0.01 turns the
5-minute baseline into 3 s) for smoke runs and tests.
"""

from __future__ import annotations

from dataclasses import dataclass

SCENARIOS = ("constant", "baseline", "step", "spike", "soak")


@dataclass(frozen=True)
class Stage:
    """Hold ``users`` (reached at ``spawn_rate`` users/s) until ``end_s`` after the start."""

    end_s: float
    users: int
    spawn_rate: float


def _scaled(stages: list[tuple[float, int, float]], time_scale: float) -> list[Stage]:
    if not time_scale > 0:
        raise ValueError(f"time_scale must be > 0, got {time_scale}")
    out, t = [], 0.0
    for duration, users, rate in stages:
        t += duration * time_scale
        out.append(Stage(end_s=t, users=users, spawn_rate=rate))
    return out


def build(
    scenario: str,
    users: int = 50,
    time_scale: float = 1.0,
    step_users: int = 5,
    step_duration_s: float = 120,
) -> list[Stage]:
    """Stage table of a named scenario.

    * ``baseline``: ``users`` (default 50) for 5 minutes, all started within ~5 s.
    * ``step``: ``step_users`` more users every ``step_duration_s`` up to ``users``, to find
      the level where throughput stops growing (the saturation point in the summary).
    * ``spike``: 20 % of ``users`` for 2 min, all ``users`` at once for 1 min, back for 2 min.
    * ``soak``: 50 % of ``users`` for 2 hours (leaks, credit exhaustion on T-family, drift).
    * ``constant``: not a table; locust's own ``-u/-r/-t`` drive the run.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")
    if users < 1:
        raise ValueError(f"users must be >= 1, got {users}")
    fast = max(users / 5, 1.0)
    if scenario == "constant":
        return []
    if scenario == "baseline":
        return _scaled([(300, users, fast)], time_scale)
    if scenario == "step":
        if step_users < 1 or step_duration_s <= 0:
            raise ValueError("step_users must be >= 1 and step_duration_s > 0")
        levels = [*range(step_users, users, step_users), users]
        return _scaled([(step_duration_s, n, float(step_users)) for n in levels], time_scale)
    if scenario == "spike":
        low = max(users // 5, 1)
        return _scaled(
            [(120, low, fast), (60, users, float(users)), (120, low, float(users))], time_scale
        )
    return _scaled([(7200, max(users // 2, 1), fast)], time_scale)


def stage_at(stages: list[Stage], elapsed_s: float) -> Stage | None:
    """The stage in force ``elapsed_s`` after the start, or None when the table is over."""
    for stage in stages:
        if elapsed_s < stage.end_s:
            return stage
    return None
