"""gui.window.statusbar: icons not glyphs, nothing covers the state, one-colour figures."""

from __future__ import annotations

from typing import Any

from core.engine.events import ConnectionChanged, ConnectionState, ErrorOccurred
from gui.window.mainwindow import MainWindow
from gui.window.statusbar import StatusPanel
from tests.gui.helpers import info, runner_with


def test_secure_shows_an_icon_and_words(qtbot: Any, window: MainWindow) -> None:
    runner = runner_with(qtbot, [info(1)])
    window.registry.add(runner)
    runner.bridge.listener(ConnectionChanged(ConnectionState.CONNECTED, secure=True,
                                             can_resume=True))
    qtbot.waitUntil(lambda: window.status.secure_label.text() == "Secure (TLS)")
    assert not window.status.secure_icon.pixmap().isNull()
    assert "🔒" not in window.status.secure_label.text()  # a font glyph drew as a box


def test_a_passing_message_does_not_hide_the_connection_state(
        qtbot: Any, window: MainWindow) -> None:
    runner = runner_with(qtbot, [info(1)])
    window.registry.add(runner)
    runner.bridge.listener(ConnectionChanged(ConnectionState.RECONNECTING, "refused",
                                             retry_in=30, attempt=2))
    qtbot.waitUntil(lambda: "retrying in" in window.status.conn_label.text())
    window.statusBar().showMessage("Download all: hover text of a toolbar button")
    assert window.status.conn_label.isVisible() and window.status.retry_button.isVisible()
    assert "refused" in window.status.conn_label.text()  # the reason, not only in the log


def test_the_overall_figures_are_beside_the_bar_not_on_it(qtbot: Any, window: MainWindow) -> None:
    runner = runner_with(qtbot, [info(1, size=1000)])
    window.registry.add(runner)
    window._update_totals()
    assert not window.status.overall.isTextVisible()
    assert window.status.overall_label.text() == "0/1 stored · 0%"


def test_without_an_account_it_says_so(qtbot: Any) -> None:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QStatusBar

    bar = QStatusBar()
    qtbot.addWidget(bar)
    panel = StatusPanel(bar, QAction("Retry"))
    panel.show_connection(None)
    assert panel.conn_label.text() == "No account" and panel.secure_icon.pixmap().isNull()


def test_the_servers_login_delay_is_shown_in_the_bar_and_the_log(
        qtbot: Any, window: MainWindow) -> None:
    runner = runner_with(qtbot, [info(1)])
    window.registry.add(runner)
    runner.bridge.listener(ConnectionChanged(ConnectionState.CONNECTED, login_delay=900))
    qtbot.waitUntil(lambda: window.status.login_delay_label.text() == "Logins every 15 min 00 s")
    assert "LOGIN-DELAY" in window.status.login_delay_label.toolTip()
    assert any("The server allows a login every 15 min 00 s" in line
               for line in window.log.lines())
    # An idle end says DISCONNECTED without a session to read it from: the figure stays.
    runner.bridge.listener(ConnectionChanged(ConnectionState.DISCONNECTED, "idle"))
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.DISCONNECTED)
    assert window.status.login_delay_label.text() == "Logins every 15 min 00 s"


def test_a_message_left_on_the_server_is_shown_plainly_and_sanitized(
        qtbot: Any, window: MainWindow) -> None:
    runner = runner_with(qtbot, [info(1)])
    window.registry.add(runner)
    text = ("messages 2, 3 share the UIDL 'dup\x1b[31m\u202e': the server cannot tell "
            "them apart, so they are left on the server")
    runner.bridge.listener(ErrorOccurred(text, False, left_on_server=True))
    qtbot.waitUntil(lambda: "Left on the server" in window.statusBar().currentMessage())
    shown = window.statusBar().currentMessage()
    assert "share the UIDL" in shown and "\x1b" not in shown and "\u202e" not in shown
    logged = [line for line in window.log.lines() if "left on the server: " in line]
    assert len(logged) == 1 and "\x1b" not in logged[0] and "\u202e" not in logged[0]
    assert runner.retry_reason == ""  # not a reconnect's reason
