"""The server as a whole: lock, Update state, lifecycle, throttling and injected faults."""

from __future__ import annotations

import poplib
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from core.demoserver import DemoServer, Faults

from .conftest import MSG_A, MSG_B, MSG_C, TIMEOUT, Raw, crlf, unstuff, write_maildir

Make = Callable[..., DemoServer]


def files(root: Path) -> set[str]:
    return {p.name for sub in ("new", "cur") for p in (root / sub).iterdir()}


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# ----------------------------------------------------------------- lifecycle


def test_address_and_context_manager(maildir: Path) -> None:
    server = DemoServer(maildir)
    with pytest.raises(RuntimeError):
        server.address  # noqa: B018
    with server:
        host, port = server.address
        assert host == "127.0.0.1" and port > 0
        assert server.start() == (host, port)  # idempotent
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=1).recv(1)


def test_stop_closes_open_connections_and_deletes_nothing(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir)
    client = Raw.connect(server.address)
    client.login()
    client.send(b"DELE 1\r\n")
    assert client.line().startswith(b"+OK")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    assert client.read_to_eof() == b""
    assert files(maildir) == {"m1.aaa", "m2.bbb:2,S", "m3.ccc"} and server.deleted == []
    assert not server.locked


def test_serve_forever_until_stop(maildir: Path) -> None:
    server = DemoServer(maildir)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        wait_until(lambda: server._listener is not None)
        client = poplib.POP3(*server.address, timeout=TIMEOUT)
        assert client.getwelcome().startswith(b"+OK")
        client.quit()
    finally:
        server.stop()
        thread.join(TIMEOUT)
    assert not thread.is_alive()


def test_idle_timeout_closes_and_deletes_nothing(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, idle_timeout=0.3)
    client = Raw.connect(server.address)
    client.login()
    client.send(b"DELE 1\r\n")
    client.line()
    assert client.read_to_eof() == b""
    assert len(files(maildir)) == 3 and not server.locked


# ----------------------------------------------------------------- lock


def test_second_session_gets_in_use_until_the_first_ends(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, users={"demo": "demo", "other": "pw"})
    first = Raw.connect(server.address)
    first.login()
    assert server.locked
    for user, password in (("demo", "demo"), ("other", "pw")):
        second = poplib.POP3(*server.address, timeout=TIMEOUT)
        second.user(user)
        with pytest.raises(poplib.error_proto, match=r"-ERR \[IN-USE\]"):
            second.pass_(password)
        second.quit()
    first.quit()
    second = poplib.POP3(*server.address, timeout=TIMEOUT)
    second.user("demo")
    second.pass_("demo")
    second.quit()


@pytest.mark.parametrize("how", ["close", "shutdown-write", "cut"])
def test_lock_released_however_the_connection_ends(
    maildir: Path, make_server: Make, how: str
) -> None:
    server = make_server(maildir)
    first = Raw.connect(server.address)
    first.login()
    if how == "close":
        first.close()
    elif how == "shutdown-write":
        first.sock.shutdown(socket.SHUT_WR)
    else:
        server.cut_at([server.body_bytes_sent + 10])
        first.send(b"RETR 1\r\n")
        first.line()
        assert len(first.read_to_eof()) == 10
    wait_until(lambda: not server.locked)
    second = Raw.connect(server.address)
    second.login()
    second.quit()


def test_login_delay(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, login_delay=60)
    client = Raw.connect(server.address)
    client.login()
    client.quit()
    client = Raw.connect(server.address)
    client.line()
    client.send(b"USER demo\r\nPASS demo\r\n")
    client.line()
    assert client.line().startswith(b"-ERR [LOGIN-DELAY]")
    client.close()


# ----------------------------------------------------------------- Update state


def test_wait_unlocked(maildir: Path, server: DemoServer) -> None:
    client = Raw.connect(server.address)
    client.login()
    assert not server.wait_unlocked(0.05)
    client.close()
    assert server.wait_unlocked(TIMEOUT)


def test_quit_deletes_marked_files(maildir: Path, server: DemoServer) -> None:
    client = Raw.connect(server.address)
    client.login()
    client.send(b"DELE 1\r\nDELE 3\r\nSTAT\r\n")
    assert [client.line()[:3] for _ in range(2)] == [b"+OK", b"+OK"]
    assert client.line() == b"+OK 1 %d" % len(crlf(MSG_B))
    assert len(files(maildir)) == 3  # DELE only marks
    assert client.quit() == b"+OK Logging out, 2 messages deleted"
    assert files(maildir) == {"m2.bbb:2,S"}
    assert server.deleted == ["m1.aaa", "m3.ccc"]
    client = Raw.connect(server.address)
    client.login()
    client.send(b"UIDL\r\n")
    client.line()
    assert client.body() == b"1 m2.bbb\r\n"  # renumbered in the next session
    client.quit()


def test_rset_unmarks_everything(maildir: Path, server: DemoServer) -> None:
    client = Raw.connect(server.address)
    client.login()
    client.send(b"DELE 1\r\nDELE 2\r\nRSET\r\nRETR 1\r\n")
    assert [client.line()[:3] for _ in range(3)] == [b"+OK"] * 3
    assert client.line().startswith(b"+OK")
    assert unstuff(client.body()) == crlf(MSG_A)
    client.quit()
    assert len(files(maildir)) == 3 and server.deleted == []


def test_quit_in_authorization_deletes_nothing(maildir: Path, server: DemoServer) -> None:
    client = Raw.connect(server.address)
    client.line()
    assert client.quit().startswith(b"+OK")
    assert len(files(maildir)) == 3


def test_dropped_connection_deletes_nothing(maildir: Path, server: DemoServer) -> None:
    client = Raw.connect(server.address)
    client.login()
    client.send(b"DELE 1\r\nDELE 2\r\n")
    client.line()
    client.line()
    client.close()
    wait_until(lambda: not server.locked)
    assert len(files(maildir)) == 3 and server.deleted == []


def test_cut_before_quit_keeps_files(maildir: Path, server: DemoServer) -> None:
    server.cut_at([100])
    client = Raw.connect(server.address)
    client.login()
    client.send(b"DELE 1\r\nRETR 3\r\nQUIT\r\n")  # QUIT is queued but never reached
    client.line()
    client.line()
    assert len(client.read_to_eof()) == 100
    wait_until(lambda: not server.locked)
    assert len(files(maildir)) == 3 and server.deleted == []
    assert server.commands[-1] == "RETR 3"  # the pipelined QUIT was never reached


def test_quit_reports_files_it_could_not_remove(maildir: Path, server: DemoServer) -> None:
    client = Raw.connect(server.address)
    client.login()
    client.send(b"DELE 1\r\n")
    client.line()
    (maildir / "new" / "m1.aaa").unlink()
    (maildir / "new" / "m1.aaa").mkdir()
    assert client.quit().startswith(b"-ERR [SYS/TEMP]")
    assert server.deleted == []


def test_pipelining_off_still_answers_in_order(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, pipelining=False)
    client = Raw.connect(server.address)
    client.line()
    client.send(b"USER demo\r\nPASS demo\r\nSTAT\r\nQUIT\r\n")
    assert [client.line()[:3] for _ in range(4)] == [b"+OK"] * 4


# ----------------------------------------------------------------- large messages


def test_large_message_offsets_across_chunks(tmp_path: Path, make_server: Make) -> None:
    line = b"." + b"y" * 62 + b"\n"  # every line starts with "."
    data = b"Subject: big\n\n" + line * 60_000  # ~3.8 MB: several 1 MiB read chunks
    root = write_maildir(tmp_path / "md", {"big": data})
    server = make_server(root)
    whole = crlf(data)
    client = Raw.connect(server.address)
    client.login()
    for offset in (0, 1 << 20, (1 << 20) + 1, 2 * 65 * 16_000 + 64, len(whole) - 2, len(whole)):
        client.send(b"RETR 1 %d\r\n" % offset)
        assert client.line() == b"+OK %d octets" % (len(whole) - offset)
        body = client.body()
        assert unstuff(body) == whole[offset:], offset
    client.send(b"TOP 1 2\r\n")
    client.line()
    assert client.body() == b"Subject: big\r\n\r\n" + (b"." + crlf(line)) * 2
    client.quit()


# ----------------------------------------------------------------- throttling


def test_rate_limits_bytes_per_second(tmp_path: Path, make_server: Make) -> None:
    data = b"z" * 99 + b"\n"
    root = write_maildir(tmp_path / "md", {"m": data * 3000})  # 303,000 wire octets
    server = make_server(root, rate=300_000)
    client = Raw.connect(server.address)
    client.login()
    started = time.monotonic()
    client.send(b"RETR 1\r\n")
    client.line()
    body = client.body()
    elapsed = time.monotonic() - started
    assert len(body) == 303_000
    assert 0.7 <= elapsed <= 2.5, elapsed  # 303 KB at 300 KB/s: about one second
    client.quit()


# ----------------------------------------------------------------- faults


def test_cut_at_positions_across_connections(tmp_path: Path, make_server: Make) -> None:
    data = bytes(range(32, 127)) * 100 + b"\n"
    root = write_maildir(tmp_path / "md", {"m": data})
    server = make_server(root)
    server.cut_at([1000, 3000])
    whole = crlf(data)
    received = b""
    connections = 0
    while len(received) < len(whole):
        connections += 1
        client = Raw.connect(server.address)
        client.login()
        client.send(b"RETR 1 %d\r\n" % len(received))
        client.line()
        try:
            received += unstuff(client.body())
            client.quit()
        except EOFError:
            received += client.buf
            client.close()
        wait_until(lambda: not server.locked)
    assert received == whole and connections == 3
    assert server.faults.body_bytes_sent == len(whole)


def test_drop_every_with_resume(tmp_path: Path, make_server: Make) -> None:
    data = b"line\n" * 2000  # 12,000 wire octets
    root = write_maildir(tmp_path / "md", {"m": data})
    server = make_server(root, faults=Faults(drop_every=5000))
    received = b""
    for _ in range(3):
        client = Raw.connect(server.address)
        client.login()
        client.send(b"RETR 1 %d\r\n" % len(received))
        client.line()
        try:
            received += client.body()
        except EOFError:
            received += client.buf
        client.close()
        wait_until(lambda: not server.locked)
    assert received == crlf(data) and server.connections == 3


def test_close_after_greeting(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, faults=Faults(close_after_greeting=1))
    client = Raw.connect(server.address)
    assert client.line().startswith(b"+OK")
    assert client.read_to_eof() == b""
    client = Raw.connect(server.address)
    client.login()  # the second connection is normal
    client.quit()


def test_stall_keeps_the_socket_open(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, faults=Faults(stall_at=[5]))
    client = Raw.connect(server.address)
    client.login()
    client.send(b"RETR 1\r\n")
    client.line()
    while len(client.buf) < 5:
        client._fill()
    client.sock.settimeout(0.5)
    with pytest.raises(TimeoutError):
        client._fill()  # nothing more, and no EOF either
    assert client.buf == crlf(MSG_A)[:5]
    assert server.locked
    client.close()
    wait_until(lambda: not server.locked)


def test_stop_ends_a_stalled_session(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, faults=Faults(stall_at=[0]))
    client = Raw.connect(server.address)
    client.login()
    client.send(b"RETR 1\r\n")
    client.line()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    assert client.read_to_eof() == b""


def test_long_status_line_and_garbage(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, faults=Faults(long_status=["stat"], garbage=["NOOP"]))
    client = Raw.connect(server.address)
    client.login()
    client.send(b"STAT\r\nNOOP\r\nLIST 1\r\n")
    status = client.line()
    assert status.startswith(b"+OK 3 ") and len(status) > 100_000
    assert not client.line().startswith((b"+OK", b"-ERR"))
    assert client.line() == b"+OK 1 %d" % len(crlf(MSG_A))  # only the chosen verbs
    client.quit()


def test_overlong_body(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, faults=Faults(overlong_body=50))
    client = Raw.connect(server.address)
    client.login()
    client.send(b"RETR 2\r\n")
    assert client.line() == b"+OK %d octets" % len(crlf(MSG_B))
    body = client.body()
    assert body == crlf(MSG_B) + b"Z" * 48 + b"\r\n"
    client.quit()


def test_random_drop_for_the_demo(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir, faults=Faults(random_drop=1.0, seed=3))
    client = Raw.connect(server.address)
    client.login()
    client.send(b"RETR 3\r\n")
    client.line()
    got = client.read_to_eof()
    assert len(got) < len(crlf(MSG_C)) and crlf(MSG_C).startswith(got)
    server.faults.random_drop = 0.0
    wait_until(lambda: not server.locked)
    client = Raw.connect(server.address)
    client.login()
    client.send(b"RETR 3\r\n")
    client.line()
    assert client.body() == crlf(MSG_C)
    client.quit()


def test_poplib_sees_a_cut_as_an_error(maildir: Path, make_server: Make) -> None:
    server = make_server(maildir)
    server.cut_at([20])
    client = poplib.POP3(*server.address, timeout=TIMEOUT)
    client.user("demo")
    client.pass_("demo")
    with pytest.raises((poplib.error_proto, OSError, EOFError)):
        client.retr(3)


# ----------------------------------------------------------------- speed and memory


def drain(sock: socket.socket, replies: int) -> int:
    """Read until ``replies`` multi-line terminators went by; returns the octets read."""
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    total = seen = 0
    tail = b""
    while seen < replies:
        n = sock.recv_into(view)
        assert n, "server closed early"
        data = tail + bytes(view[:n])
        seen += data.count(b"\r\n.\r\n")
        tail = data[-4:]
        total += n
    return total


@pytest.mark.slow
def test_big_message_streams_fast_in_constant_memory(tmp_path: Path, make_server: Make) -> None:
    import tracemalloc

    root = write_maildir(tmp_path / "md", {})
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\n"
    with (root / "new" / "big").open("wb") as f:
        for _ in range(80):
            f.write(line * 13_000)  # 80 MB in all
    server = make_server(root)
    client = Raw.connect(server.address)
    client.login()
    tracemalloc.start()
    try:
        started = time.perf_counter()
        client.send(b"RETR 1\r\n")
        total = drain(client.sock, 1)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 80 * 13_000 * 78
    assert peak < 16 << 20, peak  # a few 1 MiB chunks, never the message
    assert total / elapsed > 40e6, f"{total / elapsed / 1e6:.0f} MB/s"  # loose: CI shares cores
    client.quit()


@pytest.mark.slow
def test_many_pipelined_small_retrs(tmp_path: Path, make_server: Make) -> None:
    body = b"Subject: s\n\n" + b"x" * 70 + b"\n"
    root = write_maildir(tmp_path / "md", {f"{i:05d}.m": body * 50 for i in range(3000)})
    server = make_server(root)
    client = Raw.connect(server.address)
    client.login()
    started = time.perf_counter()
    sender = threading.Thread(
        target=client.send, args=(b"".join(b"RETR %d\r\n" % i for i in range(1, 3001)),)
    )
    sender.start()
    total = drain(client.sock, 3000)
    sender.join()
    elapsed = time.perf_counter() - started
    assert total >= 3000 * len(crlf(body * 50))
    assert elapsed < 5, elapsed
    client.quit()
