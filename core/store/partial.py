"""One message being received: its partial file, wire offsets and checkpoints.

A :class:`PartialDownload` writes the wire octets of one message (CRLF form, unstuffed)
to ``partial/<id>.part`` in LF form and records in the account state how far the file
can be trusted:

- Bytes are fsynced before their offset is committed, so after a crash at any byte the
  file and its recorded offset agree (:meth:`core.store.Store.begin` cuts the file back
  to the recorded length).
- The offset never points at the LF of a CRLF (a trailing CR is held back), so a resume
  never leaves open whether a following "." starts a line (DESIGN rule 5).
- A restart without resume compares the re-sent prefix with what is stored, so two
  versions of a message are never spliced.

Partials are opened, completed and discarded by :class:`core.store.Store`, which also
uses the underscored methods in "internals used by the store". A PartialDownload belongs
to the one thread writing it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from core.errors import MessageIntegrityError, StorageError
from core.store.maildir import crlf_to_lf, storage_error
from core.store.state import AccountState, PartialRecord

__all__ = ["PartialDownload"]

CR = 0x0D
_MAX_HELD_CRS = 4096  # a longer run of CRs is flushed but one (they are bare CRs anyway)


class PartialDownload:
    """One message being received: LF bytes in ``partial/<id>.part``, offsets in wire octets.

    ``wire_offset`` counts wire (CRLF) octets whose LF form is in the file. A trailing
    CR is held back in memory (not counted) until the next octet shows whether it ends
    a CRLF, so ``wire_offset`` never points at the LF of a CRLF: resuming there would
    leave open whether a following "." starts a line (DESIGN rule 5).

    ``durable_offset`` is the offset last committed by :meth:`checkpoint`; after a crash
    :meth:`core.store.Store.begin` resumes from it.
    """

    def __init__(
        self,
        state: AccountState,
        on_close: Callable[[PartialDownload], None],
        record: PartialRecord,
        fd: int,
        path: Path,
        *,
        checkpoint_every: int,
        limit: int,
    ) -> None:
        self.uidl = record.uidl
        self.size = record.size
        self.path = path
        self.wire_offset = record.wire_offset
        self.durable_offset = record.wire_offset
        self.resumed = record.wire_offset > 0
        # True while bytes sit after a resume point that nothing verified: complete()
        # then insists on the exact LIST size (a server ignoring the offset would
        # otherwise append a whole copy).
        self.spliced = self.resumed
        self._state = state
        self._on_close = on_close  # the store forgets it as an open partial
        self._fd: int | None = fd
        self._file_len = record.file_len
        self._durable_len = record.file_len
        self._held = 0
        self._verify_len = 0  # restart(verify=True): stored bytes still to compare
        self._verify_pos = 0
        self._broken = False  # a mismatch reset us; only restart() continues
        self._flush: threading.Thread | None = None
        self._flush_error: StorageError | None = None
        self._checkpoint_every = checkpoint_every
        self._next_checkpoint = self.wire_offset + checkpoint_every if checkpoint_every else -1
        self._limit = limit

    # -- properties --------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._fd is None

    @property
    def file_len(self) -> int:
        """Bytes in the partial file that belong to ``wire_offset``."""
        return self._file_len

    @property
    def verifying(self) -> bool:
        """After restart(verify=True), until the re-sent prefix has covered the stored one."""
        return self._verify_pos < self._verify_len

    # -- receiving ---------------------------------------------------------------------

    def write(self, wire: bytes) -> None:
        """Take the next wire octets (CRLF form, unstuffed); store them in LF form.

        Raises MessageIntegrityError if the message runs past LIST size + margin, or if
        after restart(verify=True) it differs from the stored prefix; the partial is
        then empty and takes no more writes until restart().
        """
        fd = self._require_open()
        if self._broken:
            raise MessageIntegrityError(f"message {self.uidl!r}: partial was reset; restart()")
        if not wire:
            return
        held = self._held
        buf = b"\r" * held + wire if held else wire
        trailing = 0
        if buf[-1] == CR:
            trailing = len(buf) - len(buf.rstrip(b"\r"))
            if trailing > _MAX_HELD_CRS:
                trailing = 1
        body = buf[: len(buf) - trailing] if trailing else buf
        new_offset = self.wire_offset + len(body)
        if new_offset + trailing > self._limit:
            self._reset_broken()
            raise MessageIntegrityError(
                f"message {self.uidl!r} runs past its LIST size {self.size} "
                f"(more than {self._limit} octets): refusing the rest"
            )
        out = crlf_to_lf(body)
        self._emit(fd, out)
        self.wire_offset = new_offset
        self._held = trailing
        if 0 <= self._next_checkpoint <= self.wire_offset and not self.verifying:
            self.checkpoint(wait=False)

    def _emit(self, fd: int, out: bytes) -> None:
        view = memoryview(out)
        if self._verify_pos < self._verify_len:
            n = min(len(view), self._verify_len - self._verify_pos)
            try:
                stored = os.pread(fd, n, self._verify_pos)
            except OSError as exc:
                raise storage_error("read", self.path, exc) from exc
            if stored != view[:n]:
                self._reset_broken()
                raise MessageIntegrityError(
                    f"message {self.uidl!r} changed on the server: the re-sent start "
                    "differs from the stored one; fetch it again from the start"
                )
            self._verify_pos += n
            view = view[n:]
        if view:
            self._pwrite(fd, view, self._file_len)
            self._file_len += len(view)

    def _pwrite(self, fd: int, view: memoryview, pos: int) -> None:
        # pwrite at our own position: a failed or short write leaves nothing counted,
        # and whatever landed past file_len is cut off on the next begin().
        try:
            while view:
                n = os.pwrite(fd, view, pos)
                pos += n
                view = view[n:]
        except OSError as exc:
            raise storage_error("write the partial download", self.path, exc) from exc

    # -- durability --------------------------------------------------------------------

    def checkpoint(self, *, wait: bool = True) -> None:
        """fsync the file, then commit (wire_offset, file_len): the resume point after a crash.

        With ``wait=False`` the fsync runs on a background thread while the caller keeps
        receiving (disk and network overlap); it records the offsets as they were when it
        started, which are all on disk by then. At most one runs at a time; every other
        operation on the file waits for it first. During a verifying restart nothing new
        is on disk, so the old record stands.
        """
        fd = self._require_open()
        if self._broken or self.verifying:
            return
        if wait:
            self._join_flush()
        elif self._flush is not None:
            if self._flush.is_alive():
                return  # one in flight: the next checkpoint catches up
            self._join_flush()
        if self.wire_offset == self.durable_offset and self._file_len == self._durable_len:
            return
        snapshot = (self.wire_offset, self._file_len)
        if self._checkpoint_every:
            self._next_checkpoint = self.wire_offset + self._checkpoint_every
        if wait:
            self._commit_checkpoint(fd, snapshot)
            return
        self._flush = threading.Thread(
            target=self._background_flush, args=(fd, snapshot), name="popfetch fsync",
            daemon=True,
        )
        self._flush.start()

    def _commit_checkpoint(self, fd: int, snapshot: tuple[int, int]) -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            raise storage_error("sync the partial download", self.path, exc) from exc
        self._state.update_partial(self.uidl, *snapshot)
        self.durable_offset, self._durable_len = snapshot

    def _background_flush(self, fd: int, snapshot: tuple[int, int]) -> None:
        try:
            self._commit_checkpoint(fd, snapshot)
        except StorageError as exc:
            self._flush_error = exc

    def _join_flush(self) -> None:
        """Wait for a background checkpoint; re-raise its error here, on the caller's thread."""
        if self._flush is not None:
            self._flush.join()
            self._flush = None
        if self._flush_error is not None:
            exc, self._flush_error = self._flush_error, None
            raise exc

    def restart(self, verify: bool) -> None:
        """The server sends the message from octet 0 again (it cannot resume).

        verify=True: the re-sent octets are compared with what is stored (same CRLF->LF
        conversion); a difference raises MessageIntegrityError from write() and empties
        the partial; past the stored prefix, writes append. verify=False: start empty.
        """
        self._require_open()
        self._join_flush()
        if verify and not self._broken:
            self._verify_len = self._file_len
            self._verify_pos = 0
        else:
            self._truncate_to_empty()
        self.wire_offset = 0
        self._held = 0
        self._broken = False
        self.spliced = False
        if self._checkpoint_every:
            self._next_checkpoint = self._checkpoint_every

    def close(self) -> None:
        """Checkpoint and close; the partial stays recorded for a later begin()."""
        if self._fd is None:
            return
        try:
            self.checkpoint()
        finally:
            self._close_fd()

    # -- internals used by the store ---------------------------------------------------

    def _require_open(self) -> int:
        if self._fd is None:
            raise ValueError(f"partial download of {self.uidl!r} is closed")
        return self._fd

    def _close_fd(self) -> None:
        with contextlib.suppress(StorageError):
            self._join_flush()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        self._on_close(self)

    def _sync_final(self) -> None:
        """Before delivery: the file holds exactly ``file_len`` bytes, fsynced, recorded."""
        fd = self._require_open()
        self._join_flush()
        try:
            if os.fstat(fd).st_size != self._file_len:
                os.ftruncate(fd, self._file_len)
            os.fsync(fd)
        except OSError as exc:
            raise storage_error("sync the partial download", self.path, exc) from exc
        self._state.update_partial(self.uidl, self.wire_offset, self._file_len)
        self.durable_offset = self.wire_offset
        self._durable_len = self._file_len

    def _truncate_to_empty(self) -> None:
        fd = self._require_open()
        self._join_flush()
        try:
            os.ftruncate(fd, 0)
        except OSError as exc:
            raise storage_error("truncate", self.path, exc) from exc
        # Commit (0, 0) before any new byte is written: an old offset paired with new
        # content would splice two versions after a crash.
        self._state.update_partial(self.uidl, 0, 0)
        self.wire_offset = self.durable_offset = 0
        self._file_len = self._durable_len = 0
        self._verify_len = self._verify_pos = 0
        self._held = 0

    def _reset_broken(self) -> None:
        self._truncate_to_empty()
        self._broken = True
        self.spliced = False

    def _finish_stream(self) -> None:
        """End of message: a CR still held was a bare CR at the very end; store it."""
        fd = self._require_open()
        if self._held:
            self._emit(fd, b"\r" * self._held)
            self.wire_offset += self._held
            self._held = 0
