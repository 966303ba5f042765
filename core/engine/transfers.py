"""Downloads: pipelined batches of small messages, and large ones streamed to disk.

A large message can be paused, cancelled or cut at any chunk; it resumes by
``RETR n offset`` where the server lists EXT-RETR, else from the start with the stored
prefix checked (DESIGN rules 5 and 6).
"""

from __future__ import annotations

import time
from pathlib import Path

from core.engine.base import EngineBase, _Message
from core.engine.events import (
    ConnectionState,
    MarksChanged,
    MessageState,
    Progress,
)
from core.errors import (
    BodyOverrun,
    ConnectionLost,
    Interrupted,
    MessageIntegrityError,
    NoSuchMessage,
    OffsetOverrun,
    PopError,
    ServerError,
)
from core.pop3.session import Session
from core.store.partial import PartialDownload

SMALL_MESSAGE = 256 * 1024  # at most this size: fetched in pipelined batches, in memory
BATCH_BYTES = 8 * 1024 * 1024
BATCH_COUNT = 2500  # one syncfs per batch: fewer, larger batches are cheaper
CHECKPOINT_BYTES = 8 * 1024 * 1024
CHECKPOINT_SECONDS = 1.0
PROGRESS_SECONDS = 0.1
HOLD_LOGIN_DELAY = 60.0  # with a LOGIN-DELAY this long, pausing holds the connection
MAX_STUCK = 4  # attempts at one message that end in an error without progress, then FAILED
REOPEN_DELAY = 0.3  # seconds between dropping a connection on purpose and reopening it
PROGRESS_FLOOR = 64 * 1024  # less than this received in an attempt counts as no progress


class Transfers(EngineBase):
    """The download half of the engine; runs on the worker thread only."""

    def _next_work(self) -> list[str]:
        """The next large message alone, or a batch of small ones (pipelined)."""
        with self._wake:
            q = self._wants.queue
            head = next(iter(q), None)
            while head is not None and (
                head not in self._messages
                or self._messages[head].state in (MessageState.STORED, MessageState.GONE)
            ):
                del q[head]
                head = next(iter(q), None)
            if head is None:
                return []
            first = self._messages[head]
            if first.size > SMALL_MESSAGE or first.received:
                return [head]
            batch: list[str] = []
            total = 0
            for uidl in q:
                m = self._messages.get(uidl)
                if m is None or m.size > SMALL_MESSAGE or m.received:
                    break
                if m.state in (MessageState.STORED, MessageState.GONE):
                    continue
                batch.append(uidl)
                total += m.size
                if total >= BATCH_BYTES or len(batch) >= BATCH_COUNT:
                    break
            return batch

    def _stored(self, msg: _Message, path: Path) -> None:
        msg.received = msg.size
        self._stuck.pop(msg.uidl, None)
        self.stats.fetched += 1
        self.stats.fetched_bytes += msg.size
        self._dequeue(msg.uidl)
        self._set_state(msg, MessageState.STORED, "", str(path))
        if self._delete_after:
            self._store.set_marks([msg.uidl], True)
            self._marks_cache.add(msg.uidl)

    def _no_progress(self, msg: _Message, exc: BaseException) -> None:
        """Count an attempt that broke without moving on; a message that keeps breaking
        the connection must fail alone, not keep the whole account reconnecting forever."""
        tries = self._stuck.get(msg.uidl, 0) + 1
        self._stuck[msg.uidl] = tries
        if tries >= MAX_STUCK:
            self._failed(msg, f"gave up after {tries} attempts that made no progress: {exc}")

    def _failed(self, msg: _Message, why: str) -> None:
        self.stats.failed += 1
        self._dequeue(msg.uidl)
        self._set_state(msg, MessageState.FAILED, why)

    def _download_small(self, batch: list[_Message]) -> None:
        session = self._require()
        for msg in batch:
            self._set_state(msg, MessageState.DOWNLOADING)
        bodies: list[tuple[_Message, bytes]] = []
        by_number = {m.number: m for m in batch}
        done: set[int] = set()
        try:
            for number, ok, data in session.retr_small([(m.number, m.size) for m in batch]):
                done.add(number)
                msg = by_number[number]
                if not ok:
                    self._failed(msg, f"the server refused RETR: {data.decode(errors='replace')}")
                    continue
                self.stats.received_bytes += len(data)
                bodies.append((msg, data))
        except (PopError, OSError) as exc:
            # Replies come in order: the message being read when it broke is the culprit.
            culprit = next(m for m in batch if m.number not in done)
            if isinstance(exc, BodyOverrun):
                self._failed(culprit, str(exc))
            else:
                self._no_progress(culprit, exc)
            raise
        finally:
            # Also after a drop mid-batch: keep what arrived whole rather than fetch it again.
            self._finish_delivery()
            if bodies:
                for msg, _ in bodies:
                    self._dequeue(msg.uidl)  # in flight to the disk: not to be fetched again
                items = [(m.uidl, data) for m, data in bodies]
                future = self._writer.submit(self._store.deliver_batch, items)
                self._delivery = ([m for m, _ in bodies], future)
        self._apply_commands()

    def _finish_delivery(self) -> None:
        """Wait for the batch being made durable; only then is it STORED (and, with
        delete-after-fetch, marked: no DELE before the copy is durable, rule 12)."""
        if self._delivery is None:
            return
        messages, future = self._delivery
        self._delivery = None
        paths = future.result()
        for msg, path in zip(messages, paths, strict=True):
            self._stored(msg, path)
        if self._delete_after:
            self._emit(MarksChanged(frozenset(self._marks_cache)))

    def _download_large(self, msg: _Message) -> None:
        session = self._require()
        partial = self._store.begin(msg.uidl, msg.size)
        info = session.info
        can_offset = info.ext_retr and not self._ext_retr_broken
        offset = 0
        if partial.wire_offset > 0:
            self.stats.resumed += 1
            if can_offset:
                offset = partial.wire_offset
            else:
                self.stats.restarted += 1
                partial.restart(verify=True)
        exact = offset > 0
        msg.received = offset
        received_before = self.stats.received_bytes
        self._current = msg.uidl
        detail = "" if can_offset or not partial.resumed else (
            "restarting from the beginning: this server cannot resume mid-message"
        )
        self._set_state(msg, MessageState.DOWNLOADING, detail)
        try:
            if offset < msg.size:
                self._transfer(session, msg, partial, offset)
            path = self._store.complete(partial, exact=exact)
        except Interrupted:
            self._after_interrupt(msg, partial)
            raise
        except MessageIntegrityError as exc:
            self._store.discard(partial)
            msg.received = 0
            if exact or partial.resumed:
                # A resumed message that does not add up, or whose stored start changed on
                # the server: fetch it whole (once; a fresh transfer that fails is FAILED).
                # After a bad offset resume, this session stops trusting RETR offsets.
                self._ext_retr_broken = self._ext_retr_broken or exact
                self._set_state(msg, MessageState.QUEUED, f"{exc}; fetching again from the start")
                self._drop_session()  # a reply may still be in flight
                raise ConnectionLost("restarting the transfer") from exc
            self._failed(msg, str(exc))
            return
        except OffsetOverrun:
            self._store.discard(partial)
            msg.received = 0
            self._set_state(msg, MessageState.QUEUED, "stored part was longer than the message")
            return
        except BodyOverrun as exc:
            self._store.discard(partial)
            msg.received = 0
            if exact:
                # The server sent more than the rest: it ignored the offset (Courier does).
                self._ext_retr_broken = True
                self._set_state(msg, MessageState.QUEUED, "server ignored the resume offset")
            else:
                self._failed(msg, str(exc))
            raise ConnectionLost(str(exc)) from exc
        except (NoSuchMessage, ServerError) as exc:
            if isinstance(exc, ServerError) and exc.retryable:
                partial.checkpoint()
                raise
            partial.checkpoint()
            self._failed(msg, f"the server refused the message: {exc}")
            return
        except (PopError, OSError) as exc:
            partial.checkpoint()
            if self.stats.received_bytes - received_before < PROGRESS_FLOOR:
                self._no_progress(msg, exc)
            raise
        finally:
            self._current = None
        self._stored(msg, path)
        if self._delete_after:
            self._emit(MarksChanged(frozenset(self._marks_cache)))

    def _transfer(
        self, session: Session, msg: _Message, partial: PartialDownload, offset: int
    ) -> None:
        start = time.monotonic()
        last_check = last_progress = start
        since_check = 0
        got = offset
        rate = 0.0
        window_t, window_b = start, offset
        stats = self.stats

        def sink(data: bytes) -> None:
            nonlocal since_check, last_check, last_progress, got, rate, window_t, window_b
            partial.write(data)
            n = len(data)
            got += n
            stats.received_bytes += n
            since_check += n
            now = time.monotonic()
            if since_check >= CHECKPOINT_BYTES or now - last_check >= CHECKPOINT_SECONDS:
                partial.checkpoint(wait=False)
                since_check = 0
                last_check = now
            if now - last_progress >= PROGRESS_SECONDS:
                span = now - window_t
                if span >= 1.0:
                    rate = (got - window_b) / span
                    window_t, window_b = now, got
                elif rate == 0.0 and span > 0:
                    rate = (got - window_b) / span
                last_progress = now
                msg.received = got
                self._emit(Progress(msg.uidl, got, msg.size, rate))

        def check() -> None:
            if self._interrupt.is_set():
                self._check_interrupt(msg)

        session.retr(msg.number, sink, offset=offset, size=msg.size, check=check)
        msg.received = got
        self._emit(Progress(msg.uidl, got, msg.size, 0.0))

    def _check_interrupt(self, msg: _Message) -> None:
        """Between chunks: stop for pause/cancel/commit/disconnect; or hold the connection."""
        while True:
            self._interrupt.clear()
            self._apply_commands()
            with self._wake:
                w = self._wants
                stop_all = w.shutdown or w.disconnect or w.commit
                paused = msg.uidl in w.paused
                cancelled = msg.state is MessageState.REMOTE or (
                    msg.uidl not in w.queue and not paused
                )
            if stop_all or cancelled:
                raise Interrupted(msg.uidl)
            if not paused:
                if self._holding:
                    self._holding = False
                    self._set_state(msg, MessageState.DOWNLOADING)
                return
            if self._can_drop_for_pause():
                raise Interrupted(msg.uidl)
            if not self._holding:
                self._holding = True
                self._set_state(
                    msg, MessageState.PAUSED,
                    "paused, holding the connection: this server cannot resume mid-message",
                )
            self._wait(1.0)

    def _can_drop_for_pause(self) -> bool:
        info = self._session.info if self._session else None
        if info is None or not info.ext_retr or self._ext_retr_broken:
            return False
        return (info.login_delay or 0) < HOLD_LOGIN_DELAY

    def _after_interrupt(self, msg: _Message, partial: PartialDownload) -> None:
        """The RETR reply is unfinished: keep the bytes, drop the desynced connection."""
        self._holding = False
        with self._wake:
            w = self._wants
            paused = msg.uidl in w.paused
            keep_connected = w.connected and not w.disconnect and not w.shutdown
        if msg.state is MessageState.REMOTE or (not paused and msg.uidl not in w.queue):
            self._store.discard(partial)
            msg.received = 0
            self._set_state(msg, MessageState.REMOTE, "cancelled")
        else:
            partial.checkpoint()
            msg.received = partial.wire_offset
            if paused:
                self._set_state(msg, MessageState.PAUSED, "paused")
        # Reconnecting re-issues the journalled marks before anything else (rule 3).
        self._drop_session()
        if keep_connected:
            self._conn_state(ConnectionState.CONNECTING, "reopening the connection")
            # The server releases the maildrop lock once it sees our close; reconnecting
            # at once would often meet its [IN-USE].
            self._wait(REOPEN_DELAY)

