"""Text that crosses a trust boundary: server strings shown to the user, secrets kept out of logs.

One definition each (DESIGN rule 16 and rule 10): ``sanitize`` for anything a server wrote
before it reaches a terminal, the log dock, a dialog or a notification, and ``redacted_args`` /
``redact_command`` for every command line that reaches a transcript, a repr or a test record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

__all__ = ["SECRET", "SHOWN_LIMIT", "redact_command", "redacted_args", "sanitize"]

SECRET: Final = "***"
SHOWN_LIMIT: Final = 200  # characters of server text shown; a status line may carry 8 KiB
_ELLIPSIS: Final = "\u2026"


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def sanitize(text: str, limit: int = SHOWN_LIMIT) -> str:
    """``text`` safe to show: every non-printable character escaped, cut to ``limit``.

    Escaped: C0 controls (ESC, BEL, CR, LF, TAB ...), DEL, C1 controls (U+0080-U+009F, which
    some terminals obey like ESC sequences), format characters such as the bidi overrides,
    line and paragraph separators, unassigned code points: whatever ``str.isprintable``
    rejects except the plain space. The result is one line with no escape sequence in it.
    """
    if len(text) <= limit and text.isprintable():
        return text
    pieces = [c if c.isprintable() or c == " " else _escape(c) for c in text]
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    kept, used = [], 0
    for piece in pieces:  # whole escapes only: never a dangling "\x1"
        if used + len(piece) > limit - 1:
            break
        kept.append(piece)
        used += len(piece)
    return "".join(kept) + _ELLIPSIS


def redacted_args(verb: str, args: Sequence[str]) -> tuple[str, ...]:
    """A command's arguments with secrets replaced: PASS's password, APOP's digest, and the
    initial response of AUTH (SASL credentials)."""
    upper = verb.upper()
    if upper == "PASS":
        return (SECRET,) if args else ()
    if upper in ("APOP", "AUTH") and len(args) > 1:
        return (args[0], SECRET)
    return tuple(args)


def redact_command(verb: str, args: Sequence[str]) -> str:
    """The command line as it may appear in a transcript, a log or a test's record."""
    return " ".join((verb, *redacted_args(verb, args)))
