"""Shared by the store and partial-download tests: a test message, Store fixtures, helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.store.local import Store
from core.store.partial import PartialDownload

__all__ = [
    "LF", "MESSAGE", "new_files", "paths", "reference_lf", "reopen", "store", "write_in_chunks",
]

MESSAGE = (
    b"Return-Path: <a@example.org>\r\n"
    b"Subject: resume me\r\n"
    b"\r\n"
    b"line one\r\n"
    b".starts with a dot\r\n"
    b"bare\rCR and bare\nLF\r\n"
    b"\r\n"
    b"last line\r\n"
)
LF = MESSAGE.replace(b"\r\n", b"\n")


def reference_lf(data: bytes) -> bytes:
    """CRLF -> LF one octet at a time: the obvious rule, independent of the store's fast paths."""
    out = bytearray()
    for i, octet in enumerate(data):
        if not (octet == 0x0D and data[i + 1 : i + 2] == b"\n"):
            out.append(octet)
    return bytes(out)


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    """(maildir, state_dir) for a Store, neither created yet."""
    return tmp_path / "Mail", tmp_path / "state"


@pytest.fixture
def store(paths: tuple[Path, Path]) -> Iterator[Store]:
    s = Store(*paths)
    yield s
    s.close()


def reopen(s: Store) -> Store:
    s.close()
    return Store(s.maildir.root, s.state_dir)


def write_in_chunks(p: PartialDownload, data: bytes, size: int) -> None:
    for i in range(0, len(data), size):
        p.write(data[i : i + size])


def new_files(s: Store) -> list[Path]:
    return sorted(s.maildir.new.iterdir()) + sorted(s.maildir.cur.iterdir())
