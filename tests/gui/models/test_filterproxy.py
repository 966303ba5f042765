"""gui.models.filterproxy: filters by sender or subject, passes sorting to the model."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelRoleData, Qt

from core.engine.events import ListLoaded, MessageState, MessageStateChanged
from gui.models.columns import NCOLS
from gui.models.filterproxy import MessageFilterProxy
from gui.models.model import MessageListModel
from tests.gui.helpers import info


def test_filter_and_show_nothing(qtmodeltester: Any) -> None:
    model = MessageListModel()
    model.apply(ListLoaded(tuple(info(i) for i in range(12))))
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.set_filter_text("number 1")
    assert proxy.rowCount() == 3  # 1, 10, 11
    assert proxy.filter_text() == "number 1"
    proxy.show_nothing()
    assert proxy.rowCount() == 0 and proxy.sourceModel() is None


def test_a_cell_s_roles_in_one_call_equal_data_per_role_and_clear_stale_values() -> None:
    """multiData (one Python call per cell and paint) answers as data() does, through the
    proxy too, and clears what an earlier cell left in the view's reused items."""

    model = MessageListModel()
    model.apply(ListLoaded((info(1, marked=True), info(2, state=MessageState.STORED,
                                                       received=1000))))
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    roles = [int(r) for r in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.DecorationRole,
                              Qt.ItemDataRole.FontRole, Qt.ItemDataRole.TextAlignmentRole,
                              Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole,
                              Qt.ItemDataRole.CheckStateRole, Qt.ItemDataRole.ToolTipRole)]
    for row in range(2):
        for col in range(NCOLS):
            for role in roles:
                expected = model.data(model.index(row, col), role)
                for source in (model, proxy):
                    item = QModelRoleData(role)
                    item.setData("left by another cell")
                    source.multiData(source.index(row, col), item)
                    assert item.data() == expected, (row, col, role, source)


def test_rows_added_later_are_filtered_and_a_state_change_runs_no_filter() -> None:
    calls: list[int] = []

    class Counting(MessageFilterProxy):
        def filterAcceptsRow(self, source_row: int, source_parent: Any) -> bool:
            calls.append(source_row)
            return super().filterAcceptsRow(source_row, source_parent)

    model = MessageListModel()
    model.apply(ListLoaded(tuple(info(i) for i in range(12))))
    proxy = Counting()
    proxy.setSourceModel(model)
    proxy.set_filter_text("number 1")
    assert proxy.rowCount() == 3  # 1, 10, 11
    model.apply(ListLoaded(tuple(info(i) for i in range(20))))
    assert proxy.rowCount() == 11  # and 12 ... 19
    calls.clear()
    for i in range(20):
        model.apply(MessageStateChanged(f"uid-{i}", MessageState.STORED, 1000))
    model.flush_changes()
    assert calls == [] and proxy.rowCount() == 11
