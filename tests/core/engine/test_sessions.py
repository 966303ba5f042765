"""Sessions that match POP3's model (issue 7 item 4): every one ends with QUIT, an idle one
ends by itself, and while idle the engine lets go of the maildrop and of its store."""

from __future__ import annotations

import random

import pytest

from core.cli import main
from core.engine.events import ConnectionChanged, ConnectionState, ListLoaded, MessageState
from core.store.local import Store
from tests.support.engine import PASSWORD, Harness, Recorder
from tests.support.mail import tricky_message


def _fill(harness: Harness, count: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        harness.add(tricky_message(rng, 1500))


def _ended(recorder: Recorder) -> int:
    return sum(e.state is ConnectionState.DISCONNECTED for e in recorder.of(ConnectionChanged))


def test_an_idle_session_ends_with_quit_and_the_next_action_reconnects(
    harness: Harness, recorder: Recorder
) -> None:
    _fill(harness, 2)
    server = harness.serve()
    engine = harness.engine(recorder, idle_end=0.3)
    engine.start()
    recorder.wait_for(lambda: _ended(recorder) == 1)
    assert server.commands[-1] == "QUIT"
    with Store(harness.dst, harness.state):  # the store is free while idle
        pass
    engine.download()
    recorder.wait_for(lambda: len(recorder.stored()) == 2)
    assert server.commands.count("PASS") + server.commands.count("AUTH PLAIN") == 2


def test_marks_made_while_idle_are_journalled_and_issued_by_the_next_session(
    harness: Harness, recorder: Recorder
) -> None:
    _fill(harness, 3)
    server = harness.serve()
    engine = harness.engine(recorder, idle_end=0.3)
    engine.start()
    recorder.wait_for(lambda: _ended(recorder) == 1)
    (first, *_) = [m.uidl for m in recorder.of(ListLoaded)[0].messages]
    engine.mark([first])
    recorder.wait_for(lambda: first in engine.messages()[0].uidl and engine.messages()[0].marked)
    assert not any(c.startswith("DELE") for c in server.commands)  # marks are not work
    engine.commit()
    recorder.wait_for(lambda: server.deleted == [first])


def test_a_cron_run_meanwhile_is_not_fetched_again(
    harness: Harness, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(harness, 3)
    server = harness.serve()
    engine = harness.engine(recorder, idle_end=0.3)
    engine.start()
    recorder.wait_for(lambda: _ended(recorder) == 1)
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    status = main([
        "fetch", "--host", "127.0.0.1", "--port", str(server.address[1]), "--security",
        "none", "--allow-plaintext", "--user", "alice", "--maildir", str(harness.dst),
        "--state-dir", str(harness.state), "-q",
    ])
    assert status == 0
    retrs = sum(c.startswith("RETR") for c in server.commands)
    engine.refresh()
    recorder.wait_for(lambda: all(m.state is MessageState.STORED for m in engine.messages())
                      and len(engine.messages()) == 3)
    assert sum(c.startswith("RETR") for c in server.commands) == retrs
    assert harness.fetched() == harness.source()


def test_a_check_after_the_idle_end_logs_in_once(harness: Harness, recorder: Recorder) -> None:
    """With no session open, the check's own session is the fresh one: one login, not a
    reconnect followed by a second session (a strict LOGIN-DELAY would refuse that one)."""
    _fill(harness, 2)
    server = harness.serve()
    engine = harness.engine(recorder, idle_end=0.3)
    engine.start()
    recorder.wait_for(lambda: _ended(recorder) == 1)
    engine.refresh()
    recorder.wait_for(lambda: len(recorder.of(ListLoaded)) == 2)  # the check's list
    recorder.wait_for(lambda: _ended(recorder) == 2)  # and its session ended idle
    assert server.commands.count("PASS") + server.commands.count("AUTH PLAIN") == 2
    assert server.commands.count("QUIT") == 2
