"""The headless commands end to end against Dovecot: `accounts add`, `fetch --account` /
`--all` with overlapping sessions, `--max-size`, `--every` picking up late mail and
ending on SIGTERM, and N-days deletion on an injected clock, committed at QUIT."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.accounts import Account, AccountBook
from core.cli import main
from core.engine.retention import DAY, Retention, Rule
from core.headless import FetchOptions, check
from core.net import Security
from tests.support.dovecot import Dovecot, User, make_messages

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def xdg(tmp_path, monkeypatch):
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    monkeypatch.delenv("POPFETCH_PASSWORD", raising=False)


def add_account(dovecot: Dovecot, user: User, name: str, maildir: Path) -> None:
    assert main(["accounts", "add", name, "--host", dovecot.host,
                 "--port", str(dovecot.pop3_port), "--security", "starttls",
                 "--cafile", str(dovecot.ca_pem), "--user", user.name,
                 "--maildir", str(maildir), "--password-command", f"echo {user.password}"]) == 0


def local(maildir: Path) -> list[bytes]:
    return sorted(p.read_bytes() for sub in ("new", "cur") if (maildir / sub).is_dir()
                  for p in (maildir / sub).iterdir())


def test_all_fetches_two_accounts_whose_sessions_overlap_in_dovecots_log(
    dovecot: Dovecot, tmp_path, capsys
):
    users = [dovecot.add_user(f"par{i}-{os.getpid()}", f"pw-{i}-secret") for i in (1, 2)]
    for i, user in enumerate(users):
        dovecot.fill_file(user.name, 12_000_000)  # long enough for the other to log in
        dovecot.fill(user.name, make_messages(3, tag=user.name))
        add_account(dovecot, user, f"box{i}", tmp_path / f"m{i}")
    capsys.readouterr()
    assert main(["fetch", "--all", "-q"]) == 0
    out = capsys.readouterr().out
    assert "popfetch: box0: 4 messages" in out and "popfetch: box1: 4 messages" in out
    assert [len(local(tmp_path / f"m{i}")) for i in (0, 1)] == [4, 4]
    a, b = (u.name for u in users)
    log = dovecot.log().splitlines()

    def at(pattern: str) -> int:
        return next(i for i, line in enumerate(log) if re.search(pattern, line))

    logins = {u: at(rf"Login: user=<{u}>") for u in (a, b)}
    logouts = {u: at(rf"pop3\({u}\).*Disconnected: Logged out") for u in (a, b)}
    assert logins[a] < logouts[b] and logins[b] < logouts[a], "\n".join(log[-12:])


def test_max_size_skips_large_messages_and_exits_0(dovecot: Dovecot, mailbox: User, tmp_path,
                                                   capsys):
    dovecot.fill(mailbox.name, make_messages(2, tag="small"))
    dovecot.fill_file(mailbox.name, 3 * 1024 * 1024)
    add_account(dovecot, mailbox, "limited", tmp_path / "m")
    capsys.readouterr()
    assert main(["fetch", "--account", "limited", "--max-size", "500k", "-q"]) == 0
    out = capsys.readouterr().out
    assert "popfetch: limited: 2 messages" in out
    assert "1 skipped over the size limit (3.0 MiB" in out
    assert len(local(tmp_path / "m")) == 2
    assert len(dovecot.files(mailbox.name)) == 3  # nothing deleted


def test_every_picks_up_mail_delivered_after_it_started(dovecot: Dovecot, mailbox: User,
                                                        tmp_path):
    dovecot.fill(mailbox.name, make_messages(1, tag="before"))
    add_account(dovecot, mailbox, "watched", tmp_path / "m")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "fetch", "--account", "watched", "--every", "1s",
         "-q"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("popfetch: watched: 1 messages"), first + proc.stderr.read()
        dovecot.fill(mailbox.name, make_messages(1, start=1, tag="after"))
        for line in proc.stdout:
            if line.startswith("popfetch: watched: 1 messages"):
                break
        assert len(local(tmp_path / "m")) == 2
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        elapsed = time.monotonic() - started
        assert elapsed < 2.0, elapsed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    sessions = dovecot.log_lines(f"pop3({mailbox.name})")
    assert len(sessions) >= 2 and all("Logged out" in s for s in sessions)  # each ended by QUIT


def test_n_days_deletes_only_old_stored_messages_at_quit(dovecot: Dovecot, mailbox: User,
                                                         tmp_path):
    account = Account(name="aged", host=dovecot.host, port=dovecot.pop3_port,
                      security=Security.STARTTLS, cafile=str(dovecot.ca_pem),
                      user=mailbox.name, maildir=str(tmp_path / "m"))
    old = dovecot.fill(mailbox.name, make_messages(3, tag="old"))
    stop = threading.Event()
    keep = FetchOptions(quiet=True)
    assert check(account, mailbox.password, keep, stop).fetched == 3
    between = time.time()
    young = dovecot.fill(mailbox.name, make_messages(1, start=3, tag="young"))
    big = dovecot.fill_file(mailbox.name, 2 * 1024 * 1024)  # old enough, but never stored
    week = FetchOptions(quiet=True, max_size=1024 * 1024,
                        retention=Retention(Rule.AFTER_DAYS, 7))
    result = check(account, mailbox.password, week, stop, now=lambda: between + 7 * DAY)
    assert (result.fetched, result.deleted, len(result.skipped)) == (1, 3, 1)
    remaining = {p.name.split(":")[0] for p in dovecot.files(mailbox.name)}
    assert remaining == {young[0].name, big.name}
    assert not remaining & {p.name for p in old}
    assert len(local(tmp_path / "m")) == 4  # local copies stay
    assert "del=3/5" in dovecot.log_lines(f"pop3({mailbox.name})")[-1]  # at QUIT, all three
    assert AccountBook().load() == []  # check() itself wrote no account
