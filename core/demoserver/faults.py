"""Fault injection: the bad days a real POP3 server and a real network have, on demand.

Positions count *body bytes*: octets of RETR/TOP payloads as sent on the wire (after
dot-stuffing, without status lines and terminators), summed over every connection of
the server. For a message with no line starting with ".", body byte k of a lone RETR is
message octet k, so ``cut_at([1000])`` leaves a client holding exactly 1000 octets.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from enum import Enum


class Event(Enum):
    CUT = "cut"  # close the connection now
    STALL = "stall"  # stop sending, keep the socket open


LONG_STATUS = 100_000  # octets of padding in a "long status line" fault
GARBAGE = b"* BYE this is not a POP3 reply \x00\xff\r\n"


class Faults:
    """What to break, and when. Thread-safe: every connection meters through one object.

    - ``cut_at``: drop the connection once the total body bytes reach each position (each once).
    - ``drop_every``: drop whenever the total crosses a multiple of N (a link that dies every
      N bytes; a resuming client still progresses N bytes per connection).
    - ``close_after_greeting``: the next N connections close right after the greeting (<0: all).
    - ``stall_at``: at each position (once), stop sending but keep the socket open.
    - ``long_status``: verbs whose +OK status line is padded to ~100 KB.
    - ``garbage``: verbs answered by a line that is not POP3, and not carried out (a QUIT
      so answered deletes nothing); the connection stays open.
    - ``unsupported``: verbs refused with a plain -ERR, as by a minimal RFC 1939 server
      that lacks the optional UIDL or TOP.
    - ``overlong_body``: extra octets appended to every RETR body, beyond its LIST size.
    - ``random_drop``: probability that a RETR is cut at a random point of its body
      (seeded by ``seed``, for a demo that looks like a flaky link).
    """

    def __init__(
        self,
        *,
        cut_at: Iterable[int] = (),
        drop_every: int | None = None,
        close_after_greeting: int = 0,
        stall_at: Iterable[int] = (),
        long_status: Iterable[str] = (),
        garbage: Iterable[str] = (),
        unsupported: Iterable[str] = (),
        overlong_body: int = 0,
        random_drop: float = 0.0,
        seed: int = 0,
    ) -> None:
        if drop_every is not None and drop_every <= 0:
            raise ValueError("drop_every must be positive")
        self._lock = threading.Lock()
        self._cuts: list[int] = sorted(cut_at)
        self._stalls: list[int] = sorted(stall_at)
        self.drop_every = drop_every
        self._close_after_greeting = close_after_greeting
        self.long_status: set[str] = {v.upper() for v in long_status}
        self.garbage: set[str] = {v.upper() for v in garbage}
        self.unsupported: set[str] = {v.upper() for v in unsupported}
        self.overlong_body = overlong_body
        self.random_drop = random_drop
        self._rng = random.Random(seed)
        self._sent = 0

    @property
    def body_bytes_sent(self) -> int:
        """Body bytes handed to sockets so far, over all connections."""
        with self._lock:
            return self._sent

    def cut_at(self, positions: Iterable[int]) -> None:
        """Add drop positions (absolute, in total body bytes); each fires once."""
        with self._lock:
            self._cuts = sorted([*self._cuts, *positions])

    def stall_at(self, positions: Iterable[int]) -> None:
        """Add stall positions (absolute, in total body bytes); each fires once."""
        with self._lock:
            self._stalls = sorted([*self._stalls, *positions])

    def set_close_after_greeting(self, count: int) -> None:
        with self._lock:
            self._close_after_greeting = count

    def take_close_after_greeting(self) -> bool:
        """Called once per new connection: should this one close after the greeting?"""
        with self._lock:
            if self._close_after_greeting == 0:
                return False
            if self._close_after_greeting > 0:
                self._close_after_greeting -= 1
            return True

    def start_body(self, length: int) -> None:
        """A RETR body of ``length`` octets begins: maybe schedule a random cut inside it."""
        if self.random_drop <= 0 or length <= 0:
            return
        with self._lock:
            if self._rng.random() < self.random_drop:
                self._cuts = sorted([*self._cuts, self._sent + self._rng.randrange(length)])

    def admit(self, n: int) -> tuple[int, Event | None]:
        """Account for up to ``n`` body bytes about to be sent.

        Returns how many may go out, and the event to act on right after sending them
        (a position that was already passed fires at once, with 0 bytes).
        """
        with self._lock:
            start = self._sent
            limit = start + n
            event: Event | None = None
            if self._cuts and self._cuts[0] <= limit:
                limit, event = max(start, self._cuts[0]), Event.CUT
            if self._stalls and self._stalls[0] < limit + (event is None):
                limit, event = max(start, self._stalls[0]), Event.STALL
            if self.drop_every is not None:
                nxt = (start // self.drop_every + 1) * self.drop_every
                if nxt < limit + (event is None):
                    limit, event = nxt, Event.CUT
            if event is Event.CUT and self._cuts and self._cuts[0] <= limit:
                self._cuts.pop(0)
            elif event is Event.STALL:
                self._stalls.pop(0)
            self._sent = limit
            return limit - start, event
