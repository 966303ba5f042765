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
:mod:`core.store.state`), ``partial/<id>.part`` (LF bytes of messages being fetched, kept out
of the Maildir's ``tmp/``, which readers clean after 36 hours) and ``lock``.

Threads: the engine uses a Store from its worker thread. Store methods take a lock, so a
read from another thread (the GUI) is safe; a PartialDownload (:mod:`core.store.partial`)
belongs to the one thread writing it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType

from core.errors import DeliveryError, MessageIntegrityError, StorageError, StoreBusy
from core.pop3.sizes import overrun_limit
from core.store.maildir import Maildir, storage_error
from core.store.partial import PartialDownload
from core.store.state import AccountState, Delivering, PartialRecord
from core.store.targets import Receipt

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["Store"]


class Store:
    """The Maildir plus the account's state directory; see the module docstring.

    Only one Store may use a state directory at a time (an flock on ``state_dir/lock``):
    two would write the same partial files.
    """

    def __init__(
        self,
        maildir: Path | None,
        state_dir: Path,
        *,
        checkpoint_every: int = 32 << 20,
        size_limit: Callable[[int], int] = overrun_limit,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.partial_dir = self.state_dir / "partial"
        self.checkpoint_every = checkpoint_every
        self.size_limit = size_limit  # octets a message of a LIST size may have
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
            # None: messages go to a delivery target instead (core.store.forward)
            self._maildir = Maildir(Path(maildir)) if maildir is not None else None
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

    @property
    def maildir(self) -> Maildir:
        if self._maildir is None:
            raise ValueError("this store delivers to a target, not into a Maildir")
        return self._maildir

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
                    raise StoreBusy(
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

    @property
    def is_open(self) -> bool:
        return self._lock_fd is not None

    def reopen(self) -> None:
        """After close(): take the lock again, reopen the database and reconcile.

        An engine closes its store while it has nothing to do, so that another popfetch
        (a cron job) can use the account meanwhile. StoreBusy while that one runs.
        """
        with self._lock:
            if self._lock_fd is not None:
                return
            self._take_lock()
            try:
                self.state = AccountState(self.state_dir / "state.sqlite3")
                self.reconcile()
            except BaseException:
                self.state.close()
                self._release_lock()
                raise

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
            if intents and self._maildir is not None:  # renames into new/ that may have happened
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
                self.state,
                self._forget_open,
                rec,
                fd,
                self.partial_dir / rec.file_name,
                checkpoint_every=self.checkpoint_every,
                limit=self.size_limit(size),
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

    def discard_partials(self) -> int:
        """Drop every partial download (``popfetch fetch --discard-partials``): a stuck
        one is then fetched whole. Returns how many there were."""
        with self._lock:
            for partial in list(self._open.values()):
                partial._close_fd()
            records = self.state.partials()
            for rec in records:
                self.state.drop_partial(rec.uidl)
                self._unlink_partial_file(rec)
            return len(records)

    def complete(self, partial: PartialDownload, *, exact: bool) -> Path | Receipt:
        """Check the size, deliver into ``new/`` durably, record the UIDL as stored.

        Size (wire octets received vs LIST): with ``exact`` (a resumed transfer; forced
        when bytes were appended after an unverified resume point) it must be the LIST
        size or LIST + 2 (servers that add a final CRLF); otherwise at most
        ``size_limit(LIST)`` (:func:`core.pop3.sizes.overrun_limit`). A mismatch discards
        the partial and raises MessageIntegrityError: fetch it again from the start.

        Order: fsync the file, commit the offsets, commit a "delivering" intent, rename
        into ``new/`` (copy into ``tmp/`` + fsync first if the state dir is on another
        filesystem), fsync ``new/``, then commit "stored" and drop the partial record.
        Returns the path in ``new/`` (a :class:`core.store.forward.TargetStore` returns
        the target's Receipt instead).
        """
        with self._lock:
            received = self._check_complete(partial, exact=exact)
            uidl = partial.uidl
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

    def _check_complete(self, partial: PartialDownload, *, exact: bool) -> int:
        """The size checks of :meth:`complete` (see there); the wire octets received. A
        mismatch discards the partial and raises MessageIntegrityError."""
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
                ok = received <= self.size_limit(size)
                wanted = f"at most {self.size_limit(size)}"
            if not ok:
                self.discard(partial)
                raise MessageIntegrityError(
                    f"message {uidl!r}: received {received} octets, LIST says {size} "
                    f"(wanted {wanted}); discarded, fetch it again from the start"
                )
            return received

    # -- whole small messages ----------------------------------------------------------

    def deliver_batch(
        self, items: list[tuple[str, bytes]]
    ) -> Sequence[Path | Receipt | DeliveryError]:
        """Deliver many whole messages ``(uidl, wire bytes)``, made durable together.

        Write each (LF form) into ``tmp/`` and fsync exactly those files (from a few
        threads at once, see :meth:`Maildir.write_many`), commit the intents, rename into
        ``new/``, fsync ``new/`` once, commit all UIDLs in one transaction. Nothing is
        recorded before it is durable. A UIDL already stored (or repeated in the batch)
        is not delivered again; its entry is the path of the stored copy. Partials of
        the delivered UIDLs are dropped. Returns one path per item (a
        :class:`core.store.forward.TargetStore` returns a Receipt or a DeliveryError each).
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
                payloads = [items[i][1] for i in todo]
                names = self.maildir.write_many(payloads)
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

    def has_copy(self, uidl: str) -> bool:
        """Is the stored copy still where it was delivered? (The leave-on-server rule
        "delete when the local copy is gone" reads it.)"""
        return self.stored_path(uidl) is not None

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
