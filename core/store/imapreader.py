"""Reading IMAP responses, sans-IO (the IMAP target's reader; see :mod:`core.store.imap`).

Feed :class:`ImapReader` bytes in chunks of any size and take whole responses out (a
response is its lines plus the literals between them). Lines and literals are capped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import (
    RemoteProtocolError,
)
from core.store.targets import shown

__all__ = ["ImapReader", "Response"]

MAX_LINE = 64 << 10
MAX_LITERAL = 8 << 20  # we only ever fetch header blocks
_LITERAL_AT_END = re.compile(rb"~?\{(\d+)\+?\}\Z")
_STATUS = re.compile(rb"(?:\* |[^ ]+ )(OK|NO|BAD|BYE|PREAUTH)(?: \[([^\]]*)\])? ?(.*)", re.I)
_TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|([^\s()"]+))')


# -- reading responses -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    """One server response: ``tag`` is ``*``, ``+`` or a command tag.

    ``segments`` alternate line, literal, line, ...: a response with n literals has
    2n + 1 segments. ``status``/``code``/``text`` are set for OK/NO/BAD/BYE/PREAUTH.
    """

    tag: str
    segments: tuple[bytes, ...]
    status: str | None = None
    code: str | None = None
    text: str = ""

    def values(self) -> list[object]:
        """The response after its tag, parsed: atoms and quoted strings as str, literals
        as bytes, NIL as None, parenthesized lists as lists."""
        stack: list[list[object]] = [[]]
        for i, seg in enumerate(self.segments):
            if i % 2:
                stack[-1].append(seg)
                continue
            line = seg.split(b" ", 1)[1] if i == 0 and b" " in seg else (b"" if i == 0 else seg)
            m = _LITERAL_AT_END.search(line)
            if m is not None and i + 1 < len(self.segments):
                line = line[: m.start()]
            pos = 0
            while pos < len(line):
                t = _TOKEN.match(line, pos)
                if t is None:
                    break
                pos = t.end()
                if t.group(1):
                    stack.append([])
                elif t.group(2):
                    if len(stack) == 1:
                        raise RemoteProtocolError(f"IMAP: unbalanced ')' in {shown(seg)}")
                    done = stack.pop()
                    stack[-1].append(done)
                elif t.group(3) is not None:
                    text = re.sub(rb"\\(.)", rb"\1", t.group(3))
                    stack[-1].append(text.decode("utf-8", "replace"))
                else:
                    atom = t.group(4).decode("utf-8", "replace")
                    stack[-1].append(None if atom.upper() == "NIL" else atom)
        while len(stack) > 1:
            done = stack.pop()
            stack[-1].append(done)
        return stack[0]


class ImapReader:
    """Bytes in, whole responses out; no sockets (sans-IO)."""

    def __init__(self, *, max_line: int = MAX_LINE, max_literal: int = MAX_LITERAL) -> None:
        self._buf = bytearray()
        self._segments: list[bytes] = []
        self._need: int | None = None
        self._max_line = max_line
        self._max_literal = max_literal

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next(self) -> Response | None:
        """The next complete response, or None until more bytes arrive."""
        buf = self._buf
        while True:
            if self._need is not None:
                if len(buf) < self._need:
                    return None
                self._segments.append(bytes(buf[: self._need]))
                del buf[: self._need]
                self._need = None
                continue
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > self._max_line:
                    raise RemoteProtocolError(f"IMAP: a response line over {self._max_line} octets")
                return None
            if end > self._max_line:
                raise RemoteProtocolError(f"IMAP: a response line over {self._max_line} octets")
            line = bytes(buf[:end])
            del buf[: end + 2]
            self._segments.append(line)
            literal = _LITERAL_AT_END.search(line)
            if literal is not None:
                size = int(literal.group(1))
                if size > self._max_literal:
                    raise RemoteProtocolError(f"IMAP: a literal of {size} octets (too large)")
                self._need = size
                continue
            segments, self._segments = tuple(self._segments), []
            return _response(segments)


def _response(segments: tuple[bytes, ...]) -> Response:
    first = segments[0]
    tag = first.split(b" ", 1)[0].decode("ascii", "replace") or "?"
    if tag == "+":
        return Response("+", segments, text=first[2:].decode("utf-8", "replace"))
    m = _STATUS.fullmatch(first) if len(segments) == 1 else None
    if m is None:
        return Response(tag, segments)
    return Response(
        tag,
        segments,
        status=m.group(1).decode().upper(),
        code=m.group(2).decode("utf-8", "replace") if m.group(2) is not None else None,
        text=m.group(3).decode("utf-8", "replace"),
    )


