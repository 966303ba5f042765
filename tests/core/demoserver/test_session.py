"""The dialogue over loopback: poplib end to end, CAPA, states, pipelining, partial reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.demoserver import DemoServer

from .conftest import MSG_A, MSG_B, MSG_C, Raw, crlf, logged_in, pop, unstuff


def test_poplib_full_session(server: DemoServer) -> None:
    client = logged_in(server)
    sizes = [len(crlf(m)) for m in (MSG_A, MSG_B, MSG_C)]
    assert client.stat() == (3, sum(sizes))
    _, listing, _ = client.list()
    assert listing == [b"%d %d" % (n, s) for n, s in enumerate(sizes, 1)]
    _, uidls, _ = client.uidl()
    assert uidls == [b"1 m1.aaa", b"2 m2.bbb", b"3 m3.ccc"]
    assert client.uidl(2) == b"+OK 2 m2.bbb"
    _, lines, octets = client.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == crlf(MSG_A)  # poplib unstuffs
    assert octets >= sizes[0]
    _, top, _ = client.top(1, 1)
    assert top == [b"From: a@example", b"Subject: one", b"", b"Hello"]
    assert client.noop().startswith(b"+OK")
    assert client.quit().startswith(b"+OK")
    assert server.deleted == []


def test_capa(maildir: Path, make_server: Callable[..., DemoServer]) -> None:
    caps = pop(make_server(maildir)).capa()
    for cap in ("TOP", "USER", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "EXT-RETR"):
        assert cap in caps
    assert caps["SASL"] == ["PLAIN", "LOGIN", "CRAM-MD5"]
    assert "STLS" not in caps and "LOGIN-DELAY" not in caps
    caps = pop(make_server(maildir, ext_retr=False, pipelining=False, login_delay=30)).capa()
    assert "EXT-RETR" not in caps and "PIPELINING" not in caps
    assert caps["LOGIN-DELAY"] == ["30"]


def test_commands_in_the_wrong_state(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.line()
    client.send(b"STAT\r\nPASS x\r\nFOO\r\n\r\nUSER\r\n")
    assert client.line().startswith(b"-ERR STAT not valid in the AUTHORIZATION state")
    assert client.line() == b"-ERR No user name given"
    assert client.line() == b"-ERR Unknown command"
    assert client.line() == b"-ERR Empty command"
    assert client.line().startswith(b"-ERR")
    client.send(b"user demo\r\npass demo\r\nUSER demo\r\nquit\r\n")
    assert client.line() == b"+OK"
    assert client.line().startswith(b"+OK Logged in, 3 messages")
    assert client.line().startswith(b"-ERR USER not valid in the TRANSACTION state")
    assert client.line().startswith(b"+OK")


def test_pipelined_commands_in_one_packet(raw: Callable[[], Raw], server: DemoServer) -> None:
    client = raw()
    client.line()
    client.send(
        b"CAPA\r\nUSER demo\r\nPASS demo\r\nSTAT\r\nUIDL\r\n"
        + b"".join(b"RETR %d\r\n" % n for n in (3, 1, 2) * 20)
        + b"DELE 2\r\nLIST 2\r\nRSET\r\nLIST 2\r\nNOOP\r\n"
    )
    assert client.line().startswith(b"+OK")
    assert b"PIPELINING\r\n" in client.body()
    assert client.line() == b"+OK"
    assert client.line().startswith(b"+OK Logged in")
    assert client.line().startswith(b"+OK 3 ")
    assert client.line().startswith(b"+OK")
    assert client.body() == b"1 m1.aaa\r\n2 m2.bbb\r\n3 m3.ccc\r\n"
    expected = {1: crlf(MSG_A), 2: crlf(MSG_B), 3: crlf(MSG_C)}
    for n in (3, 1, 2) * 20:
        assert client.line() == b"+OK %d octets" % len(expected[n])
        assert unstuff(client.body()) == expected[n]
    assert client.line() == b"+OK Marked to be deleted"
    assert client.line() == b"-ERR Message is deleted"
    assert client.line().startswith(b"+OK 3 messages")
    assert client.line() == b"+OK 2 %d" % len(expected[2])
    assert client.line() == b"+OK"
    assert server.commands[:3] == ["CAPA", "USER demo", "PASS ***"]
    assert server.commands[-1] == "NOOP"


def test_one_byte_at_a_time(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.line()
    for byte in b"USER demo\r\nPASS demo\nRETR 2\r\nQUIT\r\n":
        client.send(bytes([byte]))
    assert client.line() == b"+OK"
    assert client.line().startswith(b"+OK Logged in")
    assert client.line().startswith(b"+OK")
    assert client.body() == crlf(MSG_B)
    assert client.line().startswith(b"+OK")
    assert client.read_to_eof() == b""


def test_overlong_command_line_closes(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.line()
    client.send(b"NOOP " + b"x" * 20000)
    assert client.line() == b"-ERR Line too long"
    assert client.read_to_eof() == b""
