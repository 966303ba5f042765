"""The accounts running in the app: an ordered list of runners, and the one shown.

The window's side list, the message view, the quit question (and, later, the tray,
notifications and scheduler) listen to its signals instead of asking the window.
"""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import QObject, Signal

from gui.runner import AccountRunner


class RunnerRegistry(QObject):
    added = Signal(object, int)  # AccountRunner, its index
    removed = Signal(object, int)  # AccountRunner, the index it had
    currentChanged = Signal(object)  # AccountRunner | None
    changed = Signal(object)  # AccountRunner whose name or state changed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runners: list[AccountRunner] = []
        self._current: AccountRunner | None = None

    def __iter__(self) -> Iterator[AccountRunner]:
        return iter(list(self._runners))

    def __len__(self) -> int:
        return len(self._runners)

    def runners(self) -> list[AccountRunner]:
        return list(self._runners)

    def index(self, runner: AccountRunner) -> int:
        return self._runners.index(runner)

    @property
    def current(self) -> AccountRunner | None:
        return self._current

    def add(self, runner: AccountRunner, index: int | None = None) -> None:
        """List ``runner`` (at ``index``, else last); the first one listed becomes current."""
        at = len(self._runners) if index is None else max(0, min(index, len(self._runners)))
        self._runners.insert(at, runner)
        runner.summaryChanged.connect(self._summary_changed)
        self.added.emit(runner, at)
        if self._current is None:
            self.set_current(runner)

    def remove(self, runner: AccountRunner) -> None:
        """Unlist ``runner``; its neighbour becomes current. Stopping it is the caller's job."""
        at = self._runners.index(runner)
        runner.summaryChanged.disconnect(self._summary_changed)
        self._runners.pop(at)
        self.removed.emit(runner, at)
        if self._current is runner:
            self.set_current(self._runners[min(at, len(self._runners) - 1)]
                             if self._runners else None)

    def set_current(self, runner: AccountRunner | None) -> None:
        if runner is self._current:
            return
        assert runner is None or runner in self._runners
        self._current = runner
        self.currentChanged.emit(runner)

    def by_key(self, key: str) -> AccountRunner | None:
        """The configured (not demo) account with this key."""
        return next((r for r in self._runners if r.account.key == key and not r.demo), None)

    def demo(self) -> AccountRunner | None:
        return next((r for r in self._runners if r.demo), None)

    def _summary_changed(self) -> None:
        runner = self.sender()
        if isinstance(runner, AccountRunner):
            self.changed.emit(runner)
