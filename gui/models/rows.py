"""One message as the table holds it: raw values, with the costly derived ones made lazily."""

from __future__ import annotations

from core.engine.events import MessageInfo, MessageState
from gui import fmt


class Row:
    """One message. Derived fields (short sender, timestamp, search text) are computed on
    first use: a list of 100,000 messages shows before they are all parsed."""

    __slots__ = ("_date_ts", "_search", "_sender_short", "date_raw", "detail", "marked",
                 "path", "rate", "received", "sender", "seq", "size", "state", "subject", "uidl")

    def __init__(self, info: MessageInfo) -> None:
        self.uidl = info.uidl
        self.size = info.size
        s = info.sender
        self.sender = fmt.decode_header(s) if "=?" in s else s
        s = info.subject
        self.subject = fmt.decode_header(s) if "=?" in s else s
        self.date_raw = info.date
        self.state = info.state
        self.received = info.received
        self.marked = info.marked
        self.rate = 0.0
        self.detail = ""
        self.path = ""
        self.seq = 0  # position in the server's list
        self._sender_short: str | None = None
        self._date_ts: float | None = None
        self._search: str | None = None

    @classmethod
    def from_info(cls, info: MessageInfo) -> Row:
        return cls(info)

    @property
    def sender_short(self) -> str:
        if self._sender_short is None:
            self._sender_short = fmt.sender_display(self.sender)
        return self._sender_short

    @property
    def date_ts(self) -> float:
        if self._date_ts is None:
            self._date_ts = fmt.parse_date(self.date_raw)
        return self._date_ts

    @property
    def search(self) -> str:
        if self._search is None:
            self._search = f"{self.sender}\n{self.subject}".casefold()
        return self._search


def progress_fraction(row: Row) -> float:
    """0..1; a stored message is complete whatever its counters say."""
    if row.state is MessageState.STORED:
        return 1.0
    return min(1.0, row.received / row.size) if row.size > 0 else 0.0


def progress_text(state: MessageState, received: int, total: int, rate: float, detail: str) -> str:
    pct = fmt.percent(received, total)
    if state == MessageState.DOWNLOADING:
        parts = [f"{pct}%"]
        if rate > 0:
            parts.append(fmt.rate(rate))
            parts.append(f"{fmt.duration(max(0, total - received) / rate)} left")
        return " · ".join(parts)
    if state == MessageState.PAUSED:
        return f"paused at {pct}%"
    if state == MessageState.STALLED:
        return f"stalled at {pct}%"
    if state == MessageState.QUEUED:
        return f"queued (from {pct}%)" if received else "queued"
    if state == MessageState.STORED:
        return "stored"
    if state == MessageState.FAILED:
        return f"failed: {detail}" if detail else "failed"
    if state == MessageState.GONE:
        return "deleted on the server"
    return f"{pct}% kept" if received else ""
