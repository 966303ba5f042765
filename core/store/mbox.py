"""The mbox delivery target: append in mboxrd form under the locks mutt and Dovecot take.

- **Format (mboxrd)**: each message starts with a ``From SENDER DATE`` line and ends with
  a blank line; a body line matching ``>*From `` gets one more ``>``, which a reader
  removes again, so quoting is reversible (unlike mboxo). Python's ``mailbox.mbox`` and
  mutt read it.
- **Locking**: an fcntl write lock on the file and a ``PATH.lock`` dotlock beside it
  (created with O_EXCL; one older than five minutes is stale and removed), taken in
  that order, the way mutt and Dovecot's ``mbox_write_locks = fcntl dotlock`` do.
  Both are held from :meth:`MboxTarget.prepare` until the batch is written.
- **Durability**: one fsync per batch; a failed write is cut back to the length the
  file had before the batch (``ftruncate``), so the mbox never keeps half a message.
- **Crash**: the hint is ``"OFFSET EPOCH"``, where the message's ``From `` line will be and
  the time in it, so the exact bytes can be rendered again: :meth:`MboxTarget.find` sees
  whether they are there, and cuts off a half-written copy left at the end by a crash.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from core.errors import DeliveryError, TargetUnavailable, TemporaryDeliveryError
from core.store.targets import Message, Outcome, Receipt, Target

__all__ = ["MboxTarget", "from_line", "render"]

DOTLOCK_STALE = 300.0
_NOT_AN_MBOX = {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM,
                errno.EROFS}
_FROM = re.compile(rb"^(>*From )", re.M)
_ADDRESS = re.compile(r"<([^<>\s]*)>")


def from_line(message: Message, epoch: float) -> bytes:
    """``From SENDER Www Mmm dd hh:mm:ss yyyy`` (UTC): the envelope sender from the
    Return-Path, else MAILER-DAEMON."""
    sender = "MAILER-DAEMON"
    path = message.header("Return-Path")
    if path:
        m = _ADDRESS.search(path)
        if m and m.group(1) and m.group(1).isascii():
            sender = m.group(1)
    return f"From {sender} {time.asctime(time.gmtime(epoch))}\n".encode()


def _quoted(message: Message) -> Iterator[bytes]:
    """The message with mboxrd quoting, ending in a newline, then the blank separator."""
    carry = b""
    last = b"\n"
    for chunk in message.chunks():
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        whole, carry = data[:cut], data[cut:]
        if whole:
            last = whole[-1:]
            yield _FROM.sub(rb">\1", whole)
    if carry:
        yield _FROM.sub(rb">\1", carry) + b"\n"
    elif last != b"\n":
        yield b"\n"
    yield b"\n"


def render(message: Message, epoch: float) -> Iterator[bytes]:
    """The exact bytes appended for ``message`` (From line, quoted message, blank line)."""
    yield from_line(message, epoch)
    yield from _quoted(message)


def _rendered_size(message: Message, epoch: float) -> int:
    return sum(len(part) for part in render(message, epoch))


class MboxTarget(Target):
    """Append to one mbox file; see the module docstring."""

    can_look = True

    def __init__(self, path: Path, *, lock_timeout: float = 30.0) -> None:
        self.path = Path(path).absolute()
        self.url = f"mbox:{self.path}"
        self.lock_timeout = lock_timeout
        self._fd: int | None = None
        self._dotlock: Path | None = None
        self._start = 0  # file length when the batch's lock was taken

    # -- locks -----------------------------------------------------------------------------

    def _lock(self) -> int:
        if self._fd is not None:
            return self._fd
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise self._unavailable("open", exc) from exc
        deadline = time.monotonic() + self.lock_timeout
        try:
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EACCES, errno.EAGAIN):
                        raise self._unavailable("lock", exc) from exc
                if time.monotonic() > deadline:
                    raise TemporaryDeliveryError(self.url, "locked by another program (fcntl)")
                time.sleep(0.05)
            self._dotlock = self._take_dotlock(deadline)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return fd

    def _take_dotlock(self, deadline: float) -> Path | None:
        lock = self.path.with_name(self.path.name + ".lock")
        while True:
            try:
                os.close(os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
                return lock
            except FileExistsError:
                with contextlib.suppress(OSError):
                    if time.time() - lock.stat().st_mtime > DOTLOCK_STALE:
                        lock.unlink()
                        continue
            except PermissionError:
                return None  # no write access to the directory: fcntl alone, as mutt does
            except OSError as exc:
                raise self._unavailable("create the dotlock", exc) from exc
            if time.monotonic() > deadline:
                raise TemporaryDeliveryError(self.url, f"locked by another program ({lock})")
            time.sleep(0.05)

    def _unlock(self) -> None:
        if self._dotlock is not None:
            with contextlib.suppress(OSError):
                self._dotlock.unlink()
            self._dotlock = None
        if self._fd is not None:
            os.close(self._fd)  # closing drops the fcntl lock
            self._fd = None

    def _unavailable(self, action: str, exc: OSError) -> DeliveryError:
        """A path that cannot be an mbox (no such directory, not a file, no permission, a
        read-only filesystem) stops the target until the user acts; anything else (a full
        disk, say) is worth another try next run."""
        reason = f"cannot {action}: {exc.strerror or exc}"
        if exc.errno in _NOT_AN_MBOX:
            return TargetUnavailable(self.url, reason)
        return TemporaryDeliveryError(self.url, reason)

    # -- delivering ------------------------------------------------------------------------

    def _separator(self, fd: int, size: int) -> bytes:
        """What keeps the last message apart from ours: its blank line may be missing."""
        if size == 0:
            return b""
        tail = os.pread(fd, 2, max(0, size - 2))
        if tail.endswith(b"\n\n") or (size == 1 and tail == b"\n"):
            return b""
        return b"\n" if tail.endswith(b"\n") else b"\n\n"

    def prepare(self, messages: Sequence[Message]) -> list[str]:
        fd = self._lock()
        try:
            self._start = os.fstat(fd).st_size
            offset = self._start + len(self._separator(fd, self._start))
        except OSError as exc:
            self._unlock()
            raise self._unavailable("inspect", exc) from exc
        epoch = float(int(time.time()))
        hints = []
        for message in messages:
            hints.append(f"{offset} {int(epoch)}")
            offset += _rendered_size(message, epoch)
        return hints

    def deliver_many(self, messages: Sequence[Message], hints: Sequence[str]) -> list[Outcome]:
        fd = self._lock()
        try:
            start = os.fstat(fd).st_size
            if start != self._start:
                self._start = start  # prepare() was not called under this lock
            try:
                pos = start
                sep = self._separator(fd, start)
                pos += _pwrite_all(fd, sep, pos)
                receipts: list[Outcome] = []
                for message, hint in zip(messages, hints, strict=True):
                    at, epoch = _parse_hint(hint)
                    if at != pos:
                        raise OSError(errno.EINVAL, f"offset {pos}, expected {at}")
                    for part in render(message, epoch):
                        pos += _pwrite_all(fd, part, pos)
                    receipts.append(Receipt(self.url, f"offset {at}"))
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                    os.fsync(fd)
                failure = TemporaryDeliveryError(
                    self.url, f"append failed, mbox cut back to {start} octets: "
                    f"{exc.strerror or exc}"
                )
                return [failure for _ in messages]
            return receipts
        finally:
            self._unlock()

    def find(self, message: Message, hint: str) -> Receipt | None:
        at, epoch = _parse_hint(hint)
        fd = self._lock()
        try:
            size = os.fstat(fd).st_size
            pos = at
            for part in render(message, epoch):
                got = os.pread(fd, len(part), pos)
                if got != part:
                    if pos + len(got) == size and part.startswith(got):
                        # Only a crash's half-written copy is there: cut it off.
                        os.ftruncate(fd, at)
                        os.fsync(fd)
                    return None
                pos += len(part)
            return Receipt(self.url, f"offset {at}")
        except OSError as exc:
            raise self._unavailable("read", exc) from exc
        finally:
            self._unlock()

    def close(self) -> None:
        self._unlock()


def _parse_hint(hint: str) -> tuple[int, float]:
    offset, epoch = hint.split()
    return int(offset), float(epoch)


def _pwrite_all(fd: int, data: bytes, pos: int) -> int:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, pos)
        pos += n
        view = view[n:]
    return len(data)
