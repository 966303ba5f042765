"""Shown when a server's certificate fails verification: trust it (pin) or cancel."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from core.errors import CertificateInfo
from core.text import sanitize


class CertificateDialog(QDialog):
    """Accepted means: pin ``info.sha256`` for this account."""

    def __init__(self, info: CertificateInfo, account_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.info = info
        self.setWindowTitle("Certificate not trusted")
        self.setObjectName("certificateDialog")
        layout = QVBoxLayout(self)

        head = QLabel(
            f"<b>The certificate of the server for “{account_name}” could not be verified.</b>"
            f"<br>{_escape(info.error)}"
        )
        head.setWordWrap(True)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
                       .pixmap(40, 40))
        layout.addWidget(icon)
        layout.addWidget(head)

        form = QFormLayout()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for label, value in (
            ("Subject", info.subject),
            ("Issuer", info.issuer),
            ("Valid from", info.not_before),
            ("Valid until", info.not_after),
        ):
            field = QLabel(sanitize(value))
            field.setTextFormat(Qt.TextFormat.PlainText)  # names come from the server
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(f"{label}:", field)
        parts = info.sha256.split(":")
        half = (len(parts) + 1) // 2
        fp = QLabel(":".join(parts[:half]) + "\n" + ":".join(parts[half:]))
        fp.setObjectName("fingerprint")
        fp.setFont(QFont(mono))
        fp.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("SHA-256:", fp)
        layout.addLayout(form)

        advice = QLabel(
            "Someone may be intercepting the connection, or the server uses a certificate "
            "that is self-signed or signed by an authority this computer does not know. "
            "Trust it only if the fingerprint above is the one your mail provider or "
            "administrator gives you. popfetch will then accept this certificate, and only "
            "this one, for this account."
        )
        advice.setWordWrap(True)
        layout.addWidget(advice)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.trust_button = QPushButton("Trust this certificate for this account")
        self.trust_button.setObjectName("trustButton")
        self.buttons.addButton(self.trust_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        layout.addWidget(self.buttons)
        self.resize(560, self.sizeHint().height())


def _escape(text: str) -> str:
    return html.escape(sanitize(text), quote=False)
