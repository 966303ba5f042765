"""One account at run time: its engine, the bridge, the message model and the password.

The GUI talks to the engine only through an AccountRunner: commands go straight to the
engine (its methods are thread-safe and return at once); events come back through the
EngineBridge on the GUI thread. Starting lists what the store holds first (read-only, so
stored mail shows while the server is down), then creates the engine, which opens the
store: both on a background thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from core.accounts import Account
from core.auth import passwords
from core.auth.oauth import OAuthTokens
from core.auth.sasl import BEARER_MECHANISMS, TokenSource
from core.engine.api import EngineAPI
from core.engine.events import (
    CommitFinished,
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
)
from core.errors import AuthenticationError
from core.store.catalog import StoredEntry, read_catalog
from core.store.forward import keychain_target_password, open_account_store
from core.text import sanitize
from gui import icons
from gui.bridge import EngineBridge
from gui.keyring_access import KeychainAccess
from gui.models.model import MessageListModel
from gui.oauth import SIGN_IN_EXPIRED
from gui.tasks import BackgroundTask

EngineFactory = Callable[..., EngineAPI]


def default_engine_factory(account: Account, **kwargs: Any) -> EngineAPI:
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
        state_dir: Path | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.account = account
        self.demo = demo
        self._state_dir = state_dir
        self.keychain = keychain
        self.model = MessageListModel(self, icons=icons.state_icons(),
                                      delivers_to=account.deliver)
        self.bridge = EngineBridge(self)
        self.engine: EngineAPI | None = None
        self.connection = ConnectionChanged(ConnectionState.DISCONNECTED)
        self.ever_connected = False  # "connection lost" only after a connection
        self.retry_reason = ""  # the last error that made the engine retry
        self.login_delay: float | None = None  # the server's CAPA LOGIN-DELAY (s), once seen
        self.last_error: ErrorOccurred | None = None
        self.needs_password = False
        self.sign_in_expired = False  # an OAuth account whose grant the server refused
        self._tokens: OAuthTokens | None = None
        self._fixed_password = fixed_password
        self._engine_factory = engine_factory
        self._engine_kwargs = engine_kwargs or {}
        self._pw_lock = threading.Lock()
        self._cached_password: str | None = None
        self._target_typed: str | None = None
        self._skip_keychain = False
        self._save_on_connect: str | None = None
        self._open_requests: list[PasswordRequest] = []
        self._closing = False
        self._starting = False

        self._ask.connect(self._on_ask, Qt.ConnectionType.QueuedConnection)
        self.bridge.eventsArrived.connect(self.model.apply_all)
        self.bridge.connectionChanged.connect(self._on_connection)
        self.bridge.errorOccurred.connect(self._on_error)
        self.bridge.commitFinished.connect(self._on_commit)

    # --- life cycle --------------------------------------------------------------------

    @property
    def asks_password(self) -> bool:
        """False when the password is fixed (the demo) or the account signs in with OAuth:
        a refusal cannot be fixed by asking for a password."""
        return self._fixed_password is None and not self.uses_oauth

    @property
    def uses_oauth(self) -> bool:
        return self.account.oauth is not None and self.account.auth.upper() in BEARER_MECHANISMS

    @property
    def starting(self) -> bool:
        return self._starting

    @property
    def name(self) -> str:
        return self.account.display_name

    @property
    def state_dir(self) -> Path:
        """Where this account's store keeps its state (read-only readers use it too)."""
        return self._state_dir or self.account.state_dir(create=False)

    def start(self) -> None:
        """List the stored messages, then create the engine (it opens the store) and
        connect; both off the GUI thread."""
        if self.engine is not None:
            self.engine.retry_now()
            return
        if self._starting:
            return
        self._starting = True
        self.list_stored().finished.connect(self._create_engine)

    def list_stored(self) -> BackgroundTask:
        """Show what the store holds (read-only, no connection)."""
        # A target's stored entries are receipts; only a Maildir has files to read.
        maildir = None if self.account.deliver else Path(self.account.maildir)
        state_dir = self._state_dir or self.account.state_dir()
        task = BackgroundTask(lambda: read_catalog(maildir, state_dir),
                              on_error=self._on_catalog_failed, parent=self,
                              name=f"catalog {self.account.key}")
        task.done.connect(self._on_catalog)
        return task.start()

    @Slot(object)
    def _on_catalog(self, entries: list[StoredEntry]) -> None:
        self.model.load_stored(entries)

    def _on_catalog_failed(self, exc: BaseException) -> None:
        self.errorOccurred.emit(
            ErrorOccurred(f"cannot list the stored messages: {sanitize(str(exc))}", False))

    @Slot()
    def _create_engine(self) -> None:
        if self._closing:
            self._starting = False
            return
        account = self.account
        kwargs = dict(self._engine_kwargs)

        def create() -> EngineAPI:
            if account.deliver is not None and "store" not in kwargs:
                # The store the account's "Deliver to" names, opened here off the GUI thread.
                kwargs["store"] = open_account_store(account, account.state_dir(),
                                                     password=self._target_secret)
            engine = self._engine_factory(
                account, password=self._password, listener=self.bridge.listener, **kwargs
            )
            engine.start()
            return engine

        task = BackgroundTask(create, on_error=self._on_engine_failed, parent=self,
                              name=f"start {account.key}")
        task.done.connect(self._on_engine)
        task.start()

    @Slot(object)
    def _on_engine(self, engine: EngineAPI) -> None:
        self._starting = False
        if self._closing:
            threading.Thread(target=engine.shutdown, daemon=True).start()
            return
        self.engine = engine

    def _on_engine_failed(self, exc: BaseException) -> None:
        self._starting = False
        text = sanitize(str(exc))
        self.last_error = ErrorOccurred(f"cannot open the account's local store: {text}", True)
        self.connection = ConnectionChanged(ConnectionState.FAILED, text)
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
            self.engine.update_account(account)
        self.summaryChanged.emit()

    # --- commands (all return at once) ----------------------------------------------

    def _engine_or_start(self) -> EngineAPI | None:
        """The engine; without one (not started, or it failed to start), start it."""
        if self.engine is None:
            self.start()
        return self.engine

    def refresh(self) -> None:
        if (engine := self._engine_or_start()) is not None:
            engine.refresh()

    def download(self, uidls: Iterable[str] | None = None) -> None:
        if self.engine is not None:
            self.engine.download(None if uidls is None else list(uidls))

    def pause(self, uidls: Iterable[str] | None = None) -> None:
        if self.engine is not None:
            self.engine.pause(None if uidls is None else list(uidls))

    def resume(self, uidls: Iterable[str] | None = None) -> None:
        if self.engine is not None:
            self.engine.resume(None if uidls is None else list(uidls))

    def cancel(self, uidls: Iterable[str] | None = None) -> None:
        if self.engine is not None:
            self.engine.cancel(None if uidls is None else list(uidls))

    def mark(self, uidls: Iterable[str]) -> None:
        if self.engine is not None:
            self.engine.mark(list(uidls))

    def unmark(self, uidls: Iterable[str]) -> None:
        if self.engine is not None:
            self.engine.unmark(list(uidls))

    def commit(self) -> None:
        if self.engine is not None:
            self.engine.commit()

    def end_session(self) -> None:
        """Close the connection without committing (the engine's disconnect)."""
        if self.engine is not None:
            self.engine.disconnect()

    def retry_now(self) -> None:
        self.needs_password = False
        self.sign_in_expired = False
        if (engine := self._engine_or_start()) is not None:
            engine.retry_now()

    # --- state for the window --------------------------------------------------------

    def status_text(self) -> str:
        c = self.connection
        if self.sign_in_expired:
            return SIGN_IN_EXPIRED
        if self.needs_password:
            return "Needs the password"
        if c.state is ConnectionState.CONNECTED:
            return "Connected, secure" if c.secure else "Connected, not encrypted"
        if c.state is ConnectionState.CONNECTING:
            return "Connecting…"
        if c.state is ConnectionState.RECONNECTING:
            verb = "Reconnecting" if self.ever_connected else "Retrying"
            return f"{verb} (attempt {c.attempt})"
        if c.state is ConnectionState.COMMITTING:
            return "Committing…"
        if c.state is ConnectionState.FAILED:
            return "Stopped: " + sanitize(self.last_error.message if self.last_error
                                          else c.detail)
        return "Not connected"

    def state_icon_name(self) -> str:
        s = self.connection.state
        if s is ConnectionState.CONNECTED:
            return "connected"
        if s in (ConnectionState.CONNECTING, ConnectionState.RECONNECTING,
                 ConnectionState.COMMITTING):
            return "connecting"
        if s is ConnectionState.FAILED or self.needs_password or self.sign_in_expired:
            return "error"
        return "disconnected"

    # --- events ----------------------------------------------------------------------

    @Slot(object)
    def _on_connection(self, event: ConnectionChanged) -> None:
        self.connection = event
        if event.login_delay is not None:
            self.login_delay = event.login_delay
        if event.state is ConnectionState.CONNECTED:
            self.ever_connected = True
            self.last_error = None
            self.needs_password = False
            self.sign_in_expired = False
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
        elif not event.left_on_server:  # a listing anomaly is no reason to reconnect
            self.retry_reason = event.message
        if event.auth and self.uses_oauth:
            self.sign_in_expired = True  # never a retry loop: the user signs in again
        elif event.auth:
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

    def _password(self) -> str | TokenSource:
        if self.uses_oauth:
            with self._pw_lock:  # one source per runner: it keeps the access token in memory
                if self._tokens is None:
                    self._tokens = OAuthTokens.for_account(self.account)
                return self._tokens
        if self._fixed_password is not None:
            return self._fixed_password
        with self._pw_lock:
            if self._cached_password is not None:
                return self._cached_password
            skip_keychain, self._skip_keychain = self._skip_keychain, False
        reason = "The server refused the password." if skip_keychain else ""
        available = self.keychain is not None and self.keychain.available is not False
        command = self.account.password_command
        if command and not skip_keychain:
            # PasswordUnavailable (the command failed) stops the account with its words:
            # a prompt would hide the broken command.
            password = passwords.from_command(command, "The account's password command")
            with self._pw_lock:
                self._cached_password = password
            return password
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

    def set_target_password(self, password: str) -> None:
        """The IMAP target's password typed in the account dialog: used as it is, so the
        target logs in also before the keychain has saved it, or with no keychain."""
        with self._pw_lock:
            self._target_typed = password or None

    def _target_secret(self) -> str:
        """The IMAP target's password, asked for by its first login (the engine's writer
        thread): the one typed in the dialog, else the keychain's."""
        with self._pw_lock:
            typed = self._target_typed
        if typed is not None:
            return typed
        return keychain_target_password(self.account.target())
