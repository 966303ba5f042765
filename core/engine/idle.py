"""When the engine has nothing to do: "nothing as of intent generation N". A request made
after the worker last looked changes the generation, so it is busy again at once, with no
flag for a caller and the worker to race over (popfetch fetch waits on this)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class IdleState:
    def __init__(self, generation: Callable[[], int]) -> None:
        self._generation = generation  # the intent's, read without its lock
        self._cond = threading.Condition(threading.Lock())
        self._idle_at: int | None = None  # the generation the worker went idle at
        self._ended = False  # the worker has returned: nothing more will happen

    def busy(self) -> None:
        with self._cond:
            self._idle_at = None

    def idle(self, applied: int) -> None:
        """Nothing to do as of ``applied``, the generation the worker last folded in (a
        later request wakes the worker, which applies it and says idle again, or gets busy)."""
        with self._cond:
            self._idle_at = applied
            self._cond.notify_all()

    def ended(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._ended and self._idle_at != self._generation():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True
