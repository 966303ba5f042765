"""The account dialog's OAuth part: the provider choice (Gmail, Outlook, or a password
account) and, with a provider, the sign-in rows that stand in for the password."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from core.accounts import Account, OAuthSettings
from gui.oauth import PROVIDER_CHOICES, SignIn, button_text


class ProviderSignIn(QObject):
    """Owns the provider combo (placed by the dialog) and the sign-in, client ID and tenant
    rows (:meth:`add_rows`), and knows where a refresh token is: the saved account's (it
    moves with a changed key) or the key a sign-in here filed it under. The dialog hands it
    the account to sign in as (:meth:`start`) and asks :meth:`signed_in_for` on saving."""

    chosen = Signal()  # the user picked another provider: the dialog fills in its server
    requested = Signal()  # the sign-in button: the dialog builds the account and calls start

    def __init__(self, account: Account | None, parent: QWidget | None = None):
        super().__init__(parent)
        self._form: QFormLayout | None = None
        self._sign_in: SignIn | None = None
        # An account saved with OAuth settings was signed in when it was saved.
        self._stored_key = account.key if account and account.oauth else None
        self._fresh_key: str | None = None

        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("providerCombo")
        for key, label in PROVIDER_CHOICES:
            self.provider_combo.addItem(label, key)
        self.provider_combo.setToolTip("Gmail and Outlook sign in through your browser (OAuth); "
                                       "server settings are filled in")
        self.sign_in_row = QWidget()
        srow = QHBoxLayout(self.sign_in_row)
        srow.setContentsMargins(0, 0, 0, 0)
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("signInButton")
        self.sign_in_button.setToolTip("Opens your browser at the provider's sign-in page; "
                                       "the password never reaches popfetch")
        self.sign_in_button.clicked.connect(self.requested)
        self.sign_in_status = QLabel()
        self.sign_in_status.setObjectName("signInStatus")
        self.sign_in_status.setWordWrap(True)
        srow.addWidget(self.sign_in_button)
        srow.addWidget(self.sign_in_status, 1)
        self.client_id_edit = QLineEdit()
        self.client_id_edit.setObjectName("clientIdEdit")
        self.client_id_edit.setPlaceholderText("from this installation's oauth.json")
        self.client_id_edit.setToolTip("The client ID of popfetch's app registration with the "
                                       "provider (see README); empty: the installation's")
        self.tenant_edit = QLineEdit()
        self.tenant_edit.setPlaceholderText("common")
        self.tenant_edit.setToolTip("Your organisation's tenant ID or domain; empty: common")
        if account is not None and account.oauth is not None:
            self.provider_combo.setCurrentIndex(
                max(self.provider_combo.findData(account.oauth.provider), 0))
            self.client_id_edit.setText(account.oauth.client_id)
            self.tenant_edit.setText(account.oauth.tenant)
        self.provider_combo.currentIndexChanged.connect(self._chosen)

    def add_rows(self, form: QFormLayout) -> None:
        """The sign-in, client ID and tenant rows, shown only with a provider."""
        self._form = form
        form.addRow("Sign-in:", self.sign_in_row)
        form.addRow("Client &ID:", self.client_id_edit)
        form.addRow("&Tenant:", self.tenant_edit)
        self.show_rows()

    def provider(self) -> str:
        """The chosen OAuth provider's key, or "" for a password account."""
        return str(self.provider_combo.currentData() or "")

    def settings(self) -> OAuthSettings | None:
        provider = self.provider()
        if not provider:
            return None
        return OAuthSettings(provider, client_id=self.client_id_edit.text().strip(),
                             tenant=self.tenant_edit.text().strip()
                             if provider == "microsoft" else "")

    @Slot()
    def _chosen(self) -> None:
        self._stored_key = self._fresh_key = None  # no token of the old provider counts
        self.show_rows()
        self.chosen.emit()

    def show_rows(self) -> None:
        provider = self.provider()
        if self._form is not None:
            self._form.setRowVisible(self.sign_in_row, bool(provider))
            self._form.setRowVisible(self.client_id_edit, bool(provider))
            self._form.setRowVisible(self.tenant_edit, provider == "microsoft")
        self.sign_in_button.setText(button_text(provider))
        self.sign_in_status.setText("Signed in" if self.signed_in else "Not signed in yet")

    def start(self, account: Account) -> None:
        """Open the provider's page in the browser for ``account``; core waits for the
        redirect off the GUI thread, and the dialog stays usable meanwhile."""
        self.sign_in_button.setEnabled(False)
        self.sign_in_status.setText("Waiting for the browser…")
        self._sign_in = SignIn(account, self)
        self._sign_in.succeeded.connect(lambda: self._signed_in(account))
        self._sign_in.failed.connect(self._failed)
        self._sign_in.start()

    def cancel(self) -> None:
        """The dialog closes: the listener stops waiting for a browser."""
        if self._sign_in is not None:
            self._sign_in.cancel()

    @property
    def signed_in(self) -> bool:
        return self._fresh_key is not None or self._stored_key is not None

    @property
    def signed_in_now(self) -> bool:
        """A sign-in in this dialog stored a new refresh token (under the account's key)."""
        return self._fresh_key is not None

    def signed_in_for(self, account: Account) -> bool:
        """A refresh token will be found under ``account.key``: signed in here as exactly
        this account, or (no sign-in here) the saved account's token, moved with its key."""
        if self._fresh_key is not None:
            return self._fresh_key == account.key
        return self._stored_key is not None

    def _signed_in(self, account: Account) -> None:
        self._fresh_key = account.key
        self.sign_in_button.setEnabled(True)
        self.sign_in_status.setText(f"Signed in as {account.user}")

    @Slot(str)
    def _failed(self, reason: str) -> None:
        self.sign_in_button.setEnabled(True)
        self.sign_in_status.setText(f"Not signed in: {reason}")
