"""gui.models.sorting: server order first, then the column, stable."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.engine.events import MessageState
from gui.models.columns import Column
from gui.models.rows import Row
from gui.models.sorting import sort_value, sorted_rows
from tests.gui.helpers import info


def test_sorting_by_size_and_by_server_state_is_stable() -> None:
    rows = [Row.from_info(info(i, size=s)) for i, s in enumerate((300, 20, 300))]
    for i, row in enumerate(rows):
        row.seq = i
    by_size = sorted_rows(rows, Column.SIZE, Qt.SortOrder.AscendingOrder)
    assert [r.uidl for r in by_size] == ["uid-1", "uid-0", "uid-2"]
    assert sorted_rows(rows, -1, Qt.SortOrder.AscendingOrder) == rows
    assert sort_value(rows[0], Column.STATE) < sort_value(
        Row.from_info(info(9, state=MessageState.STORED)), Column.STATE)
    assert sort_value(rows[0], Column.SERVER) == ("on the server", False)
