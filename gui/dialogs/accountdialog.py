"""Add or edit an account; "Test connection" runs in the background. Also the password prompt."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.accounts import AUTH_METHODS, Account, OAuthSettings, default_port
from core.auth.oauth import OAuthTokens
from core.auth.oauth_providers import PRESETS
from core.auth.sasl import BEARER_MECHANISMS, TokenSource
from core.errors import CertificateError, CertificateInfo, PopError
from core.net import Security
from core.text import sanitize
from gui import fmt
from gui.desktop.checksettings import CheckSettings
from gui.dialogs.certdialog import CertificateDialog
from gui.dialogs.deliverto import DeliverTo
from gui.keyring_access import NO_KEYCHAIN
from gui.oauth import PROVIDER_CHOICES, SignIn, button_text
from gui.tasks import BackgroundTask

SECURITY_CHOICES = (
    (Security.TLS, "SSL/TLS"),
    (Security.STARTTLS, "STARTTLS"),
    (Security.NONE, "None (not encrypted)"),
)

PLAINTEXT_WARNING = (
    "⚠ Without encryption your mail, and your password unless the server offers APOP or "
    "CRAM-MD5, can be read on the network. Use it only for a server on this computer or on "
    "a network you trust."
)


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


def fingerprint_text(sha256: str) -> str:
    """"AB:CD:…" in groups, as certificate viewers show it."""
    hexa = sha256.replace(":", "").upper()
    return ":".join(hexa[i : i + 2] for i in range(0, len(hexa), 2))


class AccountDialog(QDialog):
    """After ``exec()``/``accepted``: ``account``, ``password`` (None: unchanged),
    ``save_password``, and ``target_credentials``: (keychain key, password) of an IMAP
    target when one was typed (None: unchanged). With a provider chosen (Gmail, Outlook)
    the password row becomes a "Sign in with ..." button: the refresh token goes to the
    keychain, never here."""

    def __init__(
        self,
        account: Account | None = None,
        *,
        keychain_available: bool | None = None,
        keychain_problem: str = "",
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("accountDialog")
        self.setWindowTitle("Edit account" if account else "Add account")
        self.original = account
        self.account: Account | None = None
        self.password: str | None = None
        self.save_password = True
        self.target_credentials: tuple[str, str] | None = None
        self._pinned = account.pinned_sha256 if account else None
        self._cafile = account.cafile if account else None
        self._port_auto = account is None or account.port == default_port(account.security)
        self._maildir_auto = account is None
        self._last_cert: CertificateInfo | None = None
        self._test: BackgroundTask | None = None
        self._sign_in: SignIn | None = None
        # An account saved with OAuth settings was signed in when it was saved.
        # Where a refresh token is: the saved account's (it moves with a changed key), and
        # the key a sign-in in this dialog filed its token under.
        self._stored_key = account.key if account and account.oauth else None
        self._fresh_key: str | None = None

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.form = form
        layout.addLayout(form)

        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("providerCombo")
        for key, label in PROVIDER_CHOICES:
            self.provider_combo.addItem(label, key)
        self.provider_combo.setToolTip("Gmail and Outlook sign in through your browser (OAuth); "
                                       "server settings are filled in")
        form.addRow("Pro&vider:", self.provider_combo)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("optional, e.g. Work")
        self.name_edit.setToolTip("A name for the side list; the user@host when empty")
        form.addRow("&Name:", self.name_edit)

        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("pop.example.org")
        self.host_edit.setToolTip("The POP3 server's host name")
        form.addRow("&Server:", self.host_edit)

        row = QHBoxLayout()
        self.security_combo = QComboBox()
        for sec, label in SECURITY_CHOICES:
            self.security_combo.addItem(label, sec)
        self.security_combo.setToolTip(
            "SSL/TLS encrypts from the start (port 995); STARTTLS upgrades a plain "
            "connection (port 110); None sends everything in clear text"
        )
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setToolTip("Follows the security choice unless you change it")
        row.addWidget(self.security_combo, 1)
        port_label = QLabel("&Port:")
        port_label.setBuddy(self.port_spin)
        row.addWidget(port_label)
        row.addWidget(self.port_spin)
        security_label = QLabel("S&ecurity:")
        security_label.setBuddy(self.security_combo)
        form.addRow(security_label, row)

        self.warning = QLabel(PLAINTEXT_WARNING)
        self.warning.setObjectName("plaintextWarning")
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #a04000;")
        self.plaintext_check = QCheckBox("Allow sending the password without encryption")
        self.plaintext_check.setToolTip("Needed for user/password sign-in on an unencrypted link")
        form.addRow("", self.warning)
        form.addRow("", self.plaintext_check)

        self.user_edit = QLineEdit()
        self.user_edit.setToolTip("Your user name on the server, often your mail address")
        form.addRow("&User name:", self.user_edit)

        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setObjectName("passwordEdit")
        if account is not None:
            self.password_edit.setPlaceholderText("unchanged")
        self.password_edit.setToolTip("Stored in the system keychain, never in a file")
        form.addRow("&Password:", self.password_edit)
        self.keychain_check = QCheckBox("Save the password in the system keychain")
        self.keychain_check.setChecked(True)
        self.keychain_note = QLabel()
        self.keychain_note.setWordWrap(True)
        form.addRow("", self.keychain_check)
        form.addRow("", self.keychain_note)
        self.set_keychain_available(keychain_available, keychain_problem)

        self.sign_in_row = QWidget()
        srow = QHBoxLayout(self.sign_in_row)
        srow.setContentsMargins(0, 0, 0, 0)
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("signInButton")
        self.sign_in_button.setToolTip("Opens your browser at the provider's sign-in page; "
                                       "the password never reaches popfetch")
        self.sign_in_button.clicked.connect(self.start_sign_in)
        self.sign_in_status = QLabel()
        self.sign_in_status.setObjectName("signInStatus")
        self.sign_in_status.setWordWrap(True)
        srow.addWidget(self.sign_in_button)
        srow.addWidget(self.sign_in_status, 1)
        form.addRow("Sign-in:", self.sign_in_row)
        self.client_id_edit = QLineEdit()
        self.client_id_edit.setObjectName("clientIdEdit")
        self.client_id_edit.setPlaceholderText("from this installation's oauth.json")
        self.client_id_edit.setToolTip("The client ID of popfetch's app registration with the "
                                       "provider (see README); empty: the installation's")
        form.addRow("Client &ID:", self.client_id_edit)
        self.tenant_edit = QLineEdit()
        self.tenant_edit.setPlaceholderText("common")
        self.tenant_edit.setToolTip("Your organisation's tenant ID or domain; empty: common")
        form.addRow("&Tenant:", self.tenant_edit)

        maildir_row = QWidget()
        mrow = QHBoxLayout(maildir_row)
        mrow.setContentsMargins(0, 0, 0, 0)
        self.maildir_edit = QLineEdit()
        self.maildir_edit.setToolTip("Messages are stored here, one file each (Maildir format)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        mrow.addWidget(self.maildir_edit, 1)
        mrow.addWidget(browse)
        # The Maildir row is the first page of "Deliver to" (mbox, IMAP, MDA, LMTP).
        self.deliver_to = DeliverTo(maildir_row)
        deliver_label = QLabel("&Deliver to:")
        deliver_label.setBuddy(self.deliver_to.kind_combo)
        form.addRow(deliver_label, self.deliver_to)

        self.auth_combo = QComboBox()
        for method in AUTH_METHODS:
            self.auth_combo.addItem(method)
        self.auth_combo.setToolTip("auto: the safest method the server offers")
        form.addRow("Sign-in &method:", self.auth_combo)

        self.cert_row = QWidget()
        crow = QHBoxLayout(self.cert_row)
        crow.setContentsMargins(0, 0, 0, 0)
        self.cert_label = QLabel()
        self.cert_label.setObjectName("trustedCertificate")
        self.cert_label.setWordWrap(True)
        self.cert_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.forget_cert = QPushButton("Remove")
        self.forget_cert.setObjectName("forgetCertificate")
        self.forget_cert.setToolTip("Stop trusting this certificate: popfetch asks again "
                                    "the next time the server shows it")
        self.forget_cert.clicked.connect(self.remove_pin)
        crow.addWidget(self.cert_label, 1)
        crow.addWidget(self.forget_cert)
        form.addRow("Trusted certificate:", self.cert_row)
        self._show_pin()

        # Interval, auto-download, size limit, leave-on-server rule (gui/desktop).
        self.check_settings = CheckSettings()
        layout.addWidget(self.check_settings)

        trow = QHBoxLayout()
        self.test_button = QPushButton("&Test connection")
        self.test_button.setToolTip("Connect in the background and show what the server offers")
        self.test_button.clicked.connect(self.start_test)
        self.cert_button = QPushButton("Review certificate…")
        self.cert_button.setVisible(False)
        self.cert_button.clicked.connect(self.review_certificate)
        trow.addWidget(self.test_button)
        trow.addWidget(self.cert_button)
        trow.addStretch(1)
        layout.addLayout(trow)
        self.test_output = QPlainTextEdit()
        self.test_output.setObjectName("testOutput")
        self.test_output.setReadOnly(True)
        self.test_output.setMaximumHeight(150)
        self.test_output.setPlaceholderText("Test the connection to see what the server offers.")
        layout.addWidget(self.test_output)

        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #b00020;")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        if account is not None:
            self.name_edit.setText(account.name)
            self.host_edit.setText(account.host)
            self.security_combo.setCurrentIndex(
                [s for s, _ in SECURITY_CHOICES].index(account.security))
            self.port_spin.setValue(account.port)
            self.user_edit.setText(account.user)
            self.maildir_edit.setText(account.maildir)
            self.deliver_to.load(account)
            self.auth_combo.setCurrentText(account.auth)
            self.check_settings.load(account)
            self.plaintext_check.setChecked(account.allow_plaintext)
            if account.oauth is not None:
                self.provider_combo.setCurrentIndex(
                    max(self.provider_combo.findData(account.oauth.provider), 0))
                self.client_id_edit.setText(account.oauth.client_id)
                self.tenant_edit.setText(account.oauth.tenant)
        else:
            self.port_spin.setValue(default_port(Security.TLS))
        self._show_provider(fill=False)
        self.provider_combo.currentIndexChanged.connect(lambda: self._show_provider(fill=True))
        self.security_combo.currentIndexChanged.connect(self._security_changed)
        self.port_spin.valueChanged.connect(self._port_edited)
        self.host_edit.textEdited.connect(self._suggest_maildir)
        self.user_edit.textEdited.connect(self._suggest_maildir)
        self.maildir_edit.textEdited.connect(self._maildir_edited)
        self._update_warning()
        self.resize(520, self.sizeHint().height())

    # --- helpers ---------------------------------------------------------------------

    def set_keychain_available(self, available: bool | None, problem: str = "") -> None:
        if available is False:
            self.keychain_check.setChecked(False)
            self.keychain_check.setEnabled(False)
            self.keychain_note.setText(problem or NO_KEYCHAIN)
            self.keychain_note.setVisible(True)
        else:
            self.keychain_check.setEnabled(True)
            self.keychain_note.setVisible(False)

    def security(self) -> Security:
        sec = self.security_combo.currentData()
        assert isinstance(sec, Security)
        return sec

    @Slot()
    def _security_changed(self) -> None:
        if self._port_auto:
            self.port_spin.blockSignals(True)
            self.port_spin.setValue(default_port(self.security()))
            self.port_spin.blockSignals(False)
        self._update_warning()

    @Slot()
    def _port_edited(self) -> None:
        self._port_auto = self.port_spin.value() == default_port(self.security())

    def _update_warning(self) -> None:
        plain = self.security() is Security.NONE
        self.warning.setVisible(plain)
        self.plaintext_check.setVisible(plain)
        layout = self.layout()
        if layout is not None:
            layout.activate()
        self.resize(self.width(), self.sizeHint().height())

    @Slot()
    def _suggest_maildir(self) -> None:
        if not self._maildir_auto:
            return
        user = self.user_edit.text().strip() or "user"
        host = self.host_edit.text().strip().lower() or "server"
        name = user if "@" in user else f"{user}@{host}"  # a mail address says it all
        safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in name)
        self.maildir_edit.setText(str(Path.home() / "Mail" / safe))

    @Slot()
    def _maildir_edited(self) -> None:
        self._maildir_auto = False

    @Slot()
    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Maildir location", self.maildir_edit.text())
        if path:
            self.maildir_edit.setText(path)
            self._maildir_auto = False

    # --- OAuth providers ----------------------------------------------------------------

    def provider(self) -> str:
        """The chosen OAuth provider's key, or "" for a password account."""
        return str(self.provider_combo.currentData() or "")

    def _show_provider(self, *, fill: bool) -> None:
        """A provider turns the password into a sign-in button; ``fill`` takes its server."""
        provider = self.provider()
        oauth = bool(provider)
        preset = PRESETS.get(provider)
        if fill and preset is not None:
            self.host_edit.setText(preset.host)
            self.security_combo.setCurrentIndex(
                [s for s, _ in SECURITY_CHOICES].index(preset.security))
            self.port_spin.setValue(preset.port)
            self._suggest_maildir()
        bearer = self.auth_combo.currentText().upper() in BEARER_MECHANISMS
        if oauth and not bearer:
            self.auth_combo.setCurrentText("xoauth2")
        elif not oauth and bearer:
            self.auth_combo.setCurrentText("auto")  # a password account has no token to send
        if fill:  # another provider: no token of the old one counts
            self._stored_key = self._fresh_key = None
        for widget in (self.password_edit, self.keychain_check):
            self.form.setRowVisible(widget, not oauth)
        # set_keychain_available disables the box exactly when its note has something to say
        note = not oauth and not self.keychain_check.isEnabled()
        self.form.setRowVisible(self.keychain_note, note)
        self.form.setRowVisible(self.sign_in_row, oauth)
        self.form.setRowVisible(self.client_id_edit, oauth)
        self.form.setRowVisible(self.tenant_edit, provider == "microsoft")
        self.sign_in_button.setText(button_text(provider))
        self.sign_in_status.setText("Signed in" if self.signed_in else "Not signed in yet")

    def _oauth_settings(self) -> OAuthSettings | None:
        provider = self.provider()
        if not provider:
            return None
        return OAuthSettings(provider, client_id=self.client_id_edit.text().strip(),
                             tenant=self.tenant_edit.text().strip()
                             if provider == "microsoft" else "")

    @Slot()
    def start_sign_in(self) -> None:
        """Open the provider's page in the browser; core waits for the redirect off this
        thread, and the dialog stays usable meanwhile."""
        try:
            account = self.build_account()
        except ValueError as exc:
            self.error_label.setText(f"Please check the fields: {exc}")
            return
        self.error_label.clear()
        self.sign_in_button.setEnabled(False)
        self.sign_in_status.setText("Waiting for the browser…")
        self._sign_in = SignIn(account, self)
        self._sign_in.succeeded.connect(lambda key=account.key: self._signed_in(key))
        self._sign_in.failed.connect(self._sign_in_failed)
        self._sign_in.start()

    @property
    def signed_in(self) -> bool:
        return self._fresh_key is not None or self._stored_key is not None

    @property
    def signed_in_now(self) -> bool:
        """A sign-in in this dialog stored a new refresh token (under the account's key)."""
        return self._fresh_key is not None

    def _signed_in_for(self, account: Account) -> bool:
        """A refresh token will be found under ``account.key``: signed in here as exactly
        this account, or (no sign-in here) the saved account's token, moved with its key."""
        if self._fresh_key is not None:
            return self._fresh_key == account.key
        return self._stored_key is not None

    def _signed_in(self, key: str) -> None:
        self._fresh_key = key
        self.sign_in_button.setEnabled(True)
        self.sign_in_status.setText(f"Signed in as {self.user_edit.text().strip()}")

    @Slot(str)
    def _sign_in_failed(self, reason: str) -> None:
        self.sign_in_button.setEnabled(True)
        self.sign_in_status.setText(f"Not signed in: {reason}")

    def done(self, result: int) -> None:
        if self._sign_in is not None:
            self._sign_in.cancel()  # the listener stops waiting for a browser
        super().done(result)

    def build_account(self) -> Account:
        """The account as the fields describe it; ValueError with a readable message."""
        return self.check_settings.apply(Account(
            host=self.host_edit.text().strip(),
            port=self.port_spin.value(),
            security=self.security(),
            user=self.user_edit.text().strip(),
            maildir=self.maildir_edit.text().strip(),
            name=self.name_edit.text().strip(),
            cafile=self._cafile,
            pinned_sha256=self._pinned,
            allow_plaintext=self.security() is Security.NONE and self.plaintext_check.isChecked(),
            auth=self.auth_combo.currentText(),
            oauth=self._oauth_settings(),
            password_command=self.original.password_command if self.original else None,
            deliver=self.deliver_to.url(),
        ))

    # --- test connection -------------------------------------------------------------

    @Slot()
    def start_test(self) -> None:
        try:
            account = self.build_account()
        except ValueError as exc:
            self.error_label.setText(str(exc))
            return
        self.error_label.clear()
        self.cert_button.setVisible(False)
        password: str | TokenSource | None = self.password_edit.text() or None
        if account.oauth is not None:
            password = OAuthTokens.for_account(account) if self._signed_in_for(account) else None
        self.test_output.setPlainText(f"Connecting to {account.host}:{account.port}…")
        self.test_button.setEnabled(False)
        self._test = BackgroundTask(lambda: test_connection(account, password),
                                    on_error=self._test_failed, parent=self,
                                    name="test connection")
        self._test.done.connect(self._test_done)
        self._test.start()

    @Slot(object)
    def _test_done(self, result: TestResult) -> None:
        self.test_button.setEnabled(True)
        self.test_output.setPlainText(describe(result))

    def _test_failed(self, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        if isinstance(exc, CertificateError):
            self._last_cert = exc.info
            self.cert_button.setVisible(True)
            self.test_output.setPlainText(
                f"The server's certificate is not trusted: {sanitize(exc.info.error)}\n"
                f"SHA-256 {exc.info.sha256}\nReview it to decide whether to trust it."
            )
            return
        kind = "Failed" if isinstance(exc, PopError | OSError) else "Unexpected error"
        self.test_output.setPlainText(f"{kind}: {sanitize(str(exc))}")

    @Slot()
    def review_certificate(self) -> None:
        if self._last_cert is None:
            return
        name = self.name_edit.text().strip() or self.host_edit.text().strip()
        dialog = CertificateDialog(self._last_cert, name, self)
        dialog.accepted.connect(self._trust_reviewed)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    @Slot()
    def _trust_reviewed(self) -> None:
        if self._last_cert is None:
            return
        self._pinned = self._last_cert.sha256
        self._show_pin()
        self.cert_button.setVisible(False)
        self.test_output.appendPlainText("Certificate trusted for this account (pinned).")
        self.start_test()

    def _show_pin(self) -> None:
        if self._pinned:
            self.cert_label.setText(f"SHA-256 {fingerprint_text(self._pinned)}")
            self.cert_label.setToolTip("A certificate you chose to trust for this account, "
                                       "although it could not be verified")
        else:
            self.cert_label.setText("none: only certificates the system trusts")
            self.cert_label.setToolTip("")
        self.forget_cert.setVisible(bool(self._pinned))

    @Slot()
    def remove_pin(self) -> None:
        """Forget the pinned certificate (saved with the account)."""
        self._pinned = None
        self._show_pin()

    # --- accept ----------------------------------------------------------------------

    def accept(self) -> None:
        try:
            account = self.build_account()
        except ValueError as exc:
            self.error_label.setText(f"Please check the fields: {exc}")
            return
        if account.oauth is not None and not self._signed_in_for(account):
            self.error_label.setText(f"Sign in first ({self.sign_in_button.text()}).")
            return
        self.account = account
        self.password = None if account.oauth else self.password_edit.text() or None
        self.save_password = self.keychain_check.isEnabled() and self.keychain_check.isChecked()
        self.target_credentials = self.deliver_to.imap_credentials()
        super().accept()


class PasswordDialog(QDialog):
    """Asks for an account's password (no keychain, nothing stored, or refused)."""

    def __init__(
        self, account: Account, reason: str, keychain_available: bool, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setObjectName("passwordDialog")
        self.setWindowTitle("Password")
        layout = QVBoxLayout(self)
        text = QLabel(f"Password for <b>{account.user}</b> on <b>{account.host}</b>")
        layout.addWidget(text)
        if reason:
            why = QLabel(reason)
            why.setWordWrap(True)
            layout.addWidget(why)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        layout.addWidget(self.edit)
        self.remember = QCheckBox("Save the password in the system keychain")
        self.remember.setChecked(keychain_available)
        self.remember.setEnabled(keychain_available)
        self.remember.setVisible(keychain_available)
        layout.addWidget(self.remember)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(380)
        self.setWindowModality(Qt.WindowModality.WindowModal)


def with_pin(account: Account, sha256: str) -> Account:
    return replace(account, pinned_sha256=sha256)
