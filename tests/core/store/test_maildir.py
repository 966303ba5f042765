"""core.store.maildir: unique names, tmp -> new delivery, LF files a stdlib reader accepts."""

from __future__ import annotations

import contextlib
import errno
import mailbox
import os
import re
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import StorageError
from core.store import maildir as maildir_mod
from core.store.maildir import Maildir, crlf_to_lf
from tests.support.store import reference_lf

MESSAGE = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: Hello\r\n"
    b"\r\n"
    b"First line\r\n"
    b".a line that began with a dot\r\n"
    b"a bare\rCR stays\r\n"
)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a directory refuse new entries, also for root (chattr +i); skip if impossible."""
    if os.geteuid() != 0:
        path.chmod(0o500)
        try:
            yield
        finally:
            path.chmod(0o700)
        return
    if shutil.which("chattr") is None:
        pytest.skip("root without chattr: cannot make a directory read-only")
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not possible here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_creates_the_three_directories_private(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Mail")
    for sub in ("tmp", "new", "cur"):
        mode = stat.S_IMODE((tmp_path / "Mail" / sub).stat().st_mode)
        assert mode == 0o700, sub
    assert md.root == (tmp_path / "Mail").absolute()


def test_without_create_a_missing_subdirectory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "Mail" / "new").mkdir(parents=True)
    with pytest.raises(StorageError, match="not a Maildir"):
        Maildir(tmp_path / "Mail", create=False)


def test_unique_names_follow_the_maildir_pattern_and_never_repeat(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Mail")
    names = [md.unique_name() for _ in range(5000)]
    assert len(set(names)) == len(names)
    pattern = re.compile(rf"^\d+\.M\d+P{os.getpid()}Q\d+\.[^/:]+$")
    assert all(pattern.match(n) for n in names), names[:3]


def test_host_name_slash_and_colon_are_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(maildir_mod.socket, "gethostname", lambda: "ev/il:host")
    name = Maildir(tmp_path / "Mail").unique_name()
    assert "/" not in name and ":" not in name
    assert name.endswith(".ev\\057il\\072host")


def test_deliver_stores_lf_endings_in_new_readable_by_stdlib_mailbox(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Mail")
    path = md.deliver(MESSAGE)
    assert path.parent == md.new
    assert path.read_bytes() == MESSAGE.replace(b"\r\n", b"\n")
    assert b"bare\rCR" in path.read_bytes()  # a bare CR is content, kept
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(md.tmp) == []
    box = mailbox.Maildir(tmp_path / "Mail", create=False)
    assert list(box.keys()) == [path.name]
    msg = box[path.name]
    assert msg["Subject"] == "Hello"
    assert msg.get_subdir() == "new"
    # (the email parser turns the bare CR into a line break; the raw bytes keep it)
    assert box.get_bytes(path.name) == MESSAGE.replace(b"\r\n", b"\n")
    assert msg.get_payload().startswith("First line\n.a line that began with a dot\n")


def test_crlf_to_lf_keeps_bare_cr_and_bare_lf() -> None:
    assert crlf_to_lf(b"a\r\nb\rc\nd\r") == b"a\nb\rc\nd\r"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"clean\r\nlines\r\n.dot\r\n",  # no bare CR: the translate path
        b"\r\n\r\n",
        b"bare\rin the middle\r\n",  # a bare CR anywhere: the replace path
        b"ends in a bare CR\r",
        b"\rstarts with one\r\n",
        b"two CRs\r\r\n",
        b"LF CR\n\r\n",
        b"\n\n\n",
    ],
)
def test_crlf_to_lf_matches_the_reference(data: bytes) -> None:
    assert crlf_to_lf(data) == reference_lf(data)


# Mostly clean CRLF lines (the translate path), some with bare CRs or LFs (the replace path).
LINES = st.lists(
    st.one_of(
        st.sampled_from([b"", b".", b"..", b"abc", b"QUJD" * 19, b". x", b"\xff\x00"]),
        st.binary(max_size=20).map(lambda b: b.replace(b"x", b"\r").replace(b"y", b"\n")),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(LINES, st.booleans())
def test_crlf_to_lf_equals_the_reference_for_any_lines(lines: list[bytes], final: bool) -> None:
    data = b"\r\n".join(lines) + (b"\r\n" if final else b"")
    assert crlf_to_lf(data) == reference_lf(data)


def test_write_many_then_publish_many(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Mail")
    payloads = [b"Subject: %d\r\n\r\nbody %d\r\n" % (i, i) for i in range(50)]
    names = md.write_many(payloads)
    assert len(set(names)) == 50
    assert sorted(os.listdir(md.tmp)) == sorted(names)
    paths = md.publish_many(names)
    md.sync_new()
    assert os.listdir(md.tmp) == []
    for i, path in enumerate(paths):
        assert path.read_bytes() == b"Subject: %d\n\nbody %d\n" % (i, i)
    box = mailbox.Maildir(tmp_path / "Mail", create=False)
    assert sorted(box[p.name]["Subject"] for p in paths) == sorted(str(i) for i in range(50))


def test_locate_follows_a_reader_that_moved_the_file_to_cur(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Mail")
    path = md.deliver(MESSAGE)
    assert md.locate(path.name) == path
    box = mailbox.Maildir(tmp_path / "Mail", create=False)
    msg = box[path.name]
    msg.set_subdir("cur")
    msg.add_flag("S")
    box[path.name] = msg  # the stdlib reader renames it to cur/<name>:2,S
    moved = md.locate(path.name)
    assert moved is not None and moved.parent == md.cur and moved.name == path.name + ":2,S"
    assert path.name in md.delivered_names()
    moved.unlink()
    assert md.locate(path.name) is None


def test_copy_to_tmp_copies_a_file_from_elsewhere(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Mail")
    src = tmp_path / "src"
    src.write_bytes(os.urandom(3 << 20))
    name = md.copy_to_tmp(src)
    assert (md.tmp / name).read_bytes() == src.read_bytes()
    assert md.publish(name).read_bytes() == src.read_bytes()


def test_full_disk_raises_storage_error_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    md = Maildir(tmp_path / "Mail")
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(maildir_mod.os, "write", failing_write)
    with pytest.raises(StorageError, match="disk is full"):
        md.write_many([MESSAGE] * 10)
    with pytest.raises(StorageError, match="disk is full"):
        md.deliver(MESSAGE)
    assert os.listdir(md.tmp) == [] and os.listdir(md.new) == []


def test_read_only_maildir_raises_storage_error(tmp_path: Path) -> None:
    md = Maildir(tmp_path / "Mail")
    with read_only(md.tmp), pytest.raises(StorageError, match="read-only or not writable"):
        md.deliver(MESSAGE)
    assert os.listdir(md.new) == []
