"""``popfetch fetch --auth xoauth2|oauthbearer --oauth-token-command CMD`` against the fake server
that refuses initial responses: the two-step form fetches; a refused token runs CMD once more."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import cli
from tests.oauth.bearer_server import MESSAGE, BearerServer
from tests.oauth.helpers import TokenHelper
from tests.support.certs import CertPaths


def _fetch(server: BearerServer, certs: CertPaths, maildir: Path, tmp: Path, method: str,
           command: str) -> int:
    host, port = server.address
    return cli.main([
        "fetch", "--host", host, "--port", str(port), "--security", "tls",
        "--cafile", str(certs.ca_pem), "--user", "alice@example.test",
        "--maildir", str(maildir), "--state-dir", str(tmp / "state"), "--quiet",
        "--auth", method, "--oauth-token-command", command,
    ])


@pytest.mark.parametrize("method", ["xoauth2", "oauthbearer"])
def test_the_fetch_succeeds_with_the_two_step_form(
    bearer_server: BearerServer, certs: CertPaths, tmp_path: Path, method: str, capsys
):
    bearer_server.valid.add("tok-1")
    helper = TokenHelper(tmp_path / "helper", ["tok-1"])
    assert _fetch(bearer_server, certs, tmp_path / "Mail", tmp_path, method, helper.command) == 0
    (stored,) = (tmp_path / "Mail" / "new").iterdir()
    assert stored.read_bytes() == MESSAGE.replace(b"\r\n", b"\n")
    assert helper.runs == 1
    assert "tok-1" not in capsys.readouterr().err


def test_a_refused_token_runs_the_command_once_more(
    bearer_server: BearerServer, certs: CertPaths, tmp_path: Path
):
    bearer_server.valid.add("tok-fresh")
    helper = TokenHelper(tmp_path / "helper", ["tok-stale", "tok-fresh"])
    assert _fetch(bearer_server, certs, tmp_path / "Mail", tmp_path, "xoauth2",
                  helper.command) == 0
    assert helper.runs == 2
    assert bearer_server.tokens_sent() == ["tok-stale", "tok-fresh"]


def test_a_token_refused_after_one_rerun_exits_2_with_one_line(
    bearer_server: BearerServer, certs: CertPaths, tmp_path: Path, capsys
):
    helper = TokenHelper(tmp_path / "helper", ["tok-bad"])
    assert _fetch(bearer_server, certs, tmp_path / "Mail", tmp_path, "xoauth2",
                  helper.command) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].endswith("sign in again"), err
    assert helper.runs == 2
    assert len(bearer_server.tokens_sent()) == 2  # no login loop


def test_the_token_command_needs_a_bearer_method(tmp_path: Path, capsys):
    code = cli.main(["fetch", "--host", "h", "--user", "u", "--maildir", str(tmp_path),
                     "--oauth-token-command", "true"])
    assert code == 2
    assert "needs --auth xoauth2" in capsys.readouterr().err


def test_a_failing_token_command_is_one_line_and_exit_2(
    bearer_server: BearerServer, certs: CertPaths, tmp_path: Path, capsys
):
    code = _fetch(bearer_server, certs, tmp_path / "Mail", tmp_path, "xoauth2", "false")
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "popfetch: --oauth-token-command failed (exit status 1)"
    assert bearer_server.tokens_sent() == []
