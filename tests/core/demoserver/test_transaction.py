"""TRANSACTION over loopback: LIST/UIDL/TOP/RETR on the wire, EXT-RETR offsets, UIDLs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.demoserver import DemoServer

from .conftest import MSG_A, MSG_B, Raw, crlf, logged_in, unstuff, write_maildir


def test_message_number_errors(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    client.send(
        b"LIST 9\r\nLIST x\r\nLIST 1 2\r\nRETR 0\r\nRETR 4\r\nRETR\r\nTOP 1\r\nTOP 1 -1\r\n"
        b"DELE 7\r\nUIDL 1\r\nRETR 1 x\r\nRETR 1 2 3\r\n"
    )
    replies = [client.line() for _ in range(12)]
    assert replies[0] == b"-ERR No such message"
    assert replies[1] == b"-ERR Invalid message number"
    assert replies[2] == b"-ERR Noise after message number"
    assert replies[3] == replies[4] == b"-ERR [NON-EXISTENT] No such message"
    assert all(r.startswith(b"-ERR") for r in replies[5:9])
    assert replies[9] == b"+OK 1 m1.aaa"
    assert replies[10] == b"-ERR Invalid offset"
    assert replies[11].startswith(b"-ERR")


def test_top_stuffs_and_zero_lines(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    client.send(b"TOP 1 0\r\nTOP 1 3\r\nTOP 2 100\r\n")
    assert client.line().startswith(b"+OK")
    assert client.body() == b"From: a@example\r\nSubject: one\r\n\r\n"
    assert client.line().startswith(b"+OK")
    assert client.body() == (
        b"From: a@example\r\nSubject: one\r\n\r\nHello\r\n..leading dot\r\n...two\r\n"
    )
    assert client.line().startswith(b"+OK")
    assert client.body() == crlf(MSG_B)


def test_retr_is_crlf_and_stuffed_on_the_wire(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    client.send(b"RETR 1\r\n")
    assert client.line() == b"+OK %d octets" % len(crlf(MSG_A))
    body = client.body()
    assert b"\r\n..leading dot\r\n...two\r\n..\r\nend\r\n" in body
    assert unstuff(body) == crlf(MSG_A)


def ext_retr(client: Raw, number: int, offset: int) -> tuple[bytes, bytes]:
    client.send(b"RETR %d %d\r\n" % (number, offset))
    status = client.line()
    return status, client.body() if status.startswith(b"+OK") else b""


def test_ext_retr_every_offset_reassembles(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    whole = crlf(MSG_A)
    for offset in range(len(whole) + 1):
        status, body = ext_retr(client, 1, offset)
        assert status == b"+OK %d octets" % (len(whole) - offset)
        rest = unstuff(body)
        if whole[offset - 1 : offset] == b"\r":  # between CR and LF: see the next test
            continue
        assert whole[:offset] + rest == whole, offset


def test_ext_retr_dot_at_the_offset_is_doubled(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    whole = crlf(MSG_A)
    at_line_start = whole.index(b".leading")
    mid_line = whole.index(b"..two") + 1  # the second "." of "..two": not a line start there
    after_dot = at_line_start + 1
    cases = {
        at_line_start: b"..leading dot\r\n...two\r\n",
        mid_line: b"..two\r\n..\r\n",  # the rest begins a line: doubled all the same
        after_dot: b"leading dot\r\n...two\r\n",
    }
    for offset, start in cases.items():
        status, body = ext_retr(client, 1, offset)
        assert status == b"+OK %d octets" % (len(whole) - offset)
        assert body.startswith(start)
        assert unstuff(body) == whole[offset:]


def test_ext_retr_between_cr_and_lf(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    whole = crlf(MSG_A)
    offset = whole.index(b"\r\n.leading") + 1  # at the LF; a "." follows it
    status, body = ext_retr(client, 1, offset)
    assert status == b"+OK %d octets" % (len(whole) - offset)
    # the "." after that LF follows no CRLF on the wire: it is not stuffed
    assert body.startswith(b"\n.leading dot\r\n...two\r\n")
    assert unstuff(body) == whole[offset:]
    # the last octet alone (the final LF): a CRLF is added before the terminator
    status, body = ext_retr(client, 1, len(whole) - 1)
    assert status == b"+OK 1 octets" and body == b"\n\r\n"


def test_ext_retr_end_and_overrun(raw: Callable[[], Raw]) -> None:
    client = raw()
    client.login()
    size = len(crlf(MSG_A))
    assert ext_retr(client, 1, size) == (b"+OK 0 octets", b"")
    assert ext_retr(client, 1, size + 1)[0].startswith(b"-ERR [OFFSET-OVERRUN]")
    assert ext_retr(client, 9, 0)[0].startswith(b"-ERR [NON-EXISTENT]")
    client.send(b"DELE 1\r\n")
    client.line()
    assert ext_retr(client, 1, 0)[0] == b"-ERR Message is deleted"


def test_without_ext_retr_an_offset_is_noise(
    maildir: Path, make_server: Callable[..., DemoServer]
) -> None:
    server = make_server(maildir, ext_retr=False)
    client = Raw.connect(server.address)
    client.login()
    assert ext_retr(client, 1, 5)[0] == b"-ERR Noise after message number"
    assert ext_retr(client, 9, 0)[0] == b"-ERR Noise after message number"
    client.send(b"RETR 9\r\n")
    assert client.line() == b"-ERR No such message"
    client.close()


def test_message_without_final_newline(
    tmp_path: Path, make_server: Callable[..., DemoServer]
) -> None:
    server = make_server(write_maildir(tmp_path / "md", {"x": b"S: 1\n\nno end", "y": b""}))
    client = Raw.connect(server.address)
    client.login()
    client.send(b"LIST\r\nRETR 1\r\nRETR 2\r\n")
    client.line()
    assert client.body() == b"1 14\r\n2 0\r\n"
    assert client.line() == b"+OK 14 octets"
    assert client.body() == b"S: 1\r\n\r\nno end\r\n"  # CRLF added, not counted
    assert client.line() == b"+OK 0 octets"
    assert client.body() == b""
    client.close()


def test_uidls_override_with_slashes(
    tmp_path: Path, make_server: Callable[..., DemoServer]
) -> None:
    root = write_maildir(tmp_path / "md", {"1": b"a\n", "2": b"b\n"})
    server = make_server(root, uidls=lambda p: {"1": "../../x", "2": "a/b"}[p.name])
    client = logged_in(server)
    assert client.uidl()[1] == [b"1 ../../x", b"2 a/b"]
    client.quit()


def test_crs_in_a_file_round_trip(tmp_path: Path, make_server: Callable[..., DemoServer]) -> None:
    data = b"S: x\n\na\r\nb\rc\n.\r\n"
    server = make_server(write_maildir(tmp_path / "md", {"m": data}))
    client = Raw.connect(server.address)
    client.login()
    client.send(b"RETR 1\r\n")
    assert client.line() == b"+OK %d octets" % len(crlf(data))
    wire = unstuff(client.body())
    assert wire == b"S: x\r\n\r\na\r\r\nb\rc\r\n.\r\r\n"
    assert wire.replace(b"\r\n", b"\n") == data  # a client's CRLF -> LF gives the file back
    client.quit()
