"""Add or edit an account; "Test connection" runs in the background."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
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
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.accounts import AUTH_METHODS, Account, default_port
from core.auth.oauth import OAuthTokens
from core.auth.oauth_providers import PRESETS
from core.auth.sasl import BEARER_MECHANISMS, TokenSource
from core.net import Security
from gui.desktop.checksettings import CheckSettings
from gui.dialogs.connectiontest import ConnectionTest
from gui.dialogs.deliverto import DeliverTo
from gui.dialogs.providersignin import ProviderSignIn
from gui.dialogs.trustedcert import TrustedCertificate
from gui.keyring_access import NO_KEYCHAIN

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
        self._cafile = account.cafile if account else None
        self._port_auto = account is None or account.port == default_port(account.security)
        self._maildir_auto = account is None

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.form = form
        layout.addLayout(form)

        # The provider choice, and the sign-in rows that stand in for the password.
        self.oauth = ProviderSignIn(account, self)
        self.oauth.requested.connect(self.start_sign_in)
        form.addRow("Pro&vider:", self.oauth.provider_combo)

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

        self.oauth.add_rows(form)

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

        self.trusted_cert = TrustedCertificate(account.pinned_sha256 if account else None)
        form.addRow("Trusted certificate:", self.trusted_cert)

        # Interval, auto-download, size limit, leave-on-server rule (gui/desktop).
        self.check_settings = CheckSettings()
        layout.addWidget(self.check_settings)

        self.connection_test = ConnectionTest()
        self.connection_test.requested.connect(self.start_test)
        self.connection_test.trusted.connect(self._trust)
        layout.addWidget(self.connection_test)

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
        else:
            self.port_spin.setValue(default_port(Security.TLS))
        self._show_provider(fill=False)
        self.oauth.chosen.connect(lambda: self._show_provider(fill=True))
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

    def _show_provider(self, *, fill: bool) -> None:
        """A provider turns the password into a sign-in button; ``fill`` takes its server."""
        provider = self.oauth.provider()
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
        for widget in (self.password_edit, self.keychain_check):
            self.form.setRowVisible(widget, not oauth)
        # set_keychain_available disables the box exactly when its note has something to say
        note = not oauth and not self.keychain_check.isEnabled()
        self.form.setRowVisible(self.keychain_note, note)

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
        self.oauth.start(account)

    def done(self, result: int) -> None:
        self.oauth.cancel()
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
            pinned_sha256=self.trusted_cert.pinned,
            allow_plaintext=self.security() is Security.NONE and self.plaintext_check.isChecked(),
            auth=self.auth_combo.currentText(),
            oauth=self.oauth.settings(),
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
        password: str | TokenSource | None = self.password_edit.text() or None
        if account.oauth is not None:
            signed_in = self.oauth.signed_in_for(account)
            password = OAuthTokens.for_account(account) if signed_in else None
        self.connection_test.start(account, password)

    @Slot(str)
    def _trust(self, sha256: str) -> None:
        """The user trusted the certificate the test met: pin it and test again."""
        self.trusted_cert.set_pinned(sha256)
        self.start_test()

    # --- accept ----------------------------------------------------------------------

    def accept(self) -> None:
        try:
            account = self.build_account()
        except ValueError as exc:
            self.error_label.setText(f"Please check the fields: {exc}")
            return
        if account.oauth is not None and not self.oauth.signed_in_for(account):
            self.error_label.setText(f"Sign in first ({self.oauth.sign_in_button.text()}).")
            return
        self.account = account
        self.password = None if account.oauth else self.password_edit.text() or None
        self.save_password = self.keychain_check.isEnabled() and self.keychain_check.isChecked()
        self.target_credentials = self.deliver_to.imap_credentials()
        super().accept()
