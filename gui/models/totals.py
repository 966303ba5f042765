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

    count: int  # messages here or on the server: not those deleted without a copy
    stored: int
    active: int  # queued, downloading, stalled
    paused: int
    failed: int
    remote: int  # on the server only, not asked for
    bytes_total: int  # sizes of the ``count`` messages
    bytes_received: int  # of those, octets stored (whole or partial)
    rate: float
    marked: int
    marked_bytes: int

    @property
    def downloadable(self) -> int:
        """Messages "Download all" would fetch."""
        return self.remote + self.paused + self.failed


_FIELDS = 11  # the length of _contribution()


def _contribution(row: Row) -> tuple[float, ...]:
    """What one row adds to Totals, in the order of TotalsCounter._agg."""
    st = row.state
    if st is MessageState.GONE:  # deleted on the server and never stored: not counted
        return (0,) * _FIELDS
    size = row.size
    stored = active = paused = failed = remote = 0
    received = 0
    rate = 0.0
    if st is MessageState.STORED:
        stored, received = 1, size
    elif st.active:
        active, received, rate = 1, min(row.received, size), row.rate
    elif st is MessageState.PAUSED:
        paused, received = 1, min(row.received, size)
    elif st is MessageState.FAILED:
        failed, received = 1, min(row.received, size)
    else:
        remote, received = 1, min(row.received, size)
    marked = 1 if row.marked else 0
    return (1, stored, active, paused, failed, remote, size, received, rate, marked,
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
            remote=int(v[5]),
            bytes_total=int(v[6]),
            bytes_received=int(v[7]),
            rate=max(0.0, v[8]) if active else 0.0,  # float sums drift; none moving is 0
            marked=int(v[9]),
            marked_bytes=int(v[10]),
        )
