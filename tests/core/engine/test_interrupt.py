"""Interruptible everywhere (issue 7 item 3): at each blocking point, shutdown() returns
within a second and releases the store, so a second engine opens the same store at once.

Each test waits for the positive signal that the worker is blocked there (the fake server
reached that point, or the connect is pending), then measures shutdown().
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.accounts import Account
from core.engine.coordinator import Engine, RetryPolicy
from core.engine.events import ConnectionChanged, ConnectionState, MessageState
from core.net import Security
from core.store.local import Store
from tests.support.engine import Recorder
from tests.support.fakepop import FakePop3

BIG = b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n"


def _engine(address: tuple[str, int], root: Path, recorder: Recorder, **kwargs: object) -> Engine:
    account = Account(
        host=address[0], port=address[1], security=kwargs.pop("security", Security.NONE),
        user="alice", maildir=str(root / "Mail"), allow_plaintext=True,
    )
    return Engine(
        account, password=lambda: "pw", listener=recorder,
        store=Store(root / "Mail", root / "state"),
        retry=RetryPolicy(initial=0.05, maximum=0.5, max_failures=50),
        read_timeout=kwargs.pop("read_timeout", 30.0), connect_timeout=30.0,  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def _shutdown_is_prompt(engine: Engine, root: Path) -> None:
    start = time.monotonic()
    engine.shutdown(timeout=5)
    took = time.monotonic() - start
    assert took < 1.0, f"shutdown took {took:.2f} s"
    # A second engine (an edited account, say) opens the same store at once.
    second = _engine(("127.0.0.1", 9), root, Recorder())
    second.shutdown()


@pytest.mark.parametrize(
    ("stall", "kwargs"),
    [
        ("greeting", {}),
        ("accept", {"security": Security.TLS}),  # the TLS handshake never starts
        ("LIST", {}),
        ("TOP", {}),
        ("RETR", {"auto_download": True}),
    ],
)
def test_shutdown_within_a_second_at_each_blocking_point(
    tmp_path: Path, stall: str, kwargs: dict[str, object]
) -> None:
    messages = [BIG * 5000]  # ~400 KB: the large-message path, streamed to a partial
    with FakePop3(messages, stall=stall) as server:
        engine = _engine(server.address, tmp_path, Recorder(), **kwargs)
        engine.start()
        assert server.reached.wait(10)
        _shutdown_is_prompt(engine, tmp_path)


def test_shutdown_within_a_second_when_a_reply_trickles(tmp_path: Path) -> None:
    with FakePop3([BIG], trickle="LIST") as server:
        engine = _engine(server.address, tmp_path, Recorder())
        engine.start()
        assert server.reached.wait(10)
        _shutdown_is_prompt(engine, tmp_path)


def test_a_trickling_reply_has_an_overall_deadline(tmp_path: Path) -> None:
    """One line every 0.2 s never trips the read timeout; the reply deadline ends it."""
    recorder = Recorder()
    with FakePop3([BIG], trickle="LIST") as server:
        # the deadline is read_timeout + octets / MIN_RATE
        engine = _engine(server.address, tmp_path, recorder, read_timeout=1.0)
        engine.start()
        try:
            recorder.wait_for(lambda: any(
                e.state is ConnectionState.RECONNECTING and "trickles" in e.detail
                for e in recorder.of(ConnectionChanged)
            ), timeout=20)
        finally:
            engine.shutdown(5)


@pytest.fixture
def stalled_listener() -> Iterator[tuple[str, int]]:
    """A port whose accept queue is full: a connect to it waits for a SYN-ACK that never
    comes (the kernel drops SYNs to a full queue)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    for _ in range(4):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(address)
        fillers.append(sock)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(address)
        pytest.skip("this kernel accepted past a full queue: no stalled connect here")
    except TimeoutError:
        pass
    finally:
        probe.close()
    yield address
    for sock in fillers:
        sock.close()
    listener.close()


def test_shutdown_within_a_second_during_a_stalled_connect(
    tmp_path: Path, stalled_listener: tuple[str, int]
) -> None:
    recorder = Recorder()
    engine = _engine(stalled_listener, tmp_path, recorder)
    engine.start()
    recorder.wait_for(lambda: any(
        e.state is ConnectionState.CONNECTING for e in recorder.of(ConnectionChanged)
    ))
    _shutdown_is_prompt(engine, tmp_path)


def test_disconnect_during_a_stalled_connect_takes_effect_at_once(
    tmp_path: Path, stalled_listener: tuple[str, int]
) -> None:
    recorder = Recorder()
    engine = _engine(stalled_listener, tmp_path, recorder)
    engine.start()
    try:
        recorder.wait_for(lambda: any(
            e.state is ConnectionState.CONNECTING for e in recorder.of(ConnectionChanged)
        ))
        start = time.monotonic()
        engine.disconnect()
        recorder.wait_for(lambda: recorder.of(ConnectionChanged)[-1].state
                          is ConnectionState.DISCONNECTED, timeout=5)
        assert time.monotonic() - start < 1.0
    finally:
        engine.shutdown(5)


def test_a_paused_large_message_keeps_its_partial_after_shutdown(tmp_path: Path) -> None:
    with FakePop3([BIG * 5000], stall="RETR", stall_after=100_000) as server:
        engine = _engine(server.address, tmp_path, Recorder(), auto_download=True)
        engine.start()
        partials = tmp_path / "state" / "partial"
        deadline = time.monotonic() + 20  # the body is on disk: a positive signal
        while not any(f.stat().st_size > 90_000 for f in partials.glob("*")):
            assert time.monotonic() < deadline, "the partial never grew"
            time.sleep(0.02)
        _shutdown_is_prompt(engine, tmp_path)
    with Store(tmp_path / "Mail", tmp_path / "state") as store:
        assert store.partial_offsets().get("u1", 0) > 0


@pytest.mark.parametrize("capa", [("EXT-RETR",), ()])
def test_pause_and_cancel_take_effect_within_a_second_in_a_stalled_body(
    tmp_path: Path, capa: tuple[str, ...]
) -> None:
    recorder = Recorder()
    with FakePop3([BIG * 5000], stall="RETR", capa=capa) as server:
        engine = _engine(server.address, tmp_path, recorder, auto_download=True)
        engine.start()
        try:
            assert server.reached.wait(10)
            start = time.monotonic()
            engine.pause(["u1"])
            recorder.wait_for(lambda: MessageState.PAUSED in recorder.states("u1"), timeout=5)
            assert time.monotonic() - start < 1.0
            start = time.monotonic()
            engine.cancel(["u1"])
            recorder.wait_for(lambda: recorder.states("u1")[-1] is MessageState.REMOTE,
                              timeout=5)
            assert time.monotonic() - start < 1.0
        finally:
            engine.shutdown(5)


def test_shutdown_of_an_idle_session_is_rset_then_quit_within_a_second(tmp_path: Path) -> None:
    recorder = Recorder()
    with FakePop3([BIG, BIG]) as server:
        engine = _engine(server.address, tmp_path, recorder)
        engine.start()
        recorder.wait_for(lambda: engine.messages())
        engine.mark(["u1"])
        recorder.wait_for(lambda: "DELE 1" in server.commands)
        assert engine.wait_idle(10)
        _shutdown_is_prompt(engine, tmp_path)
        assert server.commands[-2:] == ["RSET", "QUIT"]
        assert server.deleted == []
