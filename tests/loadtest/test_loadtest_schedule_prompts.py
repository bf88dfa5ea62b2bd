"""Load shapes as stage tables, and prompt generation."""

from __future__ import annotations

import statistics

import pytest

from loadtest.prompts import PromptFactory, PromptSpec
from loadtest.schedule import SCENARIOS, build, stage_at


def test_baseline_is_50_users_for_5_minutes() -> None:
    (only,) = build("baseline")
    assert (only.users, only.end_s) == (50, 300)
    assert stage_at([only], 299.9) == only
    assert stage_at([only], 300) is None


def test_time_scale_shrinks_every_stage() -> None:
    assert [s.end_s for s in build("spike", time_scale=0.01)] == pytest.approx([1.2, 1.8, 3.0])


def test_step_climbs_to_the_peak_in_equal_steps() -> None:
    stages = build("step", users=22, step_users=5, step_duration_s=60)
    assert [s.users for s in stages] == [5, 10, 15, 20, 22]
    assert [s.end_s for s in stages] == [60, 120, 180, 240, 300]


def test_spike_goes_up_and_back_down() -> None:
    users = [s.users for s in build("spike", users=50)]
    assert users == [10, 50, 10]


def test_soak_runs_two_hours() -> None:
    (soak,) = build("soak", users=40)
    assert (soak.users, soak.end_s) == (20, 7200)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenario": "ramp"}, "scenario must be one of"),
        ({"scenario": "baseline", "users": 0}, "users must be >= 1"),
        ({"scenario": "baseline", "time_scale": 0}, "time_scale must be > 0"),
        ({"scenario": "step", "step_users": 0}, "step_users"),
    ],
)
def test_bad_shapes_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_constant_has_no_table() -> None:
    assert build("constant") == []
    assert set(SCENARIOS) >= {"baseline", "step", "spike", "soak"}


def test_prompts_have_unique_random_prefixes() -> None:
    factory = PromptFactory(PromptSpec(distribution="fixed", mean=50), seed=7)
    prompts = [factory.prompt() for _ in range(200)]
    assert len({p.split(".")[0] for p in prompts}) == 200  # the leading id+words differ


def test_prompts_are_reproducible_from_the_seed() -> None:
    a = PromptFactory(PromptSpec(), seed=3)
    b = PromptFactory(PromptSpec(), seed=3)
    c = PromptFactory(PromptSpec(), seed=4)
    first = [a.prompt() for _ in range(5)]
    assert first == [b.prompt() for _ in range(5)]
    assert first != [c.prompt() for _ in range(5)]


def test_normal_lengths_follow_mean_and_stay_clipped() -> None:
    spec = PromptSpec(distribution="normal", mean=200, stddev=50, min=150, max=260)
    factory = PromptFactory(spec, seed=1)
    lengths = [factory.length() for _ in range(4000)]
    assert min(lengths) >= 150 and max(lengths) <= 260
    assert abs(statistics.mean(lengths) - 200) < 5


def test_uniform_lengths_cover_the_range() -> None:
    factory = PromptFactory(PromptSpec(distribution="uniform", min=10, mean=20, max=30), seed=2)
    lengths = {factory.length() for _ in range(2000)}
    assert lengths == set(range(10, 31))


def test_fixed_prompt_body_has_the_requested_word_count() -> None:
    factory = PromptFactory(PromptSpec(distribution="fixed", mean=120, prefix_words=8), seed=5)
    body = factory.prompt().split("\n")[1]
    assert len(body.split()) == 120


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"distribution": "zipf"}, "distribution must be one of"),
        ({"min": 300, "mean": 200}, "min <= mean <= max"),
        ({"stddev": -1}, "stddev"),
    ],
)
def test_bad_prompt_specs_are_rejected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PromptSpec(**kwargs)
