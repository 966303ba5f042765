"""gui.oauth: the sign-in runs off the GUI thread and hands only the URL to the browser.

The whole flow against a real provider and Dovecot is in tests/oauth/test_gui.py.
"""

from __future__ import annotations

from typing import Any

import pytest

import gui.oauth
from core.accounts import Account, OAuthSettings
from core.net import Security
from gui.oauth import PROVIDER_CHOICES, SignIn, button_text


def test_the_button_names_the_provider():
    assert [key for key, _ in PROVIDER_CHOICES] == ["", "google", "microsoft"]
    assert button_text("google") == "Sign in with Google"
    assert button_text("microsoft") == "Sign in with Microsoft"
    assert button_text("generic") == "Sign in"


def _account(**oauth: str) -> Account:
    return Account(host="127.0.0.1", port=995, security=Security.TLS, user="me@example.test",
                   maildir="/tmp/unused", auth="xoauth2",
                   oauth=OAuthSettings("generic", **oauth) if oauth else None)


def test_the_browser_gets_the_url_on_the_gui_thread_and_cancel_ends_the_wait(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
):
    import threading

    opened: list[tuple[str, bool]] = []
    monkeypatch.setattr(gui.oauth, "open_in_browser", lambda url: opened.append(
        (url, threading.current_thread() is threading.main_thread())))
    account = _account(client_id="c", scopes="pop",
                       authorization_endpoint="http://127.0.0.1:9/authorize",
                       token_endpoint="http://127.0.0.1:9/token")
    sign_in = SignIn(account)
    with qtbot.waitSignal(sign_in.failed, timeout=10_000) as failed:
        sign_in.start()
        qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
        sign_in.cancel()
    ((url, on_gui_thread),) = opened
    assert url.startswith("http://127.0.0.1:9/authorize?") and "code_challenge=" in url
    assert on_gui_thread
    assert failed.args == ["the sign-in was cancelled"]


def test_an_account_without_a_provider_fails_with_a_reason(qtbot: Any):
    sign_in = SignIn(_account())
    with qtbot.waitSignal(sign_in.failed, timeout=10_000) as failed:
        sign_in.start()
    assert failed.args == ["me@example.test@127.0.0.1:995 has no OAuth provider set"]
