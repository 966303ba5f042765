"""Scheduled checks on the app's runners (pytest-qt), on an injected clock against the demo
server: new mail picked up and downloaded under the size limit, leave-on-server rules
marking and committing, an account stopped for the user left alone, LOGIN-DELAY obeyed."""

from __future__ import annotations

import time
from pathlib import Path

from core.demoserver import DemoServer
from core.engine.events import ConnectionState, MessageState
from core.engine.retention import DAY
from core.engine.scheduler import Reason, Scheduler
from gui.desktop.checks import ScheduledChecks
from gui.registry import RunnerRegistry
from tests.gui.desktop.conftest import PASSWORD, make_runner, stop
from tests.support.clock import FakeClock
from tests.support.mail import write_message


def _scheduled(registry: RunnerRegistry, clock: FakeClock, now: list[float]) -> ScheduledChecks:
    return ScheduledChecks(registry, scheduler=Scheduler(clock), watch_network=False,
                           now=lambda: now[0])


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


def test_automatic_checks_leave_an_account_that_waits_for_the_user_alone(
        qtbot, server, tmp_path):
    clock = FakeClock()
    registry = RunnerRegistry()
    checks = ScheduledChecks(registry, scheduler=Scheduler(clock), watch_network=False)
    runner = make_runner(server, tmp_path, password="wrong", check_every=60.0)
    registry.add(runner)
    started: list[object] = []
    checks.checkStarted.connect(lambda r, due: started.append(due.reason))
    try:
        runner.start()
        qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.FAILED,
                        timeout=20_000)
        logins = sum(c.startswith("AUTH") or c.startswith("PASS") for c in server.commands)
        checks.scheduler.network_up()
        clock.advance(60)
        checks.poll()  # refresh() would be called right here, synchronously
        assert started == []
        assert checks.scheduler.due_in(f"{id(runner):x}") == 60  # and the schedule goes on
        checks.check_all()  # "Check now" is the user asking: it does try again
        assert started == [Reason.MANUAL]
        qtbot.waitUntil(lambda: sum(c.startswith(("AUTH", "PASS")) for c in server.commands)
                        > logins, timeout=20_000)
    finally:
        checks.stop()
        stop(registry)


def test_the_servers_login_delay_reaches_the_schedule(qtbot, tmp_path):
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    write_message(src, b"Subject: one\n\nx\n")
    server = DemoServer(src, users={"alice": PASSWORD}, login_delay=1)
    server.start()
    clock = FakeClock()
    registry = RunnerRegistry()
    checks = ScheduledChecks(registry, scheduler=Scheduler(clock), watch_network=False)
    runner = make_runner(server, tmp_path, check_every=60.0)
    registry.add(runner)
    key = f"{id(runner):x}"
    try:
        with qtbot.waitSignal(runner.bridge.listLoaded, timeout=20_000):
            runner.start()
        clock.advance(60)
        with qtbot.waitSignal(runner.bridge.listLoaded, timeout=20_000):
            checks.poll()  # a scheduled check: the engine waits out the 1 s itself
        checks.scheduler.check_now(key)
        assert checks.scheduler.due_in(key) == 1  # F5 too waits for the server's LOGIN-DELAY
    finally:
        checks.stop()
        stop(registry)
        server.stop()
