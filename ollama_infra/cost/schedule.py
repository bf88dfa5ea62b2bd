"""Instance hours per month from the Auto Scaling group's scheduled actions.

Scheduled actions are weekly crons (``0 19 * * 1-5``): walking one week minute by minute
from action to action gives the hours spent at each desired capacity, and 730/168 of that
is a month. Crons this cannot read (day-of-month or month fields, steps) return None and
the estimator falls back to always-on hours, saying so.
"""

from __future__ import annotations

from collections import defaultdict

HOURS_PER_MONTH = 730.0
HOURS_PER_WEEK = 168.0
_MINUTES_PER_WEEK = 7 * 24 * 60
_DAY_NAMES = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> list[int]:
    if field == "*":
        return list(range(low, high + 1))
    out: list[int] = []
    for part in field.split(","):
        bounds = [names.get(p.upper(), p) if names else p for p in part.split("-")]
        numbers = [int(b) for b in bounds]  # ValueError on steps or names we do not know
        if len(numbers) == 1:
            out.append(numbers[0])
        elif len(numbers) == 2 and numbers[0] <= numbers[1]:
            out.extend(range(numbers[0], numbers[1] + 1))
        else:
            raise ValueError(part)
    if any(not low <= v <= high for v in out):
        raise ValueError(field)
    return out


def cron_minutes_of_week(cron: str) -> list[int] | None:
    """Minutes of the week (Sunday 00:00 = 0) at which a weekly cron fires, or None."""
    fields = cron.split()
    if len(fields) != 5 or fields[2] != "*" or fields[3] != "*":
        return None
    try:
        minutes = _values(fields[0], 0, 59)
        hours = _values(fields[1], 0, 23)
        days = {d % 7 for d in _values(fields[4], 0, 7, _DAY_NAMES)}
    except ValueError:
        return None
    return sorted(d * 1440 + h * 60 + m for d in days for h in hours for m in minutes)


def monthly_hours_by_capacity(actions: list[tuple[str, int]]) -> dict[int, float] | None:
    """{desired capacity: hours per month} for (cron, desired capacity) scheduled actions."""
    events: list[tuple[int, int]] = []
    for cron, desired in actions:
        minutes = cron_minutes_of_week(cron)
        if minutes is None:
            return None
        events += [(m, desired) for m in minutes]
    if not events:
        return None
    events.sort()
    minutes_at: dict[int, int] = defaultdict(int)
    for i, (start, desired) in enumerate(events):
        end = events[i + 1][0] if i + 1 < len(events) else events[0][0] + _MINUTES_PER_WEEK
        minutes_at[desired] += end - start
    scale = HOURS_PER_MONTH / HOURS_PER_WEEK / 60
    return {capacity: minutes * scale for capacity, minutes in minutes_at.items()}
