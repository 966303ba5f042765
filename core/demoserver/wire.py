"""Bytes on the wire: LF files as CRLF, dot-stuffing, TOP cut-off and throttling.

Everything works on whole chunks with ``bytes.replace`` / ``bytes.find`` (C speed), never
line by line in Python, so the server streams a 1 GB message in constant memory at
hundreds of MB/s. Only the two octets before each chunk are carried over, which is all
the line-start state that CRLF dot-stuffing needs.

Every LF of a file becomes CRLF, even one that already follows a CR (a file's "\r\n"
goes out as "\r\r\n"). That mapping is reversible: a client that turns each CRLF back
into LF stores the very bytes of the file, whatever they are; converting bare LFs only
would make "\n" and "\r\n" indistinguishable after the round trip.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20  # file read size: big enough for sendall() to run at memory speed
CRLF = b"\r\n"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a message's file octets land in its CRLF (wire) form.

    ``index`` holds (file offset, wire offset) at every ``chunk`` boundary of the file, so a
    `RETR n offset` seeks near the offset instead of converting the whole prefix again.
    """

    file_size: int
    size: int  # octets of the CRLF form: what LIST reports and EXT-RETR offsets count
    chunk: int
    index: tuple[tuple[int, int], ...]

    @property
    def wire_starts(self) -> list[int]:
        return [wire for _, wire in self.index]


def measure(path: Path, chunk: int = CHUNK) -> Layout:
    """Read the file once to size its CRLF form (every LF becomes CRLF)."""
    index: list[tuple[int, int]] = []
    file_pos = wire_pos = 0
    with path.open("rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                break
            index.append((file_pos, wire_pos))
            file_pos += len(data)
            wire_pos += len(data) + data.count(b"\n")
    return Layout(file_pos, wire_pos, chunk, tuple(index))


def crlf_chunks(path: Path, layout: Layout, offset: int = 0) -> Iterator[bytes]:
    """Yield the CRLF form of the file from wire ``offset`` on, in chunks of ~``layout.chunk``.

    The offset may fall between the CR and the LF this conversion inserts; the first chunk
    then begins with the LF, exactly as ``crlf(file)[offset:]`` would.
    """
    if offset >= layout.size or not layout.index:
        return
    slot = bisect.bisect_right(layout.wire_starts, offset) - 1
    file_pos, wire_pos = layout.index[slot]
    skip = offset - wire_pos
    with path.open("rb") as f:
        f.seek(file_pos)
        while True:
            data = f.read(layout.chunk)
            if not data:
                return
            out = data.replace(b"\n", CRLF)
            if skip:
                out = out[skip:]
                skip = 0
            if out:
                yield out


def to_crlf(data: bytes) -> bytes:
    """The wire form of a small message held in memory."""
    return data.replace(b"\n", CRLF)


class Stuffer:
    """Dot-stuffs a multi-line body given in chunks of any size.

    The body is stuffed as if it began a line (RFC 1939, and the EXT-RETR draft for a
    resumed transfer): a "." is doubled when it opens the body or follows a CRLF. A body
    resumed between CR and LF starts with the LF; the "." after it follows no CRLF on the
    wire, so it is not stuffed (a client scanning for CRLF "." reads it back unchanged).
    """

    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = CRLF  # the last two raw octets; CRLF = at a line start

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return chunk
        if b"." not in chunk:  # memchr: base64 attachments skip the slower search
            self._tail = chunk[-2:] if len(chunk) >= 2 else (self._tail + chunk)[-2:]
            return chunk
        out = chunk.replace(b"\r\n.", b"\r\n..")
        if chunk[0] == 0x2E and self._tail == CRLF:
            out = b"." + out
        elif chunk[:2] == b"\n." and self._tail[-1:] == b"\r":
            out = b"\n." + out[1:]
        self._tail = chunk[-2:] if len(chunk) >= 2 else (self._tail + chunk)[-2:]
        return out

    def end(self) -> bytes:
        """The terminator, preceded by a CRLF when the body did not end with one.

        That extra CRLF is what real servers add to a message lacking a final newline;
        it is not part of the LIST size.
        """
        return b".\r\n" if self._tail == CRLF else b"\r\n.\r\n"


def stuff(body: bytes) -> bytes:
    """Whole-body stuffing plus terminator, for small cached messages."""
    stuffer = Stuffer()
    return stuffer.feed(body) + stuffer.end()


def top_chunks(chunks: Iterable[bytes], lines: int) -> Iterator[bytes]:
    """Cut a CRLF message after its header, the blank line and ``lines`` body lines (TOP)."""
    tail = CRLF  # so a message that opens with a blank line has an empty header
    in_header = True
    remaining = lines
    cr_pending = False
    for chunk in chunks:
        start = 0
        if in_header:
            buf = tail + chunk
            found = buf.find(b"\r\n\r\n")
            if found < 0:
                tail = buf[-3:]
                yield chunk
                continue
            in_header = False
            start = found + 4 - len(tail)
            if remaining == 0:
                if start:
                    yield chunk[:start]
                return
        pos = start
        if cr_pending and chunk[start : start + 1] == b"\n":  # a CRLF split between chunks
            pos += 1
            remaining -= 1
        while remaining:
            found = chunk.find(CRLF, pos)
            if found < 0:
                break
            pos = found + 2
            remaining -= 1
        if remaining == 0:
            yield chunk[:pos]
            return
        cr_pending = chunk.endswith(b"\r")
        yield chunk


class TokenBucket:
    """Holds a connection to ``rate`` bytes/s on average, for the GUI demo's visible transfers.

    Debt is allowed (tokens go negative), so the long-run rate is exact whatever the
    slice sizes; ``burst`` bounds how far ahead a sender can get after an idle spell.
    """

    def __init__(
        self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 20)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    @property
    def slice(self) -> int:
        """How many bytes to send between two waits: about 1/20 s worth."""
        return max(1, min(256 * 1024, int(self.rate / 20)))

    def reserve(self, n: int) -> float:
        """Take ``n`` tokens; return how long to wait before sending them."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= n
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
