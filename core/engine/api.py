"""The engine's public API as a Protocol: what the GUI and the CLI may call, nothing more.

Typing a caller against :class:`EngineAPI` (not the concrete class) keeps it off the
engine's internals and lets tests pass a fake where a real engine is not the point.
Every method is safe from any thread and returns at once, except :meth:`shutdown` and
:meth:`wait_idle`, which block for at most their timeout. Events reach the listener on
the engine's worker thread (see :mod:`core.engine.events`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from core.accounts import Account
from core.engine.events import ConnectionState, ErrorOccurred, Event, MessageInfo

Listener = Callable[[Event], None]

__all__ = ["EngineAPI", "Listener", "Stats"]


@dataclass
class Stats:
    """Totals for the summary line and the fault tests (written by the worker only)."""

    fetched: int = 0
    fetched_bytes: int = 0  # wire octets of the stored messages, as received
    received_bytes: int = 0  # wire octets that came over the network (includes re-sends)
    resumed: int = 0
    restarted: int = 0  # resumes that had to start again from octet 0
    deleted: int = 0
    failed: int = 0
    suspect: int = 0  # kept under a suspect mark, never deleted (DESIGN rule 13)
    skipped: int = 0  # left on the server: a duplicate UIDL, a UIDL without LIST entry
    reconnects: int = 0


class EngineAPI(Protocol):
    """One account's fetcher. README.md ("The engine API") has it on one page."""

    @property
    def account(self) -> Account: ...

    @property
    def stats(self) -> Stats: ...

    @property
    def state(self) -> ConnectionState: ...

    @property
    def last_error(self) -> ErrorOccurred | None: ...

    def start(self) -> None:
        """Start the worker: connect, log in, list (ListLoaded)."""

    def refresh(self) -> None:
        """A fresh session (only a new login sees new mail), after the transfer in flight."""

    def download(self, uidls: Iterable[str] | None = None) -> None:
        """Queue these messages (None: every message not stored yet)."""

    def pause(self, uidls: Iterable[str] | None = None) -> None:
        """Stop these transfers, keeping their partial bytes (None: all)."""

    def resume(self, uidls: Iterable[str] | None = None) -> None:
        """Queue paused messages again (None: every paused one, also earlier runs')."""

    def cancel(self, uidls: Iterable[str] | None = None) -> None:
        """Stop these transfers and forget their partial bytes (None: all)."""

    def mark(self, uidls: Iterable[str]) -> None:
        """Journal deletion marks; DELE goes out in the next session step."""

    def unmark(self, uidls: Iterable[str]) -> None:
        """Drop deletion marks (RSET, then DELE again for the rest)."""

    def commit(self) -> None:
        """QUIT with the marks issued: the server deletes them (CommitFinished)."""

    def disconnect(self) -> None:
        """End the session: RSET if marks are issued, then QUIT. Nothing is deleted."""

    def retry_now(self) -> None:
        """Reconnect now instead of waiting out the backoff (also after a fatal error)."""

    def update_account(self, account: Account) -> None:
        """New settings, used from the next connection."""

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop within about a second, nothing deleted: an idle session ends with RSET (if
        marks went out) and QUIT, a busy one is dropped. The store is closed when this
        returns, unless ``timeout`` ran out first."""

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is left to do (or a fatal error); False on timeout."""

    def messages(self) -> list[MessageInfo]:
        """A snapshot of the message list."""
