"""Synthetic prompts with a controlled length distribution and a per-request random prefix.

Ollama reuses the KV cache for a repeated prompt prefix, which would make prefill look free.
Every prompt therefore starts with a random request id and random words, so no two prompts
share more than a couple of leading tokens. Lengths are counted in filler words chosen to be
one token each in common tokenizers; the server's ``prompt_eval_count`` reports the truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DISTRIBUTIONS = ("fixed", "uniform", "normal")

# Short, common English words: about one token each in Llama/Qwen/Phi vocabularies.
WORDS = (
    "time",
    "year",
    "people",
    "way",
    "day",
    "man",
    "thing",
    "woman",
    "life",
    "child",
    "world",
    "school",
    "state",
    "family",
    "student",
    "group",
    "country",
    "problem",
    "hand",
    "part",
    "place",
    "case",
    "week",
    "company",
    "system",
    "program",
    "question",
    "work",
    "government",
    "number",
    "night",
    "point",
    "home",
    "water",
    "room",
    "mother",
    "area",
    "money",
    "story",
    "fact",
    "month",
    "lot",
    "right",
    "study",
    "book",
    "eye",
    "job",
    "word",
    "business",
    "issue",
    "side",
    "kind",
    "head",
    "house",
    "service",
    "friend",
    "father",
    "power",
    "hour",
    "game",
    "line",
    "end",
    "member",
    "law",
    "car",
    "city",
    "name",
    "team",
    "minute",
    "idea",
    "kid",
    "body",
    "back",
    "parent",
    "face",
    "level",
    "office",
    "door",
    "health",
    "person",
    "art",
    "war",
    "history",
    "party",
    "result",
    "change",
    "morning",
    "reason",
)

INSTRUCTION = (
    "\n\nUsing the words above as loose inspiration, write a long, detailed story with many "
    "chapters. Keep writing until you are stopped."
)


@dataclass(frozen=True)
class PromptSpec:
    """Prompt length in words.

    ``fixed`` uses ``mean``; ``uniform`` draws from [min, max]; ``normal`` draws N(mean, stddev)
    clipped to [min, max].
    """

    distribution: str = "normal"
    mean: int = 200
    stddev: int = 50
    min: int = 16
    max: int = 2048
    prefix_words: int = 8

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"prompt distribution must be one of {DISTRIBUTIONS}, got {self.distribution!r}"
            )
        if not 1 <= self.min <= self.mean <= self.max:
            raise ValueError(
                f"prompt lengths must satisfy 1 <= min <= mean <= max, got "
                f"min={self.min} mean={self.mean} max={self.max}"
            )
        if self.stddev < 0 or self.prefix_words < 1:
            raise ValueError("prompt stddev must be >= 0 and prefix_words >= 1")


class PromptFactory:
    """Deterministic for a given seed, so a run's workload can be reproduced."""

    def __init__(self, spec: PromptSpec, seed: int) -> None:
        self._spec = spec
        self._rng = random.Random(seed)

    def length(self) -> int:
        spec = self._spec
        if spec.distribution == "fixed":
            n = spec.mean
        elif spec.distribution == "uniform":
            n = self._rng.randint(spec.min, spec.max)
        else:
            n = round(self._rng.gauss(spec.mean, spec.stddev))
        return min(max(n, spec.min), spec.max)

    def prompt(self) -> str:
        rng = self._rng
        prefix = " ".join(rng.choice(WORDS) for _ in range(self._spec.prefix_words))
        body = " ".join(rng.choice(WORDS) for _ in range(self.length()))
        return f"Request {rng.getrandbits(64):016x}: {prefix}.\n{body}{INSTRUCTION}"
