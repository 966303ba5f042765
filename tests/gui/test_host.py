"""gui.host: the window is a Host, and so is the test's RecordingHost."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMessageBox

from gui.host import Host
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import RecordingHost


def test_the_window_reports_errors_in_a_box_that_does_not_block(window: MainWindow) -> None:
    host: Host = window
    host.report_error("Accounts not saved", "disk full \x1b[2J")
    box = next(d for d in window.open_dialogs() if d.objectName() == "errorReport")
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "disk full \\x1b[2J" in box.text()  # server text shown escaped
    host.show_status("hello", 1000)
    assert window.statusBar().currentMessage() == "hello"


def test_a_recording_host_is_a_host(qtbot: Any) -> None:
    host: Host = RecordingHost()
    host.show_status("x")
    assert isinstance(host, RecordingHost) and host.statuses == ["x"]
