"""The engine against the demo server: what a user of the app or the CLI relies on."""

from __future__ import annotations

import random
import sys
import threading
import time

import pytest

from core.engine.events import (
    CommitFinished,
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
    ListLoaded,
    MessageState,
    MessageStateChanged,
    Progress,
    TranscriptLine,
)
from core.engine.intent import Intent
from tests.support.engine import PASSWORD, Harness, Recorder
from tests.support.mail import big_message, tricky_message


def _fill(h: Harness, count: int, seed: int = 3, size: int = 3000) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        h.add(tricky_message(rng, rng.randrange(size // 3, size)))


def _uidl_of(recorder: Recorder, subject_part: str = "") -> list[str]:
    """The UIDLs of the latest list, once a list has arrived."""
    recorder.wait_for(lambda: recorder.of(ListLoaded))
    listed = recorder.of(ListLoaded)[-1].messages
    return [m.uidl for m in listed if subject_part in m.subject]


def test_list_shows_headers_before_any_body_is_fetched(harness: Harness, recorder: Recorder):
    _fill(harness, 5)
    server = harness.serve()
    harness.engine(recorder).start()
    recorder.wait_for(lambda: recorder.of(ListLoaded))
    listed = recorder.of(ListLoaded)[0].messages
    assert len(listed) == 5
    assert all(m.sender.startswith("Tricky") and m.subject.startswith("dots") for m in listed)
    assert all(m.state is MessageState.REMOTE for m in listed)
    assert not any(c.startswith("RETR") for c in server.commands)
    assert sum(c.startswith("TOP") for c in server.commands) == 5


def test_download_all_stores_every_message_exactly_once(harness: Harness, recorder: Recorder):
    _fill(harness, 60)
    harness.serve()
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    assert engine.wait_idle(30)
    assert harness.fetched() == harness.source()
    engine.shutdown()
    # A second session (leave-on-server) fetches nothing again.
    again = Recorder()
    second = harness.engine(again, auto_download=True)
    second.start()
    assert second.wait_idle(30)
    assert second.stats.fetched == 0
    assert len(harness.fetched()) == 60


def test_uidls_with_slashes_and_dots_never_become_file_names(harness: Harness,
                                                            recorder: Recorder):
    names = iter(["../../escape", "a/b/c", "..", "./x"])
    for i in range(4):
        harness.add(b"Subject: %d\n\nbody\n" % i)
    harness.serve(uidls=lambda path: next(names))
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    assert engine.wait_idle(30)
    assert len(harness.fetched()) == 4
    assert not (harness.root / "escape").exists()
    assert {p.name for p in harness.dst.iterdir()} == {"tmp", "new", "cur"}


def test_pause_keeps_the_bytes_and_resume_continues_by_offset(harness: Harness,
                                                            recorder: Recorder):
    big_message(harness.src / "new" / "1700000000.big.test", 3_000_000)
    server = harness.serve(rate=1_000_000)
    engine = harness.engine(recorder)
    engine.start()
    (uidl,) = _uidl_of(recorder)
    engine.download([uidl])
    recorder.wait_for(lambda: any(p.received > 600_000 for p in recorder.of(Progress)))
    asked = time.monotonic()
    engine.pause([uidl])
    recorder.wait_for(lambda: MessageState.PAUSED in recorder.states(uidl))
    assert time.monotonic() - asked < 1.0
    paused_at = [e for e in recorder.of(MessageStateChanged)
                 if e.uidl == uidl and e.state is MessageState.PAUSED][-1].received
    assert 0 < paused_at < 3_000_000
    engine.resume([uidl])
    recorder.wait_for(lambda: MessageState.STORED in recorder.states(uidl), timeout=30)
    assert harness.fetched() == harness.source()
    assert any(c.startswith("RETR 1 ") for c in server.commands), server.commands


def test_without_ext_retr_pause_holds_the_connection_and_resume_finishes(
    harness: Harness, recorder: Recorder
):
    big_message(harness.src / "new" / "1700000000.big.test", 2_000_000)
    server = harness.serve(rate=1_000_000, ext_retr=False)
    engine = harness.engine(recorder)
    engine.start()
    (uidl,) = _uidl_of(recorder)
    engine.download([uidl])
    recorder.wait_for(lambda: any(p.received > 300_000 for p in recorder.of(Progress)))
    engine.pause([uidl])
    recorder.wait_for(lambda: MessageState.PAUSED in recorder.states(uidl))
    paused = [e for e in recorder.of(MessageStateChanged) if e.state is MessageState.PAUSED][-1]
    assert "cannot resume" in paused.detail
    engine.resume([uidl])
    recorder.wait_for(lambda: MessageState.STORED in recorder.states(uidl), timeout=30)
    assert harness.fetched() == harness.source()
    assert sum(c.startswith("RETR") for c in server.commands) == 1


def test_cuts_mid_message_resume_by_offset_with_little_resent(harness: Harness,
                                                            recorder: Recorder):
    big_message(harness.src / "new" / "1700000000.big.test", 5_000_000)
    server = harness.serve()
    server.faults.cut_at([700_001, 1_900_002, 3_100_003, 4_999_000])
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    assert engine.wait_idle(60)
    assert harness.fetched() == harness.source()
    assert engine.stats.reconnects >= 4
    assert engine.stats.received_bytes - engine.stats.fetched_bytes < 4 * 1024 * 1024
    assert any(e.state is ConnectionState.RECONNECTING for e in recorder.of(ConnectionChanged))


def test_cuts_without_ext_retr_restart_and_check_the_stored_prefix(harness: Harness,
                                                                 recorder: Recorder):
    big_message(harness.src / "new" / "1700000000.big.test", 2_000_000)
    server = harness.serve(ext_retr=False)
    server.faults.cut_at([500_000, 1_500_000])
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    assert engine.wait_idle(60)
    assert harness.fetched() == harness.source()
    assert not any(c.startswith("RETR") and len(c.split()) > 2 for c in server.commands)
    assert engine.stats.restarted >= 1


def test_marks_delete_nothing_until_commit_and_commit_deletes_exactly_them(
    harness: Harness, recorder: Recorder
):
    _fill(harness, 6)
    server = harness.serve()
    engine = harness.engine(recorder)
    engine.start()
    uidls = _uidl_of(recorder)
    engine.mark(uidls[:3])
    recorder.wait_for(lambda: sum(c.startswith("DELE") for c in server.commands) == 3)
    engine.unmark([uidls[1]])
    recorder.wait_for(lambda: "RSET" in server.commands)
    recorder.wait_for(lambda: sum(c.startswith("DELE") for c in server.commands) == 5)
    assert len(harness.source()) == 6  # nothing deleted before QUIT
    engine.commit()
    recorder.wait_for(lambda: recorder.of(CommitFinished))
    done = recorder.of(CommitFinished)[0]
    assert done.ok and done.deleted == {uidls[0], uidls[2]}
    assert sorted(server.deleted) == sorted([uidls[0], uidls[2]])
    assert len(harness.source()) == 4


def test_a_drop_before_quit_deletes_nothing_and_the_next_session_commits(
    harness: Harness, recorder: Recorder
):
    _fill(harness, 4)
    server = harness.serve()
    engine = harness.engine(recorder)
    engine.start()
    uidls = _uidl_of(recorder)
    engine.mark(uidls[:2])
    recorder.wait_for(lambda: sum(c.startswith("DELE") for c in server.commands) == 2)
    engine.disconnect()
    recorder.wait_for(lambda: engine.state is ConnectionState.DISCONNECTED)
    engine.shutdown()
    assert len(harness.source()) == 4 and server.deleted == []
    # The journal survives: a new engine re-issues the marks, and QUIT commits them.
    later = Recorder()
    second = harness.engine(later)
    second.start()
    later.wait_for(lambda: later.of(ListLoaded))
    assert {m.uidl for m in later.of(ListLoaded)[0].messages if m.marked} == set(uidls[:2])
    second.commit()
    later.wait_for(lambda: later.of(CommitFinished))
    assert sorted(server.deleted) == sorted(uidls[:2])


def test_delete_after_fetch_deletes_only_stored_messages(harness: Harness, recorder: Recorder):
    _fill(harness, 30)
    server = harness.serve()
    engine = harness.engine(recorder, auto_download=True, delete_after_fetch=True)
    engine.start()
    assert engine.wait_idle(30)
    stored = recorder.stored()
    engine.commit()
    recorder.wait_for(lambda: recorder.of(CommitFinished))
    assert set(server.deleted) == stored and len(stored) == 30
    assert len(harness.fetched()) == 30 and harness.source() == []


def test_wrong_password_is_reported_once_and_never_retried(harness: Harness,
                                                          recorder: Recorder):
    _fill(harness, 1)
    server = harness.serve()
    engine = harness.engine(recorder, password="wrong")
    engine.start()
    recorder.wait_for(lambda: engine.state is ConnectionState.FAILED)
    assert engine.wait_idle(10)  # parked until the user acts: no retry can follow
    errors = [e for e in recorder.of(ErrorOccurred) if e.fatal]
    assert len(errors) == 1 and errors[0].auth
    logins = [c for c in server.commands if c.startswith(("PASS", "AUTH", "APOP"))]
    assert len(logins) == 1
    assert all(PASSWORD not in e.text and "wrong" not in e.text
               for e in recorder.of(TranscriptLine))


def test_in_use_is_waited_out(harness: Harness, recorder: Recorder):
    import poplib

    _fill(harness, 2)
    harness.serve()
    host, port = harness.server.address  # type: ignore[union-attr]
    holder = poplib.POP3(host, port, timeout=10)
    holder.user("alice")
    holder.pass_(PASSWORD)
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    recorder.wait_for(lambda: any(e.code == "IN-USE" for e in recorder.of(ErrorOccurred)))
    holder.quit()
    assert engine.wait_idle(30)
    assert len(harness.fetched()) == 2


def test_a_body_longer_than_its_list_size_fails_that_message_clearly(harness: Harness,
                                                                   recorder: Recorder):
    big_message(harness.src / "new" / "1700000000.big.test", 400_000)
    server = harness.serve()
    server.faults.overlong_body = 200_000
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    assert engine.wait_idle(30)
    failed = [e for e in recorder.of(MessageStateChanged) if e.state is MessageState.FAILED]
    assert failed and "LIST size" in failed[0].detail
    assert harness.fetched() == []


def test_a_100_kb_status_line_is_a_clear_error_not_a_hang(harness: Harness,
                                                         recorder: Recorder):
    _fill(harness, 1)
    server = harness.serve()
    server.faults.long_status.add("STAT")
    server.faults.long_status.add("UIDL")
    server.faults.long_status.add("LIST")
    engine = harness.engine(recorder)
    engine.start()
    recorder.wait_for(lambda: any("line" in e.message.lower() for e in recorder.of(ErrorOccurred)))


def test_a_server_that_closes_at_once_is_retried_then_given_up(harness: Harness,
                                                             recorder: Recorder):
    from core.engine.coordinator import RetryPolicy

    _fill(harness, 1)
    server = harness.serve()
    server.faults.set_close_after_greeting(-1)
    engine = harness.engine(recorder, retry=RetryPolicy(initial=0.01, max_failures=3))
    engine.start()
    recorder.wait_for(lambda: engine.state is ConnectionState.FAILED)
    attempts = [e.attempt for e in recorder.of(ConnectionChanged)
                if e.state is ConnectionState.RECONNECTING]
    assert attempts == [2, 3, 4]
    assert recorder.of(ErrorOccurred)[-1].fatal


@pytest.mark.parametrize("method", ["user", "plain", "login", "cram-md5", "apop"])
def test_every_login_method_works(harness: Harness, recorder: Recorder, method: str):
    _fill(harness, 1)
    harness.serve()
    engine = harness.engine(recorder, account=harness.account(auth=method), auto_download=True)
    engine.start()
    assert engine.wait_idle(30)
    assert engine.state is ConnectionState.CONNECTED
    assert len(harness.fetched()) == 1


def test_a_refresh_after_dele_is_a_new_session_that_keeps_the_mark(harness: Harness,
                                                                   recorder: Recorder):
    _fill(harness, 3)
    server = harness.serve()
    engine = harness.engine(recorder)
    engine.start()
    uidl = _uidl_of(recorder)[1]
    engine.mark([uidl])
    recorder.wait_for(lambda: any(c.startswith("DELE") for c in server.commands))
    engine.refresh()  # only a new login sees new mail: RSET, QUIT, log in again
    recorder.wait_for(lambda: len(recorder.of(ListLoaded)) == 2)
    assert server.commands.count("RSET") == 1 and server.commands.count("QUIT") == 1
    assert server.deleted == []
    assert uidl in {m.uidl for m in recorder.of(ListLoaded)[-1].messages}
    assert MessageState.GONE not in recorder.states(uidl)
    recorder.wait_for(lambda: sum(c.startswith("DELE") for c in server.commands) == 2)
    engine.commit()
    recorder.wait_for(lambda: recorder.of(CommitFinished))
    assert server.deleted == [uidl]


def test_an_idle_session_sends_noop_to_stay_logged_in(harness: Harness, recorder: Recorder):
    _fill(harness, 1)
    server = harness.serve()
    engine = harness.engine(recorder, keepalive=0.2)
    engine.start()
    recorder.wait_for(lambda: server.commands.count("NOOP") >= 2, timeout=10)
    assert engine.state is ConnectionState.CONNECTED


def test_login_delay_is_waited_out_not_hammered(harness: Harness, recorder: Recorder):
    import poplib

    _fill(harness, 1)
    server = harness.serve(login_delay=2)
    host, port = server.address
    first = poplib.POP3(host, port, timeout=10)
    first.user("alice")
    first.pass_(PASSWORD)
    first.quit()
    started = time.monotonic()
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    assert engine.wait_idle(30)
    assert len(harness.fetched()) == 1
    delays = [e for e in recorder.of(ErrorOccurred) if e.code == "LOGIN-DELAY"]
    assert delays and not delays[0].fatal  # refused within the delay, then waited out
    assert time.monotonic() - started >= 1.5
    assert sum(c.startswith(("PASS", "AUTH", "APOP")) for c in server.commands) <= 3


def test_a_full_disk_stops_the_account_and_deletes_nothing(harness: Harness,
                                                           recorder: Recorder, monkeypatch):
    import errno

    from core.store import maildir

    _fill(harness, 5)
    server = harness.serve()

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(maildir.os, "write", full)
    engine = harness.engine(recorder, auto_download=True, delete_after_fetch=True)
    engine.start()
    recorder.wait_for(lambda: engine.state is ConnectionState.FAILED)
    fatal = [e for e in recorder.of(ErrorOccurred) if e.fatal]
    assert fatal and "disk is full" in fatal[0].message
    engine.commit()  # nothing was stored, so nothing is marked: QUIT deletes nothing
    recorder.wait_for(lambda: recorder.of(CommitFinished))
    assert recorder.of(CommitFinished)[0].deleted == frozenset()
    assert not any(c.startswith("DELE") for c in server.commands)
    assert server.deleted == [] and harness.fetched() == []


def test_resume_all_picks_up_partials_left_by_an_earlier_run(harness: Harness,
                                                            recorder: Recorder):
    big_message(harness.src / "new" / "1700000000.big.test", 3_000_000)
    server = harness.serve(rate=1_500_000)
    first = harness.engine(recorder)
    first.start()
    (uidl,) = _uidl_of(recorder)
    first.download([uidl])
    recorder.wait_for(lambda: any(p.received > 500_000 for p in recorder.of(Progress)))
    first.pause()
    recorder.wait_for(lambda: MessageState.PAUSED in recorder.states(uidl))
    first.shutdown()

    later = Recorder()
    second = harness.engine(later)
    second.start()
    later.wait_for(lambda: later.of(ListLoaded))
    (row,) = later.of(ListLoaded)[0].messages
    assert row.state is MessageState.PAUSED and row.received > 0
    second.resume()  # no UIDLs: every paused message, this run's or not
    later.wait_for(lambda: MessageState.STORED in later.states(uidl), timeout=30)
    assert harness.fetched() == harness.source()
    assert sum(c.startswith("RETR 1 ") for c in server.commands) == 1


def test_an_internal_error_is_reported_as_fatal_not_swallowed(harness: Harness,
                                                             recorder: Recorder, monkeypatch):
    from core.engine.worker import Worker

    _fill(harness, 1)
    harness.serve()

    def broken(self: Worker) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Worker, "_load_list", broken)
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    assert engine.wait_idle(10)
    assert engine.state is ConnectionState.FAILED
    (fatal,) = [e for e in recorder.of(ErrorOccurred) if e.fatal]
    assert "internal error" in fatal.message and "a bug" in fatal.message


def test_a_server_that_stops_sending_is_a_drop_after_the_read_timeout(harness: Harness,
                                                                      recorder: Recorder):
    big_message(harness.src / "new" / "1700000000.big.test", 2_000_000)
    server = harness.serve()
    server.faults.stall_at([700_000])  # stops mid-body, socket left open
    engine = harness.engine(recorder, auto_download=True, read_timeout=1.0)
    started = time.monotonic()
    engine.start()
    assert engine.wait_idle(30)
    assert harness.fetched() == harness.source()
    assert any("no data from the server" in e.message for e in recorder.of(ErrorOccurred))
    assert engine.stats.received_bytes - engine.stats.fetched_bytes < 64 * 1024
    assert time.monotonic() - started < 15


def test_without_uidl_messages_are_known_by_size_and_headers(harness: Harness,
                                                            recorder: Recorder):
    _fill(harness, 5)
    server = harness.serve()
    server.faults.unsupported.add("UIDL")
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    assert engine.wait_idle(30)
    assert harness.fetched() == harness.source()
    engine.shutdown()
    # The next session recognises them again: nothing is fetched twice.
    again = Recorder()
    second = harness.engine(again, auto_download=True)
    second.start()
    assert second.wait_idle(30)
    assert second.stats.fetched == 0 and len(harness.fetched()) == 5


def test_without_uidl_or_top_the_account_stops_rather_than_guess(harness: Harness,
                                                                recorder: Recorder):
    _fill(harness, 2)
    server = harness.serve()
    server.faults.unsupported.update({"UIDL", "TOP"})
    engine = harness.engine(recorder, auto_download=True)
    engine.start()
    recorder.wait_for(lambda: engine.state is ConnectionState.FAILED)
    fatal = next(e for e in recorder.of(ErrorOccurred) if e.fatal)
    assert "neither UIDL nor TOP" in fatal.message
    assert harness.fetched() == []


def test_a_message_changed_on_the_server_is_detected_and_fetched_whole(harness: Harness,
                                                                      recorder: Recorder):
    path = harness.src / "new" / "1700000000.big.test"
    big_message(path, 2_000_000)
    server = harness.serve(rate=1_500_000, ext_retr=False)
    first = harness.engine(recorder, auto_download=True)
    first.start()
    recorder.wait_for(lambda: any(p.received > 400_000 for p in recorder.of(Progress)))
    first.shutdown()  # leaves the partial behind
    server.stop()
    # Same name (so the same UIDL) and the same size, different bytes at the start.
    body = path.read_bytes()
    path.write_bytes(body[:60] + body[60:160].upper() + body[160:])
    server = harness.serve(ext_retr=False)
    later = Recorder()
    second = harness.engine(later, auto_download=True)
    second.start()
    assert second.wait_idle(30)
    assert harness.fetched() == [path.read_bytes()]
    assert any("changed" in e.detail for e in later.of(MessageStateChanged))


def test_wait_idle_returns_after_a_fatal_error_however_the_threads_interleave(
        harness: Harness, recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """``popfetch fetch`` waits with wait_idle() and no timeout. Under load the worker can
    give up (a refused password) before start() has returned: the caller's thread is held
    right after the worker starts until the worker is idle, as a loaded scheduler did, and
    every later call must leave the engine idle again once the worker has seen it."""
    harness.add(tricky_message(random.Random(1), 500))
    harness.serve()
    engine = harness.engine(recorder, password="wrong")
    real_start = threading.Thread.start

    def parked(thread: threading.Thread) -> bool:
        """The worker sleeps in Intent.wait, having said it is idle."""
        frame = sys._current_frames().get(thread.ident or 0)
        while frame is not None:
            if frame.f_code is Intent.wait.__code__:
                return True
            frame = frame.f_back
        return False

    def start_then_stall(thread: threading.Thread) -> None:
        real_start(thread)
        if thread.name == f"popfetch {engine.account.key}":
            # the worker gave up and parked before start() goes on
            deadline = time.monotonic() + 30
            while not (engine.state is ConnectionState.FAILED and parked(thread)):
                assert time.monotonic() < deadline
                time.sleep(0.01)

    monkeypatch.setattr(threading.Thread, "start", start_then_stall)
    engine.start()
    monkeypatch.undo()
    assert engine.wait_idle(10)
    assert isinstance(engine.last_error, ErrorOccurred) and engine.last_error.fatal
    for call in (engine.refresh, engine.retry_now, lambda: engine.mark(["x"])):
        call()
        assert engine.wait_idle(10)
