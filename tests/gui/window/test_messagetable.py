"""gui.window.messagetable: the selection as (UIDL, state) pairs, and the kept room."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QLabel

from core.engine.events import ListLoaded, MessageState
from gui.models.filterproxy import MessageFilterProxy
from gui.models.model import MessageListModel
from gui.window.messagetable import MessageTable
from tests.gui.helpers import info


def test_selected_states_and_reserved_room(qtbot: Any) -> None:
    model = MessageListModel()
    model.apply(ListLoaded((info(1), info(2, state=MessageState.STORED))))
    table = MessageTable(MessageFilterProxy())
    qtbot.addWidget(table)
    table.show_model(model)
    table.selectionModel().select(table.proxy.index(1, 0),
                                  QItemSelectionModel.SelectionFlag.Select
                                  | QItemSelectionModel.SelectionFlag.Rows)
    assert table.selected_states() == [("uid-2", MessageState.STORED)]
    table.keep_bottom(QLabel("banner"))
    table.reserve(40)
    assert table.viewportMargins().bottom() == 40
    table.show_model(None)
    assert table.proxy.rowCount() == 0
