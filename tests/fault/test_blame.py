"""Blame by evidence (issue 7 item 2, DESIGN rule 14) on bad links and broken servers.

Each run must end with every healthy message stored exactly once and intact, none FAILED
but the one the evidence names, the octets sent again reported, and in bounded time.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.accounts import Account
from core.cli import main
from core.demoserver import DemoServer
from core.engine.coordinator import Engine, RetryPolicy
from core.engine.events import MessageState, MessageStateChanged
from core.net import Security
from core.store.local import Store
from tests.support.engine import PASSWORD, Harness, Recorder
from tests.support.fakepop import FakePop3
from tests.support.mail import big_message, read_maildir, tricky_message
from tests.support.proxy import CuttingProxy

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(initial=0.01, maximum=0.05, max_failures=20)


def _failed(recorder: Recorder) -> list[MessageStateChanged]:
    return [e for e in recorder.of(MessageStateChanged) if e.state is MessageState.FAILED]


def _cuts(rng: random.Random, total: int, low: int, high: int) -> list[int]:
    positions, at = [], 0
    while at < total:
        at += rng.randrange(low, high)
        positions.append(at)
    return positions


def _report(engine: Engine, what: str) -> None:
    s = engine.stats
    print(f"\n{what}: {s.reconnects} reconnects, {s.received_bytes - s.fetched_bytes} "
          f"octets sent again, {s.fetched} stored")


def test_cuts_every_1_to_5_kb_over_120_dot_heavy_messages(harness: Harness) -> None:
    rng = random.Random(71)
    for _ in range(120):
        harness.add(tricky_message(rng, rng.randrange(1500, 6000)))
    source = harness.source()
    server = harness.serve()
    server.faults.cut_at(_cuts(rng, int(sum(map(len, source)) * 1.2), 1000, 5000))
    recorder = Recorder()
    engine = harness.engine(recorder, auto_download=True, list_headers=False, retry=FAST)
    engine.start()
    assert engine.wait_idle(120)
    _report(engine, "cuts every 1-5 KB")
    assert _failed(recorder) == []
    assert harness.fetched() == source
    assert engine.stats.reconnects >= 50
    # a cut mid-body keeps what arrived and resumes by offset: little or nothing is re-sent
    assert engine.stats.received_bytes - engine.stats.fetched_bytes < 64 * 1024


def test_cuts_every_10_to_50_kb_across_8_mb_with_ext_retr(harness: Harness) -> None:
    rng = random.Random(72)
    big_message(harness.src / "new" / "1700000000.big.test", 8_000_000)
    server = harness.serve()
    server.faults.cut_at(_cuts(rng, 8_300_000, 10_000, 50_000))
    recorder = Recorder()
    engine = harness.engine(recorder, auto_download=True, list_headers=False, retry=FAST)
    engine.start()
    assert engine.wait_idle(180)
    _report(engine, "cuts every 10-50 KB")
    assert _failed(recorder) == []
    assert harness.fetched() == harness.source()
    assert engine.stats.reconnects >= 150
    # resumed by offset: what is sent again is at most a partial read per cut
    assert engine.stats.received_bytes - engine.stats.fetched_bytes < 2_000_000


def test_random_drops_lose_nothing(harness: Harness) -> None:
    rng = random.Random(73)
    for _ in range(60):
        harness.add(tricky_message(rng, rng.randrange(500, 4000)))
    big_message(harness.src / "new" / "1700000000.big.test", 2_000_000)
    source = harness.source()
    server = harness.serve()
    server.faults.random_drop = 0.3
    recorder = Recorder()
    engine = harness.engine(recorder, auto_download=True, retry=FAST)
    engine.start()
    assert engine.wait_idle(120)
    _report(engine, "random drops")
    assert _failed(recorder) == []
    assert harness.fetched() == source


def test_cuts_during_login_and_listing_are_never_blamed_on_a_message(harness: Harness) -> None:
    rng = random.Random(77)
    for _ in range(30):
        harness.add(tricky_message(rng, 2000))
    server = harness.serve()
    recorder = Recorder()
    # Each of the first connections breaks earlier than its listing ends, five times as
    # many as a message may break at the same place.
    cuts = [20, 60, 120, 200, 300, 450, 600, 800, 1000, 1200] * 2
    with CuttingProxy(server.address, cuts=cuts) as proxy:
        account = harness.account(host=proxy.address[0], port=proxy.address[1])
        engine = harness.engine(recorder, account=account, auto_download=True, retry=FAST)
        engine.start()
        assert engine.wait_idle(60)
        assert proxy.connections > len(cuts)
    assert _failed(recorder) == []
    assert harness.fetched() == harness.source()


def test_a_poison_message_fails_alone_with_a_reason(harness: Harness) -> None:
    rng = random.Random(74)
    for _ in range(8):
        harness.add(tricky_message(rng, 3000))
    poison = b"From: p@example.org\nSubject: poison\n\n" + b"line\n" * 300 + b"POISON-7f3a\n"
    harness.add(poison)
    for _ in range(8):
        harness.add(tricky_message(rng, 3000))
    server = harness.serve()
    recorder = Recorder()
    with CuttingProxy(server.address, poison=b"POISON-7f3a") as proxy:
        account = harness.account(host=proxy.address[0], port=proxy.address[1])
        engine = harness.engine(recorder, account=account, auto_download=True, retry=FAST)
        engine.start()
        assert engine.wait_idle(60)
    failed = _failed(recorder)
    assert len(failed) == 1 and "every time" in failed[0].detail, failed
    assert sorted(harness.fetched()) == sorted(m for m in harness.source() if b"POISON" not in m)
    assert len(harness.fetched()) == 16


def _fetch(port: int, root: Path, *extra: str) -> int:
    return main([
        "fetch", "--host", "127.0.0.1", "--port", str(port), "--security", "none",
        "--allow-plaintext", "--user", "alice", "--maildir", str(root / "dst"),
        "--state-dir", str(root / "state"), "--retry-delay", "0.01", "-q", *extra,
    ])


def test_without_ext_retr_a_link_that_always_drops_ends_with_exit_1(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    big_message(harness.src / "new" / "1700000000.big.test", 1_000_000)
    rng = random.Random(75)
    for _ in range(5):
        harness.add(tricky_message(rng, 2000))
    server = harness.serve(ext_retr=False)
    server.faults.drop_every = 300_000
    start = time.monotonic()
    status = _fetch(server.address[1], harness.root, "--max-retries", "3")
    took = time.monotonic() - start
    err = capsys.readouterr().err
    assert status == 1, err
    assert "cannot resume" in err and "link drops every" in err, err
    assert took < 30
    assert len(read_maildir(harness.dst)) == 5  # the rest of the queue went on


@pytest.mark.parametrize("verb", [b"DELE", b"QUIT"])
def test_a_server_that_drops_on_dele_or_quit_is_bounded_and_deletes_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, verb: bytes
) -> None:
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    rng = random.Random(76)
    for _ in range(5):
        harness.add(tricky_message(rng, 2000))
    server = harness.serve()
    with CuttingProxy(server.address, drop_on=verb) as proxy:
        start = time.monotonic()
        status = _fetch(proxy.address[1], harness.root, "--delete", "--max-retries", "3")
        took = time.monotonic() - start
        drops = proxy.drops
    assert status == 2
    assert took < 30 and drops <= 6, (took, drops)
    assert server.deleted == [] and len(harness.source()) == 5
    assert len(read_maildir(harness.dst)) == 5


def test_fetch_exits_within_2_s_of_sigterm_with_status_2_and_keeps_the_partial(
    tmp_path: Path,
) -> None:
    body = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 6000
    with FakePop3([body], stall="RETR", stall_after=200_000) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "fetch", "--host", "127.0.0.1",
             "--port", str(server.address[1]), "--security", "none", "--allow-plaintext",
             "--user", "alice", "--maildir", str(tmp_path / "dst"),
             "--state-dir", str(tmp_path / "state"), "-q"],
            cwd=ROOT, env=dict(os.environ, POPFETCH_PASSWORD="pw"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert server.reached.wait(20)
            partials = tmp_path / "state" / "partial"
            deadline = time.monotonic() + 20  # the body is on disk: a positive signal
            while not any(f.stat().st_size > 150_000 for f in partials.glob("*")):
                assert time.monotonic() < deadline, "the partial never grew"
                time.sleep(0.02)
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=10)
            took = time.monotonic() - start
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 2, err
    assert took < 2.0, took
    assert "interrupted" in err and "fetched" in out
    with Store(tmp_path / "dst", tmp_path / "state") as store:
        assert store.partial_offsets().get("u1", 0) > 150_000


def test_starttls_waits_for_a_slow_handshake_under_the_users_timeout(tmp_path: Path) -> None:
    from tests.support.certs import make_ca_and_server_cert

    certs = make_ca_and_server_cert(tmp_path / "certs")
    recorder = Recorder()
    body = b"Subject: hi\r\n\r\nhello\r\n"
    with FakePop3([body], tls=(certs.cert_pem, certs.key_pem), tls_delay=1.5) as server:
        account = Account(
            host="127.0.0.1", port=server.address[1], security=Security.STARTTLS,
            user="alice", maildir=str(tmp_path / "dst"), cafile=str(certs.ca_pem),
        )
        engine = Engine(account, password=lambda: "pw", listener=recorder,
                        store=Store(tmp_path / "dst", tmp_path / "state"),
                        retry=RetryPolicy(max_failures=0), auto_download=True)
        engine.start()
        try:
            assert engine.wait_idle(20)
        finally:
            engine.shutdown(5)
    assert engine.last_error is None
    assert recorder.stored() == {"u1"}
    assert read_maildir(tmp_path / "dst") == [b"Subject: hi\n\nhello\n"]
    assert [c for c in server.commands if c == "STLS"] == ["STLS"]


def test_demo_server_helper_is_loopback(tmp_path: Path) -> None:
    """The fake servers in this suite bind loopback only (no test talks to the network)."""
    with FakePop3([b"x"]) as fake:
        assert fake.address[0] == "127.0.0.1"
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    with DemoServer(src, users={"alice": PASSWORD}) as demo:
        assert demo.address[0] == "127.0.0.1"
