"""Coalescing of progress events.

The engine reports progress many times a second per message; repainting for each would
swamp the GUI thread. Events only overwrite a dict entry here, and a single-shot timer
asks the model to apply them all at once (one dataChanged over the changed range).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

COALESCE_MS = 50

ProgressValues = tuple[int, int, float]  # received, total, rate


class ProgressCoalescer(QObject):
    """The latest progress per UIDL since the last flush; ``flush`` runs COALESCE_MS after
    the first one."""

    def __init__(self, flush: Callable[[], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending: dict[str, ProgressValues] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(flush)

    def put(self, uidl: str, values: ProgressValues) -> None:
        self._pending[uidl] = values
        if not self._timer.isActive():
            self._timer.start()

    def drop(self, uidl: str) -> None:
        """Forget what is pending for ``uidl`` (a later state change supersedes it)."""
        self._pending.pop(uidl, None)

    def clear(self) -> None:
        self._pending.clear()

    def take(self) -> dict[str, ProgressValues]:
        """Everything pending, emptied; the timer stops (an explicit flush came first)."""
        self._timer.stop()
        pending, self._pending = self._pending, {}
        return pending
