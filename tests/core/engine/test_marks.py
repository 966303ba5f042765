"""Marks on the server, alone against a small fake server: DELE, RSET as the only undo,
and an end of session that deletes nothing."""

from __future__ import annotations

from core.engine.events import MessageState
from core.engine.marks import issue, quit_keeping_everything
from core.engine.messages import NO_HEADERS, Message
from core.net import Security, TlsPolicy
from core.pop3.session import open_session
from tests.support.fakepop import FakePop3

BODY = b"Subject: x\r\n\r\nbody\r\n"


def _messages() -> list[Message]:
    return [Message(f"u{n}", n, len(BODY), NO_HEADERS, MessageState.STORED) for n in (1, 2, 3)]


def test_unmarking_one_is_rset_then_dele_of_the_rest_and_the_end_deletes_nothing() -> None:
    with FakePop3([BODY] * 3) as server:
        session = open_session(*server.address, Security.NONE, TlsPolicy(), read_timeout=10)
        session.login("alice", "pw", allow_plaintext=True)
        messages = _messages()
        issued = issue(session, messages, frozenset({"u1", "u3"}), frozenset())
        assert issued == {"u1", "u3"}
        assert issue(session, messages, frozenset({"u1", "u3"}), issued) == issued
        issued = issue(session, messages, frozenset({"u3"}), issued)
        assert issued == {"u3"}
        quit_keeping_everything(session, issued)
    assert [c for c in server.commands if c.split()[0] in ("DELE", "RSET", "QUIT")] == [
        "DELE 1", "DELE 3", "RSET", "DELE 3", "RSET", "QUIT"
    ]
    assert server.deleted == []
