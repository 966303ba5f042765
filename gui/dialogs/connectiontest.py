"""Test connection: connect, read CAPA, log in, STAT off the GUI thread; what it shows."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from core.accounts import Account
from core.auth.sasl import TokenSource
from core.errors import CertificateError, CertificateInfo, PopError
from core.text import sanitize
from gui import fmt
from gui.dialogs.certdialog import CertificateDialog
from gui.tasks import BackgroundTask


@dataclass(frozen=True)
class TestResult:
    secure: bool
    capabilities: dict[str, tuple[str, ...]]
    logged_in: bool
    count: int = 0
    size: int = 0
    method: str = ""


def test_connection(
    account: Account, password: str | TokenSource | None, timeout: float = 15.0
) -> TestResult:
    """Connect, read CAPA, log in if a password (or, signed in with OAuth, a token source) is
    given, STAT, QUIT. Blocking: a worker's job.

    Nothing is marked in this session, so its QUIT deletes nothing.
    """
    from core.pop3.session import open_session

    session = open_session(
        account.host,
        account.port,
        account.security,
        account.tls_policy(),
        connect_timeout=timeout,
        read_timeout=timeout,
    )
    try:
        caps = dict(session.info.capabilities)
        secure = session.info.secure
        if not password:
            return TestResult(secure, caps, False)
        method = session.login(
            account.user, password, method=account.auth, allow_plaintext=account.allow_plaintext
        )
        count, size = session.stat()
        session.quit()
        return TestResult(secure, caps, True, count, size, method)
    finally:
        session.close()


def describe(result: TestResult) -> str:
    caps = result.capabilities
    lines = [
        "Connection: " + ("encrypted (TLS)" if result.secure else "NOT encrypted"),
        "Resume mid-message (EXT-RETR): " + ("yes" if "EXT-RETR" in caps else
                                             "no: an interrupted download restarts from 0"),
        "Pipelining: " + ("yes" if "PIPELINING" in caps else "no"),
        "Unique IDs (UIDL): " + ("yes" if "UIDL" in caps else "no"),
    ]
    if "SASL" in caps:
        lines.append("Sign-in methods (SASL): " + " ".join(caps["SASL"]))
    if "LOGIN-DELAY" in caps:
        lines.append(f"Minimum time between logins: {' '.join(caps['LOGIN-DELAY'])} s")
    if "IMPLEMENTATION" in caps:
        lines.append("Server: " + " ".join(caps["IMPLEMENTATION"]))
    lines.append("Server offers: " + (" ".join(sorted(caps)) or "(no CAPA)"))
    if result.logged_in:
        lines.append(
            f"Signed in ({result.method}): {result.count} messages, {fmt.size(result.size)}"
        )
    else:
        lines.append("Not signed in (no password given)")
    return "\n".join(sanitize(line) for line in lines)


class ConnectionTest(QWidget):
    """The "Test connection" button, its output, and "Review certificate…" after an untrusted
    certificate. It knows no form: a click emits ``requested`` and the owner calls
    ``start(account, secret)``; a certificate the user decides to trust comes back as
    ``trusted(sha256)`` for the owner to pin."""

    requested = Signal()
    trusted = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.button = QPushButton("&Test connection")
        self.button.setToolTip("Connect in the background and show what the server offers")
        self.button.clicked.connect(self.requested)
        self.cert_button = QPushButton("Review certificate…")
        self.cert_button.setVisible(False)
        self.cert_button.clicked.connect(self.review_certificate)
        row.addWidget(self.button)
        row.addWidget(self.cert_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.output = QPlainTextEdit()
        self.output.setObjectName("testOutput")
        self.output.setReadOnly(True)
        self.output.setMaximumHeight(150)
        self.output.setPlaceholderText("Test the connection to see what the server offers.")
        layout.addWidget(self.output)
        self._account: Account | None = None
        self._last_cert: CertificateInfo | None = None
        self._task: BackgroundTask | None = None

    def start(self, account: Account, password: str | TokenSource | None) -> None:
        """Test ``account`` off the GUI thread, signing in with ``password`` if given."""
        self._account = account
        self.cert_button.setVisible(False)
        self.output.setPlainText(f"Connecting to {account.host}:{account.port}…")
        self.button.setEnabled(False)
        self._task = BackgroundTask(lambda: test_connection(account, password),
                                    on_error=self._failed, parent=self,
                                    name="test connection")
        self._task.done.connect(self._done)
        self._task.start()

    @Slot(object)
    def _done(self, result: TestResult) -> None:
        self.button.setEnabled(True)
        self.output.setPlainText(describe(result))

    def _failed(self, exc: BaseException) -> None:
        self.button.setEnabled(True)
        if isinstance(exc, CertificateError):
            self._last_cert = exc.info
            self.cert_button.setVisible(True)
            self.output.setPlainText(
                f"The server's certificate is not trusted: {sanitize(exc.info.error)}\n"
                f"SHA-256 {exc.info.sha256}\nReview it to decide whether to trust it."
            )
            return
        kind = "Failed" if isinstance(exc, PopError | OSError) else "Unexpected error"
        self.output.setPlainText(f"{kind}: {sanitize(str(exc))}")

    @Slot()
    def review_certificate(self) -> None:
        if self._last_cert is None or self._account is None:
            return
        dialog = CertificateDialog(self._last_cert, self._account.name or self._account.host,
                                   self)
        dialog.accepted.connect(self._trust_reviewed)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    @Slot()
    def _trust_reviewed(self) -> None:
        if self._last_cert is None:
            return
        self.cert_button.setVisible(False)
        self.output.appendPlainText("Certificate trusted for this account (pinned).")
        self.trusted.emit(self._last_cert.sha256)
