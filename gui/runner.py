"""One account at run time: its engine, the bridge, the message model and the password.

The GUI talks to the engine only through an AccountRunner: commands go straight to the
engine (its methods are thread-safe and return at once); events come back through the
EngineBridge on the GUI thread. Creating the engine opens its store (SQLite, disk), so
that happens on a background thread too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from core.accounts import Account
from core.engine.events import (
    CommitFinished,
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
)
from core.errors import AuthenticationError
from gui import icons
from gui.bridge import EngineBridge
from gui.keyring_access import KeychainAccess
from gui.models.model import MessageListModel
from gui.tasks import BackgroundTask

EngineFactory = Callable[..., Any]


def default_engine_factory(account: Account, **kwargs: Any) -> Any:
    from core.engine.coordinator import Engine

    return Engine(account, **kwargs)


@dataclass
class PasswordRequest:
    """Asked by the engine's worker thread, answered on the GUI thread."""

    account: Account
    reason: str  # why we ask (no keychain, not stored, refused by the server)
    keychain_available: bool
    answer: str | None = None
    remember: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    def reply(self, answer: str | None, remember: bool = False) -> None:
        self.answer = answer
        self.remember = remember
        self.done.set()


class AccountRunner(QObject):
    """Owns one account's engine; lives on the GUI thread."""

    connectionChanged = Signal(object)  # ConnectionChanged
    summaryChanged = Signal()  # the account list entry should be redrawn
    errorOccurred = Signal(object)  # ErrorOccurred
    commitFinished = Signal(object)  # CommitFinished
    passwordNeeded = Signal(object)  # PasswordRequest: answer it with request.reply()
    engineStarted = Signal()
    engineFailed = Signal(str)

    _ask = Signal(object)  # worker thread -> GUI thread

    def __init__(
        self,
        account: Account,
        *,
        keychain: KeychainAccess | None = None,
        fixed_password: str | None = None,
        engine_factory: EngineFactory = default_engine_factory,
        engine_kwargs: dict[str, Any] | None = None,
        demo: bool = False,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.account = account
        self.demo = demo
        self.keychain = keychain
        self.model = MessageListModel(self, icons=icons.state_icons())
        self.bridge = EngineBridge(self)
        self.engine: Any = None
        self.connection = ConnectionChanged(ConnectionState.DISCONNECTED)
        self.last_error: ErrorOccurred | None = None
        self.needs_password = False
        self._fixed_password = fixed_password
        self._engine_factory = engine_factory
        self._engine_kwargs = engine_kwargs or {}
        self._pw_lock = threading.Lock()
        self._cached_password: str | None = None
        self._skip_keychain = False
        self._save_on_connect: str | None = None
        self._open_requests: list[PasswordRequest] = []
        self._closing = False
        self._starting = False

        self._ask.connect(self._on_ask, Qt.ConnectionType.QueuedConnection)
        self.bridge.event.connect(self.model.apply)
        self.bridge.connectionChanged.connect(self._on_connection)
        self.bridge.errorOccurred.connect(self._on_error)
        self.bridge.commitFinished.connect(self._on_commit)

    # --- life cycle --------------------------------------------------------------------

    @property
    def asks_password(self) -> bool:
        """False when the password is fixed (the demo): a refusal cannot be fixed by asking."""
        return self._fixed_password is None

    @property
    def name(self) -> str:
        return self.account.display_name

    def start(self) -> None:
        """Create the engine off the GUI thread (it opens the store) and connect."""
        if self.engine is not None:
            self.engine.retry_now()
            return
        if self._starting:
            return
        self._starting = True
        account = self.account
        kwargs = dict(self._engine_kwargs)

        def create() -> Any:
            engine = self._engine_factory(
                account, password=self._password, listener=self.bridge.listener, **kwargs
            )
            engine.start()
            return engine

        task = BackgroundTask(create, self, name=f"start {account.key}")
        task.done.connect(self._on_engine)
        task.failed.connect(self._on_engine_failed)
        task.start()

    @Slot(object)
    def _on_engine(self, engine: Any) -> None:
        self._starting = False
        if self._closing:
            threading.Thread(target=engine.shutdown, daemon=True).start()
            return
        self.engine = engine
        self.engineStarted.emit()

    @Slot(object)
    def _on_engine_failed(self, exc: BaseException) -> None:
        self._starting = False
        self.last_error = ErrorOccurred(f"cannot open the account's local store: {exc}", True)
        self.connection = ConnectionChanged(ConnectionState.FAILED, str(exc))
        self.engineFailed.emit(str(exc))
        self.errorOccurred.emit(self.last_error)
        self.summaryChanged.emit()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the engine without QUIT (nothing is deleted). Blocks up to ``timeout``.

        Touches no Qt object, so the window may call it on a helper thread.
        """
        self._closing = True
        self._cancel_requests()
        self.bridge.close()
        if self.engine is not None:
            self.engine.shutdown(timeout)

    def update_account(self, account: Account) -> None:
        """New settings (for instance a pinned certificate); used from the next connection."""
        self.account = account
        if self.engine is not None:
            self.engine.account = account
        self.summaryChanged.emit()

    # --- commands (all return at once) ----------------------------------------------

    def _call(self, name: str, *args: Any) -> None:
        if self.engine is None:
            if name in ("refresh", "retry_now"):
                self.start()
            return
        getattr(self.engine, name)(*args)

    def refresh(self) -> None:
        self._call("refresh")

    def download(self, uidls: Iterable[str] | None = None) -> None:
        self._call("download", None if uidls is None else list(uidls))

    def pause(self, uidls: Iterable[str] | None = None) -> None:
        self._call("pause", None if uidls is None else list(uidls))

    def resume(self, uidls: Iterable[str] | None = None) -> None:
        self._call("resume", None if uidls is None else list(uidls))

    def cancel(self, uidls: Iterable[str] | None = None) -> None:
        self._call("cancel", None if uidls is None else list(uidls))

    def mark(self, uidls: Iterable[str]) -> None:
        self._call("mark", list(uidls))

    def unmark(self, uidls: Iterable[str]) -> None:
        self._call("unmark", list(uidls))

    def commit(self) -> None:
        self._call("commit")

    def disconnect(self) -> None:
        self._call("disconnect")

    def retry_now(self) -> None:
        self.needs_password = False
        self._call("retry_now")

    # --- state for the window --------------------------------------------------------

    def has_pending(self) -> tuple[int, int]:
        """(marked messages, active or paused transfers) for the close question."""
        t = self.model.totals()
        return t.marked, t.active

    def status_text(self) -> str:
        c = self.connection
        if self.needs_password:
            return "Needs the password"
        if c.state is ConnectionState.CONNECTED:
            return "Connected, secure" if c.secure else "Connected, not encrypted"
        if c.state is ConnectionState.CONNECTING:
            return "Connecting…"
        if c.state is ConnectionState.RECONNECTING:
            return f"Reconnecting (attempt {c.attempt})"
        if c.state is ConnectionState.COMMITTING:
            return "Committing…"
        if c.state is ConnectionState.FAILED:
            return "Stopped: " + (self.last_error.message if self.last_error else c.detail)
        return "Not connected"

    def state_icon_name(self) -> str:
        s = self.connection.state
        if s is ConnectionState.CONNECTED:
            return "connected"
        if s in (ConnectionState.CONNECTING, ConnectionState.RECONNECTING,
                 ConnectionState.COMMITTING):
            return "connecting"
        if s is ConnectionState.FAILED or self.needs_password:
            return "error"
        return "disconnected"

    # --- events ----------------------------------------------------------------------

    @Slot(object)
    def _on_connection(self, event: ConnectionChanged) -> None:
        self.connection = event
        if event.state is ConnectionState.CONNECTED:
            self.last_error = None
            self.needs_password = False
            pw = self._save_on_connect
            self._save_on_connect = None
            if pw is not None and self.keychain is not None:
                self.keychain.set_password(self.account.key, pw)
        self.connectionChanged.emit(event)
        self.summaryChanged.emit()

    @Slot(object)
    def _on_error(self, event: ErrorOccurred) -> None:
        if event.fatal:
            self.last_error = event
        if event.auth:
            with self._pw_lock:
                self._cached_password = None
                self._skip_keychain = True
            self.needs_password = True
        self.errorOccurred.emit(event)
        self.summaryChanged.emit()

    @Slot(object)
    def _on_commit(self, event: CommitFinished) -> None:
        self.commitFinished.emit(event)

    # --- the password (called by the engine on its worker thread) ---------------------

    def _password(self) -> str:
        if self._fixed_password is not None:
            return self._fixed_password
        with self._pw_lock:
            if self._cached_password is not None:
                return self._cached_password
            skip_keychain, self._skip_keychain = self._skip_keychain, False
        reason = "The server refused the password." if skip_keychain else ""
        available = self.keychain is not None and self.keychain.available is not False
        if self.keychain is not None and not skip_keychain:
            stored, problem = self.keychain.get_password_blocking(self.account.key)
            if stored:
                with self._pw_lock:
                    self._cached_password = stored
                return stored
            available = problem is None
            reason = problem or "No password is saved for this account."
        request = PasswordRequest(self.account, reason, available)
        with self._pw_lock:
            self._open_requests.append(request)
        self._ask.emit(request)
        while not request.done.wait(0.25):
            if self._closing:
                break
        with self._pw_lock:
            if request in self._open_requests:
                self._open_requests.remove(request)
        if not request.answer:
            raise AuthenticationError("PASS", "no password was entered", "AUTH")
        with self._pw_lock:
            self._cached_password = request.answer
        if request.remember and available:
            self._save_on_connect = request.answer
        return request.answer

    @Slot(object)
    def _on_ask(self, request: PasswordRequest) -> None:
        if self._closing:
            request.reply(None)
            return
        self.needs_password = True
        self.summaryChanged.emit()
        self.passwordNeeded.emit(request)

    def _cancel_requests(self) -> None:
        with self._pw_lock:
            requests, self._open_requests = self._open_requests, []
        for request in requests:
            request.reply(None)

    def cached_password(self) -> str | None:
        if self._fixed_password is not None:
            return self._fixed_password
        with self._pw_lock:
            return self._cached_password

    def set_password(self, password: str) -> None:
        """The user typed a new password (account dialog): use it from the next login."""
        with self._pw_lock:
            self._cached_password = password or None
            self._skip_keychain = False
