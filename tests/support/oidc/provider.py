"""The test suite's authorization server (oidc-provider on Node) and a scripted browser.

``OidcProvider`` runs ``server.mjs`` (see there for the clients and the account) on a free
loopback port, from ``node_modules`` that ``tests/run.sh`` installs with ``npm ci``, and
stops it by its PID. ``Browser`` plays the user: it follows redirects with cookies, fills the
provider's login and consent forms, and so reaches popfetch's loopback redirect like a
real browser would.
"""

from __future__ import annotations

import base64
import html.parser
import http.cookiejar
import json
import os
import secrets
import select
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
START_TIMEOUT = 30.0


def missing_reason() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "oidc tests need Node.js 20 (Debian package nodejs)"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not installed: run tests/run.sh (npm ci in tests/support/oidc)"
    return None


class OidcProvider:
    """One oidc-provider process: ``issuer``, and the client Dovecot introspects with."""

    CLIENT_ID = "popfetch-test"
    INTROSPECTION_CLIENT = "dovecot"

    def __init__(self, mailbox: str, *, access_ttl: int = 5) -> None:
        self.mailbox = mailbox
        self.access_ttl = access_ttl
        self.introspection_secret = secrets.token_urlsafe(24)
        self.issuer = ""
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> OidcProvider:
        env = {**os.environ, "OIDC_MAILBOX": self.mailbox,
               "OIDC_ACCESS_TTL": str(self.access_ttl),
               "OIDC_INTROSPECTION_SECRET": self.introspection_secret}
        self._proc = subprocess.Popen(
            ["node", str(HERE / "server.mjs")], cwd=HERE, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert self._proc.stdout is not None
        ready, _, _ = select.select([self._proc.stdout], [], [], START_TIMEOUT)
        line = self._proc.stdout.readline() if ready else b""
        if not line:
            self.__exit__()
            raise RuntimeError("oidc-provider did not start")
        self.issuer = json.loads(line)["issuer"]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/token/introspection"

    def _basic(self) -> str:
        pair = f"{self.INTROSPECTION_CLIENT}:{self.introspection_secret}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def introspect(self, token: str) -> Mapping[str, Any]:
        return self._post(self.introspection_url, {"token": token})

    def revoke(self, token: str) -> None:
        """Revoke as the popfetch client would (public client: client_id in the body)."""
        self._post(f"{self.issuer}/token/revocation",
                   {"token": token, "client_id": self.CLIENT_ID}, basic=False)

    def _post(self, url: str, form: Mapping[str, str], *, basic: bool = True) -> Any:
        headers = {"Authorization": self._basic()} if basic else {}
        request = urllib.request.Request(
            url, data=urllib.parse.urlencode(form).encode(), headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else {}


class _Forms(html.parser.HTMLParser):
    """The forms of a page: action, method and the named inputs' values."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):  # buttons: only "abort" has one
            self.forms[-1]["fields"][a["name"]] = a.get("value", "")


class Browser:
    """Follows the provider's pages as a user: sign in as ``login``, approve the consent."""

    def __init__(self, login: str, password: str = "any password") -> None:
        self.login = login
        self.password = password
        self.pages: list[str] = []  # the texts of the pages seen, last one at the end
        jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def _open(self, url: str, form: Mapping[str, str] | None = None) -> tuple[str, str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        with self._opener.open(url, data=data, timeout=30) as response:
            text = response.read().decode("utf-8", "replace")
            self.pages.append(text)
            return response.geturl(), text

    def authorize(self, url: str) -> str:
        """Open the authorization URL and submit each form (login, consent) until a page
        without one: the loopback listener's. Returns that page's text."""
        return self._through_forms(url, "")

    def enter_user_code(self, verification_uri: str, user_code: str) -> str:
        """The device flow's pages: enter the code, confirm it, sign in, consent."""
        return self._through_forms(verification_uri, user_code)

    def _through_forms(self, url: str, user_code: str) -> str:
        where, text = self._open(url)
        for _step in range(8):
            parser = _Forms()
            parser.feed(text)
            if not parser.forms:
                return text
            form = parser.forms[0]
            fields = dict(form["fields"])
            if "user_code" in fields:
                fields["user_code"] = user_code
            if "login" in fields:
                fields["login"] = self.login
                fields["password"] = self.password
            where, text = self._open(urllib.parse.urljoin(where, form["action"]), fields)
        raise AssertionError("the provider kept showing forms")
