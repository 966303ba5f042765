"""Headless checks against the demo server: size limit, leave-on-server rules (on an
injected clock), parallel accounts, ``--every`` with SIGTERM, and the fetch flags."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.accounts import Account, AccountBook
from core.cli import main
from core.demoserver import DemoServer
from core.engine.coordinator import RetryPolicy
from core.engine.retention import DAY, Retention, Rule
from core.headless import Fetcher, FetchOptions, check
from core.net import Security
from tests.support.engine import PASSWORD, Harness
from tests.support.mail import read_maildir, tricky_message, write_message

ROOT = Path(__file__).resolve().parents[2]
QUICK = RetryPolicy(initial=0.05, maximum=0.5, max_failures=2)


@pytest.fixture(autouse=True)
def xdg(tmp_path, monkeypatch):
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))


def message(rng: random.Random, size: int = 1500) -> bytes:
    return tricky_message(rng, size)


def run(account: Account, **options: object) -> object:
    now = options.pop("now", time.time)
    opts = FetchOptions(retry=QUICK, read_timeout=10, quiet=True, **options)  # type: ignore[arg-type]
    return check(account, PASSWORD, opts, threading.Event(), now=now)  # type: ignore[arg-type]


def retrs(server: DemoServer) -> list[str]:
    return [c for c in server.commands if c.startswith("RETR")]


def test_the_size_limit_skips_larger_messages_and_says_how_many_and_how_large(harness: Harness):
    rng = random.Random(1)
    harness.add(message(rng, 2000))
    harness.add(message(rng, 300_000))
    harness.add(message(rng, 3000))
    harness.add(message(rng, 700_000))
    server = harness.serve()
    result = run(harness.account(), max_size=100 * 1024)
    assert result.status == 0 and result.fetched == 2
    assert sorted(result.skipped) == sorted(
        len(b.replace(b"\n", b"\r\n")) for b in read_maildir(harness.src) if len(b) > 100_000)
    assert "2 skipped over the size limit (" in result.summary()
    assert "largest 6" in result.summary()  # ~ 700,000 octets in CRLF form, in KiB
    assert len(retrs(server)) == 2 and "RETR 2" not in retrs(server)
    assert server.commands[-1] == "QUIT" and server.deleted == []


def test_delete_once_stored_deletes_at_quit(harness: Harness):
    rng = random.Random(2)
    for _ in range(3):
        harness.add(message(rng))
    server = harness.serve()
    result = run(harness.account(), retention=Retention(Rule.WHEN_STORED))
    assert (result.fetched, result.deleted, result.status) == (3, 3, 0)
    assert len(server.deleted) == 3
    assert server.commands.index("QUIT") > max(
        i for i, c in enumerate(server.commands) if c.startswith("DELE"))


def test_delete_after_n_days_selects_only_old_stored_messages(harness: Harness):
    rng = random.Random(3)
    old = [harness.add(message(rng)) for _ in range(2)]
    server = harness.serve()
    first = run(harness.account())  # keep: stores both, deletes nothing
    assert (first.fetched, first.deleted) == (2, 0)
    between = time.time()
    young = harness.add(message(rng))
    harness.add(message(rng, 200_000))  # never stored: over the limit
    rule = Retention(Rule.AFTER_DAYS, 7)
    early = run(harness.account(), retention=rule, max_size=100_000,
                now=lambda: between + 7 * DAY - 60)
    assert (early.fetched, early.deleted) == (1, 0)
    late = run(harness.account(), retention=rule, max_size=100_000,
               now=lambda: between + 7 * DAY)
    assert late.deleted == 2
    assert sorted(server.deleted) == sorted(p.name for p in old)
    assert young.exists() and len(read_maildir(harness.dst)) == 3


def test_delete_when_the_local_copy_is_gone(harness: Harness):
    rng = random.Random(4)
    for _ in range(3):
        harness.add(message(rng))
    server = harness.serve()
    run(harness.account())
    new = sorted((harness.dst / "new").iterdir())
    new[0].unlink()  # the user deleted it in their mail reader
    new[1].rename(harness.dst / "cur" / (new[1].name + ":2,S"))  # read: still there
    result = run(harness.account(), retention=Retention(Rule.WHEN_LOCAL_GONE))
    assert result.deleted == 1 and len(server.deleted) == 1
    assert len(read_maildir(harness.dst)) == 2


def test_a_wrong_password_is_a_clear_stop_not_a_hang(harness: Harness, capsys):
    harness.add(message(random.Random(5)))
    harness.serve()
    opts = FetchOptions(retry=QUICK, quiet=True)
    result = check(harness.account(), "wrong", opts, threading.Event())
    assert result.status == 2 and result.fatal
    assert "stopped:" in result.summary()


def _server(root: Path, count: int, seed: int, rate: float | None = None) -> DemoServer:
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True)
    rng = random.Random(seed)
    for _ in range(count):
        write_message(root, message(rng, 20_000))
    server = DemoServer(root, users={"alice": PASSWORD}, rate=rate)
    server.start()
    return server


def _account(server: DemoServer, name: str, maildir: Path) -> Account:
    host, port = server.address
    return Account(name=name, host=host, port=port, security=Security.NONE, user="alice",
                   maildir=str(maildir), allow_plaintext=True)


def test_accounts_are_fetched_in_parallel_each_with_its_summary(tmp_path, capsys):
    # Throttled to ~1 s a check, so that a watcher can see both maildrops locked at once.
    one, two = (_server(tmp_path / "s1", 3, 1, rate=60_000),
                _server(tmp_path / "s2", 4, 2, rate=80_000))
    both, done = threading.Event(), threading.Event()

    def watch() -> None:
        while not done.is_set() and not both.is_set():
            if one.locked and two.locked:
                both.set()
            done.wait(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        accounts = [(_account(one, "one", tmp_path / "m1"), PASSWORD),
                    (_account(two, "two", tmp_path / "m2"), PASSWORD)]
        assert Fetcher(accounts, FetchOptions(retry=QUICK, quiet=True)).once() == 0
    finally:
        done.set()
        watcher.join(5)
        one.stop()
        two.stop()
    assert both.is_set(), "the two sessions never overlapped"
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert any(line.startswith("popfetch: one: 3 messages") for line in out)
    assert any(line.startswith("popfetch: two: 4 messages") for line in out)
    assert len(read_maildir(tmp_path / "m1")) == 3 and len(read_maildir(tmp_path / "m2")) == 4


def test_discard_partials_is_for_the_runs_first_check_later_ones_resume(harness: Harness):
    from core.demoserver.mailbox import default_uidl
    from core.store.local import Store

    def partial_of(body: bytes) -> str:
        uidl = default_uidl(harness.add(body))
        with Store(harness.dst, harness.state) as store:
            p = store.begin(uidl, len(body.replace(b"\n", b"\r\n")))
            p.write(body[:5000].replace(b"\n", b"\r\n"))
            p.close()
        return uidl

    partial_of(b"Subject: one\n\n" + b"y" * 400_000 + b"\n")
    server = harness.serve()
    opts = FetchOptions(retry=QUICK, quiet=True, state_dir=harness.state, discard_partials=True)
    fetcher = Fetcher([(harness.account(), PASSWORD)], opts)
    assert fetcher.once() == 0
    assert retrs(server) == ["RETR 1"]  # fetched whole
    partial_of(b"Subject: two\n\n" + b"z" * 400_000 + b"\n")
    assert fetcher.once() == 0
    assert [r.split()[:2] for r in retrs(server)[1:]] == [["RETR", "2"]]
    assert int(retrs(server)[1].split()[2]) > 4000  # resumed: the partial was kept
    assert len(read_maildir(harness.dst)) == 2


# -- the command line ------------------------------------------------------------------------


def _add(server: DemoServer, name: str, maildir: Path, password_file: Path) -> None:
    host, port = server.address
    assert main(["accounts", "add", name, "--host", host, "--port", str(port), "--security",
                 "none", "--allow-plaintext", "--user", "alice", "--maildir", str(maildir),
                 "--password-command", f"cat {password_file}"]) == 0


@pytest.fixture
def pwfile(tmp_path: Path) -> Path:
    path = tmp_path / "pw"
    path.write_text(PASSWORD + "\n")
    return path


def test_fetch_account_and_all_from_the_accounts_file(tmp_path, capsys, pwfile):
    one, two = _server(tmp_path / "s1", 2, 3), _server(tmp_path / "s2", 1, 4)
    try:
        _add(one, "one", tmp_path / "m1", pwfile)
        _add(two, "two", tmp_path / "m2", pwfile)
        capsys.readouterr()
        assert main(["fetch", "--account", "two", "-q"]) == 0
        assert capsys.readouterr().out.startswith("popfetch: two: 1 messages")
        assert main(["fetch", "--all", "-q", "--delete"]) == 0
        out = capsys.readouterr().out
        assert "popfetch: one: 2 messages" in out and "popfetch: two: 0 messages" in out
        assert len(one.deleted) == 2 and len(two.deleted) == 1  # --delete overrode "keep"
    finally:
        one.stop()
        two.stop()


def test_an_account_refused_at_login_is_one_line_and_the_others_still_fetch(
    tmp_path, capsys, pwfile
):
    good, bad = _server(tmp_path / "s1", 2, 7), _server(tmp_path / "s2", 1, 8)
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    try:
        _add(good, "good", tmp_path / "m1", pwfile)
        _add(bad, "bad", tmp_path / "m2", wrong)
        capsys.readouterr()
        assert main(["fetch", "--all", "-q", "--retry-delay", "0.01"]) == 2
        captured = capsys.readouterr()
    finally:
        good.stop()
        bad.stop()
    # no "bad: 0 messages" line: the error says it all
    assert [line.split(" messages")[0] for line in captured.out.splitlines()] == [
        "popfetch: good: 2"]
    [err] = captured.err.strip().splitlines()
    assert err.startswith("popfetch: bad: The server refused the password"), err
    assert len(read_maildir(tmp_path / "m1")) == 2


def test_command_line_flags_override_the_stored_account(tmp_path, capsys, pwfile):
    server = _server(tmp_path / "s", 1, 5)
    try:
        _add(server, "box", tmp_path / "m", pwfile)
        book = AccountBook()
        [stored] = book.load()
        book.update(Account(**{**stored.to_dict(), "port": 1}), old_key=stored.key)  # stale
        assert main(["fetch", "--account", "box", "-q", "--max-retries", "0"]) == 2
        capsys.readouterr()
        port = str(server.address[1])
        assert main(["fetch", "--account", "box", "-q", "--port", port,
                     "--maildir", str(tmp_path / "elsewhere")]) == 0
        assert len(read_maildir(tmp_path / "elsewhere")) == 1
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--max-size", "5X"], "not a size: '5X'"),
     (["--every", "0s"], "a duration must be above 0"),
     (["--account", "nope"], "no account 'nope'"),
     ([], "fetch needs --host, --user and --maildir, or --account NAME, or --all"),
     (["--account", "a", "--all"], "not allowed with argument")],
)
def test_usage_errors_exit_2_with_a_clear_message(capsys, args, message, tmp_path):
    AccountBook().add(Account(name="a", host="h", port=1, security="none", user="u",
                              maildir=str(tmp_path)))
    assert main(["fetch", *args]) == 2
    assert message in capsys.readouterr().err


def test_every_picks_up_new_mail_and_ends_on_sigterm_within_2_s(tmp_path, pwfile):
    server = _server(tmp_path / "s", 1, 6)
    try:
        host, port = server.address
        env = {**os.environ, "POPFETCH_PASSWORD": PASSWORD,
               "XDG_STATE_HOME": str(tmp_path / "state")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "fetch", "--host", host, "--port", str(port),
             "--security", "none", "--allow-plaintext", "--user", "alice", "--maildir",
             str(tmp_path / "m"), "--every", "1s", "-q"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.startswith(f"popfetch: alice@{host}:{port}: 1 messages"), first
            write_message(tmp_path / "s", b"Subject: later\n\ndelivered after the start\n")
            for line in proc.stdout:  # one summary per check, until the new one arrives
                if ": 1 messages" in line:
                    break
            assert any(b"delivered after the start" in m for m in read_maildir(tmp_path / "m"))
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
            assert time.monotonic() - started < 2.0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        server.stop()


def test_a_check_reports_the_servers_login_delay_for_the_schedule(harness: Harness):
    harness.add(message(random.Random(7)))
    harness.serve(login_delay=300)
    result = run(harness.account())
    assert result.status == 0 and result.login_delay == 300


def test_an_accounts_deliver_target_is_where_its_checks_deliver(harness: Harness, tmp_path):
    """``fetch --account`` of an account whose Deliver to is an mbox (set in the app)."""
    import mailbox

    rng = random.Random(7)
    sent = [message(rng) for _ in range(3)]
    for data in sent:
        harness.add(data)
    server = harness.serve()
    box = tmp_path / "inbox.mbox"
    result = run(harness.account(deliver=f"mbox:{box}"), retention=Retention(Rule.WHEN_STORED))
    assert (result.fetched, result.deleted, result.status) == (3, 3, 0)
    assert len(server.deleted) == 3
    got = sorted(m.as_bytes().split(b"\n\n", 1)[1] for m in mailbox.mbox(str(box)))
    assert got == sorted(d.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1] for d in sent)
    assert not harness.dst.exists()  # no Maildir: the target has the mail
