"""The message list: a table model fed by core.events, and its sort/filter proxy.

Rows hold raw values (sizes in octets, a MessageState); text is made only for
Qt.DisplayRole. Progress events are frequent, so they only update a dict; a
50 ms timer applies them and emits one dataChanged over the changed row range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from operator import attrgetter
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon

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


class Column(IntEnum):  # keep _NCOLS, _SIZE_COL, _PROGRESS_COL below in step
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

# Plain ints: comparing against Qt.ItemDataRole members costs an attribute lookup each time,
# and data() runs for every visible cell and role on every repaint.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_RAW, _SORT, _FILTER, _UIDL, _STATE, _RECEIVED, _TOTAL, _RATE, _DETAIL, _MARKED, _PATH = (
    int(r) for r in (RawRole, SortRole, FilterRole, UidlRole, StateRole, ReceivedRole,
                     TotalRole, RateRole, DetailRole, MarkedRole, PathRole)
)
_HANDLED = frozenset({_DISPLAY, _DECORATION, _TOOLTIP, _FONT, _ALIGN, _FOREGROUND, _RAW, _SORT,
                      _FILTER, _UIDL, _STATE, _RECEIVED, _TOTAL, _RATE, _DETAIL, _MARKED, _PATH})
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_CENTER = int(Qt.AlignmentFlag.AlignCenter)
_NCOLS = 6
_SIZE_COL = 4
_PROGRESS_COL = 5


class _Row:
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
    def from_info(cls, info: MessageInfo) -> _Row:
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
    marksChanged = Signal(int, "qlonglong")  # count, octets (may pass 2 GiB)

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
        self._strike = QFont()
        self._strike.setStrikeOut(True)
        self._grey = QBrush(QColor("#8a949e"))
        # finished rows show coloured text in the progress column (no bar: the moving
        # bars stand out, and Qt's own delegate paints these cells without Python)
        self._progress_brush = {
            MessageState.STORED: QBrush(QColor("#1e8449")),
            MessageState.FAILED: QBrush(QColor("#b3261e")),
            MessageState.REMOTE: self._grey,
            MessageState.QUEUED: self._grey,
        }
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._agg: list[float] = [0.0] * 11  # see _contribution()

    # --- Qt model interface -------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        # One Python call instead of QAbstractTableModel's hasIndex(): rowCount + columnCount.
        if 0 <= row < len(self._rows) and 0 <= column < _NCOLS and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _NCOLS

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
        if role not in _HANDLED or not index.isValid():
            return None
        r = index.row()
        rows = self._rows
        if not 0 <= r < len(rows):
            return None
        row = rows[r]
        col = index.column()
        if role == _DISPLAY:
            return self._display(row, col)
        if role == _FONT:
            return self._strike if row.marked else None
        if role == _FOREGROUND:
            if row.marked or row.state is MessageState.GONE:
                return self._grey
            if col == _PROGRESS_COL:
                return self._progress_brush.get(row.state)
            return None
        if role == _DECORATION:
            if col == 0:
                return self._icons.get("marked" if row.marked else row.state)
            return None
        if role == _ALIGN:
            if col == _SIZE_COL:
                return _RIGHT
            return _CENTER if col == _PROGRESS_COL else None
        if role == _RAW:
            return self._raw(row, col)
        if role == _STATE:
            return row.state
        if role == _RECEIVED:
            return row.received
        if role == _TOTAL:
            return row.size
        if role == _RATE:
            return row.rate
        if role == _MARKED:
            return row.marked
        if role == _DETAIL:
            return row.detail
        if role == _UIDL:
            return row.uidl
        if role == _TOOLTIP:
            return self._tooltip(row, col)
        if role == _SORT:
            return _sort_value(row, col)
        if role == _FILTER:
            return f"{row.sender}\n{row.subject}"
        if role == _PATH:
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
            text = progress_text(row.state, row.received, row.size, row.rate, row.detail)
            if row.detail and row.state is not MessageState.FAILED and row.detail not in text:
                text += f"\n{row.detail}"  # e.g. "paused, holding the connection: …"
            return text
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
        order = {info.uidl: i for i, info in enumerate(event.messages)}
        for row in self._rows:
            row.seq = order[row.uidl]
        self._resort()
        self._recount()
        self._emit_totals(marks=True)

    # --- sorting (here, not in the proxy: Python's sort over keys is ~100x faster than
    # --- QSortFilterProxyModel calling data() twice per comparison) ----------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if (column, order) == (self._sort_column, self._sort_order):
            return  # the header asks twice per click
        self._sort_column = column
        self._sort_order = order
        self._resort()

    def sort_column(self) -> tuple[int, Qt.SortOrder]:
        return self._sort_column, self._sort_order

    def _resort(self) -> None:
        col = self._sort_column
        new = sorted(self._rows, key=_by_seq)
        if 0 <= col < _NCOLS:
            # stable: rows that compare equal stay in server order
            new.sort(key=_SORT_KEYS[col],
                     reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        if all(a is b for a, b in zip(new, self._rows, strict=True)):
            return
        self.layoutAboutToBeChanged.emit()
        old = self._rows
        position = {id(row): i for i, row in enumerate(new)}
        persistent = self.persistentIndexList()
        moved = [
            self.index(position[id(old[ix.row()])], ix.column()) if 0 <= ix.row() < len(old)
            else QModelIndex()
            for ix in persistent
        ]
        self._rows = new
        self._index = {row.uidl: i for i, row in enumerate(new)}
        self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()

    def matches(self, source_row: int, needle: str) -> bool:
        """Whether the row's sender or subject contains ``needle`` (casefolded)."""
        return needle in self._rows[source_row].search

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
            self._add(row, -1)
            row.received = received
            row.rate = rate
            if total > 0:
                row.size = total
            self._add(row, 1)
            first, last = min(first, r), max(last, r)
        if last >= 0:
            self.dataChanged.emit(
                self.index(first, Column.PROGRESS),
                self.index(last, Column.PROGRESS),
                [_DISPLAY, _RAW, _RECEIVED, _RATE],
            )
        self._emit_totals()

    def on_state_changed(self, event: MessageStateChanged) -> None:
        r = self._index.get(event.uidl)
        if r is None:
            return
        # Progress gathered before this event is older than it.
        self._pending.pop(event.uidl, None)
        row = self._rows[r]
        self._add(row, -1)
        row.state = event.state
        row.received = event.received
        row.detail = event.detail
        if event.path:
            row.path = event.path
        if event.state != MessageState.DOWNLOADING:
            row.rate = 0.0
        self._add(row, 1)
        self.dataChanged.emit(self.index(r, 0), self.index(r, len(Column) - 1))
        self._emit_totals()

    def on_marks_changed(self, event: MarksChanged) -> None:
        changed = []
        for i, row in enumerate(self._rows):
            marked = row.uidl in event.marked
            if marked != row.marked:
                self._add(row, -1)
                row.marked = marked
                self._add(row, 1)
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
        """Kept up to date incrementally: O(1), whatever the number of messages."""
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

    def _recount(self) -> None:
        agg = [0.0] * 11
        for row in self._rows:
            for i, x in enumerate(_contribution(row)):
                agg[i] += x
        self._agg = agg

    def _add(self, row: _Row, sign: int) -> None:
        agg = self._agg
        for i, x in enumerate(_contribution(row)):
            agg[i] += sign * x


_ACTIVE_STATES = (MessageState.QUEUED, MessageState.DOWNLOADING, MessageState.STALLED)


def _contribution(row: _Row) -> tuple[float, ...]:
    """What one row adds to Totals, in the order of MessageListModel._agg."""
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


def _sort_value(row: _Row, col: int) -> object:
    """A key Python compares fast, per column; same type within a column."""
    if col == Column.STATE:
        return _STATE_RANK[row.state] + (100 if row.marked else 0)
    if col == Column.FROM:
        return row.sender_short.casefold()
    if col == Column.SUBJECT:
        return row.subject.casefold()
    if col == Column.DATE:
        return row.date_ts
    if col == Column.SIZE:
        return row.size
    if col == Column.PROGRESS:
        if row.state is MessageState.STORED:
            return 1.0
        return min(1.0, row.received / row.size) if row.size > 0 else 0.0
    return 0


def _progress_key(row: _Row) -> float:
    if row.state is MessageState.STORED:
        return 1.0
    return min(1.0, row.received / row.size) if row.size > 0 else 0.0


_by_seq = attrgetter("seq")
_SORT_KEYS: dict[int, Callable[[_Row], Any]] = {
    Column.STATE: lambda row: _STATE_RANK[row.state] + (100 if row.marked else 0),
    Column.FROM: lambda row: row.sender_short.casefold(),
    Column.SUBJECT: lambda row: row.subject.casefold(),
    Column.DATE: attrgetter("date_ts"),
    Column.SIZE: attrgetter("size"),
    Column.PROGRESS: _progress_key,
}


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
    """Filters From/Subject by a fixed string; sorting is passed on to the source model.

    The proxy itself never sorts (its sort column stays -1): with 100,000 rows its
    comparisons would call the Python data() millions of times.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.setFilterRole(FilterRole)  # only changes of this role re-run the filter
        self.setDynamicSortFilter(True)
        self._needle = ""
        self._src: MessageListModel | None = None

    def set_filter_text(self, text: str) -> None:
        needle = text.strip().casefold()
        if needle == self._needle:
            return
        if hasattr(self, "endFilterChange"):  # Qt >= 6.10
            self.beginFilterChange()
            self._needle = needle
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._needle = needle
            self.invalidateRowsFilter()

    def filter_text(self) -> str:
        return self._needle

    def setSourceModel(self, model: QAbstractItemModel | None) -> None:  # type: ignore[override]
        self._src = model if isinstance(model, MessageListModel) else None
        super().setSourceModel(model)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        needle = self._needle
        if not needle:
            return True
        src = self._src
        if src is None:
            return super().filterAcceptsRow(source_row, source_parent)
        return needle in src._rows[source_row].search

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        src = self.sourceModel()
        if src is not None:
            src.sort(column, order)
