"""Loading the server's list: UIDL, LIST and pipelined TOP headers, matched by UIDL."""

from __future__ import annotations

import hashlib

from core.engine.base import EngineBase, _Message
from core.engine.events import (
    ListLoaded,
    MarksChanged,
    MessageState,
    MessageStateChanged,
)
from core.errors import (
    ServerError,
)
from core.pop3.session import Headers, Session, parse_headers


class ListLoading(EngineBase):
    """Builds the message list and keeps what a previous list knew (partials, marks)."""

    def _load_list(self, *, announce: bool) -> None:
        session = self._require()
        sizes = session.list_sizes()
        uidls = session.uidls()
        if not uidls:
            uidls = self._synthetic_uidls(session, sizes)
        old = self._messages
        fresh = [n for n, u in uidls.items() if u not in old]
        tops = session.headers(sorted(fresh)) if self._list_headers and fresh else {}
        headers = {n: parse_headers(h) for n, h in tops.items()}
        partials = self._store.partial_offsets()
        messages: dict[str, _Message] = {}
        order: list[str] = []
        stored = self._store.stored_uidls()
        for number in sorted(uidls):
            uidl = uidls[number]
            size = sizes.get(number)
            if size is None or uidl in messages:
                continue  # deleted in this session, or a duplicate UIDL (server bug)
            prev = old.get(uidl)
            if prev is not None:
                prev.number, prev.size = number, size
                messages[uidl] = prev
            else:
                if uidl in stored:
                    state, received = MessageState.STORED, size
                else:
                    received = partials.get(uidl, 0)
                    state = MessageState.PAUSED if received else MessageState.REMOTE
                messages[uidl] = _Message(
                    uidl, number, size, headers.get(number, Headers("", "", "")), state,
                    received,
                )
            order.append(uidl)
        # DELE'd in this session: the server hides them from LIST/UIDL until QUIT or RSET,
        # but they are still there (and still the user's marks).
        hidden = [u for u in self._server_marks if u in old and u not in messages]
        for uidl in hidden:
            messages[uidl] = old[uidl]
        if hidden:
            order = sorted([*order, *hidden], key=lambda u: messages[u].number)
        gone = set(old) - set(messages)
        with self._lock:
            self._messages = messages
            self._order = order
        for uidl in gone:
            self._emit(MessageStateChanged(uidl, MessageState.GONE, 0, "no longer on the server"))
        self._marks_cache = self._store.marks()
        vanished = self._marks_cache - set(messages)
        if vanished:  # deleted by an earlier QUIT whose answer we never saw
            self._store.forget(vanished)
            self._marks_cache = self._store.marks()
        with self._wake:
            w = self._wants
            w.queue = {u: None for u in w.queue if u in messages}
            if self._delete_after:
                self._store.set_marks(
                    [u for u in order if messages[u].state is MessageState.STORED], True
                )
                self._marks_cache = self._store.marks()
        if announce or gone or fresh or not self._list_loaded:
            self._list_loaded = True
            self._emit(ListLoaded(tuple(self.messages())))
        self._emit(MarksChanged(frozenset(self._marks_cache)))
        self._apply_commands()  # a "download all" that waited for the list

    def _synthetic_uidls(self, session: Session, sizes: dict[int, int]) -> dict[int, str]:
        """No UIDL: identify by size + a hash of the headers (DESIGN rule 4)."""
        tops = session.headers(sorted(sizes))
        out: dict[int, str] = {}
        for number, size in sizes.items():
            if number not in tops:
                raise ServerError("UIDL", "the server has neither UIDL nor TOP: cannot tell "
                                  "messages apart safely", "SYS/PERM")
            digest = hashlib.sha256(str(size).encode() + b"\0" + tops[number]).hexdigest()
            out[number] = f"~{digest[:40]}"
        return out

