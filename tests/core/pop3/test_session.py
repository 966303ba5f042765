"""One POP3 session over real sockets (demo server): TLS, capabilities, logins, transcripts."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path

import pytest

from core.engine.events import ConnectionState, ErrorOccurred
from core.errors import (
    AuthenticationError,
    CertificateError,
    LocalProtocolError,
    SecurityError,
)
from core.net import Security, TlsPolicy
from core.pop3.session import open_session
from tests.support.certs import make_ca_and_server_cert
from tests.support.engine import PASSWORD, Harness, Recorder


@pytest.fixture
def certs(tmp_path: Path):
    return make_ca_and_server_cert(tmp_path / "certs")


def _tls(certs) -> ssl.SSLContext:  # type: ignore[no-untyped-def]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert_pem, certs.key_pem)
    return ctx


def _fill(h: Harness) -> None:
    h.add(b"From: A <a@example.org>\nSubject: hello\nDate: Mon, 2 Mar 2026 08:30:00 +0000\n\n"
          b"body\n")


def test_starttls_upgrades_and_asks_for_capabilities_again(harness: Harness, certs):
    _fill(harness)
    server = harness.serve(tls=_tls(certs))
    lines: list[tuple[bool, str]] = []
    session = open_session(*server.address, Security.STARTTLS,
                           TlsPolicy(cafile=str(certs.ca_pem)),
                           transcript=lambda sent, text: lines.append((sent, text)))
    try:
        assert session.info.secure
        assert "STLS" not in session.info.capabilities  # RFC 2595: not offered twice
        assert [t for s, t in lines if s] == ["CAPA", "STLS", "CAPA"]
        session.login("alice", PASSWORD)
        assert session.stat()[0] == 1
    finally:
        session.close()


def test_implicit_tls_with_the_run_ca(harness: Harness, certs):
    _fill(harness)
    server = harness.serve(tls=_tls(certs), implicit_tls=True)
    session = open_session(*server.address, Security.TLS, TlsPolicy(cafile=str(certs.ca_pem)))
    try:
        assert session.info.secure
        assert session.login("alice", PASSWORD) == "plain"  # SASL PLAIN preferred over USER
    finally:
        session.close()


def test_an_untrusted_certificate_stops_with_its_fingerprint_and_a_pin_accepts_it(
    harness: Harness, certs, recorder: Recorder
):
    _fill(harness)
    harness.serve(tls=_tls(certs), implicit_tls=True)
    engine = harness.engine(recorder, account=harness.account(security=Security.TLS))
    engine.start()
    recorder.wait_for(lambda: engine.state is ConnectionState.FAILED)
    (error,) = [e for e in recorder.of(ErrorOccurred) if e.fatal]
    assert error.certificate is not None
    assert error.certificate.sha256 == certs.sha256
    # "Trust this certificate": the same engine, its account now pinned, connects.
    engine.update_account(harness.account(security=Security.TLS, pinned_sha256=certs.sha256))
    engine.download()
    recorder.wait_for(lambda: len(harness.fetched()) == 1)
    assert engine.state is ConnectionState.CONNECTED


def test_a_wrong_pin_is_refused_even_for_a_valid_certificate(harness: Harness, certs):
    harness.serve(tls=_tls(certs), implicit_tls=True)
    with pytest.raises(CertificateError):
        open_session(*harness.server.address, Security.TLS,  # type: ignore[union-attr]
                     TlsPolicy(cafile=str(certs.ca_pem), pinned_sha256="AB" * 32))


def test_starttls_is_required_when_asked_for(harness: Harness):
    harness.serve()  # no TLS context: no STLS in CAPA
    with pytest.raises(SecurityError, match="STARTTLS"):
        open_session(*harness.server.address, Security.STARTTLS,  # type: ignore[union-attr]
                     TlsPolicy())


def test_passwords_never_reach_the_transcript(harness: Harness):
    _fill(harness)
    harness.serve()
    for method in ("user", "plain", "login", "cram-md5", "apop"):
        lines: list[str] = []

        def note(sent: bool, text: str, out: list[str] = lines) -> None:
            out.append(text)

        session = open_session(*harness.server.address, Security.NONE,  # type: ignore[union-attr]
                               TlsPolicy(), transcript=note)
        try:
            session.login("alice", PASSWORD, method=method, allow_plaintext=True)
        finally:
            session.quit()
        text = "\n".join(lines)
        assert PASSWORD not in text, method
        assert base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode() not in text


def test_a_wrong_password_is_an_authentication_error(harness: Harness):
    harness.serve()
    session = open_session(*harness.server.address, Security.NONE,  # type: ignore[union-attr]
                           TlsPolicy())
    try:
        with pytest.raises(AuthenticationError) as info:
            session.login("alice", "nope", allow_plaintext=True)
        assert not info.value.retryable
    finally:
        session.close()


def test_offsets_are_only_sent_to_servers_that_list_ext_retr(harness: Harness):
    _fill(harness)
    harness.serve(ext_retr=False)
    session = open_session(*harness.server.address, Security.NONE,  # type: ignore[union-attr]
                           TlsPolicy())
    try:
        session.login("alice", PASSWORD, allow_plaintext=True)
        with pytest.raises(LocalProtocolError, match="EXT-RETR"):
            session.retr(1, lambda data: None, offset=3)
    finally:
        session.close()

