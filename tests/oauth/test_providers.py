"""Provider presets, the generic provider, client IDs from oauth.json, account settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.accounts import Account, AccountBook, OAuthSettings
from core.auth.oauth_providers import PRESETS, check_endpoint, installation_clients, resolve
from core.errors import OAuthError
from core.net import Security


def _no_network(url: str) -> dict[str, str]:
    raise AssertionError(f"a preset needs no discovery, yet {url} was asked")


def test_microsoft_uses_a_tenant_and_pop_scopes_with_offline_access():
    ep = resolve(OAuthSettings("microsoft", client_id="id", tenant="contoso.example"),
                 _no_network, clients={})
    assert ep.authorization == (
        "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/authorize")
    assert ep.device.endswith("/contoso.example/oauth2/v2.0/devicecode")
    assert ep.scopes == ("https://outlook.office.com/POP.AccessAsUser.All", "offline_access")
    common = resolve(OAuthSettings("microsoft", client_id="id"), _no_network, clients={})
    assert "/common/" in common.token
    assert (PRESETS["microsoft"].host, PRESETS["microsoft"].port) == ("outlook.office365.com", 995)


def test_google_takes_its_client_from_the_installation_and_asks_for_offline_access(tmp_path):
    system, user = tmp_path / "etc.json", tmp_path / "user.json"
    system.write_text(json.dumps({"google": {"client_id": "sys-id", "client_secret": "gs"}}))
    user.write_text(json.dumps({"google": {"client_id": "user-id"}}))
    clients = installation_clients([system, user])
    ep = resolve(OAuthSettings("google"), _no_network, clients=clients)
    assert (ep.client_id, ep.client_secret) == ("user-id", "gs")
    assert ("access_type", "offline") in ep.extra_authorization_params
    assert ep.device == ""  # Google grants no mail scope to the device flow
    assert PRESETS["google"].security is Security.TLS and PRESETS["google"].host == "pop.gmail.com"
    own = resolve(OAuthSettings("google", client_id="acct-id"), _no_network, clients=clients)
    assert (own.client_id, own.client_secret) == ("acct-id", "")  # not the installation's secret


def test_no_client_id_says_where_to_put_one():
    with pytest.raises(OAuthError, match="register popfetch with the provider"):
        resolve(OAuthSettings("google"), _no_network, clients={})


def test_a_generic_provider_by_discovery_must_name_itself(tmp_path):
    doc = {"issuer": "https://id.example", "authorization_endpoint": "https://id.example/a",
           "token_endpoint": "https://id.example/t"}
    ep = resolve(OAuthSettings("generic", client_id="c", issuer="https://id.example",
                               scopes="pop"), lambda url: doc, clients={})
    assert (ep.authorization, ep.token, ep.device) == ("https://id.example/a",
                                                       "https://id.example/t", "")
    with pytest.raises(OAuthError, match="another issuer"):
        resolve(OAuthSettings("generic", client_id="c", issuer="https://evil.example",
                              scopes="pop"), lambda url: doc, clients={})


def test_endpoints_are_https_except_on_loopback():
    assert check_endpoint("http://127.0.0.1:8080/token", "token endpoint")
    with pytest.raises(OAuthError, match="https"):
        check_endpoint("http://id.example/token", "token endpoint")
    with pytest.raises(ValueError, match="issuer or both endpoints"):
        OAuthSettings("generic")


def test_an_account_keeps_its_oauth_settings_and_no_token(tmp_path: Path):
    book = AccountBook(tmp_path / "accounts.json")
    account = Account(host="outlook.office365.com", port=995, security=Security.TLS,
                      user="me@contoso.example", maildir="~/Mail", auth="xoauth2",
                      oauth=OAuthSettings("microsoft", client_id="id", tenant="contoso.example"))
    book.add(account)
    (loaded,) = book.load()
    assert loaded == account
    saved = json.loads((tmp_path / "accounts.json").read_text())["accounts"][0]
    assert set(saved["oauth"]) == {"provider", "client_id", "tenant", "issuer", "scopes",
                                   "authorization_endpoint", "token_endpoint",
                                   "device_authorization_endpoint", "revocation_endpoint"}
