"""TRANSACTION state commands, and QUIT's Update state.

DELE only marks; RSET unmarks; QUIT from TRANSACTION removes the marked files and reports
them in ``deleted``. Every other way a session ends leaves the maildrop untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from core.demoserver.conn import TRANSACTION, Close, Conn, Handler
from core.demoserver.mailbox import Maildrop, Message, MessageDeleted
from core.demoserver.wire import Stuffer, crlf_chunks, top_chunks


def _drop(session: Conn) -> Maildrop:
    assert session.drop is not None, "TRANSACTION without a maildrop"
    return session.drop


def _number(token: str) -> int | None:
    return int(token) if token.isascii() and token.isdigit() else None


def _message(session: Conn, token: str, code: str | None = None) -> Message | None:
    """Resolve a message number, answering -ERR when it is not usable."""
    number = _number(token)
    if number is None:
        session.err("Invalid message number")
        return None
    try:
        return _drop(session).get(number)
    except MessageDeleted:
        session.err("Message is deleted")
    except LookupError:
        session.err("No such message", code)
    return None


def stat(session: Conn, args: list[str], rest: str) -> None:
    count, size = _drop(session).stat()
    session.ok(f"{count} {size}")


def _listing(
    session: Conn,
    args: list[str],
    one: Callable[[Message], str],
    every: Callable[[Maildrop], bytes],
) -> None:
    if len(args) > 1:
        session.err("Noise after message number")
    elif args:
        message = _message(session, args[0])
        if message is not None:
            session.ok(f"{args[0]} {one(message)}")
    else:
        drop = _drop(session)
        count, size = drop.stat()
        session.multiline(f"{count} messages ({size} octets)", every(drop))


def list_(session: Conn, args: list[str], rest: str) -> None:
    _listing(session, args, lambda m: str(m.size), Maildrop.scan_listing)


def uidl(session: Conn, args: list[str], rest: str) -> None:
    _listing(session, args, lambda m: m.uidl, Maildrop.uidl_listing)


def retr(session: Conn, args: list[str], rest: str) -> None:
    """RETR n, or RETR n offset under EXT-RETR (offset in unstuffed CRLF octets)."""
    ext = session.shared.ext_retr
    if not args or len(args) > 2:
        session.err("RETR takes a message number (and an offset with EXT-RETR)")
        return
    if len(args) == 2 and not ext:
        session.err("Noise after message number")  # what Dovecot answers
        return
    offset = _number(args[1]) if len(args) == 2 else 0
    if offset is None:
        session.err("Invalid offset")
        return
    message = _message(session, args[0], "NON-EXISTENT" if ext else None)
    if message is None:
        return
    if offset > message.size:
        session.err(f"Offset past the end ({message.size} octets)", "OFFSET-OVERRUN")
        return
    session.ok(f"{message.size - offset} octets")
    faults = session.shared.faults
    faults.start_body(message.size - offset)
    if message.wire is not None and offset == 0 and not faults.overlong_body:
        session.body(message.wire[:-3])
        session.write(message.wire[-3:])
        return
    stuffer = Stuffer()
    try:
        for chunk in crlf_chunks(message.path, message.layout, offset):
            session.body(stuffer.feed(chunk))
    except FileNotFoundError:
        raise Close from None  # vanished under us: the client sees a drop
    extra = faults.overlong_body
    if extra:  # a fault: more octets than LIST announced, in whole lines
        session.body(stuffer.feed(b"Z" * (extra - 2) + b"\r\n" if extra > 1 else b"Z"))
    session.write(stuffer.end())


def top(session: Conn, args: list[str], rest: str) -> None:
    lines = _number(args[1]) if len(args) == 2 else None
    if lines is None:
        session.err("TOP takes a message number and a line count")
        return
    message = _message(session, args[0])
    if message is None:
        return
    session.ok("Top of message follows")
    stuffer = Stuffer()
    try:
        for chunk in top_chunks(crlf_chunks(message.path, message.layout), lines):
            session.body(stuffer.feed(chunk))
    except FileNotFoundError:
        raise Close from None
    session.write(stuffer.end())


def dele(session: Conn, args: list[str], rest: str) -> None:
    if len(args) != 1:
        session.err("DELE takes a message number")
        return
    if _message(session, args[0]) is not None:
        _drop(session).mark(int(args[0]))
        session.ok("Marked to be deleted")


def rset(session: Conn, args: list[str], rest: str) -> None:
    drop = _drop(session)
    drop.reset()
    count, size = drop.stat()
    session.ok(f"{count} messages ({size} octets)")


def noop(session: Conn, args: list[str], rest: str) -> None:
    session.ok()


def quit_(session: Conn, args: list[str], rest: str) -> None:
    """From TRANSACTION: the Update state. From AUTHORIZATION: just goodbye."""
    if session.state == TRANSACTION:
        shared = session.shared
        removed, failed = _drop(session).commit()
        with shared.record_lock:
            shared.deleted.extend(removed)
        if failed:
            session.err(f"{len(failed)} messages not removed", "SYS/TEMP")
        else:
            session.ok(f"Logging out, {len(removed)} messages deleted")
    else:
        session.ok("Logging out")
    session.flush()
    raise Close


HANDLERS: dict[str, Handler] = {
    "STAT": stat,
    "LIST": list_,
    "UIDL": uidl,
    "RETR": retr,
    "TOP": top,
    "DELE": dele,
    "RSET": rset,
    "NOOP": noop,
}
