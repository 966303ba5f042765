"""Downloads, and what their outcomes do: the session work in
:mod:`core.engine.transfers` reads the bytes and returns an outcome (stored whole, partial
at offset N, refused, link broke after N octets); this part applies it to the store and
the table and judges by evidence (DESIGN rule 14) whether a break is the message's or the
link's. It runs on the engine's worker thread, which it reaches through a narrow
:class:`SessionHost` (the live session, drop it, fold in the user's latest intent)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from core.engine.api import Stats
from core.engine.events import MessageState, MessageStateChanged
from core.engine.intent import Intent, Wants
from core.engine.lifecycle import Step
from core.engine.messages import Message, MessageTable
from core.engine.reporter import Reporter
from core.engine.transfers import (
    Broke,
    Done,
    Outcome,
    Refused,
    Restart,
    Stopped,
    Suspect,
    fetch_batch,
    fetch_large,
    undelivered,
)
from core.errors import DeliveryError, Interrupted
from core.pop3.session import ServerInfo, Session
from core.store.local import Store
from core.store.targets import Receipt

HOLD_LOGIN_DELAY = 60.0  # with a LOGIN-DELAY this long, pausing holds the connection
SAME_PLACE = 3  # breaks at the same octet of one message, without progress: it is the message
WHOLE_REREADS = 4  # without EXT-RETR: whole reads of one message that broke, then FAILED
REOPEN_DELAY = 0.3  # after dropping a connection on purpose: the server frees the maildrop


class SessionHost(Protocol):
    """What downloads need from the worker that owns the session."""

    def session(self) -> Session:
        """The live session (ConnectionLost without one)."""

    def info(self) -> ServerInfo | None: ...

    def drop(self) -> None:
        """Close without QUIT: the reply may still be in flight."""

    def reopening(self) -> None:
        """Say the connection is being reopened (after a drop on purpose)."""

    def apply_intent(self) -> Wants: ...

    def marks_changed(self) -> None: ...


class Downloads:
    def __init__(
        self, host: SessionHost, *, store: Store, table: MessageTable, intent: Intent,
        report: Reporter, stats: Stats, delete_after: bool,
    ) -> None:
        self._host = host
        self._store = store
        self._table = table
        self._intent = intent
        self._report = report
        self.stats = stats
        self._delete_after = delete_after
        self.progress = False  # this session stored something (rule 14)
        self.use_offsets = True  # this session still trusts RETR offsets
        self._holding = False
        self._seen = -1  # the intent generation _between_chunks last looked at
        self._same_place: dict[str, tuple[int, int]] = {}  # uidl -> (octet, times)
        self._rereads: dict[str, list[int]] = {}  # uidl -> octets of each broken whole read
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="popfetch-deliver")
        self._delivery: (
            tuple[list[tuple[Message, int]], Future[Sequence[Path | Receipt | DeliveryError]]]
            | None
        ) = None

    def new_session(self) -> None:
        self.progress = False
        self.use_offsets = True

    @property
    def pending(self) -> bool:
        """A batch is on its way to the disk."""
        return self._delivery is not None

    def shutdown(self) -> None:
        self._writer.shutdown()

    def _stored(self, msg: Message, path: Path | Receipt, received: int) -> None:
        msg.received = received
        self.progress = True
        self._same_place.pop(msg.uidl, None)
        self._rereads.pop(msg.uidl, None)
        self.stats.fetched += 1
        self.stats.fetched_bytes += received
        self._intent.done([msg.uidl])
        self._report.step(msg, Step.STORE, "", str(path))
        if self._delete_after:
            self._store.set_marks([msg.uidl], True)

    def _failed(self, msg: Message, why: str) -> None:
        """Evidence against this message alone: it fails, the queue goes on."""
        self.stats.failed += 1
        self.progress = True  # the queue moved on: not the account's failure
        self._intent.done([msg.uidl])
        self._report.step(msg, Step.FAIL, why)

    def _suspect(self, msg: Message, why: str) -> None:
        self.stats.suspect += 1
        self._failed(msg, f"suspect copy: {why}")

    def _broke_at(self, msg: Message, broke: Broke) -> None:
        """The link broke inside ``msg`` with no progress: the same octet again and again
        is evidence against the message (a poison message), anything else is the link's.
        A break before the server began its reply says nothing about the message."""
        if not broke.in_reply:
            return
        at, error = broke.at, broke.error
        prev_at, times = self._same_place.get(msg.uidl, (-1, 0))
        times = times + 1 if prev_at == at else 1
        self._same_place[msg.uidl] = (at, times)
        if times >= SAME_PLACE:
            self._failed(
                msg,
                f"the connection breaks at octet {at} of this message every time "
                f"({times} times in a row: {error}); the other messages go on",
            )

    def download_small(self, batch: list[Message]) -> None:
        session = self._host.session()
        for msg in batch:
            self._report.step(msg, Step.START)
        result = fetch_batch(session, batch, self.stats)
        self.finish()
        for msg, why in result.refused:
            self._failed(msg, why)
        for msg, data, why in result.suspect:
            self._keep_partial(msg, data)
            self._suspect(msg, why)
        if result.bodies:
            self._intent.done([m.uidl for m, _ in result.bodies])  # in flight to the disk
            items = [(m.uidl, data) for m, data in result.bodies]
            future = self._writer.submit(self._store.deliver_batch, items)
            self._delivery = ([(m, len(data)) for m, data in result.bodies], future)
        if result.broke is not None:
            culprit = result.culprit
            moved = bool(result.bodies)
            if culprit is not None and result.unfinished and session.info.ext_retr:
                # Keep what arrived: the message resumes by offset, alone, like a large one.
                before = culprit.received
                self._keep_partial(culprit, result.unfinished)
                if culprit.received > before:
                    self.progress = moved = True
            if culprit is not None and not moved:
                self._broke_at(culprit, result.broke)
            raise result.broke.error

    def _keep_partial(self, msg: Message, data: bytes) -> None:
        """Part of a small message becomes its partial: a suspect copy (kept, never
        delivered, never DELE'd), or the start of one cut mid-body (resumed by offset)."""
        partial = self._store.begin(msg.uidl, msg.size)
        partial.restart(verify=False)
        partial.write(data)
        partial.close()
        msg.received = partial.wire_offset

    def finish(self) -> None:
        """Wait for the batch being made durable; only then is it STORED (and, with
        delete-after-fetch, marked: no DELE before the copy is durable, rule 12)."""
        if self._delivery is None:
            return
        messages, future = self._delivery
        self._delivery = None
        outcomes = future.result()
        for (msg, received), outcome in zip(messages, outcomes, strict=True):
            if isinstance(outcome, DeliveryError):
                self._failed(msg, undelivered(outcome))
            else:
                self._stored(msg, outcome, received)
        if self._delete_after:
            self._host.marks_changed()

    def download_large(self, msg: Message) -> None:
        session = self._host.session()
        partial = self._store.begin(msg.uidl, msg.size)
        use_offsets = session.info.ext_retr and self.use_offsets
        detail = "" if use_offsets or not partial.wire_offset else (
            "restarting from the beginning: this server cannot resume mid-message"
        )
        self._table.current = msg.uidl
        self._seen = -1
        self._report.step(msg, Step.START, detail)
        try:
            outcome = fetch_large(
                session, self._store, msg, partial, use_offsets=use_offsets,
                stats=self.stats, emit=self._report.emit, check=lambda: self._between_chunks(msg),
            )
        finally:
            self._table.current = None
            self._holding = False
        self._apply_large(msg, outcome, use_offsets)

    def _apply_large(self, msg: Message, outcome: Outcome, use_offsets: bool) -> None:
        if isinstance(outcome, Done):
            self._stored(msg, outcome.path, outcome.received)
            if self._delete_after:
                self._host.marks_changed()
            return
        if isinstance(outcome, Refused):
            msg.received = 0
            self._failed(msg, outcome.reason)
            return
        if isinstance(outcome, Suspect):
            self._suspect(msg, outcome.reason)
            self._host.drop()  # the reply may not be over: start the next session clean
            return
        if isinstance(outcome, Restart):
            msg.received = 0
            if outcome.no_offsets:
                self.use_offsets = False
            self._report.step(msg, Step.RESTART, outcome.reason)
            if not outcome.connection_usable:
                self._host.drop()  # a reply may still be in flight
                self._host.reopening()
                self._intent.wait(REOPEN_DELAY)
            return
        if isinstance(outcome, Stopped):
            self._after_stop(msg)
            return
        self._after_break(msg, outcome, use_offsets)

    def _after_break(self, msg: Message, broke: Broke, use_offsets: bool) -> None:
        if broke.progress:
            self.progress = True
            self._same_place.pop(msg.uidl, None)
        else:
            self._broke_at(msg, broke)
        if not use_offsets and msg.state is not MessageState.FAILED:
            reads = self._rereads.setdefault(msg.uidl, [])
            reads.append(broke.at)
            if len(reads) >= WHOLE_REREADS:
                self._failed(msg, (
                    f"this server cannot resume, and the link drops every "
                    f"~{max(reads) / 1e6:.1f} MB, before the end of this "
                    f"{msg.size / 1e6:.1f} MB message ({len(reads)} whole reads)"
                ))
        raise broke.error

    def _after_stop(self, msg: Message) -> None:
        """The RETR reply is unfinished: keep (or drop) the bytes, drop the connection."""
        w = self._intent.snapshot()
        paused = msg.uidl in w.paused
        if not paused and msg.uidl not in w.queue:
            self._store.discard(self._store.begin(msg.uidl, msg.size))
            msg.received = 0
            self._report.step(msg, Step.CANCEL, "cancelled")
        elif paused:
            msg.received = self._store.partial_offset(msg.uidl)
            if not self._report.step(msg, Step.PAUSE, "paused"):
                self._report.emit(MessageStateChanged(msg.uidl, msg.state, msg.received, "paused"))
        self._host.drop()
        if w.connected and not w.disconnect and not w.shutdown:
            self._host.reopening()
            # The server releases the maildrop lock once it sees our close; reconnecting
            # at once would often meet its [IN-USE].
            self._intent.wait(REOPEN_DELAY)
        raise Interrupted(msg.uidl)

    def _between_chunks(self, msg: Message) -> None:
        """Stop for pause/cancel/commit/disconnect; or hold the connection (no EXT-RETR).

        Runs after every chunk: it looks at the intent only when it changed."""
        if self._intent.generation == self._seen and not self._holding:
            return
        self._seen = self._intent.generation
        while True:
            w = self._host.apply_intent()
            if w.shutdown or w.disconnect or w.commit:
                raise Interrupted(msg.uidl)
            paused = msg.uidl in w.paused
            if not paused and msg.uidl not in w.queue:
                raise Interrupted(msg.uidl)  # cancelled
            if not paused:
                if self._holding:
                    self._holding = False
                    self._report.step(msg, Step.START)
                return
            if self._can_drop_for_pause():
                raise Interrupted(msg.uidl)
            if not self._holding:
                self._holding = True
                self._report.step(
                    msg, Step.HOLD,
                    "paused, holding the connection: this server cannot resume mid-message",
                )
            self._intent.wait(1.0)

    def _can_drop_for_pause(self) -> bool:
        info = self._host.info()
        if info is None or not info.ext_retr or not self.use_offsets:
            return False
        return (info.login_delay or 0) < HOLD_LOGIN_DELAY
