"""`popfetch fetch` as a script or cron job meets it: exit codes, password sources, summary."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from tests.support.engine import PASSWORD, Harness
from tests.support.mail import tricky_message

ROOT = Path(__file__).resolve().parents[2]


def _args(h: Harness, *extra: str) -> list[str]:
    assert h.server is not None
    return ["fetch", "--host", "127.0.0.1", "--port", str(h.server.address[1]),
            "--security", "none", "--allow-plaintext", "--user", "alice",
            "--maildir", str(h.dst), "--state-dir", str(h.state),
            "--retry-delay", "0.01", "--max-retries", "2", "-q", *extra]


def _fill(h: Harness, count: int) -> None:
    rng = random.Random(9)
    for _ in range(count):
        h.add(tricky_message(rng, 1500))


def test_fetch_prints_one_summary_line_and_exits_0(harness, capsys, monkeypatch):
    _fill(harness, 3)
    harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    assert main(_args(harness)) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1
    assert out[0].startswith("popfetch: 3 messages (") and "0 deleted, 0 failed" in out[0]
    assert sorted(harness.fetched()) == harness.source()


def test_a_keep_run_ends_its_session_with_quit(harness, monkeypatch):
    _fill(harness, 2)
    server = harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    assert main(_args(harness, "--keep")) == 0
    assert server.commands[-1] == "QUIT" and server.deleted == []


def test_the_summary_counts_octets_received_not_list_sizes(harness, capsys, monkeypatch):
    harness.add(b"Subject: s\n\n" + b"x" * 500_000 + b"\n")
    harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    assert main(_args(harness)) == 0
    assert "1 messages (0.5 MB) fetched" in capsys.readouterr().out


def test_a_size_limited_run_sums_up_like_any_run_of_the_flags_account(harness, capsys,
                                                                     monkeypatch):
    harness.add(b"Subject: small\n\nsmall\n")
    harness.add(b"Subject: big\n\n" + b"x" * 300_000 + b"\n")
    harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    assert main(_args(harness, "--max-size", "100k")) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("popfetch: 1 messages ("), out
    assert "1 skipped over the size limit" in out[0]


def test_discard_partials_fetches_a_stuck_message_whole(harness, monkeypatch):
    from core.demoserver.mailbox import default_uidl
    from core.store.local import Store

    body = b"Subject: s\n\n" + b"y" * 400_000 + b"\n"
    uidl = default_uidl(harness.add(body))
    server = harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    with Store(harness.dst, harness.state) as store:  # a partial from another copy
        partial = store.begin(uidl, len(body.replace(b"\n", b"\r\n")))
        partial.write(b"Subject: other\r\n\r\n" + b"z" * 5000)
        partial.close()
    assert main(_args(harness, "--discard-partials")) == 0
    assert not any(c.startswith("RETR 1 ") for c in server.commands), server.commands
    assert harness.fetched() == harness.source()


def test_delete_commits_with_quit_and_reports_the_count(harness, capsys, monkeypatch):
    _fill(harness, 4)
    server = harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    assert main(_args(harness, "--delete")) == 0
    assert "4 deleted" in capsys.readouterr().out
    assert len(server.deleted) == 4 and "QUIT" in server.commands


def test_password_command_wins_over_the_environment(harness, monkeypatch, tmp_path):
    _fill(harness, 1)
    harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", "not-this-one")
    script = tmp_path / "pw.sh"
    script.write_text(f"#!/bin/sh\necho '{PASSWORD}'\necho second-line-ignored\n")
    script.chmod(0o700)
    assert main(_args(harness, "--password-command", str(script))) == 0


def test_a_wrong_password_exits_2_after_one_attempt(harness, capsys, monkeypatch):
    _fill(harness, 1)
    server = harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", "wrong")
    assert main(_args(harness)) == 2
    err = capsys.readouterr().err
    assert "Authentication failed" in err or "AUTH" in err
    assert sum(c.startswith(("PASS", "AUTH")) for c in server.commands) == 1
    assert "wrong" not in err


def test_no_password_anywhere_is_a_clear_error_not_a_hang(harness, capsys, monkeypatch):
    harness.serve()
    monkeypatch.delenv("POPFETCH_PASSWORD", raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    from tests.support.memkeyring import MemoryKeyring, installed

    with installed(MemoryKeyring()):
        assert main(_args(harness)) == 2
    assert "no password for alice@127.0.0.1" in capsys.readouterr().err


def test_a_refused_connection_exits_2(tmp_path, capsys, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("POPFETCH_PASSWORD", "x")
    code = main(["fetch", "--host", "127.0.0.1", "--port", str(port), "--security", "none",
                 "--allow-plaintext", "--user", "u", "--maildir", str(tmp_path / "m"),
                 "--state-dir", str(tmp_path / "s"), "--max-retries", "1",
                 "--retry-delay", "0.01", "-q"])
    assert code == 2
    assert "cannot connect" in capsys.readouterr().err


def test_bodies_longer_than_their_list_size_fail_each_message_and_exit_1(
    harness, capsys, monkeypatch
):
    from tests.support.mail import big_message

    _fill(harness, 2)
    big_message(harness.src / "new" / "1700000000.big.test", 400_000)
    server = harness.serve()
    server.faults.overlong_body = 300_000  # every RETR body runs 300 KB past its LIST size
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    assert main(_args(harness)) == 1
    captured = capsys.readouterr()
    assert "0 messages" in captured.out and "3 failed" in captured.out
    assert captured.err.count("LIST size") == 3
    assert harness.fetched() == []


def test_plaintext_login_is_refused_unless_allowed(harness, capsys, monkeypatch):
    harness.serve(apop=False)
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    args = [a for a in _args(harness) if a != "--allow-plaintext"]
    args += ["--auth", "user"]
    assert main(args) == 2
    assert "in the clear" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main(["fetch", "--host", "x"]) == 2
    assert main(["nonsense"]) == 2


@pytest.mark.parametrize(("every", "status"), [([], 2), (["--every", "1m"], 0)])
def test_sigterm_while_the_password_command_runs_is_a_stop_not_a_signal_death(
    tmp_path, every, status
):
    started = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "fetch", "--host", "127.0.0.1", "--port", "9",
         "--security", "none", "--allow-plaintext", "--user", "u",
         "--maildir", str(tmp_path / "m"), "--state-dir", str(tmp_path / "s"), "-q",
         "--password-command", f"sh -c 'touch {started}; exec sleep 60'", *every],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not started.exists():  # the command runs: a positive signal
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.02)
        begun = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        took = time.monotonic() - begun
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, err
    assert took < 2.0, took
    assert out == "" and err == "popfetch: interrupted before anything was fetched\n"


def test_fetch_never_imports_qt(tmp_path):
    code = ("import sys, core.cli, core.engine.coordinator, core.demoserver; "
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60,
                   env=dict(os.environ))


def test_the_console_script_dispatches_subcommands_without_qt(tmp_path):
    code = ("import sys; import gui.main; "
            "rc = gui.main.main(['fetch', '--host', 'h']); "
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'; "
            "sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=60,
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr


@pytest.mark.parametrize("flag", ["--keep", "--delete"])
def test_keep_and_delete_are_exclusive_flags(flag, harness, monkeypatch):
    harness.serve()
    monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
    assert main([*_args(harness), flag]) == 0
    assert main([*_args(harness), "--keep", "--delete"]) == 2


def test_demo_server_command_serves_a_maildir_and_drops_where_told(tmp_path, capsys,
                                                                   monkeypatch):
    from tests.support.mail import big_message

    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    big_message(src / "new" / "1700000000.big.test", 1_000_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "demo-server", "--port", "0", "--maildir", str(src),
         "--user", "alice", "--password", PASSWORD, "--cut-at", "300000", "600000"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        port = banner.split("127.0.0.1:")[1].split(",")[0]
        monkeypatch.setenv("POPFETCH_PASSWORD", PASSWORD)
        code = main(["fetch", "--host", "127.0.0.1", "--port", port, "--security", "none",
                     "--allow-plaintext", "--user", "alice", "--maildir", str(tmp_path / "m"),
                     "--state-dir", str(tmp_path / "s"), "--retry-delay", "0.01", "-q"])
    finally:
        proc.terminate()
        proc.wait(10)
    assert code == 0
    out = capsys.readouterr().out
    assert "1 messages" in out and "2 reconnects" in out, out
    assert (tmp_path / "m" / "new").iterdir().__next__().read_bytes() == (
        src / "new" / "1700000000.big.test").read_bytes()
