"""The loopback redirect listener (RFC 8252 7.3): one redirect, state checked, a clear timeout."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from core.auth.oauth import SIGNED_IN_PAGE, LoopbackListener, sign_in_with_browser
from core.auth.oauth_providers import Endpoints
from core.errors import OAuthError


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _in_thread(url: str, out: list[tuple[int, str]]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.append(_get(url)))
    thread.start()
    return thread


def test_it_binds_loopback_on_a_free_port_and_takes_exactly_one_redirect():
    listener = LoopbackListener()
    listener.state = "s1"
    uri = listener.redirect_uri
    assert uri.startswith("http://127.0.0.1:") and uri.endswith("/")
    assert not uri.endswith(":0/")
    pages: list[tuple[int, str]] = []
    favicon = _in_thread(uri + "favicon.ico", pages)  # a browser's side request: not counted
    listener._server.handle_request()
    favicon.join()
    redirect = _in_thread(uri + "?code=abc&state=s1", pages)
    assert listener.wait(10) == {"code": "abc", "state": "s1"}
    redirect.join()
    assert pages[0][0] == 404
    assert pages[1][0] == 200 and SIGNED_IN_PAGE in pages[1][1]
    with pytest.raises(urllib.error.URLError):  # the listener stopped after that one
        urllib.request.urlopen(uri + "?code=again&state=s1", timeout=5)


def test_a_wrong_state_ends_the_sign_in_without_a_token_request():
    endpoints = Endpoints(authorization="http://127.0.0.1:9/auth", token="http://127.0.0.1:9/t",
                          device="", revocation="", scopes=("pop",), client_id="c")
    pages: list[tuple[int, str]] = []
    threads: list[threading.Thread] = []

    def browser(url: str) -> None:  # an attacker's redirect: someone else's state
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        threads.append(_in_thread(redirect + "?code=evil&state=forged", pages))

    with pytest.raises(OAuthError, match="state does not match"):
        sign_in_with_browser(endpoints, browser, timeout=10)
    threads[0].join()
    assert "not signed in: the redirect&#x27;s state does not match" in pages[0][1]


def test_the_provider_s_error_is_reported_and_shown():
    listener = LoopbackListener()
    listener.state = "s"
    pages: list[tuple[int, str]] = []
    thread = _in_thread(listener.redirect_uri + "?error=access_denied&state=s", pages)
    query = listener.wait(10)
    thread.join()
    assert query["error"] == "access_denied"
    assert "the provider did not sign you in: access_denied" in pages[0][1]


def test_waiting_ends_with_a_clear_message():
    listener = LoopbackListener()
    with pytest.raises(OAuthError, match="no sign-in came back from the browser within 1 s"):
        listener.wait(1)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(OAuthError, match="cancelled"):
        LoopbackListener().wait(60, cancel)
