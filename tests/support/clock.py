"""A clock for the scheduler's tests: monotonic and wall time move only when told."""

from __future__ import annotations


class FakeClock:
    """``advance`` moves both clocks; ``suspend`` moves the wall clock alone, as a machine
    that slept does (Linux's CLOCK_MONOTONIC stops in suspend)."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall_time = 1_800_000_000.0

    def monotonic(self) -> float:
        return self.mono

    def wall(self) -> float:
        return self.wall_time

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall_time += seconds

    def suspend(self, seconds: float) -> None:
        self.wall_time += seconds
