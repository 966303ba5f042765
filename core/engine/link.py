"""What a caller's thread may do to the worker's connection, under one lock held only for
a flag: abort it while it opens (or, at shutdown, while it is busy), and leave an idle
(parked) session to the worker, which ends it with QUIT."""

from __future__ import annotations

import threading
from collections.abc import Callable

from core.net import Dialer


class Link:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dialer: Dialer | None = None
        self._opening = False  # connect, TLS, greeting, login: abort these at once
        self._parked = False  # a session is open and the worker waits for work: QUIT it
        self.quitting = False  # worker-owned: the graceful end at shutdown (a timer bounds it)

    def stop_requested(self, shutdown: bool) -> None:
        """From the caller's thread: a connection being opened is aborted at once, and on
        shutdown a busy one too; an idle session is ended with QUIT by the worker, and
        reads in an open session see the request within a poll."""
        with self._lock:
            busy = self._opening or (shutdown and not self._parked)
            dialer = self._dialer if busy else None
        if dialer is not None:
            dialer.abort()

    def opening(self, dialer: Dialer) -> None:
        with self._lock:
            self._dialer = dialer
            self._opening = True

    def opened(self) -> None:
        with self._lock:
            self._opening = False

    def closed(self) -> None:
        with self._lock:
            self._dialer = None

    def park(self) -> None:
        """Before the worker says it is idle: a shutdown from now on QUITs."""
        with self._lock:
            self._parked = True

    def unpark(self, stopping: Callable[[], bool] | None = None) -> bool:
        """Back to work; False (still parked) when ``stopping()``: the loop ends the session."""
        with self._lock:
            if stopping is not None and stopping():
                return False
            self._parked = False
            return True

    def take_parked(self) -> Dialer | None:
        """The connection of a parked session, to bound its QUIT at shutdown."""
        with self._lock:
            dialer = self._dialer if self._parked else None
            self._parked = False
            return dialer
