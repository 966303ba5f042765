"""The message list the worker keeps: rows by UIDL in server order, and their states.

Written by the worker thread only; its own small lock lets other threads take a
snapshot (:meth:`MessageTable.snapshot`) at any time. States change only through
:meth:`MessageTable.step`, that is through the table in :mod:`core.engine.lifecycle`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from core.engine.events import MessageInfo, MessageState
from core.engine.lifecycle import ACTIVE, Step, advance
from core.pop3.headers import Headers

__all__ = ["Message", "MessageTable"]

NO_HEADERS = Headers("", "", "")


@dataclass
class Message:
    uidl: str
    number: int  # this session's message number
    size: int  # LIST size
    headers: Headers
    state: MessageState
    received: int = 0  # wire octets stored so far (partial), or as received when stored
    detail: str = ""

    def info(self, marked: bool) -> MessageInfo:
        h = self.headers
        return MessageInfo(
            self.uidl, self.number, self.size, h.sender, h.subject, h.date, self.state,
            self.received, marked,
        )


class MessageTable:
    """See the module docstring."""

    def __init__(self, marks: set[str]) -> None:
        self._lock = threading.Lock()
        self._by_uidl: dict[str, Message] = {}
        self._order: list[str] = []
        self._marks = frozenset(marks)
        self.loaded = False  # a list has been read from a server at least once
        self.current: str | None = None  # the large message being read, if any

    # -- any thread ----------------------------------------------------------------------

    def snapshot(self) -> list[MessageInfo]:
        with self._lock:
            marks = self._marks
            return [self._by_uidl[u].info(u in marks) for u in self._order]

    def active(self) -> list[str]:
        """Messages on their way, and the one in flight: what "pause all" must catch."""
        with self._lock:
            found = [u for u, m in self._by_uidl.items() if m.state in ACTIVE]
            if self.current is not None:
                found.append(self.current)
            return found

    def paused(self) -> list[str]:
        with self._lock:
            return [u for u, m in self._by_uidl.items() if m.state is MessageState.PAUSED]

    # -- the worker ----------------------------------------------------------------------

    @property
    def marks(self) -> frozenset[str]:
        return self._marks

    def set_marks(self, marks: frozenset[str]) -> None:
        with self._lock:
            self._marks = marks

    def replace(self, messages: dict[str, Message], order: list[str]) -> None:
        with self._lock:
            self._by_uidl = messages
            self._order = order

    def remove(self, uidls: frozenset[str]) -> None:
        with self._lock:
            for uidl in uidls:
                if self._by_uidl.pop(uidl, None) is not None:
                    self._order.remove(uidl)

    def get(self, uidl: str) -> Message | None:
        return self._by_uidl.get(uidl)

    def __getitem__(self, uidl: str) -> Message:
        return self._by_uidl[uidl]

    def __contains__(self, uidl: object) -> bool:
        return uidl in self._by_uidl

    def __iter__(self) -> Iterator[Message]:
        """Messages in server order."""
        return (self._by_uidl[u] for u in list(self._order))

    def by_uidl(self) -> dict[str, Message]:
        return self._by_uidl

    def step(self, msg: Message, step: Step, detail: str = "") -> bool:
        """Move ``msg`` by ``step`` if the lifecycle table allows it; True if it moved."""
        new = advance(msg.state, step)
        if new is None:
            return False
        with self._lock:
            msg.state = new
            msg.detail = detail
        return True
