"""The user's intent: what to fetch, pause, cancel, mark, commit; one object, one lock.

Every public engine method writes here and returns; the worker reads a :class:`Wants`
snapshot and takes the one-shot requests (marks, cancels) it has carried out. Nothing
in this module touches the disk or the network, so holding its lock never waits on I/O
(the GUI thread calls in here).

Two requests cannot wait for the worker to look: ``shutdown`` and ``disconnect`` call
the ``on_stop`` hook (outside the lock) so that the engine can abort a connection being
opened at once, instead of when a connect or TLS handshake times out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["Intent", "Wants"]


@dataclass(frozen=True, slots=True)
class Wants:
    """A consistent copy of the intent, for one step of the worker."""

    connected: bool
    refresh: bool
    commit: bool
    disconnect: bool
    shutdown: bool
    retry_now: bool
    download_all: bool
    queue: tuple[str, ...]  # in the user's order
    paused: frozenset[str]


class Intent:
    """Thread-safe; see the module docstring."""

    def __init__(self, on_stop: Callable[[bool], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._dirty = False
        self._generation = 0  # bumped by every change: a cheap "anything new?" between chunks
        self._on_stop = on_stop  # called with shutdown=True/False after those requests
        self._connected = False
        self._refresh = False
        self._commit = False
        self._disconnect = False
        self._shutdown = False
        self._retry_now = False
        self._download_all = False
        self._queue: dict[str, None] = {}  # an ordered set
        self._paused: set[str] = set()
        self._cancelled: set[str] = set()
        self._marks: list[tuple[frozenset[str], bool]] = []

    # -- written by the public API (any thread) ---------------------------------------

    def want(
        self, *, connect: bool = True, refresh: bool = False, commit: bool = False,
        retry: bool = False,
    ) -> None:
        with self._lock:
            if connect:
                self._connected = True
                self._disconnect = False
            self._refresh |= refresh
            self._commit |= commit
            self._retry_now |= retry
            self._touch()

    def download(self, uidls: Iterable[str] | None) -> None:
        with self._lock:
            self._connected = True
            self._disconnect = False
            if uidls is None:
                self._download_all = True
                self._paused.clear()
            else:
                for uidl in uidls:
                    self._paused.discard(uidl)
                    self._cancelled.discard(uidl)
                    self._queue.setdefault(uidl)
            self._touch()

    def pause(self, uidls: Iterable[str] | None, active: Iterable[str]) -> None:
        """``active``: messages on their way (None pauses them and the queue)."""
        with self._lock:
            if uidls is None:
                targets = set(self._queue) | set(active)
                self._download_all = False
            else:
                targets = set(uidls)
            self._paused |= targets
            self._queue = {u: None for u in self._queue if u not in targets}
            self._touch()

    def cancel(self, uidls: Iterable[str] | None, active: Iterable[str]) -> None:
        with self._lock:
            if uidls is None:
                targets = set(self._queue) | set(self._paused) | set(active)
                self._download_all = False
            else:
                targets = set(uidls)
            self._cancelled |= targets
            self._paused -= targets
            self._queue = {u: None for u in self._queue if u not in targets}
            self._touch()

    def paused(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._paused)

    def mark(self, uidls: Iterable[str], marked: bool) -> None:
        """Journalled by the worker; marks are not work, so this opens no session."""
        with self._lock:
            self._marks.append((frozenset(uidls), marked))
            self._touch()

    def disconnect(self) -> None:
        with self._lock:
            self._disconnect = True
            self._connected = False
            self._commit = False
            self._refresh = False
            self._touch()
        if self._on_stop is not None:
            self._on_stop(False)

    def shutdown(self) -> None:
        with self._lock:
            self._shutdown = True
            self._touch()
        if self._on_stop is not None:
            self._on_stop(True)

    # -- read and taken by the worker -------------------------------------------------

    @property
    def generation(self) -> int:
        """Changes whenever the intent does (an int read is atomic: no lock needed)."""
        return self._generation

    def stopping(self) -> bool:
        """Shutdown or disconnect asked: what every read in a session looks at."""
        with self._lock:
            return self._shutdown or self._disconnect

    def snapshot(self) -> Wants:
        with self._lock:
            return Wants(
                self._connected, self._refresh, self._commit, self._disconnect,
                self._shutdown, self._retry_now, self._download_all,
                tuple(self._queue), frozenset(self._paused),
            )

    def has_journal_work(self) -> bool:
        """Marks or cancels waiting: the worker needs its store for them."""
        with self._lock:
            return bool(self._marks or self._cancelled)

    def take_marks(self) -> list[tuple[frozenset[str], bool]]:
        with self._lock:
            marks, self._marks = self._marks, []
            return marks

    def take_cancelled(self) -> set[str]:
        with self._lock:
            cancelled, self._cancelled = self._cancelled, set()
            return cancelled

    def expand_download_all(self, eligible: Iterable[str]) -> None:
        """Once the list is known: "download all" becomes queue entries."""
        with self._lock:
            if not self._download_all:
                return
            self._download_all = False
            for uidl in eligible:
                if uidl not in self._paused:
                    self._queue.setdefault(uidl)

    def keep_only(self, known: Iterable[str]) -> None:
        """Forget queue entries for messages no longer on the server."""
        keep = set(known)
        with self._lock:
            self._queue = {u: None for u in self._queue if u in keep}

    def done(self, uidls: Iterable[str]) -> None:
        """Out of the queue: stored, failed, or in flight to the disk."""
        with self._lock:
            for uidl in uidls:
                self._queue.pop(uidl, None)

    def clear(
        self, *, refresh: bool = False, commit: bool = False, retry: bool = False,
        disconnect: bool = False, connected: bool = False,
    ) -> None:
        """The worker has carried these requests out."""
        with self._lock:
            self._refresh &= not refresh
            self._commit &= not commit
            self._retry_now &= not retry
            self._disconnect &= not disconnect
            if connected:
                self._connected = False

    def again(self, *, commit: bool) -> None:
        """A request the worker could not finish (a QUIT without answer): keep it."""
        with self._lock:
            self._commit |= commit
            self._connected = True

    def wait(self, timeout: float | None) -> bool:
        """Until the intent changes (True) or ``timeout`` passes (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._dirty:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
            self._dirty = False
            return True

    def _touch(self) -> None:
        self._dirty = True
        self._generation += 1
        self._changed.notify_all()
