"""Fault suite: connections cut at random bytes, a lost QUIT, a killed process.

Every stored message must equal the source, be stored once, and be deleted on the server
only after it was durable; a cut before QUIT deletes nothing.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.demoserver import DemoServer
from core.engine.events import CommitFinished, MarksChanged
from tests.support.engine import PASSWORD, Harness, Recorder
from tests.support.mail import big_message, read_maildir, tricky_message

ROOT = Path(__file__).resolve().parents[2]
CUTS = 20


class DeleteGuard(Recorder):
    """Fails the test if a message is marked (and so DELE'd) before it was stored."""

    def __init__(self) -> None:
        super().__init__()
        self.early: list[str] = []

    def __call__(self, event):  # type: ignore[no-untyped-def]
        if isinstance(event, MarksChanged):
            stored = self.stored()
            self.early.extend(u for u in event.marked if u not in stored)
        super().__call__(event)


@pytest.mark.slow
def test_twenty_random_cuts_lose_nothing_and_resend_little(harness: Harness):
    seed = int(os.environ.get("POPFETCH_FAULT_SEED", "20261125"))
    rng = random.Random(seed)
    big_message(harness.src / "new" / "1700000000.big.test", 50_000_000)
    for _ in range(200):
        harness.add(tricky_message(rng, rng.randrange(500, 6000)))
    source = harness.source()
    server = harness.serve()
    total = sum(len(m) for m in source) * 1.03
    positions = sorted(rng.sample(range(1, int(total)), CUTS))
    server.faults.cut_at(positions)

    guard = DeleteGuard()
    engine = harness.engine(guard, auto_download=True, delete_after_fetch=True)
    engine.start()
    assert engine.wait_idle(180)
    engine.commit()
    guard.wait_for(lambda: guard.of(CommitFinished), timeout=60)

    fetched = harness.fetched()
    assert fetched == source, f"seed {seed}"
    assert len(fetched) == len(set(map(bytes, fetched))) == 201
    assert guard.early == []
    assert guard.of(CommitFinished)[-1].ok
    assert len(server.deleted) == 201 and harness.source() == []
    resent = engine.stats.received_bytes - engine.stats.fetched_bytes
    cuts_hit = server.faults.body_bytes_sent >= positions[-1]
    print(f"\nseed {seed}: {CUTS} cuts, {engine.stats.reconnects} reconnects, "
          f"{resent} octets received twice ({resent / CUTS:.0f} per cut)")
    assert cuts_hit
    assert resent < CUTS * 1024 * 1024


def test_a_connection_lost_at_quit_deletes_nothing_and_the_next_run_commits(
    harness: Harness, recorder: Recorder
):
    from core.engine.coordinator import RetryPolicy

    rng = random.Random(5)
    for _ in range(10):
        harness.add(tricky_message(rng, 2000))
    server = harness.serve()
    engine = harness.engine(recorder, auto_download=True, delete_after_fetch=True,
                            retry=RetryPolicy(initial=0.01, max_failures=2))
    engine.start()
    assert engine.wait_idle(30)
    server.faults.garbage.add("QUIT")  # QUIT never gets a POP3 answer: the link is gone
    engine.commit()
    assert engine.wait_idle(30)
    engine.shutdown()
    assert server.deleted == [] and len(harness.source()) == 10
    assert not recorder.of(CommitFinished)

    server.faults.garbage.clear()
    later = Recorder()
    second = harness.engine(later)
    second.start()
    later.wait_for(lambda: later.of(MarksChanged))
    second.commit()
    later.wait_for(lambda: later.of(CommitFinished))
    assert later.of(CommitFinished)[0].ok
    assert len(server.deleted) == 10 and harness.source() == []
    assert len(harness.fetched()) == 10


def _cli(port: int, root: Path, *extra: str, wrapper: tuple[str, ...] = ()
         ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*wrapper, sys.executable, "-m", "core.cli", "fetch",
         "--host", "127.0.0.1", "--port", str(port),
         "--security", "none", "--allow-plaintext", "--user", "alice",
         "--maildir", str(root / "dst"), "--state-dir", str(root / "state"), *extra],
        cwd=ROOT, env=dict(os.environ, POPFETCH_PASSWORD=PASSWORD),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.slow
def test_a_killed_process_resumes_the_partial_on_the_next_run(tmp_path: Path):
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    big_message(src / "new" / "1700000000.big.test", 20_000_000)
    with DemoServer(src, users={"alice": PASSWORD}, rate=4_000_000) as slow:
        proc = _cli(slow.address[1], tmp_path)
        partial = tmp_path / "state" / "partial"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sizes = [p.stat().st_size for p in partial.glob("*")] if partial.exists() else []
            if sizes and max(sizes) > 6_000_000:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            pytest.fail("the partial never grew")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with DemoServer(src, users={"alice": PASSWORD}) as fast:
        proc = _cli(fast.address[1], tmp_path)
        out, err = proc.communicate(timeout=60)
        retrs = [c for c in fast.commands if c.startswith("RETR")]
    assert proc.returncode == 0, err
    assert "1 messages" in out and "1 resumed" in out, out
    assert len(retrs) == 1 and re.fullmatch(r"RETR 1 \d+", retrs[0]), retrs
    assert read_maildir(tmp_path / "dst") == read_maildir(src)


@pytest.mark.slow
def test_a_1_gb_message_is_fetched_in_under_100_mb_of_memory(tmp_path: Path):
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    size = 1_000_000_000
    big_message(src / "new" / "1700000000.huge.test", size)
    with DemoServer(src, users={"alice": PASSWORD}) as server:
        wrapper = (sys.executable, str(ROOT / "tests" / "support" / "peakrss.py"))
        proc = _cli(server.address[1], tmp_path, "-q", wrapper=wrapper)
        out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    peak_mb = int(err.split("peak-rss-kib ")[-1]) / 1024
    print(f"\npeak RSS fetching 1 GB: {peak_mb:.0f} MB; {out.strip()}")
    assert peak_mb < 100
    (stored,) = (tmp_path / "dst" / "new").iterdir()
    assert stored.stat().st_size == (src / "new" / "1700000000.huge.test").stat().st_size
