"""Issue 8, "Unclear or unsafe errors" and "Failing on slow links": plain words, bounded time,
exit 2 with one line, nothing raw from the server on the terminal."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from tests.support.certs import make_ca_and_server_cert
from tests.support.hostile import USER, Hostile, HostileServer, Mail
from tests.support.runs import assert_deleted_intact, fetch, run_popfetch, stored


def _mails(count: int = 2) -> list[Mail]:
    return [Mail.of(b"Subject: m%d\n\nbody %d\n" % (i, i), f"m-{i}") for i in range(count)]


def _server_tls(tmp: Path) -> tuple[ssl.SSLContext, Path]:
    paths = make_ca_and_server_cert(tmp / "certs")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(paths.cert_pem, paths.key_pem)
    return ctx, paths.ca_pem


# ------------------------------------------------------------------- caps on server waits


def test_a_login_delay_past_the_cap_exits_2_saying_when_to_try(tmp_path: Path):
    hostile = Hostile(login_delay="1000000", replies={"PASS": b"-ERR [LOGIN-DELAY] wait\r\n"})
    with HostileServer(_mails(), hostile) as server:
        run = fetch(server, tmp_path, timeout=60)
    assert run.status == 2 and run.seconds < 30
    assert run.reason.startswith("popfetch: The server allows a login every 1000000 s; try after")
    assert server.sent_verbs().count("PASS") == 1  # reported, not waited out nor hammered
    assert run.out == ""


@pytest.mark.parametrize("value", ["inf", "nan", "1e999", "-5", "99999999999999999999"])
def test_a_malformed_login_delay_is_ignored_and_the_fetch_goes_on(tmp_path: Path, value: str):
    mails = _mails()
    with HostileServer(mails, Hostile(login_delay=value)) as server:
        run = fetch(server, tmp_path, "--delete", timeout=60)
    assert run.status == 0, run.err
    assert sorted(server.deleted) == ["m-0", "m-1"]
    assert_deleted_intact(server, tmp_path)


# ------------------------------------------------------------------------ raw server text


@pytest.mark.parametrize(
    "text", [b"\x1b[2J\x1b[Hcleared", b"\x1b]0;pwned\x07title", b"C1 \xc2\x9b31m red", b"\x00nul"]
)
def test_err_text_with_escape_sequences_is_shown_escaped(tmp_path: Path, text: bytes):
    with HostileServer(_mails(), Hostile(replies={"PASS": b"-ERR [AUTH] " + text + b"\r\n"})) \
            as server:
        run = fetch(server, tmp_path, timeout=60)  # the helper checks for control characters
    assert run.status == 2
    assert run.reason.startswith("popfetch: The server refused the password (PASS ***: -ERR")
    assert "\\x" in run.reason


# ---------------------------------------------------------------------- protocol speak


def test_a_refused_password_is_said_plainly_once_and_no_summary_follows(tmp_path: Path):
    with HostileServer(_mails()) as server:
        run = fetch(server, tmp_path, password="wrong", timeout=60)
    assert run.status == 2
    assert run.reason == ("popfetch: The server refused the password"
                          " (PASS ***: -ERR [AUTH] invalid login)")
    assert run.out == ""  # no "0 messages (0.0 MB) fetched"
    assert server.sent_verbs().count("PASS") == 1


def test_tls_against_a_plaintext_port_names_the_security_setting(tmp_path: Path):
    with HostileServer(_mails()) as server:
        run = fetch(server, tmp_path, "--security", "tls", timeout=60)
    assert run.status == 2 and run.seconds < 30
    assert run.reason.startswith("popfetch: This port does not speak TLS from the start: choose"
                                 " STARTTLS or no encryption (")


def test_plaintext_against_a_tls_port_gets_the_hint_after_one_timeout(tmp_path: Path):
    ctx, _ = _server_tls(tmp_path)
    with HostileServer(_mails(), Hostile(tls=ctx)) as server:
        run = fetch(server, tmp_path, "--timeout", "2", timeout=60)
    assert run.status == 2
    assert run.seconds < 15  # one wait of --timeout, not one per retry
    assert "choose SSL/TLS" in run.reason
    assert server.connections == 1


def test_a_greeting_that_never_comes_gets_the_hint_after_one_timeout(tmp_path: Path):
    with HostileServer(_mails(), Hostile(greeting=None)) as server:
        run = fetch(server, tmp_path, "--timeout", "2", timeout=60)
    assert run.status == 2 and run.seconds < 15
    assert run.reason.startswith("popfetch: The server never greeted: if this port expects")
    assert server.connections == 1


def test_a_greeting_that_looks_like_a_tls_record_fails_at_once(tmp_path: Path):
    record = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"
    with HostileServer(_mails(), Hostile(greeting=record)) as server:
        run = fetch(server, tmp_path, "--timeout", "30", timeout=60)
    assert run.status == 2 and run.seconds < 15
    assert run.reason.startswith("popfetch: This port speaks TLS: choose SSL/TLS (")
    assert server.connections == 1


def test_an_unknown_certificate_authority_is_said_plainly(tmp_path: Path):
    ctx, _ = _server_tls(tmp_path)
    with HostileServer(_mails(), Hostile(tls=ctx)) as server:
        run = fetch(server, tmp_path, "--security", "tls", timeout=60)
    assert run.status == 2
    assert run.reason.startswith("popfetch: The server's certificate is not signed by an"
                                 " authority this computer trusts (")


def test_a_slow_greeting_is_waited_for(tmp_path: Path):
    with HostileServer(_mails(), Hostile(greeting_delay=1.5)) as server:
        run = fetch(server, tmp_path, "--delete", timeout=60)
    assert run.status == 0, run.err
    assert sorted(server.deleted) == ["m-0", "m-1"]
    assert_deleted_intact(server, tmp_path)


def test_starttls_with_a_slow_handshake_works_with_the_default_timeout(tmp_path: Path):
    ctx, ca = _server_tls(tmp_path)
    mails = _mails()
    with HostileServer(mails, Hostile(stls=ctx, stls_delay=1.5)) as server:
        run = run_popfetch(
            "fetch", "--host", "127.0.0.1", "--port", str(server.port), "--security", "starttls",
            "--cafile", str(ca), "--user", USER, "--maildir", str(tmp_path / "mail"),
            "--state-dir", str(tmp_path / "state"), "--max-retries", "0", "-q", timeout=60,
        )
    assert run.status == 0, run.err
    assert sorted(stored(tmp_path)) == sorted(m.stored_form for m in mails)


# ---------------------------------------------------------------- nothing skipped silently


def test_duplicate_uidls_are_reported_and_the_exit_status_says_so(tmp_path: Path):
    a, b, c = (Mail.of(b"Subject: %d\n\nbody %d\n" % (i, i), u)
               for i, u in enumerate(["same", "same", "other"]))
    with HostileServer([a, b, c]) as server:
        run = fetch(server, tmp_path, "--delete", quiet=False, timeout=60)
    assert run.status == 1
    assert "'same'" in run.err
    assert "other" in server.deleted
    assert_deleted_intact(server, tmp_path)


def test_a_uidl_without_a_list_entry_is_reported(tmp_path: Path):
    with HostileServer(_mails(), Hostile(uidl_lines=(b"7 ghost",))) as server:
        run = fetch(server, tmp_path, "--delete", quiet=False, timeout=60)
    assert run.status == 1
    assert "message 7" in run.err
    assert sorted(server.deleted) == ["m-0", "m-1"]
    assert_deleted_intact(server, tmp_path)


@pytest.mark.parametrize("uidl", ["x" * 71, "ctl\x1b[2Jchar"])
def test_one_bad_uidl_line_affects_that_message_only(tmp_path: Path, uidl: str):
    bad = Mail.of(b"Subject: bad\n\nbad uidl\n", uidl)
    good = _mails()
    with HostileServer([bad, *good]) as server:
        run = fetch(server, tmp_path, "--delete", quiet=False, timeout=60)
    assert run.status == 1
    assert "message 1" in run.err
    assert sorted(server.deleted) == ["m-0", "m-1"]
    assert server.sent_verbs().count("PASS") == 1  # not a protocol error retried N times
    assert_deleted_intact(server, tmp_path)
