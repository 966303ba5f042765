"""The OAuth provider flags of the command line, one definition for ``fetch``,
``oauth login|logout`` and ``accounts add``, and how long a browser sign-in waits.

Light on purpose: the grammar reads it without loading the sign-in code
(:mod:`core.auth.oauth`, its HTTP client and the keychain), which ``fetch`` does not need.
"""

from __future__ import annotations

import argparse

from core.accounts import OAUTH_PROVIDERS, OAuthSettings

__all__ = ["DEFAULT_TIMEOUT", "add_arguments", "settings_from"]

DEFAULT_TIMEOUT = 300.0  # seconds the browser flow waits for the user


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("OAuth 2.0 provider (with --auth xoauth2|oauthbearer)")
    group.add_argument("--oauth-provider", choices=OAUTH_PROVIDERS)
    group.add_argument("--oauth-client-id", default="",
                       help="this installation's client ID (default: from oauth.json)")
    group.add_argument("--oauth-tenant", default="", help="Microsoft tenant (default common)")
    group.add_argument("--oauth-issuer", default="",
                       help="generic provider: issuer URL with OpenID discovery")
    group.add_argument("--oauth-scopes", default="", help="space-separated (default: preset's)")
    for name, what in (("authorization", "the authorization endpoint"),
                       ("token", "the token endpoint"),
                       ("device", "the device authorization endpoint (RFC 8628)"),
                       ("revocation", "the revocation endpoint (RFC 7009)")):
        group.add_argument(f"--oauth-{name}-endpoint", default="", metavar="URL",
                           help=f"generic provider without discovery: {what}")


def settings_from(args: argparse.Namespace) -> OAuthSettings | None:
    """The flags as account settings; None without --oauth-provider; ValueError if invalid."""
    if not args.oauth_provider:
        return None
    return OAuthSettings(args.oauth_provider, client_id=args.oauth_client_id,
                         tenant=args.oauth_tenant, issuer=args.oauth_issuer,
                         scopes=args.oauth_scopes,
                         authorization_endpoint=args.oauth_authorization_endpoint,
                         token_endpoint=args.oauth_token_endpoint,
                         device_authorization_endpoint=args.oauth_device_endpoint,
                         revocation_endpoint=args.oauth_revocation_endpoint)
