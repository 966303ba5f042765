"""The store under SIGKILL: a child process writes and delivers and kills itself at a chosen
step, the test reopens the state and checks the invariants of DESIGN.md:

- the partial file and its recorded offset agree (trust the file up to the record);
- resuming from the record with the rest of the bytes gives exactly the message (LF);
- a delivered message is stored once: never lost, never duplicated.

SIGKILL does not lose the page cache, so this checks the order of operations (offsets
recorded only for bytes written, intents before renames), not the fsyncs themselves.

The kill points are deterministic: the child counts its calls to the os functions the
store writes with (write, pwrite, fsync, rename, ...) and SIGKILLs itself just before the
Nth. A kill timed by the clock would depend on the machine's speed (a fast child simply
finished first) and so would the test.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.store.local import Store
from core.store.state import AccountState

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
UIDL = "big/../uidl"  # a UIDL that must never become a path

CHILD = r"""
import os, random, signal, sys, threading
from pathlib import Path
from core.store.local import Store

maildir, state, msgfile, seed, mode, kill_at = sys.argv[1:7]
rng = random.Random(int(seed))
steps = 0
steps_lock = threading.Lock()  # background checkpoints fsync on their own thread


def counted(real):
    def step(*args, **kwargs):
        global steps
        with steps_lock:
            steps += 1
            if steps == int(kill_at):
                os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    return step


for name in ("write", "pwrite", "fsync", "ftruncate", "rename", "replace", "link", "unlink"):
    setattr(os, name, counted(getattr(os, name)))

store = Store(Path(maildir), Path(state), checkpoint_every=0)

def ready():
    sys.stdout.write("ready\n")
    sys.stdout.flush()

if mode == "partial":
    msg = Path(msgfile).read_bytes()
    p = store.begin(UIDL, len(msg))
    ready()
    pos = p.wire_offset
    while pos < len(msg):
        n = rng.choice([1, 2, 3, 17, 4096, 65536])
        p.write(msg[pos : pos + n])
        pos += n
        if rng.random() < 0.05:
            p.checkpoint()
    store.complete(p, exact=p.resumed)
else:
    count = int(mode)
    ready()
    while True:
        todo = [f"m{i}" for i in range(count) if not store.is_stored(f"m{i}")]
        if not todo:
            break
        uidl = todo[0]
        if rng.random() < 0.3:
            body = b"Subject: " + uidl.encode() + b"\r\n\r\n" + b"x\r\n" * rng.randrange(1, 3000)
            p = store.begin(uidl, len(body))
            pos = p.wire_offset
            while pos < len(body):
                p.write(body[pos : pos + 1000])
                pos += 1000
                p.checkpoint()
            store.complete(p, exact=p.resumed)
        else:
            batch = todo[: rng.randrange(1, 40)]
            store.deliver_batch(
                [(u, b"Subject: " + u.encode() + b"\r\n\r\nsmall\r\n") for u in batch]
            )
store.close()
sys.stdout.write(f"done after {steps} steps\n")
sys.stdout.flush()
""".replace("UIDL", repr(UIDL))


def run_child(
    maildir: Path, state: Path, msgfile: Path, seed: int, mode: str, kill_at: int | None
) -> bool:
    """Run the child; it SIGKILLs itself at its ``kill_at``-th write step (None: never).

    True if it finished (the work left took fewer steps than ``kill_at``).
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [str(maildir), str(state), str(msgfile), str(seed), mode, str(kill_at or 0)]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    try:
        assert child.stdout is not None
        readable, _, _ = select.select([child.stdout], [], [], 60)
        assert readable, "child did not start"
        line = child.stdout.readline()
        assert line == b"ready\n", child.stderr.read() if child.stderr else line
        child.wait(timeout=120)
        if child.returncode != 0 and child.returncode != -signal.SIGKILL:
            err = child.stderr.read().decode() if child.stderr else ""
            raise AssertionError(f"child failed ({child.returncode}):\n{err}")
        return child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def make_message(rng: random.Random, size: int) -> bytes:
    """Short lines (many CRLFs to split), dots at line starts, a few bare CRs."""
    pool = []
    for _ in range(500):
        line = bytes(rng.choice(b"abcdefghij .\r") for _ in range(rng.randrange(0, 60)))
        pool.append(line.lstrip(b"\r") + b"\r\n")
    lines = rng.choices(pool, k=size // 30)
    return b"Subject: big\r\n\r\n" + b"".join(lines)


def test_partial_survives_sigkill_at_chosen_points(tmp_path: Path) -> None:
    rng = random.Random(20261125)
    msg = make_message(rng, 12 << 20)
    lf = msg.replace(b"\r\n", b"\n")
    msgfile = tmp_path / "message"
    msgfile.write_bytes(msg)
    maildir, state = tmp_path / "Mail", tmp_path / "state"
    offsets: list[int] = []
    finished = False
    for round_ in range(12):
        # A 12 MB message takes ~1,000 writes; each round gets a little further.
        finished = run_child(
            maildir, state, msgfile, round_, "partial", kill_at=rng.randrange(1, 150)
        )
        with AccountState(state / "state.sqlite3") as st:
            if st.is_stored(UIDL):
                assert finished or st.partial(UIDL) is None
                break
            rec = st.partial(UIDL)
            if rec is None:  # killed before the first record
                continue
            data = (state / "partial" / rec.file_name).read_bytes()
        # The invariant: the file holds at least what the record vouches for, and that
        # prefix is exactly the LF form of the first wire_offset octets.
        assert len(data) >= rec.file_len
        assert data[: rec.file_len] == msg[: rec.wire_offset].replace(b"\r\n", b"\n")
        assert rec.wire_offset == 0 or msg[rec.wire_offset - 1] != 0x0D
        offsets.append(rec.wire_offset)
    assert len(offsets) >= 2, "the kills should land mid-message (make the message longer)"
    with Store(maildir, state) as store:
        if not store.is_stored(UIDL):
            p = store.begin(UIDL, len(msg))
            p.write(msg[p.wire_offset :])
            store.complete(p, exact=p.resumed)
        path = store.stored_path(UIDL)
        assert path is not None and path.read_bytes() == lf
        assert len(os.listdir(maildir / "new")) == 1
        assert os.listdir(state / "partial") == []
    print("recorded offsets after each kill:", offsets)


def test_deliveries_killed_at_chosen_points_are_neither_lost_nor_duplicated(
    tmp_path: Path,
) -> None:
    rng = random.Random(42)
    maildir, state = tmp_path / "Mail", tmp_path / "state"
    count = 400
    kills = 0
    for round_ in range(40):
        # Delivering all 400 takes several hundred steps: these kills land mid-way.
        kill = None if round_ == 39 else rng.randrange(1, 120)
        if run_child(maildir, state, tmp_path / "unused", round_, str(count), kill):
            break
        kills += 1
        # After each kill, every file in new/ or cur/ is a recorded delivery and the
        # other way round (reconciliation runs on open).
        with Store(maildir, state) as store:
            check_one_file_per_stored_uidl(store)
    with Store(maildir, state) as store:
        assert store.stored_uidls() == {f"m{i}" for i in range(count)}
        check_one_file_per_stored_uidl(store)
    assert kills >= 3
    print("killed", kills, "times")


def check_one_file_per_stored_uidl(store: Store) -> None:
    files = list(store.maildir.new.iterdir()) + list(store.maildir.cur.iterdir())
    subjects = [f.read_bytes().split(b"\n", 1)[0] for f in files]
    assert len(subjects) == len(set(subjects)), "a message was delivered twice"
    stored = store.stored_uidls()
    assert {s.removeprefix(b"Subject: ").decode() for s in subjects} == stored
    for uidl in stored:
        path = store.stored_path(uidl)
        assert path is not None and path.read_bytes().startswith(b"Subject: " + uidl.encode())
