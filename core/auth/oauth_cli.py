"""``popfetch oauth login|logout``: sign in once, the refresh token to the keychain."""

from __future__ import annotations

import argparse
import sys

from core import accountscli
from core.accounts import Account, AccountBook, default_port
from core.auth.oauth import (
    DeviceCode,
    get_json,
    sign_in,
    sign_in_with_device,
    sign_out,
    store_sign_in,
)
from core.auth.oauth_providers import PRESETS, resolve
from core.cliparser import EXIT_OK, UsageError, oauth_settings
from core.errors import PopError
from core.net import Security


def run(args: argparse.Namespace) -> int:
    """``popfetch oauth login|logout``; a failure is one plain line and exit 2."""
    import webbrowser

    from core.auth.keychain import Keychain

    def open_browser(url: str) -> None:
        print(f"popfetch: sign in in your browser; if none opens, visit:\n{url}",
              file=sys.stderr, flush=True)
        webbrowser.open(url)

    def show(code: DeviceCode) -> None:
        print(f"popfetch: to sign in, open {code.verification_uri} and enter the code "
              f"{code.user_code}", file=sys.stderr, flush=True)

    try:
        account = _oauth_account(args)
        assert account.oauth is not None
        if args.oauth_command == "logout":
            endpoints = resolve(account.oauth, get_json)
            revoked = sign_out(endpoints, Keychain(), account.key)
            print(f"popfetch: {account.key} is signed out"
                  + ("" if revoked else " here (the provider was not asked to revoke it)"))
            return EXIT_OK
        if args.device:
            response = sign_in_with_device(resolve(account.oauth, get_json), show)
            store_sign_in(Keychain(), account.key, response)
        else:
            sign_in(account, open_browser, timeout=args.timeout)
    except PopError as exc:
        raise UsageError(str(exc)) from None
    print(f"popfetch: {account.key} is signed in; fetch with --auth xoauth2 "
          f"--oauth-provider {account.oauth.provider}")
    return EXIT_OK


def _oauth_account(args: argparse.Namespace) -> Account:
    """The account the sign-in is for: its key names the keychain entry."""
    if args.account:
        try:
            account = accountscli.find_account(AccountBook().load(), args.account)
        except (accountscli.AccountsError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        if account.oauth is None:
            raise UsageError(f"the account {args.account!r} has no OAuth provider "
                             "(popfetch accounts add ... --oauth-provider P)")
        return account
    if not args.user:
        raise UsageError(f"oauth {args.oauth_command} needs --account NAME or --user")
    settings = oauth_settings(args)
    if settings is None:
        raise UsageError(f"oauth {args.oauth_command} needs --oauth-provider")
    preset = PRESETS.get(settings.provider)
    if args.host:
        host, security = args.host, Security(args.security or Security.TLS.value)
        port = args.port or default_port(security)
    elif preset is not None:
        host = preset.host
        security = Security(args.security) if args.security else preset.security
        port = args.port or preset.port
    else:
        raise UsageError("--host is needed with a generic provider")
    return Account(host=host, port=port, security=security, user=args.user, maildir="-",
                   auth="xoauth2", oauth=settings)
