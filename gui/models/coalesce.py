"""Coalescing of progress and state events.

The engine reports progress many times a second per message, and a batch of 2,500 small
messages brings 2,500 state changes at once; repainting and recounting for each would
swamp the GUI thread. Events only overwrite a dict entry here, and a single-shot timer
asks the model to apply them all at once (one dataChanged over the changed range, one
totals update).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer

from core.engine.events import MessageStateChanged

COALESCE_MS = 50

ProgressValues = tuple[int, int, float]  # received, total, rate


class ChangeCoalescer(QObject):
    """The latest state and progress per UIDL since the last flush; ``flush`` runs
    COALESCE_MS after the first one. For one UIDL the state applies first, then any
    progress that came after it; progress that came before a state change is dropped."""

    def __init__(self, flush: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._progress: dict[str, ProgressValues] = {}
        self._states: dict[str, MessageStateChanged] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(flush)

    def _arm(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

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
        states, self._states = self._states, {}
        progress, self._progress = self._progress, {}
        return states, progress
