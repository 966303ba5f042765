"""The scheduler, tray and notifications hooked to the app's runners (pytest-qt): scheduled
checks on an injected clock against the demo server, auto-download under a size limit,
new mail announced to dunst and a click opening the window at it, the tray's state."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from core.accounts import Account, AccountBook
from core.demoserver import DemoServer
from core.engine.events import ConnectionState, MessageState
from core.engine.retention import DAY
from core.engine.scheduler import Reason, Scheduler
from core.net import Security
from gui.desktop.checks import ScheduledChecks
from gui.desktop.presence import DesktopPresence
from gui.desktop.tray import TrayState
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner
from tests.support.clock import FakeClock
from tests.support.desktop import dunstctl
from tests.support.mail import write_message

PASSWORD = "pw-for-the-checks"


@pytest.fixture(autouse=True)
def xdg(tmp_path, monkeypatch):
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))


@pytest.fixture
def server(tmp_path):
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    write_message(src, b"From: Ann <ann@example.org>\nSubject: small one\n\nhi\n")
    write_message(src, b"From: Bob <bob@example.org>\nSubject: large one\n\n"
                  + b"x" * 80 + b"\n" * 1 + (b"y" * 99 + b"\n") * 1000)
    srv = DemoServer(src, users={"alice": PASSWORD})
    srv.start()
    yield srv
    srv.stop()


def make_runner(server: DemoServer, tmp_path: Path, password: str = PASSWORD,
                **settings: object) -> AccountRunner:
    host, port = server.address
    account = Account(host=host, port=port, security=Security.NONE, user="alice",
                      maildir=str(tmp_path / "mail"), allow_plaintext=True, name="box",
                      **settings)  # type: ignore[arg-type]
    return AccountRunner(account, fixed_password=password)


def stop(registry: RunnerRegistry) -> None:
    for runner in registry:
        runner.shutdown(10)


def test_scheduled_checks_pick_up_new_mail_and_download_it_under_the_size_limit(
        qtbot, server, tmp_path):
    clock = FakeClock()
    registry = RunnerRegistry()
    checks = ScheduledChecks(registry, scheduler=Scheduler(clock), watch_network=False)
    runner = make_runner(server, tmp_path, check_every=60.0, auto_download=True,
                         max_size=50_000)
    registry.add(runner)
    try:
        with qtbot.waitSignal(checks.downloading, timeout=20_000) as first:
            runner.start()  # the app connects each account at start
        assert first.args[1:] == [1, 1]  # one started, one over the limit
        qtbot.waitUntil(lambda: runner.model.totals().stored == 1, timeout=20_000)
        write_message(tmp_path / "src", b"From: Cy <cy@example.org>\nSubject: later\n\nnew\n")
        clock.advance(59)
        checks.poll()
        clock.advance(1)
        with qtbot.waitSignal(checks.checkStarted, timeout=5_000) as started:
            checks.poll()
        assert started.args[1].reason is Reason.INTERVAL
        qtbot.waitUntil(lambda: runner.model.totals().stored == 2, timeout=20_000)
        large = [u for u in runner.model.uidls()
                 if runner.model.state_of(u) is not MessageState.STORED]
        assert len(large) == 1 and runner.model.size_of(large[0]) > 50_000
    finally:
        checks.stop()
        stop(registry)


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


def _scheduled(registry: RunnerRegistry, clock: FakeClock, now: list[float]) -> ScheduledChecks:
    return ScheduledChecks(registry, scheduler=Scheduler(clock), watch_network=False,
                           now=lambda: now[0])


def test_delete_after_n_days_marks_old_stored_mail_and_commits(qtbot, server, tmp_path):
    clock, now = FakeClock(), [0.0]
    registry = RunnerRegistry()
    checks = _scheduled(registry, clock, now)
    runner = make_runner(server, tmp_path, check_every=60.0, auto_download=True,
                         leave_on_server="after-days", delete_after_days=7)
    registry.add(runner)
    try:
        now[0] = time.time()  # nothing is a week old yet
        runner.start()
        qtbot.waitUntil(lambda: runner.model.totals().stored == 2, timeout=20_000)
        assert server.deleted == []
        now[0] = time.time() + 7 * DAY + 60  # a week later, by the injected clock
        clock.advance(60)
        with qtbot.waitSignal(checks.retaining, timeout=20_000) as retained:
            checks.poll()
        _, uidls, committed = retained.args
        assert len(uidls) == 2 and committed
        qtbot.waitUntil(lambda: len(server.deleted) == 2, timeout=20_000)
        last_quit = max(i for i, c in enumerate(server.commands) if c == "QUIT")
        assert last_quit > max(i for i, c in enumerate(server.commands) if c.startswith("DELE"))
    finally:
        checks.stop()
        stop(registry)


def test_a_rule_leaves_the_commit_to_the_user_when_they_have_marks_waiting(
        qtbot, server, tmp_path):
    clock, now = FakeClock(), [time.time()]
    registry = RunnerRegistry()
    checks = _scheduled(registry, clock, now)
    runner = make_runner(server, tmp_path, check_every=60.0, auto_download=True,
                         leave_on_server="when-local-gone")
    registry.add(runner)
    try:
        runner.start()
        qtbot.waitUntil(lambda: runner.model.totals().stored == 2, timeout=20_000)
        first, second = runner.model.uidls()
        runner.mark([first])  # the user's own mark, not committed yet
        qtbot.waitUntil(lambda: runner.model.marked_uidls() == [first], timeout=10_000)
        Path(runner.model.path_of(second)).unlink()  # deleted in the mail reader
        clock.advance(60)
        with qtbot.waitSignal(checks.retaining, timeout=20_000) as retained:
            checks.poll()
        assert retained.args[1:] == [frozenset({second}), False]
        qtbot.waitUntil(lambda: sorted(runner.model.marked_uidls()) == sorted([first, second]),
                        timeout=10_000)
        assert server.deleted == [] and "QUIT" not in server.commands[-1:]
    finally:
        checks.stop()
        stop(registry)
