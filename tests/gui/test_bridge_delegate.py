"""The bridge from a worker thread to the GUI thread, and the painting delegate."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem, QTableView

from core.engine.events import (
    CommitFinished,
    ListLoaded,
    MarksChanged,
    MessageInfo,
    MessageState,
    MessageStateChanged,
    Progress,
)
from gui.bridge import EngineBridge
from gui.models.columns import Column
from gui.models.filterproxy import MessageFilterProxy
from gui.models.model import MessageListModel
from gui.window.delegate import MOVING, MessageDelegate


def test_events_from_a_worker_thread_arrive_in_order_on_the_gui_thread(qtbot):
    bridge = EngineBridge()
    got: list[tuple[object, bool]] = []
    gui_thread = QThread.currentThread()
    bridge.eventArrived.connect(lambda ev: got.append((ev, QThread.currentThread() is gui_thread)))

    def worker() -> None:
        bridge.listener(MessageStateChanged("a", MessageState.DOWNLOADING, 0))
        for i in range(1, 20001):
            bridge.listener(Progress("a", i, 20000, 1.0))
        bridge.listener(MessageStateChanged("a", MessageState.STORED, 20000))
        bridge.listener(Progress("b", 5, 10, 1.0))
        bridge.listener(CommitFinished(True, "bye", frozenset({"a"})))

    with qtbot.waitSignal(bridge.commitFinished, timeout=5000):
        t = threading.Thread(target=worker)
        t.start()
    t.join()
    events = [ev for ev, _ in got]
    assert all(on_gui for _, on_gui in got)
    # progress coalesced: far fewer than 20000 events reach the GUI thread
    progress = [ev for ev in events if isinstance(ev, Progress) and ev.uidl == "a"]
    assert 1 <= len(progress) < 20000
    assert progress[-1].received == 20000
    # order kept around the coalesced progress
    kinds = [type(ev).__name__ for ev in events]
    assert kinds[0] == "MessageStateChanged"
    stored = kinds.index("MessageStateChanged", 1)
    assert all(k == "Progress" for k in kinds[1:stored])
    assert kinds[stored + 1 :] == ["Progress", "CommitFinished"]


def test_closed_bridge_drops_late_events(qtbot):
    bridge = EngineBridge()
    got: list[object] = []
    bridge.eventArrived.connect(got.append)
    bridge.close()
    bridge.listener(MarksChanged(frozenset()))
    assert bridge.pending() == 0  # nothing queued, so nothing can be delivered
    assert got == []


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


def test_transcript_lines_arrive_in_batches_and_in_order(qtbot):
    from core.engine.events import TranscriptLine

    bridge = EngineBridge()
    batches: list[list[TranscriptLine]] = []
    others: list[object] = []
    bridge.transcriptLines.connect(batches.append)
    bridge.eventArrived.connect(others.append)

    def worker() -> None:
        for i in range(5000):
            bridge.listener(TranscriptLine(i % 2 == 0, f"line {i}"))
        bridge.listener(CommitFinished(True, "bye", frozenset()))

    with qtbot.waitSignal(bridge.commitFinished, timeout=5000):
        t = threading.Thread(target=worker)
        t.start()
    t.join()
    qtbot.waitUntil(lambda: sum(len(b) for b in batches) == 5000)
    lines = [ln.text for b in batches for ln in b]
    assert lines == [f"line {i}" for i in range(5000)]
    assert len(batches) < 5000  # batched, not one signal per line
    assert [type(e).__name__ for e in others] == ["CommitFinished"]
