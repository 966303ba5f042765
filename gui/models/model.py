"""The message list: a table model fed by core.engine.events.

Rows hold raw values (sizes in octets, a MessageState); text is made only for
Qt.DisplayRole. What the columns and roles are lives in gui.models.columns, sorting in
gui.models.sorting, the running totals in gui.models.totals and the batching of progress events in
gui.models.coalesce; this module keeps the rows and tells the views what changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon

from core.engine.events import (
    ListLoaded,
    MarksChanged,
    MessageState,
    MessageStateChanged,
    Progress,
)
from core.store.catalog import StoredEntry
from core.store.targets import Receipt
from gui import fmt
from gui.models.coalesce import ChangeCoalescer
from gui.models.columns import (
    HEADERS,
    NCOLS,
    PROGRESS_COL,
    SIZE_COL,
    SIZE_CONVENTION,
    STATE_TEXT,
    Column,
    DetailRole,
    FilterRole,
    Index,
    MarkedRole,
    PathRole,
    RateRole,
    RawRole,
    ReceivedRole,
    ServerState,
    SortRole,
    StateRole,
    TotalRole,
    UidlRole,
)
from gui.models.rows import Row, progress_fraction, progress_text
from gui.models.sorting import sort_value, sorted_rows
from gui.models.totals import Totals, TotalsCounter

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


ETA_TICK_MS = 1000


class MessageListModel(QAbstractTableModel):
    """One account's messages: those stored here (listed from the store first, also
    offline) and those the server lists, in the server's order."""

    totalsChanged = Signal()
    marksChanged = Signal()  # the marked count or size changed: read totals()

    def __init__(self, parent: QObject | None = None, icons: dict[object, QIcon] | None = None,
                 clock: Callable[[], float] = time.monotonic, delivers_to: str | None = None):
        super().__init__(parent)
        # The account's delivery target (None: its Maildir): a stored message's place is
        # then a receipt, not a file.
        self._delivers_to = delivers_to
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._changes = ChangeCoalescer(self.flush_changes, self)
        self._clock = clock
        self._downloading: set[str] = set()
        # The time left counts down between progress events (and says when data is late).
        self._eta_timer = QTimer(self)
        self._eta_timer.setInterval(ETA_TICK_MS)
        self._eta_timer.timeout.connect(self.tick)
        self._icons = icons or {}
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
        self._counter = TotalsCounter()

    # --- Qt model interface -------------------------------------------------------------

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        # One Python call instead of QAbstractTableModel's hasIndex(): rowCount + columnCount.
        if 0 <= row < len(self._rows) and 0 <= column < NCOLS and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else NCOLS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role == Qt.ItemDataRole.ToolTipRole:
            if section == Column.STATE:
                return "State of the local copy"
            if section == Column.SIZE:
                return SIZE_CONVENTION
            if section == Column.SERVER:
                return ("Whether the server still holds the message, as of the last check "
                        "(“not checked” until popfetch has connected)")
        return None

    # flags(): QAbstractTableModel's own (enabled, selectable, no children), with no
    # Python call per cell and paint.

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role not in _HANDLED or not index.isValid():
            return None
        r = index.row()
        rows = self._rows
        if not 0 <= r < len(rows):
            return None
        return self._value(rows[r], index.column(), role)

    def multiData(self, index: Index, roleDataSpan: QModelRoleDataSpan | QModelRoleData) -> None:
        self.fill(index.row() if index.isValid() else -1, index.column(), roleDataSpan)

    def fill(self, r: int, col: int, span: QModelRoleDataSpan | QModelRoleData) -> None:
        """Every role a view asks of one cell, in one Python call (the views' delegates
        ask through multiData, seven roles a cell): data() per role is a C++-to-Python
        call each, and a paint of the table made some 1,500 of them."""
        rows = self._rows
        row = rows[r] if 0 <= r < len(rows) else None
        for item in _role_data(span):
            # Every item set or cleared: views reuse the span, with the last cell's values.
            role = item.role()
            value = None if row is None or role not in _HANDLED else self._value(row, col, role)
            if value is None:
                item.clearData()
            else:
                item.setData(value)

    def _value(self, row: Row, col: int, role: int) -> object:
        if role == _DISPLAY:
            return self._display(row, col)
        if role == _FONT:
            return self._strike if row.marked else None
        if role == _FOREGROUND:
            if row.marked or row.state is MessageState.GONE:
                return self._grey
            if col == PROGRESS_COL:
                return self._progress_brush.get(row.state)
            return None
        if role == _DECORATION:
            if col == 0:
                return self._icons.get("marked" if row.marked else row.state)
            return None
        if role == _ALIGN:
            if col == SIZE_COL:
                return _RIGHT
            return _CENTER if col == PROGRESS_COL else None
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
            return sort_value(row, col)
        if role == _FILTER:
            return f"{row.sender}\n{row.subject}"
        if role == _PATH:
            return row.path
        return None

    @staticmethod
    def _raw(row: Row, col: int) -> object:
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
            return progress_fraction(row)
        if col == Column.SERVER:
            return row.server
        return None

    def _left(self, row: Row) -> float | None:
        """Seconds to go at the last rate; negative once the data is late."""
        if row.state is not MessageState.DOWNLOADING or row.eta_at <= 0.0:
            return None
        return row.eta_at - self._clock()

    def _progress_text(self, row: Row) -> str:
        return progress_text(row.state, row.received, row.size, self._left(row), row.rate,
                             row.detail)

    def _display(self, row: Row, col: int) -> str | None:
        if col == Column.FROM:
            return row.sender_short
        if col == Column.SUBJECT:
            return row.subject or "(no subject)"
        if col == Column.DATE:
            return fmt.date_display(row.date_ts, row.date_raw)
        if col == Column.SIZE:
            return fmt.size(row.size)
        if col == Column.PROGRESS:
            return self._progress_text(row)
        if col == Column.SERVER:
            return "to be deleted" if row.marked else row.server.value
        return None

    def _tooltip(self, row: Row, col: int) -> str | None:
        if col == Column.STATE:
            text = STATE_TEXT[row.state]
            if row.detail:
                text += f": {row.detail}"
            if row.receipt:
                text += "\n" + delivered_text(row.receipt)
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
            return f"{row.size:,} octets as the server counts them"
        if col == Column.SERVER and row.marked:
            return "Marked for deletion: removed from the server when you commit"
        if col == Column.PROGRESS:
            text = self._progress_text(row)
            if row.detail and row.state is not MessageState.FAILED and row.detail not in text:
                text += f"\n{row.detail}"  # e.g. "paused, holding the connection: …"
            return text
        return None

    # --- feeding from core.engine.events ----------------------------------------------------

    def apply(self, event: object) -> None:
        """Route one engine event to its handler (others are ignored)."""
        self.apply_all((event,))

    def apply_all(self, events: Iterable[object]) -> None:
        """Route engine events, in order, to their handlers (others are ignored)."""
        for event in events:
            if isinstance(event, Progress):
                self.on_progress(event)
            elif isinstance(event, MessageStateChanged):
                self.on_state_changed(event)
            elif isinstance(event, MarksChanged):
                self.on_marks_changed(event)
            elif isinstance(event, ListLoaded):
                self.on_list_loaded(event)

    def load_stored(self, entries: Iterable[StoredEntry]) -> None:
        """The store's messages, before any server list: shown and openable offline."""
        added = [Row.from_stored(e) for e in entries if e.uidl not in self._index]
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            for row in added:
                row.seq = len(self._rows)
                self._index[row.uidl] = len(self._rows)
                self._rows.append(row)
            self.endInsertRows()
        for row in added:
            self._counter.add(row)
        self._resort()
        self._emit_totals(marks=True)

    def on_list_loaded(self, event: ListLoaded) -> None:
        """Merge the server's list: keep rows (and so the selection) that are still there,
        and stored messages the server no longer has."""
        self.flush_changes()  # what came before the list is older than it
        self._changes.clear()
        new = {info.uidl: info for info in event.messages}
        # 1. remove rows that vanished without a local copy, in runs from the bottom up
        gone = [i for i, row in enumerate(self._rows)
                if row.uidl not in new and not _kept_locally(row)]
        for first, last in reversed(_runs(gone)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
        # 2. update the ones that stay
        self._index = {row.uidl: i for i, row in enumerate(self._rows)}
        for i, row in enumerate(self._rows):
            info = new.get(row.uidl)
            if info is None:
                row.server = ServerState.GONE
                row.marked = False  # nothing left to delete there
                continue
            fresh = Row.from_info(info)
            fresh.path, fresh.receipt = row.path, row.receipt
            if _kept_locally(row) and fresh.state is not MessageState.STORED:
                fresh.state, fresh.received = MessageState.STORED, row.size
            self._rows[i] = fresh
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, NCOLS - 1)
            )
        # 3. append the new ones
        added = [info for info in event.messages if info.uidl not in self._index]
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            for info in added:
                self._index[info.uidl] = len(self._rows)
                self._rows.append(Row.from_info(info))
            self.endInsertRows()
        order = {info.uidl: i for i, info in enumerate(event.messages)}
        after = len(order)
        for row in self._rows:  # stored-only rows after the server's, in their own order
            row.seq = order.get(row.uidl, after + row.seq)
        self._downloading = {r.uidl for r in self._rows if r.state is MessageState.DOWNLOADING}
        self._resort()
        self._recount()
        self._emit_totals(marks=True)

    # --- sorting (here, not in the proxy: see gui.models.sorting) ------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if (column, order) == (self._sort_column, self._sort_order):
            return  # the header asks twice per click
        self._sort_column = column
        self._sort_order = order
        self._resort()

    def sort_column(self) -> tuple[int, Qt.SortOrder]:
        return self._sort_column, self._sort_order

    def _resort(self) -> None:
        new = sorted_rows(self._rows, self._sort_column, self._sort_order)
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
        if event.uidl in self._index:
            self._changes.put_progress(event.uidl, (event.received, event.total, event.rate))

    def on_state_changed(self, event: MessageStateChanged) -> None:
        if event.uidl in self._index:
            self._changes.put_state(event)

    def flush_changes(self) -> None:
        """Apply the states and progress gathered since the last flush: one dataChanged
        over the rows they touch, one totals update."""
        states, progress = self._changes.take()
        if not states and not progress:
            return
        first, last = len(self._rows), -1
        now = self._clock()
        for uidl, event in states.items():
            r = self._index.get(uidl)
            if r is None:
                continue
            row = self._rows[r]
            self._counter.remove(row)
            self._apply_state(row, event)
            self._counter.add(row)
            first, last = min(first, r), max(last, r)
        for uidl, (received, total, rate) in progress.items():
            r = self._index.get(uidl)
            if r is None:
                continue
            row = self._rows[r]
            self._counter.remove(row)
            row.received = received
            row.rate = rate
            if total > 0:
                row.size = total
            row.eta_at = now + max(0, row.size - received) / rate if rate > 0 else 0.0
            self._counter.add(row)
            first, last = min(first, r), max(last, r)
        if last >= 0:
            if states:
                self.dataChanged.emit(self.index(first, 0), self.index(last, NCOLS - 1))
            else:
                self.dataChanged.emit(
                    self.index(first, Column.PROGRESS), self.index(last, Column.PROGRESS),
                    [_DISPLAY, _RAW, _RECEIVED, _RATE],
                )
        if self._downloading and not self._eta_timer.isActive():
            self._eta_timer.start()
        self._emit_totals()

    def _apply_state(self, row: Row, event: MessageStateChanged) -> None:
        if event.path and self._delivers_to:
            row.receipt = event.path
        elif event.path:
            row.path = event.path
        if event.state is MessageState.GONE and _kept_locally(row):
            row.server = ServerState.GONE  # deleted there, still here
            row.marked = False
        else:
            row.state = event.state
            row.received = event.received
            row.detail = event.detail
        if row.state is MessageState.DOWNLOADING:
            self._downloading.add(row.uidl)
        else:
            self._downloading.discard(row.uidl)
            row.rate = 0.0
            row.eta_at = 0.0

    def pending_changes(self) -> int:
        """Events waiting for the next flush."""
        return self._changes.pending()

    def tick(self) -> None:
        """Redraw the time left of the messages downloading (it moves with the clock)."""
        rows = [self._index[u] for u in self._downloading if u in self._index]
        if not rows:
            self._eta_timer.stop()
            return
        self.dataChanged.emit(self.index(min(rows), Column.PROGRESS),
                              self.index(max(rows), Column.PROGRESS), [_DISPLAY])

    def on_marks_changed(self, event: MarksChanged) -> None:
        changed = []
        for i, row in enumerate(self._rows):
            marked = row.uidl in event.marked
            if marked != row.marked:
                self._counter.remove(row)
                row.marked = marked
                self._counter.add(row)
                changed.append(i)
        if changed:
            self.dataChanged.emit(
                self.index(changed[0], 0), self.index(changed[-1], NCOLS - 1)
            )
        self._emit_totals(marks=True)

    def _emit_totals(self, marks: bool = False) -> None:
        self.totalsChanged.emit()
        if marks:
            self.marksChanged.emit()

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

    def server_state_of(self, uidl: str) -> ServerState | None:
        r = self._index.get(uidl)
        return None if r is None else self._rows[r].server

    def subject_of(self, uidl: str) -> str:
        r = self._index.get(uidl)
        return "" if r is None else self._rows[r].subject

    def size_of(self, uidl: str) -> int:
        """Octets as the server counts them (SIZE_CONVENTION)."""
        r = self._index.get(uidl)
        return 0 if r is None else self._rows[r].size

    def path_of(self, uidl: str) -> str:
        r = self._index.get(uidl)
        return "" if r is None else self._rows[r].path

    def receipt_of(self, uidl: str) -> str:
        """Where a delivery target took the message ("" for Maildir or not stored)."""
        r = self._index.get(uidl)
        return "" if r is None else self._rows[r].receipt

    def uidls(self) -> list[str]:
        return [row.uidl for row in self._rows]

    def marked_uidls(self) -> list[str]:
        return [row.uidl for row in self._rows if row.marked]

    def totals(self) -> Totals:
        """Kept up to date incrementally: O(1), whatever the number of messages."""
        return self._counter.totals()

    def _recount(self) -> None:
        self._counter.recount(self._rows)


def _role_data(span: QModelRoleDataSpan | QModelRoleData) -> Iterable[QModelRoleData]:
    """The span's items (PySide's span is a sequence; its typing stubs do not say so)."""
    if isinstance(span, QModelRoleData):
        return (span,)
    return cast("Iterable[QModelRoleData]", span)


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7, 9, 10] -> [(1, 3), (7, 7), (9, 10)]"""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _kept_locally(row: Row) -> bool:
    """A stored copy exists: the row stays when the server no longer lists it."""
    return row.state is MessageState.STORED and bool(row.path or row.receipt)


def delivered_text(receipt: str) -> str:
    """"Delivered to imaps://me@host/INBOX (UID 7 UIDVALIDITY 1)": a row's receipt."""
    r = Receipt.parse(receipt)
    return f"Delivered to {r.where}" + (f" ({r.detail})" if r.detail else "")
