"""Run a blocking function off the GUI thread and get its result back on the GUI thread.

Every task names where its failure goes (``on_error``): a write that fails in the
background must reach the user, not vanish.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from PySide6.QtCore import QObject, Qt, Signal, Slot

ErrorSink = Callable[[BaseException], None]

_running: set[BackgroundTask] = set()

# Settings and keychain writes go through one thread, in the order they were asked for.
serial = ThreadPoolExecutor(max_workers=1, thread_name_prefix="popfetch settings")


class BackgroundTask(QObject):
    """``BackgroundTask(fn, on_error=sink).start()``: ``fn`` runs on a daemon thread (or
    ``executor``); ``done(result)``, or ``on_error(exception)``, runs on the thread that owns
    the task (the GUI thread), so slots connected to them may touch widgets."""

    done = Signal(object)
    finished = Signal()  # after done or on_error

    _result = Signal(object)  # (ok, value)

    def __init__(
        self,
        fn: Callable[[], object],
        *,
        on_error: ErrorSink,
        parent: QObject | None = None,
        name: str = "",
        executor: Executor | None = None,
    ):
        super().__init__(parent)
        self._fn = fn
        self._on_error = on_error
        self._executor = executor
        self._name = name or "popfetch task"
        self._result.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def start(self) -> BackgroundTask:
        _running.add(self)  # keep the Python object alive until delivered
        if self._executor is not None:
            self._executor.submit(self._run)
        else:
            threading.Thread(target=self._run, name=self._name, daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            outcome = (True, self._fn())
        except Exception as exc:  # reported to the GUI thread
            outcome = (False, exc)
        try:
            self._result.emit(outcome)
        except RuntimeError:  # the owner (a closed window or dialog) is gone: nobody to tell
            _running.discard(self)

    @Slot(object)
    def _deliver(self, outcome: tuple[bool, object]) -> None:
        ok, value = outcome
        _running.discard(self)
        if ok:
            self.done.emit(value)
        else:
            assert isinstance(value, BaseException)
            self._on_error(value)
        self.finished.emit()
