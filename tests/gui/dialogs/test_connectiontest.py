"""gui.dialogs.connectiontest against the demo server: what it offers, a wrong password, and
an untrusted certificate that comes back as ``trusted`` once reviewed."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from core.net import Security
from gui.dialogs.certdialog import CertificateDialog
from gui.dialogs.connectiontest import ConnectionTest, describe
from gui.dialogs.connectiontest import TestResult as Result  # not a test class
from tests.gui.helpers import TIMEOUT, Server, demo_account
from tests.support.certs import make_ca_and_server_cert


def test_describe_says_what_the_server_offers_and_escapes_its_text() -> None:
    result = Result(True, {"EXT-RETR": (), "IMPLEMENTATION": ("evil\x1b[31m",)}, True,
                        3, 2048, "PLAIN")
    text = describe(result)
    assert "Connection: encrypted (TLS)" in text
    assert "Resume mid-message (EXT-RETR): yes" in text
    assert "Signed in (PLAIN): 3 messages" in text
    assert "\x1b" not in text


def test_a_click_asks_the_owner_and_the_result_is_shown(
        qtbot: Any, server: Server, tmp_path: Path) -> None:
    srv = server.start()
    test = ConnectionTest()
    qtbot.addWidget(test)
    with qtbot.waitSignal(test.requested, timeout=TIMEOUT):
        test.button.click()
    test.start(demo_account(srv, tmp_path), "demo")
    assert not test.button.isEnabled()
    qtbot.waitUntil(lambda: "Signed in" in test.output.toPlainText(), timeout=TIMEOUT)
    assert "EXT-RETR" in test.output.toPlainText() and test.button.isEnabled()
    test.start(demo_account(srv, tmp_path), "wrong")
    qtbot.waitUntil(lambda: test.output.toPlainText().startswith("Failed:"), timeout=TIMEOUT)
    assert not test.cert_button.isVisibleTo(test)


def test_an_untrusted_certificate_is_reviewed_and_comes_back_as_trusted(
        qtbot: Any, server: Server, tmp_path: Path) -> None:
    certs = make_ca_and_server_cert(tmp_path / "certs")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert_pem, certs.key_pem)
    srv = server.start(tls=ctx, implicit_tls=True)
    test = ConnectionTest()
    qtbot.addWidget(test)
    test.start(demo_account(srv, tmp_path, security=Security.TLS, allow_plaintext=False), "demo")
    qtbot.waitUntil(lambda: test.cert_button.isVisibleTo(test), timeout=TIMEOUT)
    assert "certificate is not trusted" in test.output.toPlainText()
    test.cert_button.click()
    dialog = test.findChild(CertificateDialog)
    assert dialog is not None and dialog.info.sha256 == certs.sha256
    with qtbot.waitSignal(test.trusted, timeout=TIMEOUT) as trusted:
        dialog.trust_button.click()
    assert trusted.args == [certs.sha256]
    assert not test.cert_button.isVisibleTo(test)
    assert test.output.toPlainText().endswith("Certificate trusted for this account (pinned).")
