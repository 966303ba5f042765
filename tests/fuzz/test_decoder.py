"""The decoder fuzzer: random and mutated server replies, fed in random chunks.

Whatever the server sends, ``ClientConnection`` and the reply parsers
- raise nothing but the documented protocol errors (RemoteProtocolError and its Desync /
  TlsGreeting / BodyOverrun kinds, ConnectionLost), and stay failed once failed;
- never hold more than a status line's cap of undecoded octets (``buffered``);
- never hang: every call returns, each event consumes input or finishes a command, and once
  EOF is fed the connection ends (ConnectionClosed or ConnectionLost), never NEED_DATA.

Bounded for CI: 2,000 examples each take about 6 s here, far inside the 60 s budget.
CI replays the same derandomized examples every run, so a landing never fails on a find that
the change did not cause; ``FUZZ_RANDOM=1 FUZZ_EXAMPLES=100000`` explores new ground locally.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConnectionLost, RemoteProtocolError
from core.pop3 import replies
from core.pop3.commands import Command
from core.pop3.protocol import NEED_DATA, ClientConnection, ConnectionClosed, State

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DOCUMENTED = (RemoteProtocolError, ConnectionLost)

# What a well-behaved server would answer to SCRIPT: the seed the mutations start from.
VALID = (
    b"+OK POP3 ready <1.2@host>\r\n"
    b"+OK\r\nTOP\r\nUIDL\r\nPIPELINING\r\nEXT-RETR\r\nLOGIN-DELAY 300\r\n.\r\n"
    b"+OK send PASS\r\n+OK logged in\r\n"
    b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
    b"+OK\r\n1 uid-1\r\n2 uid-2\r\n.\r\n"
    b"+OK 120 octets\r\nSubject: x\r\n\r\n..dot line\r\nbody\r\n.\r\n"
    b"+OK\r\nSubject: x\r\n\r\n.\r\n"
    b"+OK rest\r\n..ody\r\n.\r\n"
    b"+OK marked\r\n+OK\r\n+OK bye\r\n"
)
SCRIPT = [
    [Command("CAPA"), Command("USER", ("alice",))],
    [Command("PASS", ("secret",))],
    [Command("LIST"), Command("UIDL"), Command("RETR", ("1",)), Command("TOP", ("1", "0")),
     Command("RETR", ("2", "5")), Command("DELE", ("1",)), Command("NOOP")],
    [Command("QUIT")],
]
PIECES = st.sampled_from(
    [b"\r\n", b".\r\n", b"\r\n.\r\n", b"+OK ", b"-ERR [LOGIN-DELAY] ", b"+ ", b".", b"\r",
     b"\n", b"\x16\x03\x01", b"\x00", b"\xff", b"x" * 300, b"1 uid\r\n", b"+OK\r\n"]
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """VALID with a few bytes flipped, pieces inserted, spans deleted or repeated."""
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "repeat"]))
        if kind == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(PIECES)
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 60))]
    return bytes(data)


REPLIES = st.one_of(
    mutated(),
    st.binary(max_size=2000),
    st.lists(PIECES, max_size=40).map(lambda p: VALID[:40] + b"".join(p)),
)


def drive(data: bytes, chunk_sizes: list[int], max_line: int) -> None:
    conn = ClientConnection(max_line=max_line)
    script = deque(SCRIPT)
    fed, chunk, eof = 0, 0, False
    bound = 2 * len(data) + 64  # events consume input or finish one of ~12 commands
    for _ in range(bound):
        try:
            event = conn.next_event()
        except DOCUMENTED as exc:
            assert conn.state is State.ERROR
            try:
                conn.next_event()
            except DOCUMENTED as again:
                assert again is exc
            else:
                raise AssertionError("a failed connection produced an event") from None
            return
        if event is NEED_DATA:
            assert not eof, "NEED_DATA after EOF: the caller would wait forever"
            assert conn.buffered < max_line
            if fed == len(data):
                conn.receive_data(b"")
                eof = True
                continue
            size = chunk_sizes[chunk % len(chunk_sizes)] if chunk_sizes else len(data)
            chunk += 1
            conn.receive_data(data[fed : fed + size])
            fed = min(fed + size, len(data))
            continue
        if isinstance(event, ConnectionClosed):
            return
        if conn.pending == 0 and script and conn.state is not State.CLOSED:
            batch = script.popleft()
            try:
                for command in batch:
                    conn.send(command)
            except Exception as exc:  # only the local refusals send() documents
                assert type(exc).__name__ == "LocalProtocolError", exc
                script.clear()
    raise AssertionError(f"no end after {bound} steps: the decoder does not progress")


@FUZZ
@given(REPLIES, st.lists(st.integers(1, 64), max_size=8), st.sampled_from([64, 512, 8192]))
def test_random_and_mutated_replies_end_in_events_or_documented_errors(
    data: bytes, chunk_sizes: list[int], max_line: int
) -> None:
    drive(data, chunk_sizes, max_line)


def test_the_seed_itself_decodes_without_error() -> None:
    conn = ClientConnection()
    script = deque(SCRIPT)
    conn.receive_data(VALID)
    conn.receive_data(b"")
    while True:
        event = conn.next_event()
        if isinstance(event, ConnectionClosed):
            break
        if conn.pending == 0 and script:
            for command in script.popleft():
                conn.send(command)
    assert not script and conn.state is State.CLOSED


LISTINGS = st.one_of(st.binary(max_size=400), st.lists(PIECES, max_size=30).map(b"".join))


@FUZZ
@given(LISTINGS, st.text(max_size=80), st.lists(st.text(max_size=12), max_size=3))
def test_reply_parsers_raise_only_remote_protocol_errors(
    data: bytes, text: str, capa_args: list[str]
) -> None:
    for parse in (replies.parse_capa, replies.parse_scan_listing, replies.parse_uidl_listing):
        with contextlib.suppress(RemoteProtocolError):
            parse(data)
    replies.split_uidl_listing(data)
    for parse_text in (replies.parse_stat, replies.parse_list_size, replies.parse_uidl_line):
        with contextlib.suppress(RemoteProtocolError):
            parse_text(text)
    capa = {"LOGIN-DELAY": tuple(capa_args)}
    with contextlib.suppress(RemoteProtocolError):
        replies.parse_login_delay(capa)
    delay = replies.announced_login_delay(capa)
    assert delay is None or 0 <= delay < 10**18
