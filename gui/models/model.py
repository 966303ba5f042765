"""The message list: a table model fed by core.engine.events.

Rows hold raw values (sizes in octets, a MessageState); text is made only for
Qt.DisplayRole. What the columns and roles are lives in gui.models.columns, sorting in
gui.models.sorting, the running totals in gui.models.totals and the batching of progress events in
gui.models.coalesce; this module keeps the rows and tells the views what changed.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon

from core.engine.events import (
    ListLoaded,
    MarksChanged,
    MessageState,
    MessageStateChanged,
    Progress,
)
from gui import fmt
from gui.models.coalesce import ProgressCoalescer
from gui.models.columns import (
    HEADERS,
    NCOLS,
    PROGRESS_COL,
    SIZE_COL,
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


class MessageListModel(QAbstractTableModel):
    """One account's messages, in the order the server listed them."""

    totalsChanged = Signal()
    marksChanged = Signal(int, "qlonglong")  # count, octets (may pass 2 GiB)

    def __init__(self, parent: QObject | None = None, icons: dict[object, QIcon] | None = None):
        super().__init__(parent)
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}
        self._progress = ProgressCoalescer(self.flush_progress, self)
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
        return None

    @staticmethod
    def _display(row: Row, col: int) -> str | None:
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
    def _tooltip(row: Row, col: int) -> str | None:
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

    # --- feeding from core.engine.events ----------------------------------------------------

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
        self._progress.clear()
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
            fresh = Row.from_info(new[row.uidl])
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
                self._rows.append(Row.from_info(info))
            self.endInsertRows()
        order = {info.uidl: i for i, info in enumerate(event.messages)}
        for row in self._rows:
            row.seq = order[row.uidl]
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
        if event.uidl not in self._index:
            return
        self._progress.put(event.uidl, (event.received, event.total, event.rate))

    def flush_progress(self) -> None:
        """Apply the progress gathered since the last flush: one dataChanged for all rows."""
        pending = self._progress.take()
        if not pending:
            return
        first, last = len(self._rows), -1
        for uidl, (received, total, rate) in pending.items():
            r = self._index.get(uidl)
            if r is None:
                continue
            row = self._rows[r]
            self._counter.remove(row)
            row.received = received
            row.rate = rate
            if total > 0:
                row.size = total
            self._counter.add(row)
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
        self._progress.drop(event.uidl)
        row = self._rows[r]
        self._counter.remove(row)
        row.state = event.state
        row.received = event.received
        row.detail = event.detail
        if event.path:
            row.path = event.path
        if event.state != MessageState.DOWNLOADING:
            row.rate = 0.0
        self._counter.add(row)
        self.dataChanged.emit(self.index(r, 0), self.index(r, len(Column) - 1))
        self._emit_totals()

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
        return self._counter.totals()

    def _recount(self) -> None:
        self._counter.recount(self._rows)


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 7, 9, 10] -> [(1, 3), (7, 7), (9, 10)]"""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs
