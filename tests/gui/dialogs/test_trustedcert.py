"""gui.dialogs.trustedcert: the pinned certificate in groups, and Remove forgets it."""

from __future__ import annotations

from typing import Any

from gui.dialogs.trustedcert import TrustedCertificate, fingerprint_text


def test_the_fingerprint_is_shown_in_pairs_whatever_its_spelling() -> None:
    assert fingerprint_text("abcd12") == "AB:CD:12"
    assert fingerprint_text("AB:CD:12") == "AB:CD:12"


def test_remove_forgets_the_pin(qtbot: Any) -> None:
    row = TrustedCertificate("0f" * 32)
    qtbot.addWidget(row)
    assert row.pinned == "0f" * 32
    assert row.label.text() == "SHA-256 " + ":".join(["0F"] * 32)
    assert row.remove.isVisibleTo(row)
    row.remove.click()
    assert row.pinned is None
    assert row.label.text() == "none: only certificates the system trusts"
    assert not row.remove.isVisibleTo(row)
    row.set_pinned("aa" * 32)
    assert row.remove.isVisibleTo(row) and row.pinned == "aa" * 32
