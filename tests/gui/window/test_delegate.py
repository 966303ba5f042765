"""gui.window.delegate: the bar is drawn without the style's two-colour text."""

from __future__ import annotations

from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView

from core.engine.events import ListLoaded, MessageInfo, MessageState, Progress
from gui.models.columns import Column
from gui.models.filterproxy import MessageFilterProxy
from gui.models.model import MessageListModel
from gui.window.delegate import (
    MOVING,
    STILL,
    TEXT_COLOUR,
    MessageDelegate,
    bar_option,
    shows_bar,
)


def test_the_bar_carries_no_text_and_is_muted_unless_it_moves() -> None:
    option = QStyleOptionViewItem()
    moving = bar_option(option, MessageState.DOWNLOADING, 500, 1000)
    assert not moving.textVisible and moving.progress == 500
    assert moving.palette.color(QPalette.ColorRole.Highlight) == MOVING
    paused = bar_option(option, MessageState.PAUSED, 0, 0)
    assert paused.palette.color(QPalette.ColorRole.Highlight) == STILL and paused.progress == 0
    assert TEXT_COLOUR.lightness() < 80  # one dark colour reads on bar and groove alike


def _model_with_every_state() -> MessageListModel:
    model = MessageListModel()
    states = list(MessageState)
    model.apply(ListLoaded(tuple(
        MessageInfo(f"u{i}", i, 1_000_000, f"S{i} <s{i}@x>", f"subject {i}",
                    "Mon, 2 Nov 2026 08:00:00 +0000", st,
                    410_000 if st != MessageState.REMOTE else 0, marked=i % 2 == 0)
        for i, st in enumerate(states)
    )))
    model.apply(Progress("u2", 410_000, 1_000_000, 2e6))
    model.flush_changes()
    return model


def test_delegate_strikes_marked_rows_and_paints_every_state(qtbot):
    model = _model_with_every_state()
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    qtbot.addWidget(view)
    delegate = MessageDelegate(view)
    view.setItemDelegate(delegate)
    view.setModel(proxy)
    view.resize(900, 400)
    view.show()
    qtbot.waitExposed(view)
    assert not view.grab().isNull()

    marked = QStyleOptionViewItem()
    delegate.initStyleOption(marked, proxy.index(0, Column.SUBJECT))
    assert marked.font.strikeOut()
    plain = QStyleOptionViewItem()
    delegate.initStyleOption(plain, proxy.index(1, Column.SUBJECT))
    assert not plain.font.strikeOut()


def test_progress_bar_fills_with_the_received_fraction(qtbot):
    model = MessageListModel()
    model.apply(ListLoaded(tuple(
        MessageInfo(f"u{r}", r, 1000, "a", "b", "", MessageState.DOWNLOADING, r * 1000 // 2, False)
        for r in range(3)   # 0 %, 50 %, 100 %
    )))
    view = QTableView()
    qtbot.addWidget(view)
    delegate = MessageDelegate(view)

    def render(row: int) -> QImage:
        img = QImage(300, 24, QImage.Format.Format_ARGB32)
        img.fill(0xFFFFFFFF)
        opt = QStyleOptionViewItem()
        opt.rect = img.rect()
        opt.widget = view
        p = QPainter(img)
        delegate.paint(p, opt, model.index(row, Column.PROGRESS))
        p.end()
        return img

    def filled(img: QImage) -> int:
        # columns whose middle pixel is the bar's highlight colour (not white, not grey text)
        hl = MOVING
        count = 0
        for x in range(img.width()):
            c = img.pixelColor(x, 3)
            dist = abs(c.red() - hl.red()) + abs(c.green() - hl.green()) + abs(c.blue() - hl.blue())
            if dist < 60:
                count += 1
        return count

    empty, half, full = (filled(render(r)) for r in range(3))
    assert empty < half < full
    assert 0.3 < half / full < 0.7


def test_a_bar_shows_for_what_is_on_its_way_or_paused_by_the_one_definition() -> None:
    with_bytes = {s for s in MessageState if shows_bar(s, 10)}
    assert with_bytes == {s for s in MessageState if s.active} | {MessageState.PAUSED}
    without = {s for s in MessageState if shows_bar(s, 0)}
    assert without == with_bytes - {MessageState.QUEUED}  # queued, nothing yet: text only
    assert not shows_bar(None, 10)  # an empty cell
