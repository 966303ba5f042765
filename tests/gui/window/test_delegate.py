"""gui.window.delegate: the bar is drawn without the style's two-colour text."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QStyleOptionViewItem

from core.engine.events import MessageState
from gui.window.delegate import MOVING, STILL, TEXT_COLOUR, bar_option


def test_the_bar_carries_no_text_and_is_muted_unless_it_moves() -> None:
    option = QStyleOptionViewItem()
    moving = bar_option(option, MessageState.DOWNLOADING, 500, 1000)
    assert not moving.textVisible and moving.progress == 500
    assert moving.palette.color(QPalette.ColorRole.Highlight) == MOVING
    paused = bar_option(option, MessageState.PAUSED, 0, 0)
    assert paused.palette.color(QPalette.ColorRole.Highlight) == STILL and paused.progress == 0
    assert TEXT_COLOUR.lightness() < 80  # one dark colour reads on bar and groove alike
