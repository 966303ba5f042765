"""Deletion marks on the server: session work for DESIGN rules 2, 3 and 15.

The journal (the store) holds the user's marks; these functions bring one session in
line with it and end a session without deleting anything. They talk to the server and
return what is now true there; the coordinator keeps that and decides when to call them.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.engine.messages import Message
from core.pop3.session import Session

__all__ = ["issue", "quit_keeping_everything"]


def issue(
    session: Session, messages: Iterable[Message], wanted: frozenset[str],
    issued: frozenset[str],
) -> frozenset[str]:
    """Make the server's DELE set equal ``wanted`` (of ``messages``, in server order);
    returns the UIDLs now marked on the server. RSET is the only undo (rule 2): an
    unmark costs RSET and DELE again for the rest."""
    if issued - wanted:
        session.rset()
        issued = frozenset()
    todo = [m for m in messages if m.uidl in wanted and m.uidl not in issued]
    if not todo:
        return issued
    refused = set(session.dele(m.number for m in todo))
    return issued | {m.uidl for m in todo if m.number not in refused}


def quit_keeping_everything(session: Session, issued: frozenset[str]) -> None:
    """End the session with QUIT, after RSET when marks went out (rule 15): the server
    deletes nothing, the marks stay in the journal for the next session. QUIT goes out
    only after RSET was answered +OK."""
    if issued:
        session.rset()
    session.quit()
