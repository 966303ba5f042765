"""core.explain: plain words first, the protocol's own words second, one line, sanitized."""

from __future__ import annotations

import socket

import pytest

from core.errors import (
    MAX_SERVER_WAIT,
    AuthenticationError,
    CertificateError,
    CertificateInfo,
    ConnectionLost,
    Desync,
    LoginDelay,
    NoGreeting,
    PopError,
    SecurityError,
    ServerError,
    TlsGreeting,
)
from core.explain import detail, explain
from core.net import Security, TlsPolicy, connect
from tests.support.hostile import HostileServer


def _cert(error: str) -> CertificateError:
    return CertificateError(CertificateInfo("CN=mail", "CN=mail", "", "", "AB:CD", error))


@pytest.mark.parametrize(
    ("error", "plain"),
    [
        (AuthenticationError("PASS", "Authentication failed", "AUTH"),
         "The server refused the password (PASS: -ERR [AUTH] Authentication failed)"),
        (_cert("unable to get local issuer certificate"),
         "The server's certificate is not signed by an authority this computer trusts ("),
        (_cert("self-signed certificate"), "is not signed by an authority this computer trusts"),
        (_cert("certificate has expired"), "The server's certificate has expired ("),
        (_cert("Hostname mismatch, certificate is not valid for 'x'."), "for another name"),
        (_cert("the certificate does not match the pinned fingerprint"), "changed since"),
        (TlsGreeting("a TLS record"), "This port speaks TLS: choose SSL/TLS (a TLS record)"),
        (NoGreeting("no greeting within 60 s"), "choose SSL/TLS (no greeting within 60 s)"),
        (ServerError("PASS", "locked", "IN-USE"), "Another program is reading this mailbox"),
        (Desync("after RETR 3"), "The server ended a reply early, against the POP3 rules"),
    ],
)
def test_plain_words_come_first(error: PopError, plain: str) -> None:
    assert plain in str(error)
    assert str(error).endswith(f" ({detail(error)})")


def test_a_login_delay_past_the_cap_says_when_to_try() -> None:
    delay = MAX_SERVER_WAIT * 1000
    text = str(LoginDelay("PASS", "wait", delay))
    assert text.startswith(f"The server allows a login every {delay} s; try after 20")


def test_own_refusals_stay_as_they_are() -> None:
    message = "refusing to send the password in the clear (USER without TLS)"
    assert str(SecurityError(message)) == message


def test_the_line_is_sanitized_whatever_the_detail() -> None:
    text = explain(ConnectionLost("reset by \x1b]0;pwned\x07 peer\n" + "x" * 2000))
    assert "\x1b" not in text and "\n" not in text and len(text) <= 500


def test_tls_against_a_plaintext_port_names_the_setting() -> None:
    with HostileServer([]) as server, pytest.raises(SecurityError) as caught:
        connect("127.0.0.1", server.port, Security.TLS, TlsPolicy(), timeout=10)
    assert str(caught.value).startswith(
        "This port does not speak TLS from the start: choose STARTTLS or no encryption ("
    )


def test_a_closed_port_says_nothing_answers() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionLost) as caught:
        connect("127.0.0.1", port, Security.NONE, TlsPolicy(), timeout=10)
    assert str(caught.value).startswith("Nothing answers at this address and port (")
