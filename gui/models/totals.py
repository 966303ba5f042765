"""Totals over one account's messages, kept up to date row by row.

The status bar and the deletion banner read them on every update; recounting 100,000
rows each time would not do, so each row's contribution is added and taken away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.engine.events import MessageState
from gui.models.rows import Row


@dataclass(frozen=True, slots=True)
class Totals:
    """Figures for the status bar and the deletion banner."""

    count: int
    stored: int
    active: int  # queued, downloading, stalled
    paused: int
    failed: int
    bytes_total: int
    bytes_received: int  # over messages that are active, paused or stored
    bytes_wanted: int  # sizes of the same messages
    rate: float
    marked: int
    marked_bytes: int


_ACTIVE_STATES = (MessageState.QUEUED, MessageState.DOWNLOADING, MessageState.STALLED)
_FIELDS = 11  # the length of _contribution()


def _contribution(row: Row) -> tuple[float, ...]:
    """What one row adds to Totals, in the order of TotalsCounter._agg."""
    st = row.state
    size = row.size
    stored = active = paused = failed = 0
    received = wanted = 0
    rate = 0.0
    if st is MessageState.STORED:
        stored, received, wanted = 1, size, size
    elif st in _ACTIVE_STATES:
        active, received, wanted, rate = 1, min(row.received, size), size, row.rate
    elif st is MessageState.PAUSED:
        paused, received, wanted = 1, min(row.received, size), size
    elif st is MessageState.FAILED:
        failed = 1
    marked = 1 if row.marked else 0
    return (1, stored, active, paused, failed, size, received, wanted, rate, marked,
            size * marked)


class TotalsCounter:
    """Running sums: take a row away before changing it, add it back after."""

    __slots__ = ("_agg",)

    def __init__(self) -> None:
        self._agg: list[float] = [0.0] * _FIELDS

    def add(self, row: Row, sign: int = 1) -> None:
        agg = self._agg
        for i, x in enumerate(_contribution(row)):
            agg[i] += sign * x

    def remove(self, row: Row) -> None:
        self.add(row, -1)

    def recount(self, rows: Iterable[Row]) -> None:
        """Start again from the rows (and so drop the drift of the float sums)."""
        agg = [0.0] * _FIELDS
        for row in rows:
            for i, x in enumerate(_contribution(row)):
                agg[i] += x
        self._agg = agg

    def totals(self) -> Totals:
        """O(1), whatever the number of messages."""
        v = self._agg
        active = int(v[2])
        return Totals(
            count=int(v[0]),
            stored=int(v[1]),
            active=active,
            paused=int(v[3]),
            failed=int(v[4]),
            bytes_total=int(v[5]),
            bytes_received=int(v[6]),
            bytes_wanted=int(v[7]),
            rate=max(0.0, v[8]) if active else 0.0,  # float sums drift; none moving is 0
            marked=int(v[9]),
            marked_bytes=int(v[10]),
        )
