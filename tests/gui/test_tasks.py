"""gui.tasks: results and failures come back on the GUI thread, failures to their sink."""

from __future__ import annotations

import threading
from typing import Any

from gui.tasks import BackgroundTask


def test_the_result_arrives_on_the_gui_thread(qtbot: Any) -> None:
    errors: list[BaseException] = []
    task = BackgroundTask(lambda: threading.current_thread().name, on_error=errors.append,
                          name="worker-x")
    with qtbot.waitSignal(task.done) as blocker:
        task.start()
    assert blocker.args == ["worker-x"] and errors == []


def test_a_failure_reaches_its_sink_and_finished_follows(qtbot: Any) -> None:
    errors: list[BaseException] = []

    def fail() -> None:
        raise OSError("disk full")

    task = BackgroundTask(fail, on_error=errors.append)
    with qtbot.waitSignal(task.finished):
        task.start()
    assert [str(e) for e in errors] == ["disk full"]
