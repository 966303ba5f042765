"""Property tests: whatever the message and however the bytes are chunked, decoding is exact.

The server side here is a deliberately naive reference (split on CRLF, double a leading ".",
loop per line), independent of the decoder under test.

What "exact" means, precisely:
- A whole RETR decodes to the message in CRLF form; if the message does not end with CRLF
  the server appends one (as real servers do), and the decoded body has that CRLF too.
  An empty message decodes to b"".
- A resumed ``RETR n offset`` (Extended RETR draft) of that wire form decodes to exactly
  ``wire_message[offset:]``, with the rest stuffed "as if it began a line": a leading "."
  is doubled even when the offset falls mid-line. Offsets may land anywhere, on a "." or
  mid-line, except right after a CR: there the client steps back one octet, because the
  rest would start with LF and servers may disagree on how to stuff and end it.
"""

from __future__ import annotations

import itertools
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from core.pop3 import protocol
from core.pop3.commands import Command
from core.pop3.protocol import NEED_DATA, Body, ClientConnection, End, Event, Greeting, Status

# Line material that exercises the decoder: dots where they matter, CR/LF alone, 8-bit bytes.
FRAGMENTS = st.sampled_from(
    [
        b".",
        b"..",
        b"...",
        b".\r",
        b"\r",
        b"\n",
        b"\r.",
        b"\n.",
        b"x",
        b"From ",
        b" ",
        b"\xff\x80",
        b"\x00",
        b"=2E",
        b"\t.",
    ]
)
LINE = st.one_of(
    st.lists(FRAGMENTS, max_size=8).map(b"".join),
    st.binary(max_size=40),
    st.integers(0, 5000).map(lambda n: b"y" * n),  # long lines
)


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """A message in CRLF form, sometimes without its final line ending."""
    lines = draw(st.lists(LINE, max_size=30))
    text = b"\r\n".join(lines)
    final_crlf = draw(st.booleans())
    if lines and final_crlf:
        text += b"\r\n"
    return text


def on_the_wire(message: bytes) -> bytes:
    """What RETR sends as the message (before stuffing): CRLF added if it does not end with one."""
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    return message


def stuff(rest: bytes) -> bytes:
    """Dot-stuff ``rest`` as if it began a line, plus the terminator (the reference server)."""
    lines = rest.split(b"\r\n")
    stuffed = b"\r\n".join(b"." + line if line.startswith(b".") else line for line in lines)
    return stuffed + (b".\r\n" if not rest or rest.endswith(b"\r\n") else b"\r\n.\r\n")


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


# Dot-led lines the fast path decodes one by one before the bulk bytes.replace takes over:
# 0 forces the bulk path everywhere, 1 mixes both, 32 is the shipped value.
STEPS = st.sampled_from([0, 1, 32])


def run_retr(
    wire: bytes, chunks_of: list[bytes], command: Command, steps: int = 32
) -> tuple[bytes, list[Event]]:
    """Feed a RETR reply and a pipelined NOOP reply; return the body and all events."""
    with mock.patch.object(protocol, "_DOT_LINE_STEPS", steps):
        return _run_retr(wire, chunks_of, command)


def _run_retr(wire: bytes, chunks_of: list[bytes], command: Command) -> tuple[bytes, list[Event]]:
    conn = ClientConnection()
    conn.receive_data(b"+OK hi\r\n")
    assert isinstance(conn.next_event(), Greeting)
    conn.send(Command("USER", ("u",)))
    conn.send(Command("PASS", ("p",)))
    conn.receive_data(b"+OK\r\n+OK\r\n")
    conn.next_event()
    conn.next_event()
    conn.send(command)
    conn.send(Command("NOOP"))
    events: list[Event] = []
    held = 0
    for chunk in chunks_of:
        conn.receive_data(chunk)
        while (event := conn.next_event()) is not NEED_DATA:
            events.append(event)
        if conn._in_body:  # inside a body at most 2 received octets wait undecoded
            held = max(held, len(conn._buf) - conn._pos + sum(map(len, conn._chunks)))
    assert held <= 2
    body = b"".join(e.data for e in events if isinstance(e, Body))
    assert [type(e) for e in events if not isinstance(e, Body)] == [Status, End, Status]
    assert conn.pending == 0
    return body, events


@settings(max_examples=250, deadline=None)
@given(st.data(), messages())
def test_whole_retr_decodes_to_the_message(data: st.DataObject, message: bytes) -> None:
    expected = on_the_wire(message)
    wire = b"+OK\r\n" + stuff(expected) + b"+OK\r\n"
    chunks_of = data.draw(chunked(wire))
    body, _ = run_retr(wire, chunks_of, Command("RETR", ("1",)), data.draw(STEPS))
    assert body == expected
    if not message.endswith(b"\r\n") and message:
        assert body == message + b"\r\n"


@settings(max_examples=250, deadline=None)
@given(st.data(), messages())
def test_resumed_retr_decodes_to_the_rest(data: st.DataObject, message: bytes) -> None:
    full = on_the_wire(message)
    offset = data.draw(st.integers(0, len(full)))
    if full[offset - 1 : offset + 1] == b"\r\n":
        offset -= 1  # never resume right after a CR: step back (see test_protocol.py)
    rest = full[offset:]
    wire = b"+OK\r\n" + stuff(rest) + b"+OK\r\n"
    chunks_of = data.draw(chunked(wire))
    body, _ = run_retr(wire, chunks_of, Command("RETR", ("1", str(offset))), data.draw(STEPS))
    assert body == rest
    assert full[:offset] + body == full


@settings(max_examples=100, deadline=None)
@given(st.data(), st.lists(st.binary(min_size=1, max_size=3).filter(lambda b: b"\r" not in b)))
def test_one_byte_or_any_chunking_yields_the_same_events(
    data: st.DataObject, pieces: list[bytes]
) -> None:
    message = b"\r\n.".join(pieces) + b"\r\n"
    wire = b"+OK\r\n" + stuff(message) + b"+OK\r\n"
    whole = run_retr(wire, [wire], Command("RETR", ("1",)))
    bytewise = run_retr(wire, [wire[i : i + 1] for i in range(len(wire))], Command("RETR", ("1",)))
    chunks_of = data.draw(chunked(wire))
    assert whole[0] == bytewise[0] == run_retr(wire, chunks_of, Command("RETR", ("1",)))[0]
    assert whole[0] == message
