"""gui.window.banners: a banner that appears moves no row under the pointer."""

from __future__ import annotations

from typing import Any

from core.engine.events import MarksChanged
from gui.window.banners import BannerArea, MarksBanner
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import info, runner_with


def test_the_marks_banner_does_not_move_the_rows(qtbot: Any, window: MainWindow) -> None:
    runner = runner_with(qtbot, [info(i) for i in range(40)])
    window.registry.add(runner)
    window.registry.set_current(runner)
    window.resize(760, 540)
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 40)
    table = window.table
    pointer_y = table.visualRect(window.proxy.index(3, 0)).center().y()
    before = [table.visualRect(window.proxy.index(r, 0)) for r in range(6)]
    assert not window.marks_banner.isVisible()
    runner.model.apply(MarksChanged(frozenset({"uid-3"})))  # what a click on Del does
    qtbot.waitUntil(window.marks_banner.isVisible)
    assert [table.visualRect(window.proxy.index(r, 0)) for r in range(6)] == before
    assert table.rowAt(pointer_y) == 3  # a second click lands on the same message
    # the banner covers no row: its room is taken from the viewport's bottom
    banner_top = window.banners.mapTo(table, window.banners.rect().topLeft()).y()
    viewport_bottom = table.viewport().mapTo(table, table.viewport().rect().bottomLeft()).y()
    assert banner_top > viewport_bottom
    assert window.marks_banner.height() > 20  # and it is drawn, not squeezed to nothing
    runner.model.apply(MarksChanged(frozenset()))
    qtbot.waitUntil(lambda: not window.banners.isVisible())
    assert [table.visualRect(window.proxy.index(r, 0)) for r in range(6)] == before


def test_the_area_asks_for_room_only_while_a_banner_shows(qtbot: Any) -> None:
    from gui.models.totals import TotalsCounter

    banner = MarksBanner("commit", "unmark")
    area = BannerArea([banner])
    qtbot.addWidget(area)
    heights: list[int] = []
    area.heightChanged.connect(heights.append)
    banner.show_totals(TotalsCounter().totals())
    assert heights == [] and not area.isVisibleTo(area.parentWidget() or area)
    banner.show()
    banner.hide()
    assert len(heights) == 2 and heights[0] > 0 and heights[1] == 0
