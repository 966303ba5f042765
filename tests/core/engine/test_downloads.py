"""core.engine.downloads: how delivery outcomes become message states.

A target that refuses a whole batch (an mbox locked by another program past the wait)
fails each of its messages for this run, kept on the server; it neither loses them from
the run nor reconnects over and over. A target that cannot be used at all stops the
account with one clear error.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

from core.engine.coordinator import Engine, RetryPolicy
from core.engine.events import ErrorOccurred, MessageState
from core.store.forward import TargetStore
from core.store.mbox import MboxTarget
from tests.core.store.test_mbox import _hold_lock
from tests.support.engine import PASSWORD, Harness, Recorder


def _engine(harness: Harness, recorder: Recorder, box: Path, **target: float) -> Engine:
    engine = Engine(
        harness.account(), password=lambda: PASSWORD, listener=recorder,
        store=TargetStore(MboxTarget(box, **target), harness.state),
        retry=RetryPolicy(initial=0.05, maximum=0.5, max_failures=3),
        auto_download=True, read_timeout=10.0,
    )
    harness.engines.append(engine)
    return engine


def test_a_batch_the_target_refuses_fails_each_message_and_the_next_run_delivers_them(
    harness: Harness, recorder: Recorder, tmp_path: Path
) -> None:
    for i in range(3):
        harness.add(f"Subject: m{i}\r\n\r\nbody {i}\r\n".encode())
    harness.serve()
    box = tmp_path / "box"
    holder = _hold_lock(box)
    try:
        engine = _engine(harness, recorder, box, lock_timeout=0.2)
        engine.start()
        assert engine.wait_idle(30)
        failed = [m for m in engine.messages() if m.state is MessageState.FAILED]
        assert len(failed) == 3 and engine.stats.failed == 3
        assert engine.stats.fetched == 0 and engine.stats.reconnects == 0
        engine.shutdown(10)
    finally:
        holder.communicate(b"", timeout=10)
    assert harness.server is not None and harness.server.deleted == []

    later = Recorder()
    second = _engine(harness, later, box)
    second.start()
    assert second.wait_idle(30)
    assert second.stats.fetched == 3
    assert sorted(m["Subject"] for m in mailbox.mbox(str(box))) == ["m0", "m1", "m2"]


def test_a_path_that_cannot_be_an_mbox_stops_the_account_with_one_error(
    harness: Harness, recorder: Recorder, tmp_path: Path
) -> None:
    harness.add(b"Subject: m\r\n\r\nbody\r\n")
    harness.serve()
    engine = _engine(harness, recorder, tmp_path / "no such dir" / "box")
    engine.start()
    assert engine.wait_idle(30)
    fatal = [e for e in recorder.of(ErrorOccurred) if e.fatal]
    assert len(fatal) == 1 and "cannot open: No such file or directory" in fatal[0].message
    assert engine.stats.reconnects == 0 and engine.stats.fetched == 0
