"""A certificate the user chose to trust for an account (pinned), as the dialog shows it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget


def fingerprint_text(sha256: str) -> str:
    """"AB:CD:…" in groups, as certificate viewers show it."""
    hexa = sha256.replace(":", "").upper()
    return ":".join(hexa[i : i + 2] for i in range(0, len(hexa), 2))


class TrustedCertificate(QWidget):
    """The certificate pinned for an account, with "Remove" to stop trusting it.
    ``pinned`` is what the account is saved with."""

    def __init__(self, pinned: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setObjectName("trustedCertificate")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.remove = QPushButton("Remove")
        self.remove.setObjectName("forgetCertificate")
        self.remove.setToolTip("Stop trusting this certificate: popfetch asks again "
                               "the next time the server shows it")
        self.remove.clicked.connect(lambda: self.set_pinned(None))
        row.addWidget(self.label, 1)
        row.addWidget(self.remove)
        self.pinned: str | None = None
        self.set_pinned(pinned)

    def set_pinned(self, sha256: str | None) -> None:
        self.pinned = sha256
        if sha256:
            self.label.setText(f"SHA-256 {fingerprint_text(sha256)}")
            self.label.setToolTip("A certificate you chose to trust for this account, "
                                  "although it could not be verified")
        else:
            self.label.setText("none: only certificates the system trusts")
            self.label.setToolTip("")
        self.remove.setVisible(bool(sha256))
