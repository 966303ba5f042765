"""gui.models.filterproxy: filters by sender or subject, passes sorting to the model."""

from __future__ import annotations

from typing import Any

from core.engine.events import ListLoaded
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
