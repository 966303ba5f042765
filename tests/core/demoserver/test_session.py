"""The POP3 dialogue over loopback: stdlib poplib and a raw socket, commands one by one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import poplib
import re
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from core.demoserver import DemoServer

from .conftest import MSG_A, MSG_B, MSG_C, TIMEOUT, Raw, crlf, unstuff, write_maildir


def pop(server: DemoServer) -> poplib.POP3:
    host, port = server.address
    return poplib.POP3(host, port, timeout=TIMEOUT)


def logged_in(server: DemoServer) -> poplib.POP3:
    client = pop(server)
    client.user("demo")
    client.pass_("demo")
    return client


# ----------------------------------------------------------------- poplib


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


def test_greeting_carries_apop_timestamp(server: DemoServer) -> None:
    client = pop(server)
    assert re.search(rb"<[^<>@]+@[^<>]+>", client.getwelcome())
    client.apop("demo", "demo")
    assert client.stat()[0] == 3
    client.quit()
    assert server.commands[0] == "APOP demo ***"


def test_apop_wrong_and_disabled(maildir: Path, make_server: Callable[..., DemoServer]) -> None:
    server = make_server(maildir)
    client = pop(server)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.apop("demo", "nope")
    no_apop = make_server(maildir, apop=False)
    client = pop(no_apop)
    assert b"<" not in client.getwelcome()
    with pytest.raises(poplib.error_proto):
        client.apop("demo", "demo")


def test_capa(maildir: Path, make_server: Callable[..., DemoServer]) -> None:
    caps = pop(make_server(maildir)).capa()
    for cap in ("TOP", "USER", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "EXT-RETR"):
        assert cap in caps
    assert caps["SASL"] == ["PLAIN", "LOGIN", "CRAM-MD5"]
    assert "STLS" not in caps and "LOGIN-DELAY" not in caps
    caps = pop(make_server(maildir, ext_retr=False, pipelining=False, login_delay=30)).capa()
    assert "EXT-RETR" not in caps and "PIPELINING" not in caps
    assert caps["LOGIN-DELAY"] == ["30"]


def test_wrong_password_is_auth_error(server: DemoServer) -> None:
    client = pop(server)
    client.user("demo")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client.pass_("wrong")
    client.user("nobody")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client.pass_("demo")
    client.user("demo")
    client.pass_("demo")  # the connection is still usable
    assert "PASS ***" in server.commands and not any("wrong" in c for c in server.commands)


def test_pass_keeps_spaces(maildir: Path, make_server: Callable[..., DemoServer]) -> None:
    server = make_server(maildir, users={"u": "a pass phrase"})
    client = pop(server)
    client.user("u")
    client.pass_("a pass phrase")
    assert client.stat()[0] == 3


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


def test_message_number_errors(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    client.send(
        b"LIST 9\r\nLIST x\r\nLIST 1 2\r\nRETR 0\r\nRETR 4\r\nRETR\r\nTOP 1\r\nTOP 1 -1\r\n"
        b"DELE 7\r\nUIDL 1\r\nRETR 1 x\r\nRETR 1 2 3\r\n"
    )
    replies = [client.line() for _ in range(12)]
    assert replies[0] == b"-ERR No such message"
    assert replies[1] == b"-ERR Invalid message number"
    assert replies[2] == b"-ERR Noise after message number"
    assert replies[3] == replies[4] == b"-ERR [NON-EXISTENT] No such message"
    assert all(r.startswith(b"-ERR") for r in replies[5:9])
    assert replies[9] == b"+OK 1 m1.aaa"
    assert replies[10] == b"-ERR Invalid offset"
    assert replies[11].startswith(b"-ERR")


def test_top_stuffs_and_zero_lines(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    client.send(b"TOP 1 0\r\nTOP 1 3\r\nTOP 2 100\r\n")
    assert client.line().startswith(b"+OK")
    assert client.body() == b"From: a@example\r\nSubject: one\r\n\r\n"
    assert client.line().startswith(b"+OK")
    assert client.body() == (
        b"From: a@example\r\nSubject: one\r\n\r\nHello\r\n..leading dot\r\n...two\r\n"
    )
    assert client.line().startswith(b"+OK")
    assert client.body() == crlf(MSG_B)


# ----------------------------------------------------------------- raw socket


def test_retr_is_crlf_and_stuffed_on_the_wire(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    client.send(b"RETR 1\r\n")
    assert client.line() == b"+OK %d octets" % len(crlf(MSG_A))
    body = client.body()
    assert b"\r\n..leading dot\r\n...two\r\n..\r\nend\r\n" in body
    assert unstuff(body) == crlf(MSG_A)


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


# ----------------------------------------------------------------- EXT-RETR


def ext_retr(client: Raw, number: int, offset: int) -> tuple[bytes, bytes]:
    client.send(b"RETR %d %d\r\n" % (number, offset))
    status = client.line()
    return status, client.body() if status.startswith(b"+OK") else b""


def test_ext_retr_every_offset_reassembles(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    whole = crlf(MSG_A)
    for offset in range(len(whole) + 1):
        status, body = ext_retr(client, 1, offset)
        assert status == b"+OK %d octets" % (len(whole) - offset)
        rest = unstuff(body)
        if whole[offset - 1 : offset] == b"\r":  # between CR and LF: see the next test
            continue
        assert whole[:offset] + rest == whole, offset


def test_ext_retr_dot_at_the_offset_is_doubled(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    whole = crlf(MSG_A)
    at_line_start = whole.index(b".leading")
    mid_line = whole.index(b"..two") + 1  # the second "." of "..two": not a line start there
    after_dot = at_line_start + 1
    cases = {
        at_line_start: b"..leading dot\r\n...two\r\n",
        mid_line: b"..two\r\n..\r\n",  # the rest begins a line: doubled all the same
        after_dot: b"leading dot\r\n...two\r\n",
    }
    for offset, start in cases.items():
        status, body = ext_retr(client, 1, offset)
        assert status == b"+OK %d octets" % (len(whole) - offset)
        assert body.startswith(start)
        assert unstuff(body) == whole[offset:]


def test_ext_retr_between_cr_and_lf(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    whole = crlf(MSG_A)
    offset = whole.index(b"\r\n.leading") + 1  # at the LF; a "." follows it
    status, body = ext_retr(client, 1, offset)
    assert status == b"+OK %d octets" % (len(whole) - offset)
    # the "." after that LF follows no CRLF on the wire: it is not stuffed
    assert body.startswith(b"\n.leading dot\r\n...two\r\n")
    assert unstuff(body) == whole[offset:]
    # the last octet alone (the final LF): a CRLF is added before the terminator
    status, body = ext_retr(client, 1, len(whole) - 1)
    assert status == b"+OK 1 octets" and body == b"\n\r\n"


def test_ext_retr_end_and_overrun(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    size = len(crlf(MSG_A))
    assert ext_retr(client, 1, size) == (b"+OK 0 octets", b"")
    assert ext_retr(client, 1, size + 1)[0].startswith(b"-ERR [OFFSET-OVERRUN]")
    assert ext_retr(client, 9, 0)[0].startswith(b"-ERR [NON-EXISTENT]")
    client.send(b"DELE 1\r\n")
    client.line()
    assert ext_retr(client, 1, 0)[0] == b"-ERR Message is deleted"


def test_without_ext_retr_an_offset_is_noise(
    maildir: Path, make_server: Callable[..., DemoServer]
) -> None:
    server = make_server(maildir, ext_retr=False)
    client = Raw.connect(server.address)
    client.login()
    assert ext_retr(client, 1, 5)[0] == b"-ERR Noise after message number"
    assert ext_retr(client, 9, 0)[0] == b"-ERR Noise after message number"
    client.send(b"RETR 9\r\n")
    assert client.line() == b"-ERR No such message"
    client.close()


def test_message_without_final_newline(
    tmp_path: Path, make_server: Callable[..., DemoServer]
) -> None:
    server = make_server(write_maildir(tmp_path / "md", {"x": b"S: 1\n\nno end", "y": b""}))
    client = Raw.connect(server.address)
    client.login()
    client.send(b"LIST\r\nRETR 1\r\nRETR 2\r\n")
    client.line()
    assert client.body() == b"1 14\r\n2 0\r\n"
    assert client.line() == b"+OK 14 octets"
    assert client.body() == b"S: 1\r\n\r\nno end\r\n"  # CRLF added, not counted
    assert client.line() == b"+OK 0 octets"
    assert client.body() == b""
    client.close()


def test_uidls_override_with_slashes(
    tmp_path: Path, make_server: Callable[..., DemoServer]
) -> None:
    root = write_maildir(tmp_path / "md", {"1": b"a\n", "2": b"b\n"})
    server = make_server(root, uidls=lambda p: {"1": "../../x", "2": "a/b"}[p.name])
    client = logged_in(server)
    assert client.uidl()[1] == [b"1 ../../x", b"2 a/b"]
    client.quit()


# ----------------------------------------------------------------- SASL


def test_auth_plain_with_and_without_initial_response(raw: Callable[[], Raw]) -> None:
    token = base64.b64encode(b"\0demo\0demo")
    client = raw()
    client.line()
    client.send(b"AUTH PLAIN " + token + b"\r\n")
    assert client.line().startswith(b"+OK Logged in")
    client.quit()
    client = raw()
    client.line()
    client.send(b"AUTH PLAIN\r\n")
    assert client.line() == b"+ "
    client.send(token + b"\r\n")
    assert client.line().startswith(b"+OK Logged in")


def test_auth_plain_failures(raw: Callable[[], Raw], server: DemoServer) -> None:
    client = raw()
    client.line()
    client.send(b"AUTH PLAIN " + base64.b64encode(b"\0demo\0bad") + b"\r\n")
    assert client.line().startswith(b"-ERR [AUTH]")
    client.send(b"AUTH PLAIN !!!\r\nAUTH PLAIN\r\n*\r\nAUTH X-UNKNOWN\r\n")
    assert client.line().startswith(b"-ERR [AUTH]")
    assert client.line() == b"+ "
    assert client.line() == b"-ERR Authentication cancelled"
    assert client.line() == b"-ERR Unsupported mechanism"
    assert "AUTH PLAIN ***" in server.commands and "*" in server.commands
    assert not any("ZGVtbw" in c or "AGRlbW8" in c for c in server.commands)


def test_auth_login(raw: Callable[[], Raw], server: DemoServer) -> None:
    client = raw()
    client.line()
    client.send(b"AUTH LOGIN\r\n")
    assert base64.b64decode(client.line()[2:]) == b"Username:"
    client.send(base64.b64encode(b"demo") + b"\r\n")
    assert base64.b64decode(client.line()[2:]) == b"Password:"
    client.send(base64.b64encode(b"demo") + b"\r\n")
    assert client.line().startswith(b"+OK Logged in")
    assert server.commands == ["AUTH LOGIN", "***", "***"]


def test_auth_cram_md5(raw: Callable[[], Raw]) -> None:
    for password, ok in (("wrong", False), ("demo", True)):
        client = raw()
        client.line()
        client.send(b"AUTH CRAM-MD5\r\n")
        challenge = base64.b64decode(client.line()[2:])
        assert challenge.startswith(b"<") and challenge.endswith(b">")
        digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
        client.send(base64.b64encode(f"demo {digest}".encode()) + b"\r\n")
        reply = client.line()
        assert reply.startswith(b"+OK") if ok else reply.startswith(b"-ERR [AUTH]")
        client.close()


def test_auth_without_mechanism_lists_them(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.line()
    client.send(b"AUTH\r\n")
    assert client.line().startswith(b"+OK")
    assert client.body() == b"PLAIN\r\nLOGIN\r\nCRAM-MD5\r\n"


def test_plaintext_refused_when_configured(
    maildir: Path, make_server: Callable[..., DemoServer]
) -> None:
    server = make_server(maildir, allow_plaintext=False)
    client = pop(server)
    caps = client.capa()
    assert "USER" not in caps and caps["SASL"] == ["CRAM-MD5"]
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.user("demo")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0demo\0demo").decode())
    client.apop("demo", "demo")  # no password on the wire: still allowed
    client.quit()


# ----------------------------------------------------------------- TLS


def test_stls_then_login(
    maildir: Path,
    make_server: Callable[..., DemoServer],
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
) -> None:
    server = make_server(maildir, tls=server_tls, allow_plaintext=False)
    client = pop(server)
    assert "STLS" in client.capa()
    client.stls(client_tls)
    caps = client.capa()
    assert "STLS" not in caps and "USER" in caps and "PLAIN" in caps["SASL"]
    client.user("demo")
    client.pass_("demo")
    assert client.retr(2)[1] == MSG_B.rstrip(b"\n").split(b"\n")
    client.quit()


def test_stls_discards_pipelined_plaintext(
    maildir: Path,
    make_server: Callable[..., DemoServer],
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
) -> None:
    server = make_server(maildir, tls=server_tls)
    client = Raw.connect(server.address)
    client.line()
    client.send(b"STLS\r\nUSER injected\r\n")
    assert client.line().startswith(b"+OK")
    secure = Raw(client_tls.wrap_socket(client.sock, server_hostname="localhost"))
    secure.send(b"NOOP\r\nSTLS\r\n")
    assert secure.line().startswith(b"-ERR NOOP not valid")
    assert secure.line() == b"-ERR Already secure"
    assert "USER injected" not in server.commands
    secure.close()


def test_stls_unavailable_without_context(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.line()
    client.send(b"STLS\r\n")
    assert client.line() == b"-ERR STLS not available"


def test_implicit_tls(
    maildir: Path,
    make_server: Callable[..., DemoServer],
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
) -> None:
    server = make_server(maildir, tls=server_tls, implicit_tls=True)
    host, port = server.address
    client = poplib.POP3_SSL(host, port, context=client_tls, timeout=TIMEOUT)
    assert "STLS" not in client.capa()
    client.user("demo")
    client.pass_("demo")
    assert client.stat()[0] == 3
    client.quit()
    with pytest.raises(ValueError):
        DemoServer(maildir, implicit_tls=True)
