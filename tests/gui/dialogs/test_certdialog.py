"""gui.dialogs.certdialog: what the user sees before trusting a certificate."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from core.errors import CertificateInfo
from gui.dialogs.certdialog import CertificateDialog


def test_the_dialog_shows_the_fingerprint_and_escapes_the_subject(qtbot: Any) -> None:
    info = CertificateInfo(subject="CN=<b>evil</b>", issuer="CN=me", not_before="2026-01-01",
                           not_after="2027-01-01", sha256="ab" * 32,
                           error="self-signed certificate")
    dialog = CertificateDialog(info, "Work")
    qtbot.addWidget(dialog)
    labels = dialog.findChildren(QLabel)
    text = " ".join(w.text() for w in labels)
    assert "self-signed certificate" in text and "Work" in text
    subject = next(w for w in labels if "evil" in w.text())
    assert subject.textFormat() is Qt.TextFormat.PlainText  # shown as text, not as markup
