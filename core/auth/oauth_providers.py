"""OAuth 2.0 providers: the Google and Microsoft presets, a generic one, and the client IDs.

An account's :class:`core.accounts.OAuthSettings` names a provider; :func:`resolve` turns it
into :class:`Endpoints` (where to sign in, which scopes, which client), reading OpenID
discovery for a generic issuer. popfetch ships no client ID: it comes from the account, or
from the installation's ``oauth.json`` (see :func:`installation_clients`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.accounts import OAuthSettings, config_dir
from core.errors import OAuthError
from core.net import Security

__all__ = [
    "PRESETS",
    "Endpoints",
    "Preset",
    "check_endpoint",
    "installation_clients",
    "resolve",
]

CLIENTS_FILE = "oauth.json"


@dataclass(frozen=True, slots=True)
class Preset:
    """A provider's endpoints, scopes and POP3 server. ``{tenant}`` is Microsoft's."""

    name: str
    title: str  # "Sign in with {title}"
    authorization_endpoint: str
    token_endpoint: str
    device_authorization_endpoint: str  # "" where the provider offers no device flow for mail
    revocation_endpoint: str
    scopes: tuple[str, ...]
    host: str
    port: int
    security: Security
    extra_authorization_params: tuple[tuple[str, str], ...] = ()


_MS = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"

PRESETS: Mapping[str, Preset] = {
    "google": Preset(
        name="google",
        title="Google",
        authorization_endpoint="https://accounts.google.com/o/oauth2/v2/auth",
        token_endpoint="https://oauth2.googleapis.com/token",
        # Google's device flow does not grant the https://mail.google.com/ scope.
        device_authorization_endpoint="",
        revocation_endpoint="https://oauth2.googleapis.com/revoke",
        scopes=("https://mail.google.com/",),
        host="pop.gmail.com",
        port=995,
        security=Security.TLS,
        # A refresh token only comes with access_type=offline (and again only with consent).
        extra_authorization_params=(("access_type", "offline"), ("prompt", "consent")),
    ),
    "microsoft": Preset(
        name="microsoft",
        title="Microsoft",
        authorization_endpoint=f"{_MS}/authorize",
        token_endpoint=f"{_MS}/token",
        device_authorization_endpoint=f"{_MS}/devicecode",
        revocation_endpoint="",  # Microsoft has no RFC 7009 endpoint
        scopes=("https://outlook.office.com/POP.AccessAsUser.All", "offline_access"),
        host="outlook.office365.com",
        port=995,
        security=Security.TLS,
    ),
}


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Everything a sign-in or a refresh needs, resolved. ``client_secret`` is Google's
    installed-app secret, which Google itself says is not confidential for desktop apps."""

    authorization: str
    token: str
    device: str
    revocation: str
    scopes: tuple[str, ...]
    client_id: str
    client_secret: str = ""
    extra_authorization_params: tuple[tuple[str, str], ...] = ()


_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def check_endpoint(url: str, what: str) -> str:
    """HTTPS, except on loopback (a local test provider): a token never crosses the network
    in the clear."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url
    raise OAuthError(f"the {what} must be an https:// URL: {url[:100]!r}")


def installation_clients(paths: list[Path] | None = None) -> dict[str, dict[str, str]]:
    """Client IDs by provider from ``oauth.json`` files, later files winning:
    ``$XDG_CONFIG_DIRS/popfetch/oauth.json`` (default ``/etc/xdg``, the installation's), then
    the user's ``$XDG_CONFIG_HOME/popfetch/oauth.json``. Format:
    ``{"google": {"client_id": "...", "client_secret": "..."}, "microsoft": {"client_id": "..."}}``.
    """
    if paths is None:
        dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
        system = [Path(d) / "popfetch" / CLIENTS_FILE for d in reversed(dirs.split(":")) if d]
        paths = [*system, config_dir() / CLIENTS_FILE]
    merged: dict[str, dict[str, str]] = {}
    for path in paths:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise OAuthError(f"{path}: cannot read the OAuth client configuration: {exc}") from None
        if not isinstance(doc, dict):
            raise OAuthError(f"{path}: expected an object of providers")
        for provider, entry in doc.items():
            if isinstance(entry, dict):
                merged.setdefault(str(provider), {}).update(
                    {str(k): str(v) for k, v in entry.items() if isinstance(v, str)}
                )
    return merged


def _discover(issuer: str, get_json: Callable[[str], Mapping[str, Any]]) -> Mapping[str, Any]:
    """OpenID Connect discovery; the document must name the issuer asked for (OIDC 4.3)."""
    url = check_endpoint(issuer.rstrip("/"), "issuer") + "/.well-known/openid-configuration"
    doc = get_json(url)
    if str(doc.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        raise OAuthError(f"the discovery document at {url} names another issuer")
    return doc


def resolve(
    settings: OAuthSettings,
    get_json: Callable[[str], Mapping[str, Any]],
    clients: Mapping[str, Mapping[str, str]] | None = None,
) -> Endpoints:
    """The endpoints for ``settings``: the preset's (tenant filled in), else the explicit
    ones, else discovery. The client ID is the account's, else the installation's."""
    if clients is None:
        clients = installation_clients()
    installed = clients.get(settings.provider, {})
    client_id = settings.client_id or installed.get("client_id", "")
    if not client_id:
        raise OAuthError(
            f"no OAuth client ID for {settings.provider}: register popfetch with the provider "
            f"and put the ID in the account or in {config_dir() / CLIENTS_FILE} (see README)"
        )
    secret = installed.get("client_secret", "") if not settings.client_id else ""
    scopes = tuple(settings.scopes.split())
    preset = PRESETS.get(settings.provider)
    if preset is not None:
        tenant = settings.tenant or "common"
        return Endpoints(
            authorization=preset.authorization_endpoint.format(tenant=tenant),
            token=preset.token_endpoint.format(tenant=tenant),
            device=preset.device_authorization_endpoint.format(tenant=tenant),
            revocation=preset.revocation_endpoint,
            scopes=scopes or preset.scopes,
            client_id=client_id,
            client_secret=secret,
            extra_authorization_params=preset.extra_authorization_params,
        )
    found: Mapping[str, Any] = {}
    if settings.issuer:
        found = _discover(settings.issuer, get_json)

    def pick(explicit: str, key: str) -> str:
        url = explicit or str(found.get(key, ""))
        return check_endpoint(url, key.replace("_", " ")) if url else ""

    authorization = pick(settings.authorization_endpoint, "authorization_endpoint")
    token = pick(settings.token_endpoint, "token_endpoint")
    if not (authorization and token):
        raise OAuthError("the provider names no authorization or token endpoint")
    if not scopes:
        raise OAuthError("a generic OAuth provider needs its scopes")
    return Endpoints(
        authorization=authorization,
        token=token,
        device=pick(settings.device_authorization_endpoint, "device_authorization_endpoint"),
        revocation=pick(settings.revocation_endpoint, "revocation_endpoint"),
        scopes=scopes,
        client_id=client_id,
        client_secret=secret,
    )
