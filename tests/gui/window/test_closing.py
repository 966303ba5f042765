"""gui.window.closing: the quit question, asked without blocking."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMessageBox

from core.engine.events import MarksChanged
from gui.registry import RunnerRegistry
from gui.window.closing import CloseGuard
from tests.gui.helpers import RecordingHost, info, runner_with


def test_nothing_pending_closes_at_once_and_marks_ask(qtbot: Any) -> None:
    registry = RunnerRegistry()
    runner = runner_with(qtbot, [info(1, size=2000)])
    registry.add(runner)
    host = RecordingHost()
    closed: list[bool] = []
    guard = CloseGuard(registry, host, lambda: closed.append(True))
    assert guard.may_close()
    runner.model.apply(MarksChanged(frozenset({"uid-1"})))
    assert not guard.may_close() and not guard.may_close()  # asked once, not twice
    (box,) = host.dialogs
    assert isinstance(box, QMessageBox) and "1 message (2.0 kB) marked" in box.text()
    box.button(QMessageBox.StandardButton.Discard).click()
    assert closed == [True] and guard.really_close
