"""Carries engine events from the engine's worker thread into the GUI thread.

The engine calls ``EngineBridge.listener`` on its worker thread. The listener only appends
the event to a queue under a lock (coalescing Progress events of the same message that
arrive before the GUI has caught up) and, when the queue was empty, emits ``_wake``: a
signal with a queued connection to a slot of this GUI-thread object. That slot drains the
queue and hands it on in the engine's order: the message-list events as lists
(``eventsArrived``: a download of 2,000 small messages brings 6,000 state changes, and a
signal per event would cost the GUI thread more than the model's work on them), the few
others (list, marks, connection, error, commit) also each on its own signal, right after
the list that ends with it; protocol transcript lines (thousands while a big list loads:
two per TOP) as one ``transcriptLines`` list per drain. However fast the worker produces
events, the GUI thread receives at most one wake-up per event-loop turn, and the worker
never blocks on the GUI.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, Signal, Slot

from core.engine.events import (
    CommitFinished,
    ConnectionChanged,
    ErrorOccurred,
    ListLoaded,
    MarksChanged,
    Progress,
    TranscriptLine,
)


class EngineBridge(QObject):
    """Create it on the GUI thread; pass ``bridge.listener`` to the Engine."""

    # list[event]: every event but transcript lines, in the engine's order
    eventsArrived = Signal(object)
    listLoaded = Signal(object)
    marksChanged = Signal(object)
    connectionChanged = Signal(object)
    errorOccurred = Signal(object)
    commitFinished = Signal(object)
    transcriptLines = Signal(object)  # list[TranscriptLine], in order

    _wake = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._queue: list[object] = []
        # Position in _queue of the last Progress per UIDL since the last other event:
        # a newer Progress replaces it there (order with other events is kept).
        self._progress_at: dict[str, int] = {}
        self._closed = False
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        # The rare events, each also on a signal of its own (Progress and
        # MessageStateChanged, by the thousand, only in eventsArrived's lists).
        self._by_type = {
            ListLoaded: self.listLoaded,
            MarksChanged: self.marksChanged,
            ConnectionChanged: self.connectionChanged,
            ErrorOccurred: self.errorOccurred,
            CommitFinished: self.commitFinished,
        }

    def listener(self, event: object) -> None:
        """Called by the engine on its worker thread. Never blocks for long."""
        # On the engine's thread, 10,000 times for 2,000 small messages: kept short.
        with self._lock:
            if self._closed:
                return
            queue = self._queue
            if type(event) is Progress:
                at = self._progress_at.get(event.uidl)
                if at is not None:
                    queue[at] = event
                    return
                self._progress_at[event.uidl] = len(queue)
            elif self._progress_at:
                self._progress_at.clear()
            queue.append(event)
            # Emitted under the lock: once close() has returned, no emit can still be on
            # its way to a bridge that the GUI thread may be deleting.
            if len(queue) == 1:
                self._wake.emit()

    def close(self) -> None:
        """Drop events that arrive from now on (the engine is being shut down); after it
        returns the worker never touches this object's signals again."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._progress_at.clear()

    @Slot()
    def _drain(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
            self._progress_at.clear()
        lines: list[TranscriptLine] = []
        run: list[object] = []
        by_type = self._by_type
        for ev in batch:
            if isinstance(ev, TranscriptLine):
                lines.append(ev)
                continue
            run.append(ev)
            sig = by_type.get(type(ev))
            if sig is not None:
                # Its own slots see the model with exactly the events up to this one.
                self.eventsArrived.emit(run)
                run = []
                sig.emit(ev)
        if run:
            self.eventsArrived.emit(run)
        if lines:
            self.transcriptLines.emit(lines)

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)
