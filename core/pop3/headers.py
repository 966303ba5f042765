"""The From / Subject / Date a message list shows, read from a header block.

One decoding for every source (TOP replies, stored files), so a message reads the same
before and after it is downloaded.
"""

from __future__ import annotations

import contextlib
import email.header
import email.parser
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Headers:
    sender: str
    subject: str
    date: str


_HEADER_PARSER = email.parser.HeaderParser()  # compat32, its default (email.policy is slow to load)


def _header_text(value: object) -> str:
    """RFC 2047 decoding where needed; raw text where the encoding is broken."""
    text = str(value)
    if "=?" in text:
        with contextlib.suppress(ValueError, LookupError, UnicodeError):
            text = str(email.header.make_header(email.header.decode_header(text)))
    return " ".join(text.split())


def parse_headers(data: bytes) -> Headers:
    """From / Subject / Date for the list; tolerant of broken encodings (they are only shown).

    compat32 parsing plus RFC 2047 decoding only where a header carries "=?": the modern
    header registry costs ten times more, and a list of 100,000 messages parses them all.
    """
    # Raw 8-bit headers are UTF-8 in practice (RFC 6532); anything else shows as U+FFFD.
    message = _HEADER_PARSER.parsestr(data.decode("utf-8", "replace"))
    values = []
    for name in ("From", "Subject", "Date"):
        value = message.get(name)
        values.append("" if value is None else _header_text(value))
    return Headers(*values)
