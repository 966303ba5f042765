"""Test mail: realistic and hostile message bodies, and Maildir helpers for comparisons."""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

_counter = itertools.count()


def write_message(maildir: Path, body: bytes, name: str | None = None) -> Path:
    """Put ``body`` (LF line endings, as Maildir files have) into ``maildir/new``."""
    name = name or f"1700000000.M{next(_counter)}P{os.getpid()}.test"
    path = maildir / "new" / name
    path.write_bytes(body)
    return path


def read_maildir(maildir: Path) -> list[bytes]:
    """Every message in new/ and cur/ (the order of the file system)."""
    return [p.read_bytes() for sub in ("new", "cur") for p in (maildir / sub).iterdir()
            if p.is_file()]


def tricky_message(rng: random.Random, size: int) -> bytes:
    """A message full of what breaks POP3 clients: dot lines, long lines, 8-bit bytes."""
    head = (f"From: Tricky <t{rng.randrange(10**6)}@example.org>\n"
            f"Subject: dots and bytes {rng.randrange(10**6)}\n"
            "Date: Tue, 24 Nov 2026 10:00:00 +0000\n\n").encode()
    parts = [head]
    total = len(head)
    pieces = [b".\n", b"..\n", b".leading dot\n", b"...\n", b"\n", b"plain text line\n",
              bytes(rng.randrange(128, 256) for _ in range(40)) + b"\n",
              b"x" * 3000 + b"\n", b". \n", b"\r\n"]
    while total < size:
        piece = rng.choice(pieces) if rng.random() < 0.3 else (
            b"lorem ipsum dolor sit amet %d\n" % rng.randrange(10**9))
        parts.append(piece)
        total += len(piece)
    return b"".join(parts)


def big_message(path: Path, size: int, seed: int = 1) -> None:
    """A large message written in pieces (constant memory), with dot lines sprinkled in."""
    rng = random.Random(seed)
    block = b"".join(
        (b"." if i % 97 == 0 else b"") + bytes(rng.choice(b"abcdefghij klmnop") for _ in range(75))
        + b"\n" for i in range(13_000)
    )
    with open(path, "wb") as out:
        out.write(b"From: big@example.org\nSubject: big one\n\n")
        left = size
        while left > 1:
            chunk = block[: left - 1]
            out.write(chunk)
            left -= len(chunk)
        out.write(b"\n")  # a final newline: what a server sends needs no CRLF added
