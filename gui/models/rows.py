"""One message as the table holds it: raw values, with the costly derived ones made lazily."""

from __future__ import annotations

from core.engine.events import MessageInfo, MessageState
from core.store.catalog import StoredEntry
from gui import fmt
from gui.models.columns import ServerState


class Row:
    """One message. Derived fields (short sender, timestamp, search text) are computed on
    first use: a list of 100,000 messages shows before they are all parsed. Sender and
    subject arrive decoded (core.pop3.headers.parse_headers, for both sources)."""

    __slots__ = ("_date_ts", "_search", "_sender_short", "date_raw", "detail", "eta_at",
                 "marked", "path", "rate", "receipt", "received", "sender", "seq", "server",
                 "size",
                 "state", "subject", "uidl")

    def __init__(self, uidl: str, size: int, sender: str, subject: str, date: str,
                 state: MessageState, received: int, marked: bool,
                 server: ServerState) -> None:
        self.uidl = uidl
        self.size = size
        self.sender = sender
        self.subject = subject
        self.date_raw = date
        self.state = state
        self.received = received
        self.marked = marked
        self.server = server
        self.rate = 0.0
        self.eta_at = 0.0  # monotonic time the transfer should end at its last rate
        self.detail = ""
        self.path = ""  # the Maildir file once stored
        self.receipt = ""  # or where a delivery target took it (core.store.targets.Receipt)
        self.seq = 0  # position in the server's list (stored-only rows: after it)
        self._sender_short: str | None = None
        self._date_ts: float | None = None
        self._search: str | None = None

    @classmethod
    def from_info(cls, info: MessageInfo) -> Row:
        return cls(info.uidl, info.size, info.sender, info.subject, info.date, info.state,
                   info.received, info.marked, ServerState.PRESENT)

    @classmethod
    def from_stored(cls, entry: StoredEntry) -> Row:
        row = cls(entry.uidl, entry.size, entry.sender, entry.subject, entry.date,
                  MessageState.STORED, entry.size, False, ServerState.UNKNOWN)
        row.path = entry.path
        row.receipt = entry.receipt
        return row

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


def progress_text(state: MessageState, received: int, total: int, left: float | None,
                  rate: float, detail: str) -> str:
    """The progress cell's words. ``left``: seconds to go at the last rate (None: unknown);
    negative when the data is late, so the cell keeps moving when progress stops coming."""
    pct = fmt.percent(received, total)
    if state == MessageState.DOWNLOADING:
        parts = [f"{pct}%"]
        if rate > 0:
            parts.append(fmt.rate(rate))
        if left is not None and left >= 0:
            parts.append(f"{fmt.duration(left)} left")
        elif left is not None:
            parts.append(f"{fmt.duration(-left)} late")
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
