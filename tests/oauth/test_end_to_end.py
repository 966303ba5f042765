"""OAuth from end to end with real parts on loopback: oidc-provider as the authorization
server, Dovecot 2.3 checking every token at its introspection endpoint, gnome-keyring
holding the refresh token, and a scripted browser submitting the provider's login and
consent forms.

The sign-in, fetch, refresh, fetch, revoke, "sign in again" run goes through the
``popfetch`` command line as a user would; in process, the access token's expiry and the
refresh rules are shown with the tokens in hand, so the transcript and files can be
searched for them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.accounts import Account, AccountBook, OAuthSettings
from core.auth.keychain import Keychain
from core.auth.oauth import (
    SIGNED_IN_PAGE,
    OAuthTokens,
    TokenResponse,
    get_json,
    refresh_token_key,
    sign_in_with_browser,
    store_sign_in,
)
from core.auth.oauth_providers import Endpoints, resolve
from core.engine.coordinator import Engine
from core.engine.events import ErrorOccurred, TranscriptLine
from core.errors import SignInRequired
from core.net import Security, TlsPolicy
from core.pop3.session import open_session
from core.store.local import Store
from tests.keychain.conftest import SecretServiceEnv
from tests.oauth.conftest import MAILBOX
from tests.oauth.dovecot_oauth import OAuthDovecot
from tests.oauth.helpers import TokenHelper, assert_no_secret_in
from tests.support.dovecot import make_messages
from tests.support.engine import Recorder
from tests.support.oidc.provider import Browser, OidcProvider

ROOT = Path(__file__).resolve().parents[2]


def _provider_args(oidc: OidcProvider) -> list[str]:
    return ["--oauth-provider", "generic", "--oauth-issuer", oidc.issuer,
            "--oauth-client-id", oidc.CLIENT_ID, "--oauth-scopes", "openid pop"]


def _endpoints(oidc: OidcProvider) -> Endpoints:
    settings = OAuthSettings("generic", client_id=oidc.CLIENT_ID, issuer=oidc.issuer,
                             scopes="openid pop")
    return resolve(settings, get_json, clients={})


def _browser_sign_in(oidc: OidcProvider) -> tuple[TokenResponse, list[str]]:
    """The browser flow in process, the scripted browser on a thread of its own."""
    pages: list[str] = []
    threads: list[threading.Thread] = []

    def open_browser(url: str) -> None:
        thread = threading.Thread(target=lambda: pages.append(Browser(MAILBOX).authorize(url)))
        thread.start()
        threads.append(thread)

    response = sign_in_with_browser(_endpoints(oidc), open_browser, timeout=60)
    threads[0].join(timeout=30)
    return response, pages


def _wait_inactive(oidc: OidcProvider, token: str) -> None:
    """Until introspection calls ``token`` inactive (expired): the positive signal."""
    deadline = time.monotonic() + 30
    while oidc.introspect(token).get("active"):
        assert time.monotonic() < deadline, "the access token never expired"
        time.sleep(0.2)


# -- the command line, as a user runs it ---------------------------------------------------------


class Cli:
    """Runs ``python -m core.cli`` with the private keychain and throwaway XDG dirs, and
    keeps every argv it used (to show that no token was ever one of them)."""

    def __init__(self, keychain_env: SecretServiceEnv, tmp: Path) -> None:
        self.env = {**keychain_env.env, "XDG_CONFIG_HOME": str(tmp / "config"),
                    "XDG_STATE_HOME": str(tmp / "state"), "BROWSER": "true"}
        self.argvs: list[list[str]] = []

    def argv(self, *args: str) -> list[str]:
        argv = [sys.executable, "-m", "core.cli", *args]
        self.argvs.append(argv)
        return argv

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), env=self.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=False)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), env=self.env, cwd=ROOT, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)


def _line_with(proc: subprocess.Popen[str], needle: str) -> str:
    assert proc.stderr is not None
    for _ in range(10):
        line = proc.stderr.readline()
        if needle in line:
            return line.strip()
        assert line, f"the process ended without a line containing {needle!r}"
    raise AssertionError(f"no line containing {needle!r}")


@pytest.fixture
def cli(keychain_env: SecretServiceEnv, tmp_path: Path) -> Cli:
    return Cli(keychain_env, tmp_path)


@pytest.fixture
def alice(oauth_dovecot: OAuthDovecot) -> Iterator[OAuthDovecot]:
    oauth_dovecot.clear("alice")
    yield oauth_dovecot
    oauth_dovecot.clear("alice")


def test_cli_sign_in_fetch_refresh_fetch_revoke_then_sign_in_again(
    oidc: OidcProvider, alice: OAuthDovecot, cli: Cli, keychain_env: SecretServiceEnv,
    tmp_path: Path,
):
    port = alice.pop3s_port
    login = cli.popen("oauth", "login", "--user", MAILBOX, "--host", "127.0.0.1",
                      "--port", str(port), "--security", "tls", *_provider_args(oidc),
                      "--timeout", "60")
    url = _line_with(login, oidc.issuer)
    assert SIGNED_IN_PAGE in Browser(MAILBOX).authorize(url)
    out, err = login.communicate(timeout=60)
    assert login.returncode == 0, err
    assert "is signed in" in out
    key = refresh_token_key(f"{MAILBOX}@127.0.0.1:{port}")
    refresh_token = keychain_env.secret_tool("lookup", "service", "popfetch",
                                             "username", key).stdout
    assert refresh_token  # in the keychain, under a key of its own

    maildir = tmp_path / "Mail"
    fetch = ["fetch", "--host", "127.0.0.1", "--port", str(port), "--security", "tls",
             "--cafile", str(alice.ca_pem), "--user", MAILBOX, "--maildir", str(maildir),
             "--auth", "xoauth2", *_provider_args(oidc)]
    alice.fill("alice", make_messages(2, tag="first"))
    first = cli.run(*fetch)
    assert first.returncode == 0, first.stderr
    assert len(list((maildir / "new").iterdir())) == 2

    # That run's access token died with it (memory only); the next run refreshes and fetches.
    alice.fill("alice", make_messages(1, start=2, tag="second"))
    second = cli.run(*fetch)
    assert second.returncode == 0, second.stderr
    assert len(list((maildir / "new").iterdir())) == 3

    # The user revokes popfetch's access at the provider: the whole grant goes.
    oidc.revoke(refresh_token)
    third = cli.run(*fetch)
    assert third.returncode == 2
    (line,) = third.stderr.splitlines()
    assert line.startswith("popfetch: ") and line.endswith("sign in again")

    assert_no_secret_in([tmp_path / "config", tmp_path / "state", maildir], [refresh_token])
    assert not any(refresh_token in arg for argv in cli.argvs for arg in argv)
    for done in (first, second, third):
        assert refresh_token not in done.stdout + done.stderr


def test_device_sign_in_for_machines_without_a_browser(
    oidc: OidcProvider, cli: Cli, keychain_env: SecretServiceEnv
):
    explicit = ["--oauth-provider", "generic", "--oauth-client-id", oidc.CLIENT_ID,
                "--oauth-scopes", "openid pop",  # and no discovery: the endpoints themselves
                "--oauth-authorization-endpoint", f"{oidc.issuer}/auth",
                "--oauth-token-endpoint", f"{oidc.issuer}/token",
                "--oauth-device-endpoint", f"{oidc.issuer}/device/auth"]
    login = cli.popen("oauth", "login", "--device", "--user", MAILBOX, "--host", "127.0.0.1",
                      "--port", "10995", *explicit)
    line = _line_with(login, "enter the code")
    match = re.search(r"open (\S+) and enter the code (\S+)", line)
    assert match is not None, line
    Browser(MAILBOX).enter_user_code(match.group(1), match.group(2))
    out, err = login.communicate(timeout=60)
    assert login.returncode == 0, err
    assert "is signed in" in out
    assert keychain_env.secret_tool(
        "lookup", "service", "popfetch",
        "username", refresh_token_key(f"{MAILBOX}@127.0.0.1:10995")).stdout


# -- in process: the refresh rules with the tokens in hand -------------------------------------


class Clock:
    """The token source's clock, moved by the test once the provider says a token expired."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Counting:
    """Wraps a TokenSource to see which tokens went out and how often it was renewed."""

    def __init__(self, inner: OAuthTokens) -> None:
        self.inner = inner
        self.handed: list[str] = []
        self.renewals = 0

    def token(self) -> str:
        self.handed.append(self.inner.token())
        return self.handed[-1]

    def renew(self) -> str:
        self.renewals += 1
        self.handed.append(self.inner.renew())
        return self.handed[-1]


def _engine_fetch(account: Account, tokens: Counting, tmp: Path) -> Recorder:
    recorder = Recorder()
    engine = Engine(account, password=lambda: tokens, listener=recorder,
                    store=Store(account.maildir, tmp / "state"), auto_download=True,
                    transcript=True, list_headers=False, read_timeout=10.0)
    engine.start()
    try:
        engine.wait_idle(timeout=60)
    finally:
        engine.shutdown(timeout=10)
    return recorder


@pytest.mark.usefixtures("real_keyring")
@pytest.mark.parametrize(("method", "security"), [
    ("xoauth2", Security.STARTTLS), ("oauthbearer", Security.TLS),
])
def test_the_access_token_is_refreshed_before_it_expires_and_after_a_refusal(
    oidc: OidcProvider, alice: OAuthDovecot, tmp_path: Path, method: str, security: Security
):
    response, pages = _browser_sign_in(oidc)
    assert pages == [pages[0]] and SIGNED_IN_PAGE in pages[0]
    port = alice.pop3_port if security is Security.STARTTLS else alice.pop3s_port
    account = Account(host="127.0.0.1", port=port, security=security, user=MAILBOX,
                      maildir=str(tmp_path / "Mail"), cafile=str(alice.ca_pem), auth=method)
    store_sign_in(Keychain(), account.key, response)
    clock = Clock()
    tokens = Counting(OAuthTokens(_endpoints(oidc), account.key, clock=clock, first=response))

    alice.fill("alice", make_messages(1, tag="one"))
    first = _engine_fetch(account, tokens, tmp_path)
    assert tokens.handed == [response.access_token]  # still fresh: no refresh

    _wait_inactive(oidc, response.access_token)
    clock.now += response.expires_in  # what the clock says once the provider agrees
    alice.fill("alice", make_messages(1, start=1, tag="two"))
    second = _engine_fetch(account, tokens, tmp_path)
    refreshed = tokens.handed[-1]
    assert refreshed != response.access_token and tokens.renewals == 0

    # It expires while the clock stands still (a laptop that slept): the server refuses it,
    # and the source refreshes after the refusal. (Revoking the access token would not do:
    # oidc-provider revokes the whole grant with it.)
    _wait_inactive(oidc, refreshed)
    alice.fill("alice", make_messages(1, start=2, tag="three"))
    third = _engine_fetch(account, tokens, tmp_path)
    assert tokens.renewals == 1 and tokens.handed[-2] == refreshed
    assert len(list((tmp_path / "Mail" / "new").iterdir())) == 3
    for recorder in (first, second, third):
        assert not [e for e in recorder.of(ErrorOccurred) if e.fatal]

    transcript = "\n".join(e.text for r in (first, second, third) for e in r.of(TranscriptLine))
    assert f"AUTH {method.upper()}" in transcript
    refresh_token = Keychain().get(refresh_token_key(account.key))
    assert refresh_token
    secrets_seen = [*tokens.handed, refresh_token]
    assert not any(token in transcript for token in secrets_seen)
    assert_no_secret_in([tmp_path / "Mail", tmp_path / "state"], secrets_seen)


@pytest.mark.usefixtures("real_keyring")
def test_a_revoked_grant_is_sign_in_required_with_one_refresh_attempt(
    oidc: OidcProvider, alice: OAuthDovecot
):
    response, _ = _browser_sign_in(oidc)
    key = f"{MAILBOX}@127.0.0.1:{alice.pop3s_port}"
    store_sign_in(Keychain(), key, response)
    oidc.revoke(response.refresh_token)
    tokens = OAuthTokens(_endpoints(oidc), key, first=response)
    session = open_session("127.0.0.1", alice.pop3s_port, Security.TLS,
                           TlsPolicy(cafile=str(alice.ca_pem)))
    try:
        with pytest.raises(SignInRequired, match="expired or was revoked: sign in again"):
            session.login(MAILBOX, tokens, method="xoauth2")
    finally:
        session.close()


# -- a token helper against Dovecot ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["xoauth2", "oauthbearer"])
def test_token_command_fetches_and_an_inactive_token_exits_2_after_one_rerun(
    oidc: OidcProvider, alice: OAuthDovecot, tmp_path: Path, method: str, capsys
):
    from core import cli

    response, _ = _browser_sign_in(oidc)
    maildir = tmp_path / "Mail"

    def fetch(helper: TokenHelper) -> int:
        return cli.main([
            "fetch", "--host", "127.0.0.1", "--port", str(alice.pop3_port),
            "--security", "starttls", "--cafile", str(alice.ca_pem), "--user", MAILBOX,
            "--maildir", str(maildir), "--state-dir", str(tmp_path / "state"), "--quiet",
            "--auth", method, "--oauth-token-command", helper.command,
        ])

    alice.fill("alice", make_messages(1, tag=method))
    good = TokenHelper(tmp_path / "good", [response.access_token])
    assert fetch(good) == 0
    assert good.runs == 1 and len(list((maildir / "new").iterdir())) == 1
    capsys.readouterr()

    oidc.revoke(response.access_token)  # introspection now says active: false
    assert oidc.introspect(response.access_token) == {"active": False}
    failures_before = len(alice.log_lines("auth failed"))
    dead = TokenHelper(tmp_path / "dead", [response.access_token])
    assert fetch(dead) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("sign in again")
    assert dead.runs == 2  # once, and once more after the refusal: no loop
    alice.wait_log("auth failed", count=failures_before + 1)
    (failed,) = alice.log_lines("auth failed")[failures_before:]
    assert "2 attempts" in failed, failed


@pytest.mark.usefixtures("real_keyring")
def test_logout_revokes_at_the_provider_and_forgets_the_refresh_token(
    oidc: OidcProvider, cli: Cli
):
    response, _ = _browser_sign_in(oidc)
    key = f"{MAILBOX}@127.0.0.1:10996"
    store_sign_in(Keychain(), key, response)
    done = cli.run("oauth", "logout", "--user", MAILBOX, "--host", "127.0.0.1",
                   "--port", "10996", *_provider_args(oidc))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"popfetch: {key} is signed out"
    assert Keychain().get(refresh_token_key(key)) is None
    assert oidc.introspect(response.refresh_token) == {"active": False}


def test_an_account_saved_by_the_app_fetches_with_account_name(
    oidc: OidcProvider, alice: OAuthDovecot, cli: Cli, tmp_path: Path
):
    """The app keeps the provider in accounts.json and the refresh token in the keychain:
    ``fetch --account NAME`` needs nothing else."""
    account = Account(name="work", host="127.0.0.1", port=alice.pop3s_port,
                      security=Security.TLS, user=MAILBOX, maildir=str(tmp_path / "Mail"),
                      cafile=str(alice.ca_pem), auth="oauthbearer",
                      oauth=OAuthSettings("generic", client_id=oidc.CLIENT_ID,
                                          issuer=oidc.issuer, scopes="openid pop"))
    AccountBook(tmp_path / "config" / "popfetch" / "accounts.json").add(account)
    login = cli.popen("oauth", "login", "--user", MAILBOX, "--host", "127.0.0.1",
                      "--port", str(alice.pop3s_port), *_provider_args(oidc))
    Browser(MAILBOX).authorize(_line_with(login, oidc.issuer))
    assert login.wait(timeout=60) == 0
    alice.fill("alice", make_messages(2, tag="by name"))
    done = cli.run("fetch", "--account", "work")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "Mail" / "new").iterdir())) == 2
    saved = (tmp_path / "config" / "popfetch" / "accounts.json").read_text()
    assert '"provider": "generic"' in saved and "token" not in saved.replace("token_endpoint", "")


def test_accounts_add_then_login_fetch_and_remove_by_name(
    oidc: OidcProvider, alice: OAuthDovecot, cli: Cli, keychain_env: SecretServiceEnv,
    tmp_path: Path,
):
    port = str(alice.pop3_port)
    added = cli.run("accounts", "add", "home", "--host", "127.0.0.1", "--port", port,
                    "--security", "starttls", "--cafile", str(alice.ca_pem), "--user", MAILBOX,
                    "--maildir", str(tmp_path / "Mail"), "--auth", "xoauth2",
                    *_provider_args(oidc))
    assert added.returncode == 0, added.stderr
    assert "popfetch oauth login --account home" in added.stdout  # no password asked
    login = cli.popen("oauth", "login", "--account", "home")
    Browser(MAILBOX).authorize(_line_with(login, oidc.issuer))
    assert login.wait(timeout=60) == 0
    alice.fill("alice", make_messages(1, tag="home"))
    done = cli.run("fetch", "--account", "home")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "Mail" / "new").iterdir())) == 1

    key = refresh_token_key(f"{MAILBOX}@127.0.0.1:{port}")
    lookup = ("lookup", "service", "popfetch", "username", key)
    assert keychain_env.secret_tool(*lookup).stdout
    removed = cli.run("accounts", "remove", "home")
    assert removed.returncode == 0, removed.stderr
    assert not keychain_env.secret_tool(*lookup).stdout  # the sign-in went with it
