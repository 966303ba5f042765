"""Fixtures for the OAuth suite: the bearer fake server; the real provider (oidc-provider),
Dovecot validating tokens with it, and a real Secret Service for the refresh tokens.

A missing Node/oidc-provider or Dovecot skips, unless ``POPFETCH_REQUIRE_ALL=1`` (CI)."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from tests.keychain.conftest import SecretServiceEnv, running_secret_service
from tests.oauth.bearer_server import BearerServer
from tests.oauth.dovecot_oauth import OAuthDovecot
from tests.support.certs import CertPaths, make_ca_and_server_cert
from tests.support.dovecot import DovecotError, dovecot_binary
from tests.support.dovecot import missing_reason as dovecot_missing
from tests.support.memkeyring import installed
from tests.support.oidc.provider import OidcProvider
from tests.support.oidc.provider import missing_reason as provider_missing


@pytest.fixture
def certs(tmp_path: Path) -> CertPaths:
    return make_ca_and_server_cert(tmp_path / "certs")


@pytest.fixture
def bearer_server(certs: CertPaths) -> Iterator[BearerServer]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert_pem, certs.key_pem)
    server = BearerServer(ctx)
    server.start()
    yield server
    server.stop()


MAILBOX = "alice@example.test"


def _unavailable(reason: str) -> None:
    if os.environ.get("POPFETCH_REQUIRE_ALL") == "1":
        pytest.fail(f"POPFETCH_REQUIRE_ALL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def oidc() -> Iterator[OidcProvider]:
    """oidc-provider with 8-second access tokens (one fetch fits in a token's life even on a
    busy machine) and the account alice@example.test."""
    reason = provider_missing()
    if reason:
        _unavailable(reason)
    with OidcProvider(MAILBOX, access_ttl=8) as provider:
        yield provider


@pytest.fixture(scope="module")
def oauth_dovecot(oidc: OidcProvider) -> Iterator[OAuthDovecot]:
    """Dovecot whose passdb asks ``oidc``'s introspection endpoint about each token."""
    if dovecot_binary() is None:
        _unavailable(dovecot_missing())
    server = OAuthDovecot(oidc.introspection_url, oidc.INTROSPECTION_CLIENT,
                         oidc.introspection_secret)
    try:
        server.start()
    except DovecotError as exc:
        server.stop()
        pytest.fail(f"Dovecot did not start:\n{exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keychain_env() -> Iterator[SecretServiceEnv]:
    """A private, unlocked gnome-keyring: where the CLI's refresh tokens go."""
    with running_secret_service() as service:
        yield service


@pytest.fixture
def real_keyring(keychain_env: SecretServiceEnv, monkeypatch: pytest.MonkeyPatch
                 ) -> Iterator[KeyringBackend]:
    from keyring.backends import SecretService

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", keychain_env.bus_address)
    with installed(SecretService.Keyring()) as backend:
        yield backend
