"""The local store the engine talks to: partial downloads, Maildir delivery, bookkeeping.

Three promises (DESIGN.md, Invariants):

- A partial file and its recorded offset agree after a crash at any byte: bytes are
  fsynced before their offset is committed, and on reopen the file is cut back to the
  recorded length (anything past it is not trusted).
- Nothing is reported stored before it is durable in ``new/``, and a UIDL is stored
  once: a "delivering" intent is committed before each rename, and reconciliation on
  open decides from the Maildir whether the rename happened.
- A message is never spliced from two different versions: a resumed transfer must
  end at the LIST size, and a restart without resume compares the re-sent prefix with
  what is stored.

Files: the Maildir gets LF files; ``state_dir`` holds ``state.sqlite3`` (see
:mod:`core.state`), ``partial/<id>.part`` (LF bytes of messages being fetched, kept out
of the Maildir's ``tmp/``, which readers clean after 36 hours) and ``lock``.

Threads: the engine uses a Store from its worker thread. Store methods take a lock, so a
read from another thread (the GUI) is safe; a PartialDownload belongs to the one thread
writing it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from core.errors import MessageIntegrityError, StorageError
from core.maildir import Maildir, crlf_to_lf, storage_error, syncfs, syncfs_available
from core.state import AccountState, Delivering, PartialRecord

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["PartialDownload", "Store", "default_size_margin"]

CR = 0x0D
_MAX_HELD_CRS = 4096  # a longer run of CRs is flushed but one (they are bare CRs anyway)


def default_size_margin(size: int) -> int:
    """How far past its LIST size a fresh (not resumed) transfer may run.

    LIST is "a strong hint" (DESIGN rule 13): some servers count LF endings or miss a
    header they add. A quarter plus 4 KiB tolerates those and still stops a server that
    streams without end from filling the disk.
    """
    return 4096 + size // 4


class PartialDownload:
    """One message being received: LF bytes in ``partial/<id>.part``, offsets in wire octets.

    ``wire_offset`` counts wire (CRLF) octets whose LF form is in the file. A trailing
    CR is held back in memory (not counted) until the next octet shows whether it ends
    a CRLF, so ``wire_offset`` never points at the LF of a CRLF: resuming there would
    leave open whether a following "." starts a line (DESIGN rule 5).

    ``durable_offset`` is the offset last committed by :meth:`checkpoint`; after a crash
    :meth:`Store.begin` resumes from it.
    """

    def __init__(
        self,
        store: Store,
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
        self._store = store
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
        self._store.state.update_partial(self.uidl, *snapshot)
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

    def prepare_resume(self) -> int:
        """The transfer broke: forget the held CR (the server sends it again), checkpoint,
        and return the wire offset to ask for with ``RETR n offset``."""
        self._require_open()
        self._held = 0
        if self.verifying:
            # the re-sent prefix was not fully compared: nothing new is stored, resume
            # from what the file holds
            self._cut_to_durable()
        self.checkpoint()
        if self.wire_offset > 0:
            self.spliced = True
        return self.wire_offset

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
        self._store._forget_open(self)

    def _cut_to_durable(self) -> None:
        fd = self._require_open()
        self._join_flush()
        try:
            os.ftruncate(fd, self._durable_len)
        except OSError as exc:
            raise storage_error("truncate", self.path, exc) from exc
        self.wire_offset = self.durable_offset
        self._file_len = self._durable_len
        self._verify_len = self._verify_pos = 0
        self._held = 0

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
        self._store.state.update_partial(self.uidl, self.wire_offset, self._file_len)
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
        self._store.state.update_partial(self.uidl, 0, 0)
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


class Store:
    """The Maildir plus the account's state directory; see the module docstring.

    Only one Store may use a state directory at a time (an flock on ``state_dir/lock``):
    two would write the same partial files.
    """

    def __init__(
        self,
        maildir: Path,
        state_dir: Path,
        *,
        checkpoint_every: int = 32 << 20,
        size_margin: Callable[[int], int] = default_size_margin,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.partial_dir = self.state_dir / "partial"
        self.checkpoint_every = checkpoint_every
        self.size_margin = size_margin
        self._lock = threading.RLock()
        self._open: dict[str, PartialDownload] = {}
        self._lock_fd: int | None = None
        for sub in (self.state_dir, self.partial_dir):
            try:
                sub.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError as exc:
                raise storage_error("create the state directory", sub, exc) from exc
        self._take_lock()
        try:
            self.maildir = Maildir(Path(maildir))
            self.state = AccountState(self.state_dir / "state.sqlite3")
        except BaseException:
            self._release_lock()
            raise
        try:
            self.reconcile()
        except BaseException:
            self.state.close()
            self._release_lock()
            raise

    # -- lifecycle ---------------------------------------------------------------------

    def _take_lock(self) -> None:
        path = self.state_dir / "lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise storage_error("create the lock file", path, exc) from exc
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise StorageError(
                        f"another popfetch is using this account's state ({self.state_dir})"
                    ) from exc
                raise storage_error("lock", path, exc) from exc
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None

    def close(self) -> None:
        """Checkpoint and close open partials, then the database; releases the lock."""
        with self._lock:
            if self._lock_fd is None:
                return
            try:
                for partial in list(self._open.values()):
                    with contextlib.suppress(StorageError):
                        partial.close()
            finally:
                self.state.close()
                self._release_lock()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def reconcile(self) -> tuple[int, int]:
        """Settle "delivering" intents left by a crash; remove orphan partial files.

        An intent's file found in ``new/`` or ``cur/`` (a reader may have moved it and
        added ":2,S") is delivered. Otherwise, if its source still exists, the rename
        did not happen: a ``tmp/`` copy is removed, a partial stays for a later begin().
        If neither exists the rename happened and a reader has since removed the file:
        delivered too (fetching it again would duplicate it). Returns (delivered,
        undone).
        """
        with self._lock:
            intents = self.state.delivering()
            done: list[str] = []
            undone: list[str] = []
            if intents:
                present = self.maildir.delivered_names()
                for intent in intents:
                    source = Path(intent.source)
                    if intent.name in present:
                        done.append(intent.uidl)
                    elif source.exists():
                        undone.append(intent.uidl)
                        if source.parent == self.maildir.tmp:
                            self.maildir.remove_tmp(source.name)
                    else:
                        done.append(intent.uidl)
                dropped = self.state.finish_delivering(done)
                self.state.abandon_delivering(undone)
                for rec in dropped:
                    self._close_open(rec.uidl)
                    self._unlink_partial_file(rec)
            known = {rec.file_name for rec in self.state.partials()}
            try:
                with os.scandir(self.partial_dir) as entries:
                    orphans = [e.name for e in entries if e.name not in known]
            except OSError as exc:
                raise storage_error("list", self.partial_dir, exc) from exc
            for name in orphans:
                with contextlib.suppress(OSError):
                    os.unlink(self.partial_dir / name)
            return len(done), len(undone)

    # -- partial downloads -------------------------------------------------------------

    def begin(self, uidl: str, size: int) -> PartialDownload:
        """Open the partial for ``uidl`` (LIST ``size``), resuming a recorded one.

        A recorded partial is cut to its recorded length and resumes at its recorded
        ``wire_offset`` (``resumed`` is then True). A record with another LIST size
        means the message changed: it starts over. If the UIDL's partial is already open
        here, that object is closed first (its held CR dropped), so calling begin() again
        after a drop is always right.
        """
        with self._lock:
            if self.state.is_stored(uidl):
                raise ValueError(f"message {uidl!r} is already stored")
            if size < 0:
                raise ValueError(f"negative size {size}")
            old = self._open.get(uidl)
            if old is not None:
                old.close()
            rec = self.state.partial(uidl)
            if rec is not None and rec.size != size:
                self._unlink_partial_file(rec)
                rec = None
            fd: int | None = None
            if rec is not None:
                fd, rec = self._reopen(rec)
            if rec is None or fd is None:
                rec = self.state.new_partial(uidl, size)
                path = self.partial_dir / rec.file_name
                try:
                    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                except OSError as exc:
                    self.state.drop_partial(uidl)
                    raise storage_error("create", path, exc) from exc
            partial = PartialDownload(
                self,
                rec,
                fd,
                self.partial_dir / rec.file_name,
                checkpoint_every=self.checkpoint_every,
                limit=size + max(2, self.size_margin(size)),
            )
            self._open[uidl] = partial
            return partial

    def _reopen(self, rec: PartialRecord) -> tuple[int | None, PartialRecord]:
        """Open a recorded partial file and cut it to the recorded length."""
        path = self.partial_dir / rec.file_name
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return None, rec
        except OSError as exc:
            raise storage_error("open", path, exc) from exc
        try:
            actual = os.fstat(fd).st_size
            if actual < rec.file_len:
                # The file lost bytes the record vouches for (it should not happen, the
                # offset is committed after fsync): trust neither, start over.
                os.ftruncate(fd, 0)
                self.state.update_partial(rec.uidl, 0, 0)
                rec = self.state.partial(rec.uidl) or rec
            elif actual > rec.file_len:
                os.ftruncate(fd, rec.file_len)
        except OSError as exc:
            os.close(fd)
            raise storage_error("truncate", path, exc) from exc
        return fd, rec

    def discard(self, partial: PartialDownload) -> None:
        """Drop a partial: its file and its record (the next begin() starts at 0)."""
        with self._lock:
            partial._close_fd()
            rec = self.state.drop_partial(partial.uidl)
            if rec is not None:
                self._unlink_partial_file(rec)

    def complete(self, partial: PartialDownload, *, exact: bool) -> Path:
        """Check the size, deliver into ``new/`` durably, record the UIDL as stored.

        Size (wire octets received vs LIST): with ``exact`` (a resumed transfer; forced
        when bytes were appended after an unverified resume point) it must be the LIST
        size or LIST + 2 (servers that add a final CRLF); otherwise at most LIST +
        ``size_margin``. A mismatch discards the partial and raises
        MessageIntegrityError: fetch it again from the start.

        Order: fsync the file, commit the offsets, commit a "delivering" intent, rename
        into ``new/`` (copy into ``tmp/`` + fsync first if the state dir is on another
        filesystem), fsync ``new/``, then commit "stored" and drop the partial record.
        Returns the path in ``new/``.
        """
        with self._lock:
            partial._require_open()
            uidl = partial.uidl
            if partial._broken:
                raise MessageIntegrityError(f"message {uidl!r}: partial was reset; fetch again")
            partial._finish_stream()
            if partial.verifying:
                partial._reset_broken()
                raise MessageIntegrityError(
                    f"message {uidl!r} is shorter than the copy already stored: it changed"
                )
            received = partial.wire_offset
            size = partial.size
            if exact or partial.spliced:
                ok = received in (size, size + 2)
                wanted = f"{size} or {size + 2}"
            else:
                ok = received <= size + max(2, self.size_margin(size))
                wanted = f"at most {size + max(2, self.size_margin(size))}"
            if not ok:
                self.discard(partial)
                raise MessageIntegrityError(
                    f"message {uidl!r}: received {received} octets, LIST says {size} "
                    f"(wanted {wanted}); discarded, fetch it again from the start"
                )
            if self.state.is_stored(uidl):
                # Stored meanwhile (a batch): never twice.
                self.discard(partial)
                return self._stored_location(uidl)
            partial._sync_final()
            same_fs = self.maildir.same_filesystem(partial.path)
            if same_fs:
                name = self.maildir.unique_name()
                source = partial.path
            else:
                name = self.maildir.copy_to_tmp(partial.path, sync=True)
                source = self.maildir.tmp / name
            partial._close_fd()
            self.state.begin_delivering(
                [Delivering(uidl, name, str(source), received, time.time())]
            )
            try:
                dest = self.maildir.publish(name, source)
            except StorageError:
                self.state.abandon_delivering([uidl])
                if not same_fs:
                    self.maildir.remove_tmp(name)
                raise
            # If this fails the intent stays and the next open settles it.
            self.maildir.sync_new()
            for rec in self.state.finish_delivering([uidl]):
                if not same_fs:
                    self._unlink_partial_file(rec)
            return dest

    # -- whole small messages ----------------------------------------------------------

    def deliver_batch(self, items: list[tuple[str, bytes]]) -> list[Path]:
        """Deliver many whole messages ``(uidl, wire bytes)`` with one flush for all.

        Write each (LF form) into ``tmp/``, make them durable together (one ``syncfs``;
        an fsync per file where syncfs is missing), commit the intents, rename into
        ``new/``, fsync ``new/`` once, commit all UIDLs in one transaction. Nothing is
        recorded before it is durable. A UIDL already stored (or repeated in the batch)
        is not delivered again; its entry is the path of the stored copy. Partials of
        the delivered UIDLs are dropped. Returns one path per item.
        """
        with self._lock:
            stored = self.state.stored_uidls()
            result: list[Path | None] = [None] * len(items)
            first: dict[str, int] = {}
            todo: list[int] = []
            for i, (uidl, _) in enumerate(items):
                if uidl in stored or uidl in first:
                    continue
                first[uidl] = i
                todo.append(i)
            if todo:
                use_syncfs = syncfs_available()
                payloads = [items[i][1] for i in todo]
                names = self.maildir.write_many(payloads, sync=not use_syncfs)
                if use_syncfs:
                    try:
                        if not syncfs(self.maildir.tmp):  # refused at run time: fsync each
                            self._fsync_tmp(names)
                    except StorageError:
                        self._remove_tmp(names)
                        raise
                uidls = [items[i][0] for i in todo]
                now = time.time()
                tmp_prefix = os.path.join(self.maildir.tmp, "")
                try:
                    batch = self.state.begin_delivering(
                        Delivering(uidl, name, tmp_prefix + name, len(data), now)
                        for uidl, name, data in zip(uidls, names, payloads, strict=True)
                    )
                except StorageError:
                    self._remove_tmp(names)
                    raise
                try:
                    paths = self.maildir.publish_many(names)
                except StorageError:
                    self.reconcile()  # some renames happened: settle them now
                    raise
                self.maildir.sync_new()
                for rec in self.state.finish_batch(batch):
                    self._close_open(rec.uidl)
                    self._unlink_partial_file(rec)
                for i, path in zip(todo, paths, strict=True):
                    result[i] = path
            for i, (uidl, _) in enumerate(items):
                if result[i] is None:
                    j = first.get(uidl)
                    result[i] = result[j] if j is not None else self._stored_location(uidl)
            return [p for p in result if p is not None]

    def _fsync_tmp(self, names: Iterable[str]) -> None:
        for name in names:
            path = self.maildir.tmp / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise storage_error("sync", path, exc) from exc

    def _remove_tmp(self, names: Iterable[str]) -> None:
        for name in names:
            self.maildir.remove_tmp(name)

    # -- queries -----------------------------------------------------------------------

    def is_stored(self, uidl: str) -> bool:
        return self.state.is_stored(uidl)

    def stored_uidls(self) -> set[str]:
        return self.state.stored_uidls()

    def stored_path(self, uidl: str) -> Path | None:
        """Where the stored copy is now (``new/`` or ``cur/``), None if not stored or gone."""
        entry = self.state.stored(uidl)
        return None if entry is None else self.maildir.locate(entry.name)

    def _stored_location(self, uidl: str) -> Path:
        """The stored copy's path; ``new/<name>`` if a reader has since removed it."""
        entry = self.state.stored(uidl)
        if entry is None:
            raise ValueError(f"message {uidl!r} is not stored")
        return self.maildir.locate(entry.name) or self.maildir.new / entry.name

    def partial_offset(self, uidl: str) -> int:
        """Wire octets already held for ``uidl`` (0 if none): open partial, else recorded."""
        with self._lock:
            partial = self._open.get(uidl)
            if partial is not None:
                return partial.wire_offset
            rec = self.state.partial(uidl)
            return rec.wire_offset if rec is not None else 0

    def partial_offsets(self) -> dict[str, int]:
        """Recorded wire offsets of every partial (one query, for a list view)."""
        with self._lock:
            offsets = {rec.uidl: rec.wire_offset for rec in self.state.partials()}
            offsets.update({u: p.wire_offset for u, p in self._open.items()})
            return offsets

    # -- deletion marks ----------------------------------------------------------------

    def marks(self) -> set[str]:
        return self.state.marks()

    def set_marks(self, uidls: Iterable[str], marked: bool) -> None:
        self.state.set_marks(uidls, marked)

    def clear_marks(self, uidls: Iterable[str] | None = None) -> None:
        """Unmark ``uidls`` (all marks when None)."""
        self.state.clear_marks(uidls)

    def forget(self, uidls: Iterable[str]) -> None:
        """The server deleted these (QUIT +OK): drop stored entries, marks and partials.

        The Maildir files stay: they are the user's mail now.
        """
        with self._lock:
            keys = list(uidls)
            for uidl in keys:
                self._close_open(uidl)
            for rec in self.state.forget(keys):
                self._unlink_partial_file(rec)

    # -- internals ---------------------------------------------------------------------

    def _close_open(self, uidl: str) -> None:
        partial = self._open.get(uidl)
        if partial is not None:
            partial._close_fd()

    def _forget_open(self, partial: PartialDownload) -> None:
        if self._open.get(partial.uidl) is partial:
            del self._open[partial.uidl]

    def _unlink_partial_file(self, rec: PartialRecord) -> None:
        path = self.partial_dir / rec.file_name
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise storage_error("remove", path, exc) from exc
