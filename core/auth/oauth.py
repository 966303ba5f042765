"""OAuth 2.0 sign-in and tokens: the browser flow with PKCE on a loopback redirect, the
device flow, and the refreshing token source a bearer login uses. Plain Python, no Qt.

* Authorization code + PKCE S256 (RFC 7636) with the redirect ``http://127.0.0.1:PORT/``
  on a free port (RFC 8252 section 7.3). The listener accepts exactly one redirect, checks
  ``state``, and gives up after a timeout with a sentence saying so.
* Device authorization grant (RFC 8628) for machines without a browser.
* The refresh token lives in the keychain (service "popfetch", key
  ``oauth-refresh-token:USER@HOST:PORT``); the access token only in memory, refreshed shortly
  before it expires and after the server refused it (:class:`OAuthTokens`).

HTTP is urllib with the system's certificate store; every request has a timeout. No token
appears in a log line, an exception text or a URL (they travel in POST bodies).
"""

from __future__ import annotations

import base64
import hashlib
import html
import http.server
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from core.accounts import Account
from core.auth.keychain import Keychain
from core.auth.oauth_args import DEFAULT_TIMEOUT
from core.auth.oauth_providers import Endpoints, resolve
from core.errors import ConnectionLost, OAuthError, SignInRequired
from core.text import sanitize

__all__ = [
    "DEFAULT_TIMEOUT",
    "SIGNED_IN_PAGE",
    "DeviceCode",
    "LoopbackListener",
    "OAuthTokens",
    "TokenResponse",
    "get_json",
    "refresh_token_key",
    "sign_in",
    "sign_in_with_browser",
    "sign_in_with_device",
    "sign_out",
    "store_sign_in",
]

HTTP_TIMEOUT = 30.0
SIGNED_IN_PAGE = "popfetch is signed in; you can close this tab"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def refresh_token_key(account_key: str) -> str:
    """The keychain user name of an account's refresh token (its password uses the bare key)."""
    return f"oauth-refresh-token:{account_key}"


# -- HTTP ----------------------------------------------------------------------------------------


def _request(request: urllib.request.Request) -> tuple[int, Mapping[str, Any]]:
    """(status, JSON object); an error status with a JSON body is returned, not raised,
    since OAuth errors come that way (RFC 6749 section 5.2)."""
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            status, body = response.status, response.read(1 << 20)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(1 << 20)
    except (urllib.error.URLError, OSError) as exc:
        where = urlsplit(request.full_url).netloc
        raise ConnectionLost(f"cannot reach {where}: {getattr(exc, 'reason', exc)}") from None
    try:
        doc = json.loads(body) if body.strip() else {}  # RFC 7009: revocation says nothing
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise OAuthError(
            f"{urlsplit(request.full_url).netloc} answered HTTP {status} without a JSON object"
        )
    return status, doc


def get_json(url: str) -> Mapping[str, Any]:
    """GET a JSON document (OpenID discovery)."""
    status, doc = _request(urllib.request.Request(url, headers={"Accept": "application/json"}))
    if status != 200:
        raise OAuthError(f"{url} answered HTTP {status}")
    return doc


def _post(url: str, form: Mapping[str, str]) -> tuple[int, Mapping[str, Any]]:
    data = urlencode(form).encode("ascii")
    request = urllib.request.Request(
        url, data=data, method="POST",
        headers={"Accept": "application/json",
                 "Content-Type": "application/x-www-form-urlencoded"},
    )
    return _request(request)


def _client_form(endpoints: Endpoints) -> dict[str, str]:
    form = {"client_id": endpoints.client_id}
    if endpoints.client_secret:
        form["client_secret"] = endpoints.client_secret
    return form


@dataclass(frozen=True, slots=True, repr=False)
class TokenResponse:
    """A token endpoint's answer; repr hides the tokens (events and tracebacks show reprs)."""

    access_token: str
    expires_in: float
    refresh_token: str

    def __repr__(self) -> str:
        return f"TokenResponse(expires_in={self.expires_in})"


def _oauth_error(doc: Mapping[str, Any]) -> str:
    return sanitize(str(doc.get("error", "")), 60) or "an unexplained error"


def _token_request(endpoints: Endpoints, form: Mapping[str, str]) -> TokenResponse:
    return _parse_tokens(*_post(endpoints.token, {**form, **_client_form(endpoints)}))


def _parse_tokens(status: int, doc: Mapping[str, Any]) -> TokenResponse:
    if status != 200 or "access_token" not in doc:
        if doc.get("error") == "invalid_grant":
            raise SignInRequired("the sign-in has expired or was revoked")
        raise OAuthError(f"the token endpoint refused: {_oauth_error(doc)} (HTTP {status})")
    if str(doc.get("token_type", "bearer")).lower() != "bearer":
        raise OAuthError("the provider issued a token that is not a bearer token")
    try:
        expires_in = float(doc.get("expires_in", 3600))
    except (TypeError, ValueError):
        expires_in = 3600.0
    return TokenResponse(str(doc["access_token"]), expires_in, str(doc.get("refresh_token", "")))


# -- the browser flow: authorization code + PKCE on a loopback redirect ------------------------


def _pkce() -> tuple[str, str]:
    """(verifier, S256 challenge), RFC 7636 section 4: 43-128 unreserved characters."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>popfetch</title></head>
<body style="font-family: sans-serif; margin: 3em"><p>{}</p></body></html>"""


class LoopbackListener:
    """One HTTP listener on 127.0.0.1 and a free port that takes exactly one redirect.

    The first request to ``/`` carrying ``state``, ``code`` or ``error`` ends it, whatever
    it says; anything else (a favicon) gets 404 and is not counted. Plain ``http.server``,
    polled in short steps so that ``cancel`` and the timeout take effect within a second.
    """

    def __init__(self) -> None:
        self._result: dict[str, str] | None = None
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path != "/" or not ({"state", "code", "error"} & query.keys()):
                    self.send_error(404)
                    return
                if listener._result is not None:
                    self.send_error(410, "this sign-in is over")
                    return
                listener._result = query
                self._page(listener.page(query))

            def _page(self, text: str) -> None:
                body = _PAGE.format(html.escape(text)).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line holds the authorization code: never log it

        self._server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self._server.timeout = 0.25
        self.state = ""

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def verdict(self, query: Mapping[str, str]) -> str | None:
        """Why this redirect signs nobody in, or None when it carries a code for us."""
        if not secrets.compare_digest(query.get("state", ""), self.state):
            return "the redirect's state does not match this sign-in; nothing was done"
        if "error" in query:
            return f"the provider did not sign you in: {_oauth_error(query)}"
        if not query.get("code"):
            return "the redirect carried no authorization code"
        return None

    def page(self, query: Mapping[str, str]) -> str:
        """What the browser tab says after the redirect."""
        problem = self.verdict(query)
        return SIGNED_IN_PAGE if problem is None else f"popfetch is not signed in: {problem}"

    def wait(self, timeout: float, cancel: threading.Event | None = None) -> dict[str, str]:
        """The redirect's query parameters; OAuthError on timeout or cancel. Closes itself."""
        deadline = time.monotonic() + timeout
        try:
            while self._result is None:
                if cancel is not None and cancel.is_set():
                    raise OAuthError("the sign-in was cancelled")
                if time.monotonic() > deadline:
                    minutes = f"{timeout / 60:.0f} minutes" if timeout >= 60 else f"{timeout:.0f} s"
                    raise OAuthError(
                        f"no sign-in came back from the browser within {minutes}; "
                        "start the sign-in again"
                    )
                self._server.handle_request()
            return self._result
        finally:
            self.close()

    def close(self) -> None:
        self._server.server_close()


def sign_in_with_browser(
    endpoints: Endpoints,
    open_browser: Callable[[str], object],
    *,
    login_hint: str = "",
    timeout: float = DEFAULT_TIMEOUT,
    cancel: threading.Event | None = None,
) -> TokenResponse:
    """Run the authorization code flow: open the provider's page, take the one redirect,
    check ``state``, exchange the code with the PKCE verifier. Blocks: call it off any GUI
    thread (``open_browser`` is called from this thread)."""
    verifier, challenge = _pkce()
    listener = LoopbackListener()
    listener.state = secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": endpoints.client_id,
        "redirect_uri": listener.redirect_uri,
        "scope": " ".join(endpoints.scopes),
        "state": listener.state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **dict(endpoints.extra_authorization_params),
    }
    if login_hint:
        params["login_hint"] = login_hint
    separator = "&" if urlsplit(endpoints.authorization).query else "?"
    try:
        open_browser(endpoints.authorization + separator + urlencode(params))
    except BaseException:
        listener.close()
        raise
    query = listener.wait(timeout, cancel)
    problem = listener.verdict(query)
    if problem is not None:
        raise OAuthError(problem)
    return _token_request(endpoints, {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": listener.redirect_uri,
        "code_verifier": verifier,
    })


# -- the device flow (RFC 8628) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """What the user must see: a page to open and a code to type there."""

    verification_uri: str
    user_code: str
    verification_uri_complete: str
    expires_in: float


def sign_in_with_device(
    endpoints: Endpoints,
    show: Callable[[DeviceCode], object],
    *,
    cancel: threading.Event | None = None,
) -> TokenResponse:
    """Ask for a device code, show it, poll the token endpoint at the provider's interval."""
    if not endpoints.device:
        raise OAuthError("this provider offers no device sign-in; sign in with a browser")
    status, doc = _post(endpoints.device, {
        **_client_form(endpoints), "scope": " ".join(endpoints.scopes),
    })
    if status != 200 or "device_code" not in doc:
        raise OAuthError(f"the device sign-in was refused: {_oauth_error(doc)} (HTTP {status})")
    # Microsoft and Google spell it verification_uri / verification_url.
    uri = str(doc.get("verification_uri") or doc.get("verification_url") or "")
    expires_in = float(doc.get("expires_in", 600))
    show(DeviceCode(uri, str(doc.get("user_code", "")),
                    str(doc.get("verification_uri_complete", "")), expires_in))
    interval = max(float(doc.get("interval", 5)), 1.0)
    deadline = time.monotonic() + expires_in
    waiter = cancel or threading.Event()
    form = {"grant_type": DEVICE_GRANT, "device_code": str(doc["device_code"])}
    while True:
        if waiter.wait(interval):
            raise OAuthError("the sign-in was cancelled")
        if time.monotonic() > deadline:
            raise OAuthError("the device code expired before the sign-in; start again")
        status, doc = _post(endpoints.token, {**form, **_client_form(endpoints)})
        error = doc.get("error")
        if error == "slow_down":
            interval += 5  # RFC 8628 section 3.5
        elif error != "authorization_pending":
            return _parse_tokens(status, doc)


# -- tokens --------------------------------------------------------------------------------------


def store_sign_in(keychain: Keychain, account_key: str, response: TokenResponse) -> None:
    """Keep the refresh token of a fresh sign-in in the keychain."""
    if not response.refresh_token:
        raise OAuthError(
            "the provider issued no refresh token (is offline access allowed for this client?)"
        )
    keychain.set(refresh_token_key(account_key), response.refresh_token)


def sign_in(
    account: Account,
    open_browser: Callable[[str], object],
    *,
    keychain: Keychain | None = None,
    cancel: threading.Event | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """The browser sign-in for an account with OAuth settings, its refresh token then kept in
    the keychain. Blocking (discovery, the listener, the token exchange): a worker's job."""
    if account.oauth is None:
        raise OAuthError(f"{account.display_name} has no OAuth provider set")
    endpoints = resolve(account.oauth, get_json)
    response = sign_in_with_browser(endpoints, open_browser, login_hint=account.user,
                                    timeout=timeout, cancel=cancel)
    store_sign_in(keychain or Keychain(), account.key, response)


def sign_out(endpoints: Endpoints, keychain: Keychain, account_key: str) -> bool:
    """Forget the sign-in: revoke the refresh token at the provider where it has an RFC 7009
    endpoint (the grant ends there too), then delete it from the keychain. Returns whether
    the provider confirmed the revocation; the keychain entry goes either way."""
    key = refresh_token_key(account_key)
    refresh_token = keychain.get(key)
    revoked = False
    if refresh_token and endpoints.revocation:
        status, _ = _post(endpoints.revocation, {
            "token": refresh_token, "token_type_hint": "refresh_token",
            **_client_form(endpoints),
        })
        revoked = status == 200
    keychain.delete(key)
    return revoked


class OAuthTokens:
    """A :class:`core.auth.sasl.TokenSource` for a signed-in account.

    The access token is kept in memory only and refreshed with the keychain's refresh token
    shortly before it expires (the last tenth of its life, at most a minute early) and when
    the server refused it. A rotated refresh token replaces the stored one. Thread-safe: the
    engine's worker and a GUI action may ask at once.
    """

    def __init__(
        self,
        endpoints: Endpoints | Callable[[], Endpoints],
        account_key: str,
        keychain: Keychain | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        first: TokenResponse | None = None,
    ) -> None:
        self._endpoints: Endpoints | None = None
        self._resolve: Callable[[], Endpoints] | None = None
        if isinstance(endpoints, Endpoints):
            self._endpoints = endpoints
        else:
            self._resolve = endpoints
        self._key = refresh_token_key(account_key)
        self._keychain = keychain or Keychain()
        self._clock = clock
        self._lock = threading.Lock()
        self._access = ""
        self._refresh_at = 0.0
        if first is not None:
            self._keep(first)

    def token(self) -> str:
        with self._lock:
            if not self._access or self._clock() >= self._refresh_at:
                self._refresh()
            return self._access

    def renew(self) -> str:
        with self._lock:
            self._refresh()
            return self._access

    @classmethod
    def for_account(cls, account: Account, keychain: Keychain | None = None) -> OAuthTokens:
        """The token source of an account signed in with popfetch. Creating it does no I/O:
        the provider's endpoints (discovery, for a generic one) are looked up on the first
        refresh, on whichever thread logs in."""
        settings = account.oauth
        if settings is None:
            raise SignInRequired(f"{account.display_name} has no OAuth provider set")
        return cls(lambda: resolve(settings, get_json), account.key, keychain)

    def _refresh(self) -> None:
        self._access = ""
        refresh_token = self._keychain.get(self._key)
        if not refresh_token:
            raise SignInRequired("this account is not signed in")
        if self._endpoints is None:
            assert self._resolve is not None
            self._endpoints = self._resolve()
        response = _token_request(self._endpoints, {
            "grant_type": "refresh_token", "refresh_token": refresh_token,
        })
        if response.refresh_token and response.refresh_token != refresh_token:
            self._keychain.set(self._key, response.refresh_token)
        self._keep(response)

    def _keep(self, response: TokenResponse) -> None:
        lifetime = max(response.expires_in, 0.0)
        self._access = response.access_token
        self._refresh_at = self._clock() + lifetime - min(60.0, lifetime / 10)
