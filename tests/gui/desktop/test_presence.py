"""The tray and notifications hooked to the app's runners (pytest-qt): new mail announced to
dunst and a click opening the window at it, the tray's state, the main window's hooks, and
the question whether to go on in the tray when the window closes."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from core.accounts import AccountBook
from core.engine.events import ConnectionState
from core.engine.scheduler import Scheduler
from gui.desktop.checks import ScheduledChecks
from gui.desktop.presence import DesktopPresence
from gui.desktop.tray import TrayState
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner
from tests.gui.desktop.conftest import PASSWORD, make_runner, stop
from tests.support.clock import FakeClock
from tests.support.desktop import dunstctl
from tests.support.mail import write_message


class Host(QWidget):
    """A window that is never active (the notifications are not silenced)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[tuple[AccountRunner, str]] = []
        self.notes: list[tuple[str, str]] = []


# Bringing the window forward calls raise(), which the offscreen platform says it lacks.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_new_mail_is_announced_and_a_click_opens_it(qtbot, server, tmp_path, notifications):
    host = Host()
    qtbot.addWidget(host)
    registry = RunnerRegistry()
    checks = ScheduledChecks(registry, scheduler=Scheduler(FakeClock()), watch_network=False)
    presence = DesktopPresence(
        registry, host, checks=checks,
        open_message=lambda runner, uidl: host.opened.append((runner, uidl)),
        note=lambda name, text: host.notes.append((name, text)),
        report=lambda title, text: host.notes.append((title, text)))
    runner = make_runner(server, tmp_path)
    registry.add(runner)
    try:
        with qtbot.waitSignal(runner.bridge.listLoaded, timeout=20_000):
            runner.start()  # the baseline: mail already there is not announced
        assert presence.new_count == 0
        write_message(tmp_path / "src", b"From: Dee <dee@example.org>\nSubject: fresh news\n\n!\n")
        with qtbot.waitSignal(presence.notifier.sent, timeout=20_000) as sent:
            checks.check_all()
        _, note = sent.args
        assert (note.summary, note.body) == ("Dee <dee@example.org>", "fresh news")
        assert presence.new_count == 1 and presence.tray.status.new == 1
        assert ("box", "1 new message") in host.notes
        with qtbot.waitSignal(presence.notifier.activated, timeout=10_000):
            dunstctl(notifications.env, "action", "0")
        [(opened_runner, uidl)] = host.opened
        assert opened_runner is runner and runner.model.subject_of(uidl) == "fresh news"
    finally:
        presence.close()
        stop(registry)


def test_the_tray_shows_an_account_that_stopped(qtbot, server, tmp_path):
    host = Host()
    qtbot.addWidget(host)
    registry = RunnerRegistry()
    presence = DesktopPresence(
        registry, host, checks=ScheduledChecks(registry, scheduler=Scheduler(FakeClock()),
                                               watch_network=False),
        open_message=lambda r, u: None, note=lambda n, t: None, report=lambda t, x: None)
    runner = make_runner(server, tmp_path, password="wrong")
    registry.add(runner)
    try:
        runner.start()
        qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.FAILED,
                        timeout=20_000)
        qtbot.waitUntil(lambda: presence.tray.status.state is TrayState.ERROR, timeout=5_000)
        assert presence.tray.status.detail.startswith("box: ")
    finally:
        presence.close()
        stop(registry)


def test_the_main_window_has_the_desktop_parts_and_shows_a_message(qtbot, server, tmp_path):
    from gui.window.mainwindow import MainWindow

    window = MainWindow(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
                        book=AccountBook(tmp_path / "accounts.json"))
    qtbot.addWidget(window)
    try:
        runner = window.add_runner(make_runner(server, tmp_path).account,
                                   fixed_password=PASSWORD)
        with qtbot.waitSignal(runner.bridge.listLoaded, timeout=20_000):
            runner.start()
        uidl = runner.model.uidls()[-1]
        window.show_message(runner, uidl)
        assert window.table.selected_uidls() == [uidl]
        assert window.desktop.tray.status.state in (TrayState.IDLE, TrayState.FETCHING)
    finally:
        window.shutdown(10)


def _answer_close_question(qtbot, button: str, seen: list[str]) -> None:
    """Click ``button`` in the close question once it shows (exec() runs its own loop)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or box.objectName() != "closeToTray":
            QTimer.singleShot(10, click)
            return
        seen.append(box.text())
        next(b for b in box.buttons() if b.text() == button).click()

    QTimer.singleShot(0, click)


def _tray_presence(qtbot, tmp_path: Path) -> tuple[DesktopPresence, QSettings]:
    """The desktop parts with a tray said to be there, no accounts, settings in a file."""
    host = Host()
    qtbot.addWidget(host)
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    registry = RunnerRegistry()
    presence = DesktopPresence(
        registry, host, settings=settings, tray_available=lambda: True,
        checks=ScheduledChecks(registry, scheduler=Scheduler(FakeClock()), watch_network=False),
        open_message=lambda r, u: None, note=lambda n, t: None, report=lambda t, x: None)
    return presence, settings


# Offscreen has no tray: showing the icon anyway (the tray is said to be there) and the
# question's window make the platform warn about what it lacks.
@pytest.mark.qt_log_ignore("systemTrayWindowChanged", "propagateSizeHints")
def test_closing_the_window_asks_once_to_keep_running_in_the_tray(qtbot, tmp_path):
    presence, settings = _tray_presence(qtbot, tmp_path)
    try:
        asked: list[str] = []
        _answer_close_question(qtbot, "Keep running", asked)
        assert presence.keep_running_in_tray() is True
        assert asked == ["Keep popfetch running in the tray when its window is closed?"]
        assert settings.value("desktop/close_to_tray") == "tray"
        assert presence.keep_running_in_tray() is True  # remembered: no second question
        assert len(asked) == 1
        presence.quit()  # "Quit popfetch" in the tray's menu
        assert presence.keep_running_in_tray() is False
    finally:
        presence.close()


# Offscreen has no tray: showing the icon anyway (the tray is said to be there) and the
# question's window make the platform warn about what it lacks.
@pytest.mark.qt_log_ignore("systemTrayWindowChanged", "propagateSizeHints")
def test_answering_quit_is_remembered_too(qtbot, tmp_path):
    presence, _ = _tray_presence(qtbot, tmp_path)
    try:
        asked: list[str] = []
        _answer_close_question(qtbot, "Quit", asked)
        assert presence.keep_running_in_tray() is False and len(asked) == 1
        assert presence.keep_running_in_tray() is False and len(asked) == 1
    finally:
        presence.close()
