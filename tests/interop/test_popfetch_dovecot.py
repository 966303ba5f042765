"""popfetch against a real Dovecot 2.3: the session, the engine and ``popfetch fetch``.

Dovecot offers no EXT-RETR, so these tests cover the paths a user with an ordinary server
takes: CAPA around STLS and login, every login method, certificate checks, a wrong
password, bulk and large fetches that equal Dovecot's files, deletion only at QUIT, drops
before QUIT, restart-from-zero after a cut, and a Maildir popfetch filled served back by
Dovecot itself.
"""

from __future__ import annotations

import hashlib
import os
import poplib
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from mailbox import Maildir as PythonMaildir
from pathlib import Path

import pytest

from core.accounts import Account
from core.engine.coordinator import Engine, RetryPolicy
from core.engine.events import (
    CommitFinished,
    Event,
    ListLoaded,
    MessageState,
    TranscriptLine,
)
from core.errors import AuthenticationError, CertificateError
from core.net import Security, TlsPolicy
from core.pop3.session import open_session
from core.store.local import Store
from tests.support.dovecot import Dovecot, User, make_messages, to_wire
from tests.support.proxy import CuttingProxy

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120.0


# ---- helpers ---------------------------------------------------------------------------------


def stored_files(maildir: Path) -> list[Path]:
    return sorted(p for sub in ("new", "cur") if (maildir / sub).is_dir()
                  for p in (maildir / sub).iterdir() if p.is_file())


def stored(maildir: Path) -> list[bytes]:
    """The messages in a Maildir, as a sorted list (order differs between the two sides)."""
    return sorted(p.read_bytes() for p in stored_files(maildir))


def digests(paths: list[Path]) -> list[str]:
    out = []
    for path in paths:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        out.append(h.hexdigest())
    return sorted(out)


def fetch(
    dovecot: Dovecot,
    user: User,
    work: Path,
    *args: str,
    security: str = "tls",
    port: int | None = None,
    password: str | None = None,
    cafile: bool = True,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """``popfetch fetch`` in a child process, into work/Maildir with state in work/state."""
    if port is None:
        port = dovecot.pop3s_port if security == "tls" else dovecot.pop3_port
    env = dict(os.environ, POPFETCH_PASSWORD=user.password if password is None else password)
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[var] = str(work / "xdg" / var.lower())
    cmd = [
        sys.executable, "-m", "core.cli", "fetch", "--host", "127.0.0.1", "--port", str(port),
        "--security", security, "--user", user.name, "--maildir", str(work / "Maildir"),
        "--state-dir", str(work / "state"), "--timeout", "30",
    ]
    if cafile:
        cmd += ["--cafile", str(dovecot.ca_pem)]
    return subprocess.run(
        [*cmd, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


class Events:
    """Collects engine events; waits for one that matches, bounded."""

    def __init__(self) -> None:
        self.items: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def wait_for(self, match: Callable[[Event], bool], timeout: float = TIMEOUT) -> Event:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.items:
                    if match(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching event in {timeout} s: {self.items[-20:]}")
                self._cond.wait(left)

    def sent(self) -> list[str]:
        with self._cond:
            return [e.text for e in self.items if isinstance(e, TranscriptLine) and e.sent]

    def received(self) -> list[str]:
        with self._cond:
            return [e.text for e in self.items if isinstance(e, TranscriptLine) and not e.sent]


def engine_for(
    dovecot: Dovecot, user: User, work: Path, events: Events, *, plaintext_port: int | None = None
) -> Engine:
    if plaintext_port is None:
        account = Account(
            host="127.0.0.1", port=dovecot.pop3s_port, security=Security.TLS, user=user.name,
            maildir=str(work / "Maildir"), cafile=str(dovecot.ca_pem),
        )
    else:
        account = Account(
            host="127.0.0.1", port=plaintext_port, security=Security.NONE, user=user.name,
            maildir=str(work / "Maildir"), allow_plaintext=True,
        )
    return Engine(
        account,
        password=lambda: user.password,
        listener=events,
        store=Store(work / "Maildir", work / "state"),
        retry=RetryPolicy(initial=0.2, max_failures=3),
        auto_download=True,
        transcript=True,
    )


def pop_disconnects(dovecot: Dovecot, user: User) -> list[str]:
    return [line for line in dovecot.log_lines(f"pop3({user.name})") if "Disconnected" in line]


def wait_disconnects(dovecot: Dovecot, user: User, count: int, timeout: float = 15) -> None:
    """Until Dovecot has logged the end of ``count`` sessions of ``user`` (bounded)."""
    deadline = time.monotonic() + timeout
    while len(pop_disconnects(dovecot, user)) < count:
        assert time.monotonic() < deadline, pop_disconnects(dovecot, user)
        time.sleep(0.05)


# ---- the session: capabilities, login methods, certificates ----------------------------------


def test_capa_before_and_after_stls_and_after_login(dovecot: Dovecot, mailbox: User) -> None:
    lines: list[tuple[bool, str]] = []
    session = open_session(
        "127.0.0.1", dovecot.pop3_port, Security.STARTTLS, TlsPolicy(cafile=str(dovecot.ca_pem)),
        transcript=lambda sent, text: lines.append((sent, text)),
        connect_timeout=10, read_timeout=10,
    )
    try:
        sent = [text for was_sent, text in lines if was_sent]
        assert sent == ["CAPA", "STLS", "CAPA"]  # CAPA again after TLS (RFC 2595)
        caps = session.info.capabilities
        assert session.info.secure
        assert "STLS" not in caps and "USER" in caps
        assert set(session.info.sasl) == {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"}
        assert not session.info.ext_retr
        session.login(mailbox.name, mailbox.password)
        after = session.capa()
        assert {"TOP", "UIDL", "PIPELINING", "RESP-CODES"} <= set(after)
        assert "SASL" not in after and "EXT-RETR" not in after
        assert session.stat() == (0, 0)
    finally:
        session.quit()


@pytest.mark.parametrize("method", ["user", "plain", "login", "cram-md5", "apop", "scram-sha-256"])
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_every_login_method_fetches(
    dovecot: Dovecot, mailbox: User, tmp_path: Path, method: str, security: str
) -> None:
    messages = make_messages(3)
    dovecot.fill(mailbox.name, messages)
    ok(fetch(dovecot, mailbox, tmp_path, "--auth", method, "--keep", security=security))
    assert stored(tmp_path / "Maildir") == sorted(messages)
    logins = dovecot.wait_log(f"Login: user=<{mailbox.name}>")
    dovecot_name = "PLAIN" if method == "user" else method.upper()
    assert [f"method={dovecot_name}," in line for line in logins] == [True]
    assert all("TLS" in line for line in logins)


def test_certificate_refused_without_the_ca_then_pinned(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    dovecot.fill(mailbox.name, make_messages(2))
    with pytest.raises(CertificateError) as refused:
        open_session("127.0.0.1", dovecot.pop3s_port, Security.TLS, TlsPolicy(),
                     connect_timeout=10, read_timeout=10)
    assert refused.value.info.sha256 == dovecot.sha256
    assert dovecot.sha256 in str(refused.value)
    with pytest.raises(CertificateError) as refused_stls:
        open_session("127.0.0.1", dovecot.pop3_port, Security.STARTTLS, TlsPolicy(),
                     connect_timeout=10, read_timeout=10)
    assert refused_stls.value.info.sha256 == dovecot.sha256

    result = fetch(dovecot, mailbox, tmp_path, "--keep", cafile=False)
    assert result.returncode == 2, result
    assert "certificate" in result.stderr.lower()
    assert dovecot.sha256 in result.stderr  # what the user needs to decide on a pin
    assert stored(tmp_path / "Maildir") == []
    assert not dovecot.log_lines(f"user=<{mailbox.name}>")  # no password went out

    pinned = fetch(dovecot, mailbox, tmp_path, "--keep", "--fingerprint",
                   dovecot.sha256.replace(":", "").lower(), cafile=False)
    ok(pinned)
    assert len(stored(tmp_path / "Maildir")) == 2


def test_wrong_password_is_reported_once_and_not_retried(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    dovecot.fill(mailbox.name, make_messages(1))
    result = fetch(dovecot, mailbox, tmp_path, "--keep", "--max-retries", "5",
                   "--retry-delay", "0.1", password="wrong password")
    assert result.returncode == 2, result
    assert result.stderr.count("Authentication failed") == 1, result.stderr
    # The login process logs its disconnect after the auth process logged the mismatch.
    dovecot.wait_log("auth failed", count=1)
    mismatches = dovecot.log_lines(f"passwd-file({mailbox.name},")
    assert len(mismatches) == 1 and "Password mismatch" in mismatches[0]
    with pytest.raises(AuthenticationError):
        session = open_session("127.0.0.1", dovecot.pop3s_port, Security.TLS,
                               TlsPolicy(cafile=str(dovecot.ca_pem)), read_timeout=10)
        try:
            session.login(mailbox.name, "wrong again")
        finally:
            session.close()


# ---- fetching --------------------------------------------------------------------------------


@pytest.mark.slow
def test_hundreds_of_messages_and_a_100_mb_one_equal_dovecots_files(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    messages = make_messages(300, body_lines=20)
    dovecot.fill(mailbox.name, messages)
    dovecot.fill_file(mailbox.name, 100_000_000)
    first = ok(fetch(dovecot, mailbox, tmp_path, "--keep", timeout=300))
    assert "301 messages" in first
    ours = stored_files(tmp_path / "Maildir")
    assert len(ours) == 301
    assert digests(ours) == digests(dovecot.files(mailbox.name))
    # Leave-on-server: a second run fetches nothing new.
    second = ok(fetch(dovecot, mailbox, tmp_path, "--keep"))
    assert "0 messages" in second, second
    assert len(stored_files(tmp_path / "Maildir")) == 301
    assert len(dovecot.files(mailbox.name)) == 301  # --keep deleted nothing


def test_a_second_run_fetches_only_what_is_new(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    old = make_messages(20)
    dovecot.fill(mailbox.name, old)
    ok(fetch(dovecot, mailbox, tmp_path, "--keep", security="starttls"))
    new = make_messages(5, start=20)
    dovecot.fill(mailbox.name, new)
    out = ok(fetch(dovecot, mailbox, tmp_path, "--keep", security="starttls"))
    assert "5 messages" in out, out
    assert stored(tmp_path / "Maildir") == sorted(old + new)


def test_a_second_session_waits_for_in_use_then_fetches(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    messages = make_messages(4)
    dovecot.fill(mailbox.name, messages)
    holder = poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=dovecot.ssl_context(),
                             timeout=30)
    holder.user(mailbox.name)
    holder.pass_(mailbox.password)
    outcome: list[subprocess.CompletedProcess[str]] = []
    runner = threading.Thread(target=lambda: outcome.append(fetch(
        dovecot, mailbox, tmp_path, "--keep", "--retry-delay", "0.5", "--max-retries", "3")))
    runner.start()
    try:
        # Dovecot waits ~10 s for the lock, then answers -ERR [IN-USE].
        deadline = time.monotonic() + 30
        while not any("Couldn't lock POP3 session" in line
                      for line in dovecot.log_lines(f"pop3({mailbox.name})")):
            assert time.monotonic() < deadline, dovecot.diagnostics()
            time.sleep(0.05)
    finally:
        holder.quit()
    runner.join(TIMEOUT)
    assert outcome, "popfetch did not finish"
    ok(outcome[0])
    assert "IN-USE" in outcome[0].stderr
    assert stored(tmp_path / "Maildir") == sorted(messages)


# ---- deletion: only at QUIT, never after a drop ----------------------------------------------


def test_deletions_reach_dovecot_only_at_quit(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    messages = make_messages(6)
    dovecot.fill(mailbox.name, messages)
    events = Events()
    engine = engine_for(dovecot, mailbox, tmp_path, events)
    engine.start()
    try:
        assert engine.wait_idle(TIMEOUT)
        infos = engine.messages()
        assert [m.state for m in infos] == [MessageState.STORED] * 6
        doomed = [infos[0].uidl, infos[2].uidl, infos[5].uidl]
        engine.mark(doomed)
        assert engine.wait_idle(TIMEOUT)
        assert sum(text.startswith("DELE ") for text in events.sent()) == 3
        assert sum("Marked to be deleted" in text for text in events.received()) == 3
        assert dovecot.contents(mailbox.name) == messages  # marked, not deleted
        engine.commit()
        done = events.wait_for(lambda e: isinstance(e, CommitFinished))
        assert isinstance(done, CommitFinished) and done.ok
        assert done.deleted == frozenset(doomed)
    finally:
        engine.shutdown(10)
    assert dovecot.contents(mailbox.name) == [messages[1], messages[3], messages[4]]
    assert stored(tmp_path / "Maildir") == sorted(messages)  # our copies stay


def test_a_disconnect_with_marks_is_rset_then_quit_and_deletes_nothing(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    messages = make_messages(4)
    dovecot.fill(mailbox.name, messages)
    events = Events()
    engine = engine_for(dovecot, mailbox, tmp_path, events)
    engine.start()
    try:
        assert engine.wait_idle(TIMEOUT)
        uidls = [m.uidl for m in engine.messages()]
        engine.mark(uidls)
        assert engine.wait_idle(TIMEOUT)
        assert sum(text.startswith("DELE ") for text in events.sent()) == 4
        assert sum("Marked to be deleted" in text for text in events.received()) == 4
        engine.disconnect()
        wait_disconnects(dovecot, mailbox, 1)
    finally:
        engine.shutdown(10)
    assert events.sent()[-2:] == ["RSET", "QUIT"]
    closed = pop_disconnects(dovecot, mailbox)
    assert len(closed) == 1 and "Logged out" in closed[0] and "del=0/4" in closed[0]
    assert dovecot.contents(mailbox.name) == messages
    with Store(tmp_path / "Maildir", tmp_path / "state") as store:
        assert store.marks() == set(uidls)  # journalled: they come back next time


def test_every_session_of_keep_refresh_and_idle_end_says_logged_out(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    messages = make_messages(3)
    dovecot.fill(mailbox.name, messages[:2])
    ok(fetch(dovecot, mailbox, tmp_path, "--keep"))  # session 1: a keep run
    wait_disconnects(dovecot, mailbox, 1)
    events = Events()
    account = Account(
        host="127.0.0.1", port=dovecot.pop3s_port, security=Security.TLS, user=mailbox.name,
        maildir=str(tmp_path / "Maildir"), cafile=str(dovecot.ca_pem),
    )
    engine = Engine(
        account, password=lambda: mailbox.password, listener=events,
        store=Store(tmp_path / "Maildir", tmp_path / "state"), idle_end=1.0,
    )
    engine.start()  # session 2
    try:
        first = events.wait_for(lambda e: isinstance(e, ListLoaded))
        assert isinstance(first, ListLoaded) and len(first.messages) == 2
        dovecot.fill(mailbox.name, messages[2:])  # delivered while the app is connected
        engine.refresh()  # session 2 ends with QUIT; session 3 sees the new message
        events.wait_for(lambda e: isinstance(e, ListLoaded) and len(e.messages) == 3)
        # session 3 ends by itself after a second without work
        wait_disconnects(dovecot, mailbox, 3)
    finally:
        engine.shutdown(10)
    closed = pop_disconnects(dovecot, mailbox)
    assert len(closed) == 3 and all("Logged out" in line for line in closed), closed
    assert len(dovecot.contents(mailbox.name)) == 3


def test_quitting_the_app_with_an_idle_session_logs_out(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    dovecot.fill(mailbox.name, make_messages(2))
    engine = engine_for(dovecot, mailbox, tmp_path, Events())
    engine.start()
    assert engine.wait_idle(TIMEOUT)
    start = time.monotonic()
    engine.shutdown(10)
    assert time.monotonic() - start < 1.0
    wait_disconnects(dovecot, mailbox, 1)
    closed = pop_disconnects(dovecot, mailbox)
    assert len(closed) == 1 and "Logged out" in closed[0], closed


def test_unmarking_one_is_rset_then_dele_of_the_others(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    messages = make_messages(5)
    dovecot.fill(mailbox.name, messages)
    events = Events()
    engine = engine_for(dovecot, mailbox, tmp_path, events)
    engine.start()
    try:
        assert engine.wait_idle(TIMEOUT)
        uidls = [m.uidl for m in engine.messages()]
        engine.mark(uidls[:3])
        assert engine.wait_idle(TIMEOUT)
        engine.unmark([uidls[1]])
        assert engine.wait_idle(TIMEOUT)
        sent = [t for t in events.sent() if t.startswith(("DELE", "RSET"))]
        assert sent == ["DELE 1", "DELE 2", "DELE 3", "RSET", "DELE 1", "DELE 3"]
        engine.commit()
        done = events.wait_for(lambda e: isinstance(e, CommitFinished))
        assert isinstance(done, CommitFinished) and done.deleted == {uidls[0], uidls[2]}
    finally:
        engine.shutdown(10)
    assert dovecot.contents(mailbox.name) == [messages[1], messages[3], messages[4]]


def test_a_reset_after_dele_deletes_nothing_and_the_marks_survive(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    """A real TCP reset (not a polite close) between DELE and QUIT: Dovecot removes nothing;
    popfetch reconnects, re-issues the journalled DELEs, and the next QUIT commits them."""
    messages = make_messages(4)
    dovecot.fill(mailbox.name, messages)
    events = Events()
    with CuttingProxy(("127.0.0.1", dovecot.pop3_port)) as proxy:
        engine = engine_for(dovecot, mailbox, tmp_path, events, plaintext_port=proxy.address[1])
        engine.start()
        try:
            assert engine.wait_idle(TIMEOUT)
            uidls = [m.uidl for m in engine.messages()]
            engine.mark(uidls[1:3])
            assert engine.wait_idle(TIMEOUT)
            assert sum("Marked to be deleted" in t for t in events.received()) == 2
            assert proxy.cut_now() == 1
            deadline = time.monotonic() + 15
            while not pop_disconnects(dovecot, mailbox):
                assert time.monotonic() < deadline, dovecot.diagnostics()
                time.sleep(0.05)
            assert "Connection closed" in pop_disconnects(dovecot, mailbox)[0]
            assert dovecot.contents(mailbox.name) == messages  # nothing removed
            engine.commit()  # reconnects through the proxy, DELEs again, QUIT
            done = events.wait_for(lambda e: isinstance(e, CommitFinished))
            assert isinstance(done, CommitFinished) and done.ok
            assert done.deleted == frozenset(uidls[1:3])
        finally:
            engine.shutdown(10)
    assert proxy.connections >= 2
    assert sum("Marked to be deleted" in t for t in events.received()) == 4
    assert dovecot.contents(mailbox.name) == [messages[0], messages[3]]


def test_cli_delete_commits_at_quit(dovecot: Dovecot, mailbox: User, tmp_path: Path) -> None:
    messages = make_messages(10)
    dovecot.fill(mailbox.name, messages)
    out = ok(fetch(dovecot, mailbox, tmp_path, "--delete"))
    assert "10 deleted" in out, out
    assert dovecot.files(mailbox.name) == []
    assert stored(tmp_path / "Maildir") == sorted(messages)


# ---- drops mid-transfer: no RETR offsets, restart from zero, intact mail ---------------------


def plaintext_fetch_via(
    proxy: CuttingProxy, dovecot: Dovecot, user: User, work: Path
) -> subprocess.CompletedProcess[str]:
    return fetch(dovecot, user, work, "--keep", "--allow-plaintext", "--retry-delay", "0.2",
                 "--max-retries", "5", security="none", port=proxy.address[1], cafile=False,
                 timeout=300)


RETR_WITH_OFFSET = re.compile(rb"RETR \d+ \d+")


def test_a_cut_large_transfer_restarts_and_ends_intact(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    dovecot.fill(mailbox.name, make_messages(3))
    dovecot.fill_file(mailbox.name, 20_000_000)
    with CuttingProxy(("127.0.0.1", dovecot.pop3_port), cuts=[9_000_000, 15_000_000]) as proxy:
        result = plaintext_fetch_via(proxy, dovecot, mailbox, tmp_path)
    ok(result)
    assert proxy.was_cut[:2] == [True, True] and proxy.connections >= 3
    everything = b"".join(proxy.sent)
    assert b"RETR " in everything
    assert not RETR_WITH_OFFSET.search(everything)  # Dovecot lists no EXT-RETR
    assert digests(stored_files(tmp_path / "Maildir")) == digests(dovecot.files(mailbox.name))
    assert "2 resumed" in result.stdout and "2 reconnects" in result.stdout, result.stdout


def test_a_cut_in_a_pipelined_batch_stores_each_message_once(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    messages = make_messages(200, body_lines=40)  # ~1.6 KB each, ~330 KB in all
    dovecot.fill(mailbox.name, messages)
    with CuttingProxy(("127.0.0.1", dovecot.pop3_port), cuts=[100_000, 100_000]) as proxy:
        result = plaintext_fetch_via(proxy, dovecot, mailbox, tmp_path)
    ok(result)
    assert proxy.was_cut[:2] == [True, True]
    assert not RETR_WITH_OFFSET.search(b"".join(proxy.sent))
    assert stored(tmp_path / "Maildir") == sorted(messages)  # none lost, none twice


# ---- a Maildir popfetch filled, served back by Dovecot ---------------------------------------


def test_dovecot_serves_back_the_maildir_popfetch_filled(
    dovecot: Dovecot, mailbox: User, tmp_path: Path
) -> None:
    messages = make_messages(40)
    messages.append(b"Subject: no final newline\n\nlast line without one")
    dovecot.fill(mailbox.name, messages)
    dovecot.fill_file(mailbox.name, 3_000_000)
    work = dovecot.scratch(f"served-{mailbox.name}")
    ok(fetch(dovecot, mailbox, work, "--keep"))
    maildir = work / "Maildir"
    fetched = stored(maildir)
    assert len(fetched) == 42

    # Python's mailbox module reads it.
    box = PythonMaildir(maildir, factory=None, create=False)
    assert len(box) == 42
    assert sorted(box.get_bytes(key) for key in box.iterkeys()) == fetched
    assert sum(1 for msg in box if msg["Subject"] == "no final newline") == 1

    back = dovecot.add_user(f"back-{mailbox.name}", "back-pw", maildir=maildir)
    pop = poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=dovecot.ssl_context(),
                          timeout=30)
    try:
        pop.user(back.name)
        pop.pass_(back.password)
        count, _size = pop.stat()
        assert count == 42
        served = []
        for n in range(1, count + 1):
            _resp, lines, _octets = pop.retr(n)
            served.append(b"".join(line + b"\r\n" for line in lines))
    finally:
        pop.quit()
    assert sorted(served) == sorted(to_wire(m) for m in fetched)


def test_without_tls_auto_login_uses_scram_and_never_sends_the_password(
    dovecot: Dovecot, mailbox: User
) -> None:
    lines: list[str] = []
    session = open_session("127.0.0.1", dovecot.pop3_port, Security.NONE, TlsPolicy(),
                           transcript=lambda sent, text: lines.append(text),
                           connect_timeout=10, read_timeout=10)
    try:
        assert session.login(mailbox.name, mailbox.password) == "scram-sha-256"
        assert session.stat() == (0, 0)
    finally:
        session.quit()
    assert mailbox.password not in "\n".join(lines)
    logins = dovecot.wait_log(f"Login: user=<{mailbox.name}>")
    assert ["method=SCRAM-SHA-256," in line for line in logins] == [True]
