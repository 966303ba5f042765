"""CRLF conversion, dot-stuffing across chunk boundaries, TOP cut-off, the token bucket."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.demoserver.wire import (
    Layout,
    Stuffer,
    TokenBucket,
    crlf_chunks,
    measure,
    stuff,
    top_chunks,
)

from .conftest import unstuff


def reference_stuff(rest: bytes) -> bytes:
    """Line by line: a "." opening the rest or following a CRLF is doubled."""
    out = bytearray()
    at_line_start = True
    prev = b""
    for i in range(len(rest)):
        byte = rest[i : i + 1]
        if byte == b"." and at_line_start:
            out += b"."
        out += byte
        at_line_start = prev + byte == b"\r\n"
        prev = byte
    return bytes(out)


def test_measure_counts_crlf_octets(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_bytes(b"a\nbb\n\nccc")
    layout = measure(path, chunk=4)
    assert layout.file_size == 9
    assert layout.size == 12
    assert layout.index == ((0, 0), (4, 5), (8, 11))


def test_measure_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_bytes(b"")
    assert measure(path) == Layout(0, 0, measure(path).chunk, ())
    assert list(crlf_chunks(path, measure(path))) == []


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"")),
    chunk=st.integers(min_value=1, max_value=9),
)
def test_crlf_chunks_equal_slices_at_every_offset(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk: int
) -> None:
    path = tmp_path_factory.mktemp("w") / "m"
    path.write_bytes(data)
    layout = measure(path, chunk=chunk)
    whole = data.replace(b"\n", b"\r\n")
    assert layout.size == len(whole)
    for offset in range(len(whole) + 1):
        got = list(crlf_chunks(path, layout, offset))
        assert b"".join(got) == whole[offset:]
        assert all(got)  # no empty chunks


@given(
    rest=st.lists(st.sampled_from([b".", b"\r", b"\n", b"\r\n", b"a", b".."]), max_size=30).map(
        b"".join
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=6),
)
def test_stuffer_is_chunking_independent(rest: bytes, cuts: list[int]) -> None:
    bounds = sorted({c for c in cuts if c <= len(rest)} | {0, len(rest)})
    stuffer = Stuffer()
    out = b"".join(stuffer.feed(rest[a:b]) for a, b in itertools.pairwise(bounds))
    assert out == reference_stuff(rest)
    terminator = stuffer.end()
    wire = b"+OK\r\n" + out + terminator
    # A client finds the end at the first CRLF "." CRLF, and unstuffs back to the rest.
    end = wire.index(b"\r\n.\r\n", 3)
    assert end + 5 == len(wire)
    received = unstuff(wire[5 : end + 2])
    assert received[: len(rest)] == rest
    assert received[len(rest) :] in (b"", b"\r\n")


def test_stuffer_examples() -> None:
    assert stuff(b".a\r\n.b\r\n") == b"..a\r\n..b\r\n.\r\n"
    assert stuff(b"") == b".\r\n"
    assert stuff(b"no newline") == b"no newline\r\n.\r\n"
    # resumed between CR and LF: the "." after the LF follows no CRLF on the wire
    assert stuff(b"\n.x\r\n") == b"\n.x\r\n.\r\n"
    assert stuff(b"\n") == b"\n\r\n.\r\n"
    # split CRLF + "." over three chunks
    stuffer = Stuffer()
    assert stuffer.feed(b"a\r") + stuffer.feed(b"\n") + stuffer.feed(b".b\r\n") == b"a\r\n..b\r\n"


def test_top_chunks() -> None:
    msg = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n"
    for size in (1, 2, 3, 5, 100):
        chunks = [msg[i : i + size] for i in range(0, len(msg), size)]
        assert b"".join(top_chunks(chunks, 0)) == b"A: 1\r\nB: 2\r\n\r\n"
        assert b"".join(top_chunks(chunks, 2)) == b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n"
        assert b"".join(top_chunks(chunks, 9)) == msg
    assert b"".join(top_chunks([b"\r\nbody\r\n"], 0)) == b"\r\n"
    assert b"".join(top_chunks([b"H: only\r\n"], 0)) == b"H: only\r\n"


def test_token_bucket_paces_to_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(1000.0, burst=100.0, clock=lambda: now[0])
    assert bucket.reserve(100) == 0.0
    assert bucket.reserve(500) == pytest.approx(0.5)
    now[0] = 0.5
    assert bucket.reserve(100) == pytest.approx(0.1)
    now[0] = 10.0  # idle: the burst caps what was saved up
    assert bucket.reserve(100) == 0.0
    assert bucket.reserve(1) > 0
    assert TokenBucket(40.0).slice == 2
    with pytest.raises(ValueError):
        TokenBucket(0)
