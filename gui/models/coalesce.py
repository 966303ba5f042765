"""Coalescing of progress and state events.

The engine reports progress many times a second per message, and a batch of 2,500 small
messages brings 2,500 state changes at once; repainting and recounting for each would
swamp the GUI thread. Events only overwrite a dict entry here, and a single-shot timer
asks the model to apply them all at once (one dataChanged over the changed range, one
totals update). The pause after a flush grows with what the flush cost (SHARE times its
CPU time, a frame at least): applying changes takes a bounded share of the GUI thread,
however many come, yet a lone change after a quiet spell (the last message stored, a
pause) shows at the next event-loop turn, not a fixed tick later. Every millisecond the
GUI thread spends in Python is one the engine's thread cannot: they share the GIL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer, Slot

from core.engine.events import MessageStateChanged

FRAME_MS = 16  # the shortest pause between flushes: no screen shows more than 60 Hz
SHARE = 4  # the pause is at least this many times the last flush's own time
MAX_PAUSE_MS = 250  # the view still moves 4 times a second, whatever a flush cost

ProgressValues = tuple[int, int, float]  # received, total, rate


class ChangeCoalescer(QObject):
    """The latest state and progress per UIDL since the last flush; ``flush`` runs after
    the first one, once the pause after the previous timed flush is over. For one UIDL
    the state applies first, then any progress that came after it; progress that came
    before a state change is dropped."""

    def __init__(self, flush: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._progress: dict[str, ProgressValues] = {}
        self._states: dict[str, MessageStateChanged] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._run)
        self._flush = flush
        self._armed = False  # the timer runs (a Python flag: put_* runs per event)
        self._next = 0.0  # time.monotonic() before which no timed flush starts

    def _arm(self) -> None:
        if not self._armed:
            self._armed = True
            self._timer.start(round(max(0.0, self._next - time.monotonic()) * 1000))

    @Slot()
    def _run(self) -> None:
        # The flush's own CPU time: its wall time also counts the engine's thread
        # holding the GIL meanwhile, which says nothing about this thread's load.
        cpu = time.thread_time()
        self._flush()
        cpu = time.thread_time() - cpu
        pause_ms = min(MAX_PAUSE_MS, max(FRAME_MS, SHARE * cpu * 1000))
        self._next = time.monotonic() + pause_ms / 1000

    def put_progress(self, uidl: str, values: ProgressValues) -> None:
        self._progress[uidl] = values
        self._arm()

    def put_state(self, event: MessageStateChanged) -> None:
        self._progress.pop(event.uidl, None)  # older than this state
        old = self._states.get(event.uidl)
        if old is not None and old.path and not event.path:
            event = replace(event, path=old.path)  # the file stays where it was stored
        self._states[event.uidl] = event
        self._arm()

    def pending(self) -> int:
        return len(self._states) + len(self._progress)

    def clear(self) -> None:
        self._progress.clear()
        self._states.clear()

    def take(self) -> tuple[dict[str, MessageStateChanged], dict[str, ProgressValues]]:
        """Everything pending, emptied; the timer stops (an explicit flush came first)."""
        self._timer.stop()
        self._armed = False
        states, self._states = self._states, {}
        progress, self._progress = self._progress, {}
        return states, progress
