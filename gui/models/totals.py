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


# The places in TotalsCounter._agg.
(_COUNT, _STORED, _ACTIVE, _PAUSED, _FAILED, _REMOTE, _BYTES, _RECEIVED, _RATE, _MARKED,
 _MARKED_BYTES) = range(11)
_FIELDS = _MARKED_BYTES + 1


def _slot(state: MessageState) -> int | None:
    """Which count a row in ``state`` adds to (None: deleted on the server and never
    stored, so not counted at all)."""
    if state is MessageState.GONE:
        return None
    if state is MessageState.STORED:
        return _STORED
    if state.active:
        return _ACTIVE
    if state is MessageState.PAUSED:
        return _PAUSED
    return _FAILED if state is MessageState.FAILED else _REMOTE


# By id(): an Enum member's hash is a Python-level call, and this runs twice per changed
# row, 4,000 times a flush when a batch of small messages is stored.
_SLOTS = {id(state): _slot(state) for state in MessageState}


class TotalsCounter:
    """Running sums: take a row away before changing it, add it back after."""

    __slots__ = ("_agg",)

    def __init__(self) -> None:
        self._agg: list[float] = [0.0] * _FIELDS

    def add(self, row: Row, sign: int = 1) -> None:
        slot = _SLOTS[id(row.state)]
        if slot is None:
            return
        agg = self._agg
        size = row.size
        agg[_COUNT] += sign
        agg[slot] += sign
        agg[_BYTES] += sign * size
        if slot == _STORED:
            agg[_RECEIVED] += sign * size  # stored is complete, whatever its counters say
        else:
            received = row.received
            agg[_RECEIVED] += sign * (received if received < size else size)
            if slot == _ACTIVE:
                agg[_RATE] += sign * row.rate
        if row.marked:
            agg[_MARKED] += sign
            agg[_MARKED_BYTES] += sign * size

    def remove(self, row: Row) -> None:
        self.add(row, -1)

    def recount(self, rows: Iterable[Row]) -> None:
        """Start again from the rows (and so drop the drift of the float sums)."""
        self._agg = [0.0] * _FIELDS
        for row in rows:
            self.add(row)

    def totals(self) -> Totals:
        """O(1), whatever the number of messages."""
        v = self._agg
        active = int(v[_ACTIVE])
        return Totals(
            count=int(v[_COUNT]),
            stored=int(v[_STORED]),
            active=active,
            paused=int(v[_PAUSED]),
            failed=int(v[_FAILED]),
            remote=int(v[_REMOTE]),
            bytes_total=int(v[_BYTES]),
            bytes_received=int(v[_RECEIVED]),
            rate=max(0.0, v[_RATE]) if active else 0.0,  # float sums drift; none moving is 0
            marked=int(v[_MARKED]),
            marked_bytes=int(v[_MARKED_BYTES]),
        )
