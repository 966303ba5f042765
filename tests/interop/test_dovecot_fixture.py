"""The Dovecot fixture itself, proven with stdlib poplib: what a real server answers.

These tests pin down Dovecot 2.3's behaviour that popfetch relies on (or must survive):
capabilities, TLS, SASL, the maildrop lock, two-stage deletion, and its refusal of
``RETR n offset``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import poplib
import socket
import ssl
import struct
import time

import pytest

from tests.support.dovecot import Dovecot, User, make_messages, to_wire

pytestmark = pytest.mark.interop

TIMEOUT = 15.0


def stls_login(dovecot: Dovecot, user: User) -> poplib.POP3:
    pop = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=TIMEOUT)
    pop.stls(dovecot.ssl_context())
    pop.user(user.name)
    pop.pass_(user.password)
    return pop


def tls_login(dovecot: Dovecot, user: User) -> poplib.POP3_SSL:
    pop = poplib.POP3_SSL(
        dovecot.host, dovecot.pop3s_port, context=dovecot.ssl_context(), timeout=TIMEOUT
    )
    pop.user(user.name)
    pop.pass_(user.password)
    return pop


def retr(pop: poplib.POP3, n: int) -> bytes:
    _resp, lines, _octets = pop.retr(n)
    return b"".join(line + b"\r\n" for line in lines)


def wait_disconnected(dovecot: Dovecot, user: User, count: int = 1) -> None:
    found = dovecot.wait_log(f"pop3({user.name})", count=count, timeout=TIMEOUT)
    disconnected = [line for line in found if "Disconnected" in line]
    assert len(disconnected) >= count, dovecot.diagnostics()


def test_capa_before_stls_after_stls_and_after_login(dovecot: Dovecot, mailbox: User) -> None:
    pop = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=TIMEOUT)
    try:
        greeting = pop.getwelcome()
        assert greeting.startswith(b"+OK")
        assert b"<" in greeting and b"@" in greeting  # APOP timestamp (apop is enabled)
        before = pop.capa()
        assert "STLS" in before
        assert "USER" in before and "UIDL" in before and "PIPELINING" in before
        assert set(before["SASL"]) == {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"}
        assert "EXT-RETR" not in before
        pop.stls(dovecot.ssl_context())
        after_tls = pop.capa()
        assert "STLS" not in after_tls
        assert "USER" in after_tls and "SASL" in after_tls
        pop.user(mailbox.name)
        assert pop.pass_(mailbox.password).startswith(b"+OK")
        logged_in = pop.capa()
        assert {"TOP", "UIDL", "PIPELINING", "RESP-CODES"} <= set(logged_in)
        assert "SASL" not in logged_in and "USER" not in logged_in and "STLS" not in logged_in
        assert "EXT-RETR" not in logged_in
    finally:
        pop.quit()


def test_implicit_tls_verifies_against_the_run_ca(dovecot: Dovecot, mailbox: User) -> None:
    pop = tls_login(dovecot, mailbox)
    try:
        cert = pop.sock.getpeercert(binary_form=True)
        assert cert is not None
        digest = hashlib.sha256(cert).hexdigest().upper()
        assert ":".join(digest[i : i + 2] for i in range(0, 64, 2)) == dovecot.sha256
        assert pop.stat() == (0, 0)
    finally:
        pop.quit()
    # Without the run's CA the certificate does not verify.
    with pytest.raises(ssl.SSLCertVerificationError):
        poplib.POP3_SSL(
            dovecot.host,
            dovecot.pop3s_port,
            context=ssl.create_default_context(),
            timeout=TIMEOUT,
        )


def test_stls_login_and_retr_equals_the_files(dovecot: Dovecot, mailbox: User) -> None:
    messages = make_messages(5)
    big = b"From: x@example.test\nSubject: big\n\n" + (b".dot\n" + b"y" * 200 + b"\n") * 10000
    dovecot.fill(mailbox.name, [*messages, big])
    pop = stls_login(dovecot, mailbox)
    try:
        count, size = pop.stat()
        assert count == 6
        assert size == sum(len(to_wire(m)) for m in [*messages, big])
        for n, (_resp, expected) in enumerate(zip(pop.list()[1], [*messages, big], strict=True), 1):
            assert _resp.split() == [str(n).encode(), str(len(to_wire(expected))).encode()]
            assert retr(pop, n) == to_wire(expected)
    finally:
        pop.quit()
    assert [p.read_bytes() for p in dovecot.files(mailbox.name)] == [*messages, big]


def test_uidls_are_stable_across_sessions(dovecot: Dovecot, mailbox: User) -> None:
    dovecot.fill(mailbox.name, make_messages(3))
    pop = tls_login(dovecot, mailbox)
    first = pop.uidl()[1]
    pop.quit()
    pop = tls_login(dovecot, mailbox)
    second = pop.uidl()[1]
    pop.quit()
    assert first == second and len(first) == 3
    assert len({line.split()[1] for line in first}) == 3


def sasl(pop: poplib.POP3, mechanism: str, user: User, greeting: bytes) -> bytes:
    if mechanism == "PLAIN":
        token = base64.b64encode(f"\0{user.name}\0{user.password}".encode()).decode()
        return pop._shortcmd(f"AUTH PLAIN {token}")
    if mechanism == "LOGIN":
        prompt = pop._shortcmd("AUTH LOGIN")
        assert base64.b64decode(prompt[2:]).lower().startswith(b"username")
        prompt = pop._shortcmd(base64.b64encode(user.name.encode()).decode())
        assert base64.b64decode(prompt[2:]).lower().startswith(b"password")
        return pop._shortcmd(base64.b64encode(user.password.encode()).decode())
    if mechanism == "CRAM-MD5":
        challenge = base64.b64decode(pop._shortcmd("AUTH CRAM-MD5")[2:])
        digest = hmac.new(user.password.encode(), challenge, "md5").hexdigest()
        return pop._shortcmd(base64.b64encode(f"{user.name} {digest}".encode()).decode())
    if mechanism == "APOP":
        assert greeting == pop.getwelcome()
        return pop.apop(user.name, user.password)
    raise AssertionError(mechanism)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5", "APOP"])
def test_sasl_and_apop_logins(dovecot: Dovecot, mailbox: User, mechanism: str) -> None:
    dovecot.fill(mailbox.name, make_messages(1))
    pop = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=TIMEOUT)
    try:
        pop.stls(dovecot.ssl_context())
        assert sasl(pop, mechanism, mailbox, pop.getwelcome()).startswith(b"+OK")
        assert pop.stat()[0] == 1
    finally:
        pop.quit()
    assert dovecot.wait_log(f"user=<{mailbox.name}>, method={mechanism}")


def test_wrong_password_is_auth_error_and_logged_once(dovecot: Dovecot, mailbox: User) -> None:
    pop = poplib.POP3_SSL(
        dovecot.host, dovecot.pop3s_port, context=dovecot.ssl_context(), timeout=TIMEOUT
    )
    try:
        pop.user(mailbox.name)
        started = time.monotonic()
        with pytest.raises(poplib.error_proto) as refused:
            pop.pass_("not the password")
        assert time.monotonic() - started < 5.0  # auth_failure_delay = 0 + anvil penalty off
        assert refused.value.args[0] == b"-ERR [AUTH] Authentication failed."
    finally:
        pop.quit()
    mismatches = dovecot.wait_log(f"passwd-file({mailbox.name},")
    assert [line for line in mismatches if "Password mismatch" in line] == mismatches
    assert len(mismatches) == 1


def test_second_session_gets_in_use_while_the_first_holds_the_lock(
    dovecot: Dovecot, mailbox: User
) -> None:
    dovecot.fill(mailbox.name, make_messages(2))
    first = tls_login(dovecot, mailbox)
    try:
        second = poplib.POP3_SSL(
            dovecot.host, dovecot.pop3s_port, context=dovecot.ssl_context(), timeout=30.0
        )
        second.user(mailbox.name)
        started = time.monotonic()
        with pytest.raises(poplib.error_proto) as refused:
            second.pass_(mailbox.password)
        waited = time.monotonic() - started
        # Dovecot waits for the lock for ~10 s, then answers with the RFC 2449 code.
        assert refused.value.args[0] == b"-ERR [IN-USE] Mailbox is locked by another POP3 session."
        assert 5.0 < waited < 25.0
        assert first.stat()[0] == 2  # the holder is undisturbed
        second.close()
    finally:
        first.quit()
    assert dovecot.wait_log(f"pop3({mailbox.name})", count=1)
    assert any("Couldn't lock POP3 session" in line for line in dovecot.log_lines(mailbox.name))


def test_dele_takes_effect_only_at_quit(dovecot: Dovecot, mailbox: User) -> None:
    messages = make_messages(4)
    dovecot.fill(mailbox.name, messages)
    pop = stls_login(dovecot, mailbox)
    try:
        pop.dele(1)
        pop.dele(3)
        with pytest.raises(poplib.error_proto, match=r"deleted"):
            pop.retr(1)
        assert pop.stat()[0] == 2  # answered after both DELEs: they were carried out
        assert dovecot.contents(mailbox.name) == messages  # nothing removed yet
    finally:
        assert pop.quit().startswith(b"+OK")
    assert dovecot.contents(mailbox.name) == [messages[1], messages[3]]


def test_a_dropped_connection_deletes_nothing(dovecot: Dovecot, mailbox: User) -> None:
    messages = make_messages(3)
    dovecot.fill(mailbox.name, messages)
    pop = tls_login(dovecot, mailbox)
    for n in (1, 2, 3):
        pop.dele(n)
    # Drop without QUIT: reset the TCP connection under the TLS layer.
    pop.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    pop.file.close()  # poplib's makefile() holds the socket open
    pop.sock.close()
    wait_disconnected(dovecot, mailbox)
    assert dovecot.contents(mailbox.name) == messages
    pop = tls_login(dovecot, mailbox)
    try:
        assert pop.stat()[0] == 3
    finally:
        pop.quit()
    assert dovecot.contents(mailbox.name) == messages


def test_rset_unmarks_everything(dovecot: Dovecot, mailbox: User) -> None:
    messages = make_messages(3)
    dovecot.fill(mailbox.name, messages)
    pop = stls_login(dovecot, mailbox)
    try:
        pop.dele(1)
        pop.dele(2)
        assert pop.stat()[0] == 1
        assert pop.rset().startswith(b"+OK")
        assert pop.stat()[0] == 3
        pop.dele(2)  # unmark one = RSET, then DELE the others again
    finally:
        pop.quit()
    assert dovecot.contents(mailbox.name) == [messages[0], messages[2]]


def test_retr_with_an_offset_is_refused(dovecot: Dovecot, mailbox: User) -> None:
    dovecot.fill(mailbox.name, make_messages(1))
    pop = stls_login(dovecot, mailbox)
    try:
        assert "EXT-RETR" not in pop.capa()
        with pytest.raises(poplib.error_proto) as refused:
            pop._shortcmd("RETR 1 10")
        assert refused.value.args[0].startswith(b"-ERR Noise after message number")
        # The session stays usable after the refusal.
        assert pop.stat()[0] == 1
    finally:
        pop.quit()


def test_messages_added_while_running_are_seen_by_the_next_session(
    dovecot: Dovecot, mailbox: User
) -> None:
    dovecot.fill(mailbox.name, make_messages(2))
    pop = tls_login(dovecot, mailbox)
    assert pop.stat()[0] == 2
    pop.quit()
    dovecot.fill(mailbox.name, make_messages(3, start=2))
    pop = tls_login(dovecot, mailbox)
    try:
        assert pop.stat()[0] == 5
    finally:
        pop.quit()
