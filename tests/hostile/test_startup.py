"""Issue 8: every start-up failure is one plain line with exit 2, never a traceback; an unknown
subcommand gets argparse's usage error and never starts the GUI; a password is taken whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store.local import Store
from tests.support.hostile import PASSWORD, Hostile, HostileServer, Mail
from tests.support.runs import fetch, run_popfetch, stored


def _server() -> HostileServer:
    return HostileServer([Mail.of(b"Subject: one\n\nbody\n", "one")])


def test_a_second_fetch_on_the_same_account_is_one_line(tmp_path: Path):
    holder = Store(tmp_path / "mail", tmp_path / "state")  # the first popfetch, still running
    try:
        with _server() as server:
            run = fetch(server, tmp_path, timeout=60)
    finally:
        holder.close()
    assert run.status == 2
    assert "another popfetch is using this account" in run.reason
    assert server.commands == []  # refused before it connected
    assert run.out == ""


def test_a_maildir_that_is_a_regular_file_is_one_line(tmp_path: Path):
    (tmp_path / "mail").write_text("not a directory")
    with _server() as server:
        run = fetch(server, tmp_path, timeout=60)
    assert run.status == 2
    assert str(tmp_path / "mail") in run.reason
    assert server.commands == []


@pytest.mark.parametrize("extra", [("--fingerprint", "xyz"), ("--cafile", "/nonexistent.pem")])
def test_bad_trust_options_are_one_line(tmp_path: Path, extra: tuple[str, ...]):
    with _server() as server:
        run = fetch(server, tmp_path, *extra, timeout=60)
    assert run.status == 2
    assert extra[1] in run.reason
    assert server.commands == []


@pytest.mark.parametrize("argv", [["acount", "list"], ["fetchh"], ["nonsense", "--x"]])
def test_an_unknown_subcommand_is_a_usage_error_not_a_gui(argv: list[str]):
    run = run_popfetch(*argv, timeout=60)  # no DISPLAY: a GUI start would abort (-6)
    assert run.status == 2
    assert "invalid choice" in run.err and run.err.startswith("usage: popfetch")


def _pw_command(tmp: Path, output: bytes) -> str:
    data = tmp / "pw.out"
    data.write_bytes(output)
    return f"cat {data}"


@pytest.mark.parametrize("tail", [b"\n", b"\r\n", b"", b"\nsecond line\n"])
def test_the_password_is_the_first_line_split_at_lf_only(tmp_path: Path, tail: bytes):
    odd = "pa\x1dss\x0bwo\x0crd\x85\u2028x"  # str.splitlines would cut at each of these
    server = HostileServer([Mail.of(b"Subject: one\n\nbody\n", "one")])
    server.password = odd
    with server:
        run = fetch(server, tmp_path, "--password-command",
                    _pw_command(tmp_path, odd.encode() + tail), password=None, timeout=60)
    assert run.status == 0, run.err
    assert f"PASS {odd}" in server.commands
    assert len(stored(tmp_path)) == 1


@pytest.mark.parametrize("output", [b"", b"\n", b"\r\nsecret\n"])
def test_an_empty_password_command_output_is_a_clear_error(tmp_path: Path, output: bytes):
    with _server() as server:
        run = fetch(server, tmp_path, "--password-command", _pw_command(tmp_path, output),
                    password=None, timeout=60)
    assert run.status == 2
    assert run.reason == ("popfetch: --password-command printed no password"
                          " (its first line is empty)")
    assert server.commands == []


def test_the_hostile_server_default_password_is_the_one_the_helpers_send() -> None:
    assert Hostile().greeting is not None and PASSWORD == "s3cret-pw"


@pytest.mark.parametrize(
    "option", [("--timeout", "0"), ("--timeout", "nan"), ("--retry-delay", "inf"),
               ("--timeout", "-5"), ("--max-retries", "-3")],
)
def test_numbers_that_would_hang_or_spin_are_usage_errors(tmp_path: Path, option: tuple[str, str]):
    with _server() as server:
        run = fetch(server, tmp_path, *option, timeout=60)
    assert run.status == 2
    assert f"error: argument {option[0]}: " in run.err
    assert server.commands == []
