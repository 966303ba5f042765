"""Server text made safe to show: control characters escaped, length bounded (DESIGN rule 16).

A server's greeting, error text or IMPLEMENTATION string, and a mail header, are untrusted:
a terminal escape, a bidi override or a megabyte of text must not reach a log, a dialog or
a notification as it came.
"""

from __future__ import annotations

import re

__all__ = ["DEFAULT_LIMIT", "sanitize"]

DEFAULT_LIMIT = 500

# C0 controls but tab, DEL, C1 controls, and the bidi embeddings, overrides and isolates.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}" if ord(match.group()) < 0x100 else \
        f"\\u{ord(match.group()):04x}"


def sanitize(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` with every control character shown as an escape, cut to ``limit`` characters
    (an ellipsis marks the cut)."""
    if len(text) > limit:
        text = text[: max(0, limit - 1)] + "…"
    return _UNSAFE.sub(_escape, text)
