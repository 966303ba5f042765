"""XOAUTH2 and OAUTHBEARER logins against a server that refuses the initial-response form."""

from __future__ import annotations

import base64
import socket

import pytest

from core.errors import SecurityError, SignInRequired
from core.net import Security, TlsPolicy, Transport
from core.pop3.session import Session, open_session
from tests.oauth.bearer_server import BearerServer
from tests.support.certs import CertPaths


class Tokens:
    """A TokenSource that hands out a list of tokens in order and counts renewals."""

    def __init__(self, *tokens: str) -> None:
        self._tokens = list(tokens)
        self.renewals = 0

    def token(self) -> str:
        return self._tokens[0]

    def renew(self) -> str:
        self.renewals += 1
        self._tokens.pop(0)
        return self._tokens[0]


def _open(server: BearerServer, certs: CertPaths, lines: list[str]) -> Session:
    return open_session(*server.address, Security.TLS, TlsPolicy(cafile=str(certs.ca_pem)),
                        transcript=lambda sent, text: lines.append(text))


@pytest.mark.parametrize("method", ["xoauth2", "oauthbearer"])
def test_the_two_step_form_logs_in_and_the_token_stays_out_of_the_transcript(
    bearer_server: BearerServer, certs: CertPaths, method: str
):
    bearer_server.valid.add("tok-good")
    lines: list[str] = []
    session = _open(bearer_server, certs, lines)
    try:
        assert session.login("alice@example.test", Tokens("tok-good"), method=method) == method
        assert session.stat() == (1, 59)
    finally:
        session.quit()
    assert f"AUTH {method.upper()}" in bearer_server.received  # nothing after the mechanism
    assert bearer_server.logins == 1
    assert not any("tok-good" in line for line in lines)
    assert "<token>" in lines


def test_oauthbearer_names_user_host_and_port(bearer_server: BearerServer, certs: CertPaths):
    bearer_server.valid.add("tok")
    session = _open(bearer_server, certs, [])
    try:
        session.login("a,b=c@example.test", Tokens("tok"), method="oauthbearer")
    finally:
        session.quit()
    port = bearer_server.address[1]
    line = bearer_server.received[bearer_server.received.index("AUTH OAUTHBEARER") + 1]
    sent = base64.b64decode(line).decode()
    assert sent == (f"n,a=a=2Cb=3Dc@example.test,\x01host=127.0.0.1\x01port={port}"
                    "\x01auth=Bearer tok\x01\x01")


@pytest.mark.parametrize(("method", "answer"), [("xoauth2", ""), ("oauthbearer", "AQ==")])
def test_a_refused_token_is_answered_renewed_once_and_retried_once(
    bearer_server: BearerServer, certs: CertPaths, method: str, answer: str
):
    bearer_server.valid.add("fresh")
    tokens = Tokens("stale", "fresh")
    session = _open(bearer_server, certs, [])
    try:
        session.login("alice@example.test", tokens, method=method)
    finally:
        session.quit()
    assert tokens.renewals == 1
    assert bearer_server.tokens_sent() == ["stale", "fresh"]
    # The error challenge was answered with the line that ends the exchange (RFC 7628 3.2.3).
    first_auth = bearer_server.received.index(f"AUTH {method.upper()}")
    assert bearer_server.received[first_auth + 2] == answer


def test_a_token_refused_twice_means_sign_in_again_after_exactly_two_tries(
    bearer_server: BearerServer, certs: CertPaths
):
    tokens = Tokens("stale", "still-bad")
    session = _open(bearer_server, certs, [])
    try:
        with pytest.raises(SignInRequired, match="sign in again"):
            session.login("alice@example.test", tokens, method="xoauth2")
    finally:
        session.close()
    assert tokens.renewals == 1
    assert bearer_server.tokens_sent() == ["stale", "still-bad"]


def test_no_token_crosses_a_link_without_tls(bearer_server: BearerServer):
    """A token is a password for an hour: the plaintext refusal happens before AUTH."""
    with socket.create_connection(bearer_server.address) as raw:
        session = Session(Transport(raw))  # secure is False: nothing was wrapped
        with pytest.raises(SecurityError, match="access token in the clear"):
            session.login("alice@example.test", Tokens("tok"), method="xoauth2")
    assert bearer_server.received == []
