"""Run a blocking function off the GUI thread and get its result back on the GUI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from PySide6.QtCore import QObject, Qt, Signal, Slot

_running: set[BackgroundTask] = set()

# Settings and keychain writes go through one thread, in the order they were asked for.
serial = ThreadPoolExecutor(max_workers=1, thread_name_prefix="popfetch settings")


class BackgroundTask(QObject):
    """``BackgroundTask(fn).start()``: ``fn`` runs on a daemon thread; ``done(result)`` or
    ``failed(exception)`` is emitted on the thread that owns the task (the GUI thread), so
    slots and lambdas connected to them may touch widgets."""

    done = Signal(object)
    failed = Signal(object)
    finished = Signal()  # after done or failed

    _result = Signal(object)  # (ok, value)

    def __init__(
        self,
        fn: Callable[[], object],
        parent: QObject | None = None,
        name: str = "",
        executor: Executor | None = None,
    ):
        super().__init__(parent)
        self._fn = fn
        self._executor = executor
        self._name = name or "popfetch task"
        self._thread: threading.Thread | None = None
        self._result.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def start(self) -> BackgroundTask:
        _running.add(self)  # keep the Python object alive until delivered
        if self._executor is not None:
            self._executor.submit(self._run)
            return self
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def is_running(self) -> bool:
        return self in _running

    def _run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # reported to the GUI thread
            self._result.emit((False, exc))
        else:
            self._result.emit((True, result))

    @Slot(object)
    def _deliver(self, outcome: tuple[bool, object]) -> None:
        ok, value = outcome
        _running.discard(self)
        if ok:
            self.done.emit(value)
        else:
            self.failed.emit(value)
        self.finished.emit()


def run_in_background(
    fn: Callable[[], object],
    on_done: Callable[[object], None] | None = None,
    on_failed: Callable[[BaseException], None] | None = None,
    parent: QObject | None = None,
    executor: Executor | None = None,
) -> BackgroundTask:
    task = BackgroundTask(fn, parent, executor=executor)
    if on_done is not None:
        task.done.connect(on_done)
    if on_failed is not None:
        task.failed.connect(on_failed)
    return task.start()
