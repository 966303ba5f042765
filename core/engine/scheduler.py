"""When each account checks for mail: a pure scheduler, driven by an injected clock.

It owns no thread and no timer. Its driver (the CLI's ``--every`` loop, the GUI's
QTimer) asks :meth:`Scheduler.poll` which accounts to check now and
:meth:`Scheduler.next_wakeup` how long it may sleep, and reports each check's start
and end. That keeps every rule testable without sleeping:

- each account checks every ``interval`` seconds (default 10 minutes), counted from
  the start of its last check;
- never sooner than the server's LOGIN-DELAY (RFC 2449) after its last login, for any
  reason, F5 included: the server would refuse the login anyway (DESIGN rule 8);
- a check of every scheduled account when the network comes back, and when the wall
  clock jumps ahead of the monotonic clock (a resume from suspend: Linux's
  ``CLOCK_MONOTONIC`` stops while suspended, the wall clock does not);
- one check at a time per account: a trigger while one runs is kept and honoured when
  it ends, never run beside it (POP3 locks the maildrop);
- F5 (:meth:`check_now`) checks at once, also an account without an interval.

Thread-safe: a worker thread may report :meth:`finished` while the driver polls.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from core.errors import MAX_SERVER_WAIT

__all__ = [
    "DEFAULT_INTERVAL",
    "JUMP_THRESHOLD",
    "Clock",
    "Due",
    "Reason",
    "Scheduler",
    "SystemClock",
]

DEFAULT_INTERVAL = 600.0  # 10 minutes; Gmail asks for no less
# Wall time passing this much faster than monotonic time means the machine was asleep.
# NTP slews by at most 0.5 ms/s, so a minute cannot come from clock discipline.
JUMP_THRESHOLD = 60.0


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class SystemClock:
    """The real clocks: ``time.monotonic`` (stops in suspend on Linux) and ``time.time``."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class Reason(enum.Enum):
    """Why a check is due: shown in the log, so a user can tell a schedule from a resume."""

    FIRST = "first check"
    INTERVAL = "interval"
    MANUAL = "asked"
    NETWORK_UP = "network back"
    RESUMED = "resumed from suspend"


@dataclass(frozen=True, slots=True)
class Due:
    account: str
    reason: Reason


@dataclass(slots=True)
class _Entry:
    interval: float | None  # None: only on demand
    login_delay: float = 0.0
    last_login: float | None = None  # monotonic start of the last check
    next_due: float | None = None  # monotonic; None: nothing scheduled
    reason: Reason = Reason.INTERVAL
    running: bool = False
    pending: Reason | None = None  # a trigger that came while a check ran


class Scheduler:
    """Per-account check times; accounts are named by any string key (``Account.key``)."""

    def __init__(self, clock: Clock | None = None, *, jump_threshold: float = JUMP_THRESHOLD):
        self._clock: Clock = clock or SystemClock()
        self._jump = jump_threshold
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._offset = self._wall_offset()

    # -- configuration ----------------------------------------------------------------------

    def add(
        self, account: str, interval: float | None = DEFAULT_INTERVAL, *, check_first: bool = True
    ) -> None:
        """Schedule ``account``; with ``check_first`` its first check is due at once.

        ``interval`` None means checks only on demand (F5). ValueError for a non-positive
        interval or an account added twice.
        """
        _check_interval(interval)
        with self._lock:
            if account in self._entries:
                raise ValueError(f"account {account!r} is scheduled already")
            entry = _Entry(interval)
            now = self._clock.monotonic()
            if check_first:
                entry.next_due, entry.reason = now, Reason.FIRST
            elif interval is not None:
                entry.next_due = now + interval
            self._entries[account] = entry

    def remove(self, account: str) -> None:
        """Forget ``account``; a check still running may report :meth:`finished` harmlessly."""
        with self._lock:
            self._entries.pop(account, None)

    def set_interval(self, account: str, interval: float | None) -> None:
        """A new interval counts from the last check, so shortening it may make one due."""
        _check_interval(interval)
        with self._lock:
            entry = self._entries[account]
            entry.interval = interval
            if entry.reason is Reason.INTERVAL:
                entry.next_due = self._after_last(entry)

    def set_login_delay(self, account: str, seconds: float | None) -> None:
        """The server's LOGIN-DELAY (CAPA, or a ``[LOGIN-DELAY]`` refusal); None clears it.

        Obeyed up to MAX_SERVER_WAIT: a server asking for more is not believed blindly
        (DESIGN rule 16); the engine reports such a refusal itself."""
        with self._lock:
            entry = self._entries.get(account)
            if entry is None:  # a late report about a removed account is dropped
                return
            entry.login_delay = min(MAX_SERVER_WAIT, max(0.0, seconds or 0.0))
            if entry.next_due is not None:
                entry.next_due = self._earliest(entry, entry.next_due)

    def accounts(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    # -- triggers ---------------------------------------------------------------------------

    def check_now(self, account: str) -> None:
        """F5: due at once (or as soon as LOGIN-DELAY allows, or when a running check ends)."""
        with self._lock:
            self._trigger(self._entries[account], Reason.MANUAL)

    def network_up(self) -> None:
        """The network came back: every scheduled account checks."""
        with self._lock:
            for entry in self._entries.values():
                if entry.interval is not None:
                    self._trigger(entry, Reason.NETWORK_UP)

    # -- the driver's side --------------------------------------------------------------------

    def poll(self) -> list[Due]:
        """The accounts to check now, each marked running until :meth:`finished`.

        Call it whenever :meth:`next_wakeup` says, or earlier: it also notices a resume
        from suspend, by comparing how far the two clocks moved since the last call.
        """
        with self._lock:
            self._notice_clock_jump()
            now = self._clock.monotonic()
            due: list[Due] = []
            for account, entry in self._entries.items():
                if entry.running or entry.next_due is None or entry.next_due > now:
                    continue
                entry.running = True
                entry.last_login = now
                entry.next_due = None
                due.append(Due(account, entry.reason))
            return due

    def finished(self, account: str) -> None:
        """A check of ``account`` ended (whatever its outcome): schedule the next one."""
        with self._lock:
            entry = self._entries.get(account)
            if entry is None or not entry.running:
                return
            entry.running = False
            if entry.pending is not None:
                reason, entry.pending = entry.pending, None
                self._trigger(entry, reason)
            else:
                entry.reason = Reason.INTERVAL
                entry.next_due = self._after_last(entry)

    def next_wakeup(self) -> float | None:
        """Seconds until the next check is due (0 if one is due now); None if none is."""
        with self._lock:
            times = [e.next_due for e in self._entries.values()
                     if e.next_due is not None and not e.running]
            if not times:
                return None
            return max(0.0, min(times) - self._clock.monotonic())

    def due_in(self, account: str) -> float | None:
        """Seconds until ``account``'s next check (for the GUI's "next check in …")."""
        with self._lock:
            entry = self._entries[account]
            if entry.running or entry.next_due is None:
                return None
            return max(0.0, entry.next_due - self._clock.monotonic())

    # -- inside the lock ------------------------------------------------------------------------

    def _trigger(self, entry: _Entry, reason: Reason) -> None:
        if entry.running:
            entry.pending = entry.pending or reason
            return
        entry.reason = reason
        entry.next_due = self._earliest(entry, self._clock.monotonic())

    def _earliest(self, entry: _Entry, wanted: float) -> float:
        if entry.last_login is None:
            return wanted
        return max(wanted, entry.last_login + entry.login_delay)

    def _after_last(self, entry: _Entry) -> float | None:
        if entry.interval is None:
            return None
        start = entry.last_login if entry.last_login is not None else self._clock.monotonic()
        return self._earliest(entry, start + entry.interval)

    def _wall_offset(self) -> float:
        return self._clock.wall() - self._clock.monotonic()

    def _notice_clock_jump(self) -> None:
        offset = self._wall_offset()
        jumped = offset - self._offset > self._jump
        # Re-baseline on any move, backwards too (someone set the clock): only a
        # forward jump since the last look means sleep.
        self._offset = offset
        if jumped:
            for entry in self._entries.values():
                if entry.interval is not None:
                    self._trigger(entry, Reason.RESUMED)


def _check_interval(interval: float | None) -> None:
    if interval is not None and not interval > 0:
        raise ValueError(f"a check interval must be above 0 seconds, not {interval!r}")
