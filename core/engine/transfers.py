"""Session work for downloads: functions that read bodies and return what happened.

:func:`fetch_batch` reads a pipelined batch of small messages into memory;
:func:`fetch_large` streams one message to its partial file, resuming by
``RETR n offset`` where the server lists EXT-RETR, else from the start with the stored
prefix checked (DESIGN rules 5 and 6). Neither changes a message's state or counts a
failure: they return outcomes (stored, partial at N, refused, suspect, link broke after
N octets) and the coordinator decides, by evidence, what each one means (rule 14).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.engine.api import Stats
from core.engine.events import Progress
from core.engine.messages import Message
from core.errors import (
    BodyOverrun,
    ConnectionLost,
    DeliveryError,
    Desync,
    Interrupted,
    MessageIntegrityError,
    NoSuchMessage,
    OffsetOverrun,
    PopError,
    ServerError,
    TargetUnavailable,
    TemporaryDeliveryError,
)
from core.pop3.session import Session
from core.pop3.sizes import too_short
from core.store.local import Store
from core.store.partial import PartialDownload
from core.store.targets import Receipt

__all__ = [
    "BatchResult",
    "Broke",
    "Done",
    "Outcome",
    "Refused",
    "Restart",
    "Stopped",
    "Suspect",
    "fetch_batch",
    "fetch_large",
    "undelivered",
]

SMALL_MESSAGE = 256 * 1024  # at most this size: fetched in pipelined batches, in memory
BATCH_BYTES = 8 * 1024 * 1024
BATCH_COUNT = 2500  # one durability wait per batch: fewer, larger batches are cheaper
CHECKPOINT_BYTES = 8 * 1024 * 1024
CHECKPOINT_SECONDS = 1.0
PROGRESS_SECONDS = 0.1


@dataclass(frozen=True)
class Done:
    """Stored whole and durable (``path``: in the Maildir, or the target's receipt)."""

    path: Path | Receipt
    received: int


@dataclass(frozen=True)
class Stopped:
    """Interrupted on purpose (pause, cancel, disconnect, shutdown); the reply is unfinished."""


@dataclass(frozen=True)
class Refused:
    """The server refused this message: evidence against it alone."""

    reason: str


@dataclass(frozen=True)
class Suspect:
    """What arrived is not what the server holds (rule 13): kept as a partial, never DELE'd."""

    reason: str


@dataclass(frozen=True)
class Restart:
    """The copy cannot be continued: fetch it whole. ``no_offsets``: stop using RETR
    offsets for this session (refused, ignored, or sizes that do not add up)."""

    reason: str
    no_offsets: bool
    connection_usable: bool


@dataclass(frozen=True)
class Broke:
    """The link broke ``at`` octets into this message; ``progress``: bytes beyond the last
    checkpoint reached the disk before it did; ``in_reply``: the server had begun its
    answer (a status line arrived), so the break is inside this message's reply."""

    error: PopError
    at: int
    progress: bool
    in_reply: bool = True


Outcome = Done | Stopped | Refused | Suspect | Restart | Broke


def fetch_large(
    session: Session,
    store: Store,
    msg: Message,
    partial: PartialDownload,
    *,
    use_offsets: bool,
    stats: Stats,
    emit: Callable[[Progress], None],
    check: Callable[[], None],
) -> Outcome:
    """Read one message into ``partial`` (opened by the caller) and complete it."""
    offset = 0
    start = partial.wire_offset
    if start > 0:
        stats.resumed += 1
        if use_offsets:
            offset = start
        else:
            stats.restarted += 1
            partial.restart(verify=True)
    exact = offset > 0
    msg.received = offset
    try:
        got = offset
        if offset < msg.size:
            got = _stream(session, msg, partial, offset, stats, emit, check)
        if too_short(msg.size, got):
            partial.checkpoint()
            return Suspect(
                f"the server sent {got} octets where LIST says {msg.size}: the copy is "
                "kept as a partial, not stored and not deleted"
            )
        try:
            path = store.complete(partial, exact=exact)
        except TargetUnavailable:
            raise  # nothing can be delivered this run: the account stops
        except DeliveryError as exc:
            return Refused(undelivered(exc))  # the complete partial stays for the next run
        return Done(path, got)
    except Interrupted:
        partial.checkpoint()
        return Stopped()
    except Desync as exc:
        partial.checkpoint()
        return Suspect(f"{exc}; the copy is kept as a partial, not stored and not deleted")
    except MessageIntegrityError as exc:
        store.discard(partial)
        if exact or partial.resumed:
            return Restart(f"{exc}; fetching again from the start", exact, False)
        return Refused(str(exc))
    except OffsetOverrun as exc:
        store.discard(partial)
        return Restart(f"the server refused the offset ({exc})", True, True)
    except BodyOverrun as exc:
        store.discard(partial)
        if exact:  # the server sent more than the rest: it ignored the offset (Courier)
            return Restart("the server ignored the resume offset", True, False)
        return Refused(str(exc))
    except (NoSuchMessage, ServerError) as exc:
        partial.checkpoint()
        if isinstance(exc, ServerError) and exc.retryable:
            return _broke(exc, session, partial, start)
        if exact and not isinstance(exc, NoSuchMessage):
            # EXT-RETR listed, but "RETR n offset" refused: whole RETRs from now on.
            return Restart(f"the server refused RETR with an offset ({exc})", True, True)
        return Refused(f"the server refused the message: {exc}")
    except OSError as exc:
        partial.checkpoint()
        return _broke(_lost(exc), session, partial, start)
    except PopError as exc:
        if not exc.retryable:
            raise
        partial.checkpoint()
        return _broke(exc, session, partial, start)


def _broke(error: PopError, session: Session, partial: PartialDownload, start: int) -> Broke:
    """After a break: where it happened, whether bytes beyond ``start`` are on disk."""
    at = partial.wire_offset
    return Broke(error, at, at > start, session.reply_started)


def undelivered(exc: DeliveryError) -> str:
    """Why a message is not STORED: the target refused it; either way it stays on the
    server, undeleted."""
    if isinstance(exc, TemporaryDeliveryError):
        return f"not delivered, kept on the server; the next run tries again: {exc}"
    return f"the target refused it, kept on the server: {exc}"


def _lost(exc: OSError) -> PopError:
    return exc if isinstance(exc, PopError) else ConnectionLost(str(exc))


def _stream(
    session: Session,
    msg: Message,
    partial: PartialDownload,
    offset: int,
    stats: Stats,
    emit: Callable[[Progress], None],
    check: Callable[[], None],
) -> int:
    start = time.monotonic()
    last_check = last_progress = start
    since_check = 0
    got = offset
    rate = 0.0
    window_t, window_b = start, offset

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
            emit(Progress(msg.uidl, got, msg.size, rate))

    session.retr(msg.number, sink, offset=offset, size=msg.size, check=check)
    msg.received = got
    emit(Progress(msg.uidl, got, msg.size, 0.0))
    return got


@dataclass
class BatchResult:
    """What one pipelined batch gave: bodies to deliver, refusals, suspects, and the break."""

    bodies: list[tuple[Message, bytes]] = field(default_factory=list)
    refused: list[tuple[Message, str]] = field(default_factory=list)
    suspect: list[tuple[Message, bytes, str]] = field(default_factory=list)
    broke: Broke | None = None
    culprit: Message | None = None  # the message being read when it broke
    unfinished: bytes = b""  # what arrived of the culprit's body before the break


def fetch_batch(session: Session, batch: list[Message], stats: Stats) -> BatchResult:
    """Pipelined RETR of small messages; replies come in order, so a break names the
    message being read, and ``at`` says how far into it (0: before its body began)."""
    out = BatchResult()
    by_number = {m.number: m for m in batch}
    done: set[int] = set()
    try:
        for number, ok, data in session.retr_small([(m.number, m.size) for m in batch]):
            done.add(number)
            msg = by_number[number]
            if not ok:
                text = data.decode(errors="replace")
                out.refused.append((msg, f"the server refused RETR: {text}"))
                continue
            stats.received_bytes += len(data)
            if too_short(msg.size, len(data)):
                out.suspect.append((msg, data, (
                    f"the server sent {len(data)} octets where LIST says {msg.size}"
                )))
                continue
            out.bodies.append((msg, data))
    except Desync as exc:
        # The last body before the desync ended early: it is the suspect one.
        if out.bodies:
            msg, data = out.bodies.pop()
            out.suspect.append((msg, data, str(exc)))
        out.broke = Broke(exc, 0, False, False)
    except (PopError, OSError) as exc:
        if isinstance(exc, PopError) and not exc.retryable:
            raise
        out.culprit = next((m for m in batch if m.number not in done), None)
        if isinstance(exc, BodyOverrun) and out.culprit is not None:
            out.refused.append((out.culprit, str(exc)))
            out.culprit = None
        if out.culprit is not None:
            out.unfinished = session.unfinished_body()
            stats.received_bytes += len(out.unfinished)
        error = _lost(exc) if isinstance(exc, OSError) else exc
        at = session.body_octets if out.culprit else 0
        out.broke = Broke(error, at, False, session.reply_started)
    return out
