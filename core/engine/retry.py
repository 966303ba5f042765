"""Reconnect timing: exponential backoff with jitter, and when to give up."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``max_failures`` in a row, then give up (None: never)."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.25
    max_failures: int | None = None

    def delay(self, failures: int, rng: random.Random) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(failures - 1, 0))
        return max(0.0, base * (1 + rng.uniform(-self.jitter, self.jitter)))
