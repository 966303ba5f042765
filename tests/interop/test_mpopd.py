"""popfetch against mpopd, a real server that counts LIST sizes in LF form (issue 8).

A 5 MB base64 message is ~1.3 % longer on the wire than mpopd's LIST says: kept, fetched
through a link cut mid-body, and deleted, it must arrive intact every time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hostile import PASSWORD, USER, attachment
from tests.support.mail import read_maildir, write_message
from tests.support.mpopd import Mpopd, mpopd_binary
from tests.support.proxy import CuttingProxy
from tests.support.runs import Run, run_popfetch

pytestmark = [pytest.mark.interop, pytest.mark.slow]

BIG = attachment(3_800_000, seed=5)  # ~5.1 MB of base64 lines


@pytest.fixture
def mpopd(tmp_path: Path) -> Iterator[Mpopd]:
    if mpopd_binary() is None:
        reason = "mpopd not installed (Debian package mpop)"
        if os.environ.get("POPFETCH_REQUIRE_ALL") == "1":
            pytest.fail(f"POPFETCH_REQUIRE_ALL=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    server = Mpopd(tmp_path / "server", USER, PASSWORD)
    write_message(server.maildir, BIG)
    write_message(server.maildir, b"Subject: small\n\n.a dot line\nand more\n")
    with server:
        yield server


def _fetch(tmp: Path, port: int, *extra: str) -> Run:
    return run_popfetch(
        "fetch", "--host", "127.0.0.1", "--port", str(port), "--security", "none",
        "--allow-plaintext", "--user", USER, "--maildir", str(tmp / "mail"),
        "--state-dir", str(tmp / "state"), "--retry-delay", "0.05", "--max-retries", "3",
        "--timeout", "30", "-q", *extra, timeout=240,
    )


def _intact(tmp: Path, server: Mpopd) -> None:
    assert sorted(read_maildir(tmp / "mail")) == sorted(
        [BIG, b"Subject: small\n\n.a dot line\nand more\n"]
    )


def test_keep_fetches_the_lf_counted_message_intact_and_leaves_it(tmp_path: Path, mpopd: Mpopd):
    run = _fetch(tmp_path, mpopd.port, "--keep")
    assert run.status == 0, run.err
    _intact(tmp_path, mpopd)
    assert len(read_maildir(mpopd.maildir)) == 2
    again = _fetch(tmp_path, mpopd.port, "--keep")  # nothing new: stored UIDLs are skipped
    assert again.status == 0 and again.out.startswith("popfetch: 0 messages")


def test_a_link_cut_mid_body_still_ends_intact(tmp_path: Path, mpopd: Mpopd):
    with CuttingProxy(("127.0.0.1", mpopd.port), cuts=[2_000_000, 3_500_000]) as proxy:
        run = _fetch(tmp_path, proxy.address[1], "--keep")
    assert run.status == 0, run.err
    assert proxy.was_cut[:2] == [True, True]
    _intact(tmp_path, mpopd)


def test_delete_removes_only_what_arrived_intact(tmp_path: Path, mpopd: Mpopd):
    run = _fetch(tmp_path, mpopd.port, "--delete")
    assert run.status == 0, run.err
    _intact(tmp_path, mpopd)
    assert read_maildir(mpopd.maildir) == []
