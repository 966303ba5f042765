"""AUTHORIZATION over loopback: USER/PASS, APOP, SASL PLAIN/LOGIN/CRAM-MD5, STLS, implicit TLS."""

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

from .conftest import MSG_B, TIMEOUT, Raw, pop


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
        client._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0demo\0demo").decode())  # type: ignore[attr-defined]
    client.apop("demo", "demo")  # no password on the wire: still allowed
    client.quit()


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
