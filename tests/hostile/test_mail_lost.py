"""Issue 8, "Mail lost": a copy that is not what the server holds is never DELE'd (rule 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hostile import Hostile, HostileServer, Mail
from tests.support.runs import assert_deleted_intact, fetch, stored


def _text(size: int, tag: str) -> bytes:
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit %s\n" % tag.encode()
    return b"Subject: %s\n\n" % tag.encode() + line * (size // len(line))


def test_a_body_cut_far_short_of_its_list_size_is_kept_and_never_deleted(tmp_path: Path):
    whole = Mail.of(_text(100_000, "cut"), "cut-1", sent=lambda wire: wire[:100])
    fine = Mail.of(_text(3_000, "fine"), "fine-1")
    with HostileServer([whole, fine]) as server:
        run = fetch(server, tmp_path, "--delete", timeout=60)
    assert server.deleted == ["fine-1"]  # the good one goes, the cut one stays on the server
    assert_deleted_intact(server, tmp_path)
    assert run.status == 1 and run.seconds < 60
    assert "cut-1" in run.err
    assert fine.stored_form in stored(tmp_path)


def test_an_unstuffed_dot_line_is_a_desync_and_the_half_copy_is_never_deleted(tmp_path: Path):
    text = b"Subject: dot\n\nfirst half\n.\nsecond half\n"
    dotted = Mail.of(text, "dot-1")
    fine = Mail.of(_text(2_000, "fine"), "fine-1")
    with HostileServer([dotted, fine], Hostile(unstuffed=True)) as server:
        run = fetch(server, tmp_path, "--delete", timeout=60)
    assert "dot-1" not in server.deleted
    assert_deleted_intact(server, tmp_path)
    assert run.status == 1 and run.seconds < 60
    assert "dot-1" in run.err


@pytest.mark.parametrize("verb", ["DELE", "QUIT"])
def test_a_server_that_hangs_up_on_dele_or_quit_deletes_nothing(tmp_path: Path, verb: str):
    mails = [Mail.of(_text(2_000, f"m{i}"), f"m-{i}") for i in range(3)]
    with HostileServer(mails, Hostile(drop=frozenset({verb}))) as server:
        run = fetch(server, tmp_path, "--delete", timeout=30)
    assert server.deleted == []
    assert sorted(stored(tmp_path)) == sorted(m.stored_form for m in mails)
    assert run.status == 2 and run.seconds < 30
    assert run.reason
