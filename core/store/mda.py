"""The MDA delivery target: a command (procmail, maildrop, dovecot-lda …) gets the message
on standard input, in LF form, one run per message.

Its exit status decides (the sysexits convention every MDA follows): 0 delivered; 75
(EX_TEMPFAIL) try again later, the message stays on the server; 126/127 (the shell could
not run the command) stop delivering this run; any other status fails that message alone,
with the command's stderr (sanitized, cut) in the error. A command that runs past the
timeout is killed with its whole process group, and counts as temporary.

The command runs through ``/bin/sh -c`` (as fetchmail's and mpop's MDA options do, so
quoting and pipes work), in a session of its own, so that a kill reaches its children.
It cannot be asked afterwards whether a message arrived, so a delivery interrupted by a
crash is run again (``can_look`` is False; see :mod:`core.store.targets`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from typing import IO

from core.errors import (
    PermanentDeliveryError,
    StorageError,
    TargetUnavailable,
    TemporaryDeliveryError,
)
from core.store.targets import Message, Outcome, Receipt, Target, each, shown

__all__ = ["EX_TEMPFAIL", "MdaTarget"]

EX_TEMPFAIL = 75
_STDERR_KEPT = 4096
_JOIN = 5.0  # after the command ended, its pipes close at once; bound the wait anyway


class MdaTarget(Target):
    """Run ``command`` once per message; see the module docstring."""

    def __init__(self, command: str, *, timeout: float = 60.0) -> None:
        self.command = command
        self.url = f"mda:{command}"
        self.timeout = timeout

    def deliver_many(self, messages: Sequence[Message], hints: Sequence[str]) -> list[Outcome]:
        return each(messages, hints, self._deliver)

    def _deliver(self, message: Message, hint: str) -> Receipt:
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", self.command],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise TargetUnavailable(self.url, f"cannot start /bin/sh: {exc}") from exc
        assert proc.stdin is not None and proc.stderr is not None
        errors: list[bytes] = []
        unread: list[StorageError] = []
        feeder = threading.Thread(
            target=_feed,
            args=(proc.stdin, message, proc.pid, unread),
            name="popfetch mda stdin",
            daemon=True,
        )
        drain = threading.Thread(
            target=_drain, args=(proc.stderr, errors), name="popfetch mda stderr", daemon=True
        )
        feeder.start()
        drain.start()
        try:
            status = proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: pgid == pid
            proc.wait()
            feeder.join(_JOIN)
            drain.join(_JOIN)
            raise TemporaryDeliveryError(
                self.url, f"did not finish within {self.timeout:g} s and was killed"
            ) from None
        feeder.join(_JOIN)
        drain.join(_JOIN)
        if unread:
            raise TemporaryDeliveryError(self.url, f"the command was stopped: {unread[0]}")
        stderr = shown(b"".join(errors))
        said = f": {stderr}" if stderr else ""
        if status == 0:
            return Receipt(self.url, "exit 0")
        if status == EX_TEMPFAIL:
            raise TemporaryDeliveryError(self.url, f"exit 75 (temporary failure){said}")
        if status in (126, 127):
            raise TargetUnavailable(self.url, f"the command cannot run (exit {status}){said}")
        if status < 0:
            raise PermanentDeliveryError(self.url, f"killed by signal {-status}{said}")
        raise PermanentDeliveryError(self.url, f"exit {status}{said}")


def _feed(pipe: IO[bytes], message: Message, pgid: int, unread: list[StorageError]) -> None:
    """Write the message to the command's stdin; a command that stops reading (it exits
    early, or is killed) ends the feed, and its exit status tells what happened. If our
    copy cannot be read, the command is killed before it sees an end of input: it must
    not deliver half a message."""
    try:
        for chunk in message.chunks():
            pipe.write(chunk)
    except StorageError as exc:
        unread.append(exc)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    except (ValueError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def _drain(pipe: IO[bytes], into: list[bytes]) -> None:
    """Read stderr to its end (a full pipe would block the command), keeping the start."""
    kept = 0
    with contextlib.suppress(OSError, ValueError):
        while chunk := pipe.read1(65536):  # type: ignore[attr-defined]
            if kept < _STDERR_KEPT:
                into.append(chunk[: _STDERR_KEPT - kept])
                kept += len(into[-1])
    with contextlib.suppress(OSError):
        pipe.close()
