"""Signing in with Google, Microsoft or another OAuth provider, from the GUI.

core runs the loopback listener, the token exchange and the keychain write on a worker
thread (:func:`core.auth.oauth.sign_in`); the GUI thread only opens the system browser
(QDesktopServices) and shows the outcome. The provider choices of the account dialog live
here too, beside the button text they imply.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices

from core.accounts import Account
from core.auth.oauth import sign_in
from core.auth.oauth_providers import PRESETS
from core.text import sanitize
from gui.tasks import BackgroundTask

# (provider key or "" for a plain POP3 server, the dialog's label)
PROVIDER_CHOICES = (
    ("", "Other POP3 server"),
    ("google", "Gmail"),
    ("microsoft", "Outlook / Microsoft 365"),
)
SIGN_IN_EXPIRED = "Sign-in expired"


def button_text(provider: str) -> str:
    """"Sign in with Google" / "Sign in with Microsoft"; a generic provider has no brand."""
    preset = PRESETS.get(provider)
    return f"Sign in with {preset.title}" if preset is not None else "Sign in"


def open_in_browser(url: str) -> None:
    """Hand the provider's sign-in page to the user's browser."""
    QDesktopServices.openUrl(QUrl(url))


class SignIn(QObject):
    """One browser sign-in for ``account``; ``succeeded`` or ``failed(reason)`` arrive on the
    GUI thread. ``cancel()`` (a dialog closed) ends the wait within a second."""

    succeeded = Signal()
    failed = Signal(str)

    _open = Signal(str)  # worker thread -> GUI thread: open this URL

    def __init__(self, account: Account, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.account = account
        self._cancel = threading.Event()
        self._open.connect(self._open_url, Qt.ConnectionType.QueuedConnection)

    def start(self) -> SignIn:
        account, cancel, relay = self.account, self._cancel, self._open.emit
        task = BackgroundTask(lambda: sign_in(account, relay, cancel=cancel),
                              on_error=self._failed, parent=self,
                              name=f"sign in {account.key}")
        task.done.connect(self._done)
        task.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @Slot(str)
    def _open_url(self, url: str) -> None:
        open_in_browser(url)

    @Slot(object)
    def _done(self, _result: object) -> None:
        self.succeeded.emit()

    def _failed(self, exc: BaseException) -> None:
        self.failed.emit(sanitize(str(exc)))
