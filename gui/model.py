"""The message list: a table model fed by core.events, and its sort/filter proxy.

Rows hold raw values (sizes in octets, a MessageState); text is made only for
Qt.DisplayRole. Progress events are frequent, so they only update a dict; a
50 ms timer applies them and emits one dataChanged over the changed row range.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QIcon

from core.events import (
    ListLoaded,
    MarksChanged,
    MessageInfo,
    MessageState,
    MessageStateChanged,
    Progress,
)
from gui import fmt

Index = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    STATE = 0
    FROM = 1
    SUBJECT = 2
    DATE = 3
    SIZE = 4
    PROGRESS = 5


HEADERS = {
    Column.STATE: "",
    Column.FROM: "From",
    Column.SUBJECT: "Subject",
    Column.DATE: "Date",
    Column.SIZE: "Size",
    Column.PROGRESS: "Progress",
}

# Raw value of a cell: STATE -> MessageState, FROM/SUBJECT -> str, DATE -> float (POSIX time),
# SIZE -> int octets, PROGRESS -> float fraction 0..1.
RawRole = Qt.ItemDataRole.UserRole + 1
# A value Qt can compare natively (ints, floats, strings) for the proxy.
SortRole = Qt.ItemDataRole.UserRole + 2
# "sender\nsubject" on every column: what the filter box matches.
FilterRole = Qt.ItemDataRole.UserRole + 3
UidlRole = Qt.ItemDataRole.UserRole + 4
StateRole = Qt.ItemDataRole.UserRole + 5
ReceivedRole = Qt.ItemDataRole.UserRole + 6
TotalRole = Qt.ItemDataRole.UserRole + 7
RateRole = Qt.ItemDataRole.UserRole + 8
DetailRole = Qt.ItemDataRole.UserRole + 9
MarkedRole = Qt.ItemDataRole.UserRole + 10
PathRole = Qt.ItemDataRole.UserRole + 11

_STATE_RANK = {
    MessageState.DOWNLOADING: 0,
    MessageState.STALLED: 1,
    MessageState.PAUSED: 2,
    MessageState.QUEUED: 3,
    MessageState.FAILED: 4,
    MessageState.REMOTE: 5,
    MessageState.STORED: 6,
    MessageState.GONE: 7,
}

STATE_TEXT = {
    MessageState.REMOTE: "On the server",
    MessageState.QUEUED: "Queued",
    MessageState.DOWNLOADING: "Downloading",
    MessageState.PAUSED: "Paused",
    MessageState.STALLED: "Stalled: waiting for the connection",
    MessageState.STORED: "Stored in the Maildir",
    MessageState.FAILED: "Failed",
    MessageState.GONE: "Deleted on the server",
}

COALESCE_MS = 50


@dataclass(slots=True)
class _Row:
    uidl: str
    size: int
    sender: str  # as sent (decoded if encoded-words were present)
    sender_short: str
    subject: str
    date_raw: str
    date_ts: float
    state: MessageState
    received: int
    marked: bool
    rate: float = 0.0
    detail: str = ""
    path: str = ""

    @classmethod
    def from_info(cls, info: MessageInfo) -> _Row:
        sender = fmt.decode_header(info.sender)
        return cls(
            uidl=info.uidl,
            size=info.size,
            sender=sender,
            sender_short=fmt.sender_display(sender),
            subject=fmt.decode_header(info.subject),
            date_raw=info.date,
            date_ts=fmt.parse_date(info.date),
            state=info.state,
            received=info.received,
            marked=info.marked,
        )


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


class MessageListModel(QAbstractTableModel):
    """One account's messages, in the order the server listed them."""

    totalsChanged = Signal()
    marksChanged = Signal(int, int)  # count, octets

    def __init__(self, parent: QObject | None = None, icons: dict[object, QIcon] | None = None):
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._index: dict[str, int] = {}
        self._pending: dict[str, tuple[int, int, float]] = {}
        self._icons = icons or {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self.flush_progress)

    # --- Qt model interface -------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role == Qt.ItemDataRole.ToolTipRole and section == Column.STATE:
            return "State of the local copy"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        f = Qt.ItemFlag
        return f.ItemIsEnabled | f.ItemIsSelectable | f.ItemNeverHasChildren

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.parent().isValid():
            return None
        r = index.row()
        if not 0 <= r < len(self._rows):
            return None
        row = self._rows[r]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == RawRole:
            return self._raw(row, col)
        if role == SortRole:
            if col == Column.STATE:
                return _STATE_RANK[row.state] + (100 if row.marked else 0)
            if col == Column.FROM:
                return row.sender_short.casefold()
            if col == Column.SUBJECT:
                return row.subject.casefold()
            return self._raw(row, col)
        if role == Qt.ItemDataRole.DecorationRole and col == Column.STATE:
            return self._icons.get("marked" if row.marked else row.state)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == Column.SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == FilterRole:
            return f"{row.sender}\n{row.subject}"
        if role == UidlRole:
            return row.uidl
        if role == StateRole:
            return row.state
        if role == ReceivedRole:
            return row.received
        if role == TotalRole:
            return row.size
        if role == RateRole:
            return row.rate
        if role == DetailRole:
            return row.detail
        if role == MarkedRole:
            return row.marked
        if role == PathRole:
            return row.path
        return None

    @staticmethod
    def _raw(row: _Row, col: int) -> object:
        if col == Column.STATE:
            return row.state
        if col == Column.FROM:
            return row.sender
        if col == Column.SUBJECT:
            return row.subject
        if col == Column.DATE:
            return row.date_ts
        if col == Column.SIZE:
            return row.size
        if col == Column.PROGRESS:
            if row.state == MessageState.STORED:
                return 1.0
            return min(1.0, row.received / row.size) if row.size > 0 else 0.0
        return None

    @staticmethod
    def _display(row: _Row, col: int) -> str | None:
        if col == Column.FROM:
            return row.sender_short
        if col == Column.SUBJECT:
            return row.subject or "(no subject)"
        if col == Column.DATE:
            return fmt.date_display(row.date_ts, row.date_raw)
        if col == Column.SIZE:
            return fmt.size(row.size)
        if col == Column.PROGRESS:
            return progress_text(row.state, row.received, row.size, row.rate, row.detail)
        return None

    @staticmethod
    def _tooltip(row: _Row, col: int) -> str | None:
        if col == Column.STATE:
            text = STATE_TEXT[row.state]
            if row.detail:
                text += f": {row.detail}"
            if row.marked:
                text += "\nMarked for deletion: removed from the server when you commit"
            return text
        if col == Column.FROM:
            return row.sender
        if col == Column.SUBJECT:
            return row.subject
        if col == Column.DATE:
            return row.date_raw
        if col == Column.SIZE:
            return f"{row.size:,} octets"
        if col == Column.PROGRESS:
            return progress_text(row.state, row.received, row.size, row.rate, row.detail)
        return None

    # --- feeding from core.events ----------------------------------------------------

    def apply(self, event: object) -> None:
        """Route one engine event to its handler (others are ignored)."""
        if isinstance(event, Progress):
            self.on_progress(event)
        elif isinstance(event, MessageStateChanged):
            self.on_state_changed(event)
        elif isinstance(event, MarksChanged):
            self.on_marks_changed(event)
        elif isinstance(event, ListLoaded):
            self.on_list_loaded(event)

    def on_list_loaded(self, event: ListLoaded) -> None:
        """Merge the server's list: keep rows (and so the selection) that are still there."""
        self._pending.clear()
        new = {info.uidl: info for info in event.messages}
        # 1. remove rows that vanished, in contiguous runs from the bottom up
        gone = [i for i, row in enumerate(self._rows) if row.uidl not in new]
        for first, last in reversed(_runs(gone)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
        # 2. update the ones that stay
        self._index = {row.uidl: i for i, row in enumerate(self._rows)}
        for i, row in enumerate(self._rows):
            fresh = _Row.from_info(new[row.uidl])
            fresh.path = row.path
            self._rows[i] = fresh
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(Column) - 1)
            )
        # 3. append the new ones
        added = [info for info in event.messages if info.uidl not in self._index]
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            for info in added:
                self._index[info.uidl] = len(self._rows)
                self._rows.append(_Row.from_info(info))
            self.endInsertRows()
        self._emit_totals(marks=True)

    def on_progress(self, event: Progress) -> None:
        if event.uidl not in self._index:
            return
        self._pending[event.uidl] = (event.received, event.total, event.rate)
        if not self._timer.isActive():
            self._timer.start()

    def flush_progress(self) -> None:
        """Apply the progress gathered since the last flush: one dataChanged for all rows."""
        self._timer.stop()
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        first, last = len(self._rows), -1
        for uidl, (received, total, rate) in pending.items():
            r = self._index.get(uidl)
            if r is None:
                continue
            row = self._rows[r]
            row.received = received
            row.rate = rate
            if total > 0:
                row.size = total
            first, last = min(first, r), max(last, r)
        if last >= 0:
            self.dataChanged.emit(
                self.index(first, Column.PROGRESS),
                self.index(last, Column.PROGRESS),
                [Qt.ItemDataRole.DisplayRole, RawRole, SortRole, ReceivedRole, RateRole],
            )
        self._emit_totals()

    def on_state_changed(self, event: MessageStateChanged) -> None:
        r = self._index.get(event.uidl)
        if r is None:
            return
        # Progress gathered before this event is older than it.
        self._pending.pop(event.uidl, None)
        row = self._rows[r]
        row.state = event.state
        row.received = event.received
        row.detail = event.detail
        if event.path:
            row.path = event.path
        if event.state != MessageState.DOWNLOADING:
            row.rate = 0.0
        self.dataChanged.emit(self.index(r, 0), self.index(r, len(Column) - 1))
        self._emit_totals()

    def on_marks_changed(self, event: MarksChanged) -> None:
        changed = []
        for i, row in enumerate(self._rows):
            marked = row.uidl in event.marked
            if marked != row.marked:
                row.marked = marked
                changed.append(i)
        if changed:
            self.dataChanged.emit(
                self.index(changed[0], 0), self.index(changed[-1], len(Column) - 1)
            )
        self._emit_totals(marks=True)

    def _emit_totals(self, marks: bool = False) -> None:
        self.totalsChanged.emit()
        if marks:
            t = self.totals()
            self.marksChanged.emit(t.marked, t.marked_bytes)

    # --- queries ---------------------------------------------------------------------

    def uidl_at(self, row: int) -> str:
        return self._rows[row].uidl

    def row_of(self, uidl: str) -> int | None:
        return self._index.get(uidl)

    def state_of(self, uidl: str) -> MessageState | None:
        r = self._index.get(uidl)
        return None if r is None else self._rows[r].state

    def received_of(self, uidl: str) -> int | None:
        r = self._index.get(uidl)
        return None if r is None else self._rows[r].received

    def is_marked(self, uidl: str) -> bool:
        r = self._index.get(uidl)
        return r is not None and self._rows[r].marked

    def path_of(self, uidl: str) -> str:
        r = self._index.get(uidl)
        return "" if r is None else self._rows[r].path

    def uidls(self) -> list[str]:
        return [row.uidl for row in self._rows]

    def marked_uidls(self) -> list[str]:
        return [row.uidl for row in self._rows if row.marked]

    def totals(self) -> Totals:
        count = stored = active = paused = failed = 0
        total = received = wanted = marked = marked_bytes = 0
        rate = 0.0
        for row in self._rows:
            count += 1
            total += row.size
            st = row.state
            if row.marked:
                marked += 1
                marked_bytes += row.size
            if st == MessageState.STORED:
                stored += 1
            elif st in (MessageState.QUEUED, MessageState.DOWNLOADING, MessageState.STALLED):
                active += 1
            elif st == MessageState.PAUSED:
                paused += 1
            elif st == MessageState.FAILED:
                failed += 1
            else:
                continue
            if st != MessageState.FAILED:
                wanted += row.size
                received += row.size if st == MessageState.STORED else min(row.received, row.size)
            rate += row.rate
        return Totals(
            count=count,
            stored=stored,
            active=active,
            paused=paused,
            failed=failed,
            bytes_total=total,
            bytes_received=received,
            bytes_wanted=wanted,
            rate=rate,
            marked=marked,
            marked_bytes=marked_bytes,
        )


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


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7, 9, 10] -> [(1, 3), (7, 7), (9, 10)]"""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


class MessageFilterProxy(QSortFilterProxyModel):
    """Sorts by SortRole (native comparisons) and filters From/Subject by a fixed string."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.setSortRole(SortRole)
        self.setFilterRole(FilterRole)
        self.setFilterKeyColumn(Column.FROM)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(True)

    def set_filter_text(self, text: str) -> None:
        self.setFilterFixedString(text.strip())
