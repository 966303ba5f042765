"""Issue 8, "A message that can never be fetched": LIST is a hint, offsets have a fall-back."""

from __future__ import annotations

from pathlib import Path

from tests.support.hostile import Hostile, HostileServer, Mail, attachment
from tests.support.runs import assert_deleted_intact, fetch, stored


def test_lf_counted_list_sizes_of_a_large_base64_message_fetch_whole(tmp_path: Path):
    big = Mail.of(attachment(600_000), "b64-1")  # CRLF form ~1.3 % above what LIST says
    with HostileServer([big], Hostile(lf_sizes=True)) as server:
        run = fetch(server, tmp_path, "--delete", timeout=60)
    assert run.status == 0, run.err
    assert server.deleted == ["b64-1"]
    assert_deleted_intact(server, tmp_path)


def test_two_octets_over_list_for_a_message_without_final_newline_are_fine(tmp_path: Path):
    text = b"Subject: no final newline\n\nlast line without one"
    mail = Mail.of(text, "nonl-1", list_size=len(text.replace(b"\n", b"\r\n")))
    with HostileServer([mail]) as server:
        run = fetch(server, tmp_path, "--delete", timeout=60)
    assert run.status == 0, run.err
    assert server.deleted == ["nonl-1"]
    assert stored(tmp_path) == [mail.stored_form + b"\n"]  # the server added the CRLF


def _resume_after_cut(tmp_path: Path, ext_retr: str) -> tuple[HostileServer, int]:
    big = Mail.of(attachment(300_000, seed=7), "big-1")
    with HostileServer([big], Hostile(ext_retr=ext_retr, cut_retr=(150_000,))) as server:
        run = fetch(server, tmp_path, "--delete", timeout=60)
    return server, run.status


def test_an_offset_retr_refused_falls_back_to_a_whole_retr(tmp_path: Path):
    server, status = _resume_after_cut(tmp_path, "refuse")
    assert status == 0
    assert any(c.startswith("RETR 1 ") for c in server.commands)  # it did try the offset
    assert server.deleted == ["big-1"]
    assert_deleted_intact(server, tmp_path)


def test_an_offset_retr_ignored_courier_style_is_detected_and_fetched_whole(tmp_path: Path):
    server, status = _resume_after_cut(tmp_path, "ignore")
    assert status == 0
    assert server.deleted == ["big-1"]
    assert_deleted_intact(server, tmp_path)
    assert len(stored(tmp_path)) == 1


def test_an_offset_retr_honoured_resumes_where_the_cut_was(tmp_path: Path):
    server, status = _resume_after_cut(tmp_path, "honour")
    assert status == 0
    resumed = [c for c in server.commands if c.startswith("RETR 1 ")]
    assert len(resumed) == 1 and int(resumed[0].split()[2]) > 100_000
    assert server.deleted == ["big-1"]
    assert_deleted_intact(server, tmp_path)


def test_a_server_without_capa_is_fetched_the_rfc_1939_way(tmp_path: Path):
    mails = [Mail.of(b"Subject: %d\n\n.dot %d\n" % (i, i), f"old-{i}") for i in range(3)]
    with HostileServer(mails, Hostile(capa=None)) as server:
        run = fetch(server, tmp_path, "--delete", timeout=60)
    assert run.status == 0, run.err
    assert sorted(server.deleted) == ["old-0", "old-1", "old-2"]
    assert_deleted_intact(server, tmp_path)
