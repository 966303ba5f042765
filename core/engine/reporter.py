"""The engine's events out: one place that turns what the worker learns into the plain
events a listener gets (DESIGN: the engine does not know Qt), and keeps the two the
caller may read at any time, the connection state and the last fatal error."""

from __future__ import annotations

import logging
from collections.abc import Callable

from core.engine.api import Listener
from core.engine.events import (
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
    Event,
    MessageStateChanged,
    TranscriptLine,
)
from core.engine.lifecycle import Step
from core.engine.messages import Message, MessageTable
from core.errors import AuthenticationError, CertificateError, ServerError
from core.pop3.session import ServerInfo

log = logging.getLogger("core.engine.coordinator")


class Reporter:
    def __init__(self, listener: Listener, table: MessageTable, *, transcript: bool) -> None:
        self._listener = listener
        self._table = table
        self._transcript = transcript
        self.state = ConnectionState.DISCONNECTED
        self.last_error: ErrorOccurred | None = None

    def emit(self, event: Event) -> None:
        try:
            self._listener(event)
        except Exception:  # a broken listener must not kill the transfer
            log.exception("event listener failed on %r", event)

    def connection(
        self, state: ConnectionState, detail: str, info: ServerInfo | None, *,
        offsets: bool, retry_in: float = 0.0, attempt: int = 0,
    ) -> None:
        """``info``: the session's, if one is open; ``offsets``: it still trusts RETR offsets."""
        self.state = state
        self.emit(
            ConnectionChanged(
                state,
                detail,
                secure=bool(info and info.secure),
                can_resume=(info.ext_retr and offsets) if info else None,
                retry_in=retry_in,
                attempt=attempt,
                login_delay=info.login_delay if info else None,
            )
        )

    def step(self, msg: Message, step: Step, detail: str = "", path: str = "") -> bool:
        if not self._table.step(msg, step, detail):
            return False
        self.emit(MessageStateChanged(msg.uidl, msg.state, msg.received, detail, path))
        return True

    def error(
        self, message: str, *, fatal: bool, exc: BaseException | None = None, left: bool = False
    ) -> None:
        code = exc.code if isinstance(exc, ServerError) else None
        event = ErrorOccurred(
            message,
            fatal,
            code,
            auth=isinstance(exc, AuthenticationError),
            certificate=exc.info if isinstance(exc, CertificateError) else None,
            left_on_server=left,
        )
        if fatal:
            self.last_error = event
        self.emit(event)

    @property
    def transcript(self) -> Callable[[bool, str], None] | None:
        """The session's protocol log, or None: a session without one does not format a
        line per command and reply (10,000 messages make 20,000 of them)."""
        return self._note if self._transcript else None

    def _note(self, sent: bool, text: str) -> None:
        self.emit(TranscriptLine(sent, text))
