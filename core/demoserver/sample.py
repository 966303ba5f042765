"""The demo mailbox: realistic mail for ``popfetch --demo``, made once, the same every time.

A fixed seed makes the content (and so every size and UIDL) reproducible, which keeps
screenshots, tests and bug reports comparable. Files are written to tmp/ and renamed,
and a marker is written last, so an interrupted first start simply runs again.
"""

from __future__ import annotations

import base64
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

SEED = 1939  # RFC 1939
MARKER = ".popfetch-demo"
_BASE_TIME = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)

_PEOPLE = [
    ("Ada Lovelace", "ada@analytical.example"),
    ("Grace Hopper", "grace@cobol.example"),
    ("Linus Example", "linus@kernel.example"),
    ("Margaret Hamilton", "margaret@apollo.example"),
    ("Jürgen Müller", "juergen@beispiel.example"),
    ("Søren Kierkegaard", "soren@filosofi.example"),
    ("Build Bot", "ci@builds.example"),
    ("Newsletter", "news@weekly.example"),
]
_SUBJECTS = [
    "Meeting notes for Thursday",
    "Re: the POP3 resume patch",
    "Invoice 2026-{n:04d}",
    "Build #{n} failed on main",
    "Photos from the weekend",
    "Lunch?",
    "Weekly digest: {n} new posts",
    "Fwd: dot-stuffing corner cases",
    "Über den Zeitplan",
    "Quarterly report draft v{n}",
]
_TEXT = (
    "the server keeps every message until the client says QUIT and a dropped link "
    "deletes nothing so a transfer that breaks can resume from the octet it reached "
    "mail clients pipeline commands to save round trips while the progress bar moves"
)
_WORDS = _TEXT.split()


def _encoded_word(text: str) -> str:
    """RFC 2047 B-encoding for non-ASCII header text."""
    if text.isascii():
        return text
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    lines: list[str] = []
    for _ in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(12, 60))]
        line = ""
        for word in words:
            if len(line) + len(word) + 1 > 72:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.extend([line, ""])
    return lines


def _headers(rng: random.Random, n: int, subject: str, content_type: str) -> list[str]:
    name, addr = _PEOPLE[n % len(_PEOPLE)]
    date = _BASE_TIME + timedelta(minutes=37 * n + rng.randint(0, 30))
    return [
        f"Return-Path: <{addr}>",
        f"From: {_encoded_word(name)} <{addr}>",
        "To: Demo User <demo@popfetch.example>",
        f"Subject: {_encoded_word(subject)}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: <{n:04d}.{rng.getrandbits(48):012x}@{addr.split('@')[1]}>",
        "MIME-Version: 1.0",
        content_type,
    ]


def ordinary_message(n: int, rng: random.Random) -> bytes:
    """A few KB of text; every fifth has lines opening with "." (stuffing on the wire)."""
    subject = rng.choice(_SUBJECTS).format(n=n)
    body = _paragraphs(rng, rng.randint(1, 6))
    if n % 5 == 0:
        body += [".", ".hidden line starting with a dot", "..two dots", ". spaced", ""]
    if n % 3 == 0:
        boundary = f"=_part_{n}_{rng.getrandbits(32):08x}"
        attachment = base64.encodebytes(rng.randbytes(rng.randint(300, 3000))).decode()
        lines = _headers(rng, n, subject, f'Content-Type: multipart/mixed; boundary="{boundary}"')
        lines += ["", "This is a multi-part message in MIME format.", f"--{boundary}"]
        lines += ["Content-Type: text/plain; charset=utf-8", "", *body, f"--{boundary}"]
        lines += [
            "Content-Type: application/octet-stream",
            f'Content-Disposition: attachment; filename="data-{n}.bin"',
            "Content-Transfer-Encoding: base64",
            "",
            attachment.rstrip("\n"),
            f"--{boundary}--",
        ]
    else:
        lines = _headers(rng, n, subject, "Content-Type: text/plain; charset=utf-8")
        lines += ["Content-Transfer-Encoding: 8bit", "", *body]
    return ("\n".join(lines) + "\n").encode("utf-8")


def large_message(n: int, size: int, rng: random.Random) -> Iterator[bytes]:
    """About ``size`` octets: a short text part and a base64 attachment, yielded in pieces."""
    boundary = f"=_large_{n}_{rng.getrandbits(32):08x}"
    head = _headers(rng, n, f"Scans of the archive, part {n}", "")
    head[-1] = f'Content-Type: multipart/mixed; boundary="{boundary}"'
    text = [
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The scans are attached; this one is big enough to pause and resume.",
        ".",
        f"--{boundary}",
        "Content-Type: application/octet-stream",
        f'Content-Disposition: attachment; filename="archive-{n}.bin"',
        "Content-Transfer-Encoding: base64",
        "",
    ]
    first = ("\n".join(head + text) + "\n").encode()
    yield first
    # base64.encodebytes turns every 57 raw octets into a 76-character line plus LF.
    raw_total = max(0, size - len(first) - 64) * 57 // 77
    block = 57 * 16384
    while raw_total > 0:
        take = min(block, raw_total)
        yield base64.encodebytes(rng.randbytes(take))
        raw_total -= take
    yield f"--{boundary}--\n".encode()


def _write(root: Path, name: str, pieces: Iterator[bytes] | bytes, sub: str) -> None:
    tmp = root / "tmp" / name
    with tmp.open("wb") as f:
        if isinstance(pieces, bytes):
            f.write(pieces)
        else:
            for piece in pieces:
                f.write(piece)
    os.replace(tmp, root / sub / name)


def make_demo_mailbox(
    path: Path, *, count: int = 40, large_sizes: tuple[int, ...] = (8_000_000, 25_000_000)
) -> None:
    """Fill the Maildir at ``path`` with the demo mail, unless that was done before.

    Messages already read by the demo "user" sit in cur/ with flags, as a real mail
    server's would; their UIDL is still the unique part of the name.
    """
    path = Path(path)
    if (path / MARKER).exists():
        return
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    rng = random.Random(SEED)
    stamp = int(_BASE_TIME.timestamp())
    total = count + len(large_sizes)
    gap = count // (len(large_sizes) + 1)
    large_at = {(i + 1) * gap + i + 1: size for i, size in enumerate(large_sizes)}
    ordinary = 0
    for n in range(1, total + 1):
        unique = f"{stamp + 60 * n}.M{n:04d}P1939.popfetch-demo"
        if n in large_at:
            _write(path, unique, large_message(n, large_at[n], rng), "new")
            continue
        ordinary += 1
        data = ordinary_message(n, rng)
        if ordinary % 4 == 0:
            _write(path, unique + ":2,S", data, "cur")
        else:
            _write(path, unique, data, "new")
    (path / MARKER).write_text("popfetch demo mailbox\n")
