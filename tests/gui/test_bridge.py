"""The bridge from a worker thread to the GUI thread, and the painting delegate."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread

from core.engine.events import (
    CommitFinished,
    MarksChanged,
    MessageState,
    MessageStateChanged,
    Progress,
)
from gui.bridge import EngineBridge


def test_events_from_a_worker_thread_arrive_in_order_on_the_gui_thread(qtbot):
    bridge = EngineBridge()
    got: list[tuple[object, bool]] = []
    gui_thread = QThread.currentThread()
    bridge.eventsArrived.connect(
        lambda evs: got.extend((ev, QThread.currentThread() is gui_thread) for ev in evs))

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
    bridge.eventsArrived.connect(got.extend)
    bridge.close()
    bridge.listener(MarksChanged(frozenset()))
    assert bridge.pending() == 0  # nothing queued, so nothing can be delivered
    assert got == []


def test_transcript_lines_arrive_in_batches_and_in_order(qtbot):
    from core.engine.events import TranscriptLine

    bridge = EngineBridge()
    batches: list[list[TranscriptLine]] = []
    others: list[object] = []
    bridge.transcriptLines.connect(batches.append)
    bridge.eventsArrived.connect(others.extend)

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


def test_a_rare_event_s_own_signal_comes_after_the_events_before_it(qtbot):
    """One drain: the state changes go as lists, and a connection change's own signal
    finds every event before it (and none after it) already handed on."""
    from core.engine.events import ConnectionChanged, ConnectionState

    bridge = EngineBridge()
    lists: list[list[object]] = []
    seen_at_signal: list[int] = []
    bridge.eventsArrived.connect(lists.append)
    bridge.connectionChanged.connect(
        lambda ev: seen_at_signal.append(sum(len(x) for x in lists)))
    a = MessageStateChanged("a", MessageState.STORED, 1)
    conn = ConnectionChanged(ConnectionState.CONNECTED)
    b = MessageStateChanged("b", MessageState.DOWNLOADING, 0)
    for ev in (a, conn, b):
        bridge.listener(ev)  # queued: drained together on the next event-loop turn
    qtbot.waitUntil(lambda: sum(len(x) for x in lists) == 3)
    assert lists == [[a, conn], [b]]
    assert seen_at_signal == [2]
