"""The headless command line: ``popfetch fetch``, ``accounts``, ``oauth``, ``demo-server``.
No Qt here.

The grammar is in :mod:`core.cliparser`. ``fetch`` runs in :mod:`core.headless`, where its
summary line, exit statuses and interrupt rule are written; this module finds what a run
needs before it starts (the accounts, their passwords or tokens, the delivery target),
and a problem there is one plain line and exit 2.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core import accountscli
from core.accounts import Account
from core.auth import passwords
from core.auth.sasl import BEARER_MECHANISMS, TokenSource
from core.cliparser import (
    EXIT_ERROR,
    EXIT_OK,
    UsageError,
    build_parser,
    oauth_settings,
)
from core.errors import PasswordUnavailable, PopError
from core.net import Security, TlsPolicy
from core.text import sanitize

if TYPE_CHECKING:
    from core.headless import FetchOptions
    from core.store.local import Store


def resolve_password(account: Account, command: str | None) -> str:
    """--password-command, POPFETCH_PASSWORD, the keychain, a terminal prompt: first wins."""
    if command:
        return _password_from(command)
    env = os.environ.get("POPFETCH_PASSWORD")
    if env is not None:
        return env
    stored = passwords.stored(account.key)
    if stored is not None:
        return stored
    if sys.stdin.isatty():
        return getpass.getpass(f"Password for {account.key}: ")
    raise UsageError(
        f"no password for {account.key}: use --password-command, POPFETCH_PASSWORD, "
        "or save it in the keychain with the app"
    )


def _password_from(command: str) -> str:
    try:
        return passwords.from_command(command)
    except PasswordUnavailable as exc:
        raise UsageError(str(exc)) from None


def _store_opener(args: argparse.Namespace) -> Callable[[Path], Store]:
    """What opens an account's store in its state directory: into the Maildir (--maildir,
    or --deliver maildir:), else a TargetStore delivering to the --deliver target. The
    URL is parsed and the IMAP password found here, once, before anything runs."""
    from core.store.forward import open_store
    from core.store.targets import ImapSpec, MaildirSpec, parse_deliver

    try:
        spec = MaildirSpec(args.maildir) if args.maildir else parse_deliver(args.deliver)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    password = ""
    if isinstance(spec, ImapSpec):
        try:
            password = passwords.target_password(spec, args.deliver_password_command)
        except PasswordUnavailable as exc:
            raise UsageError(str(exc)) from None
    elif args.deliver_password_command:
        raise UsageError("--deliver-password-command is for imap:// and imaps:// targets")
    tls = TlsPolicy(cafile=args.cafile)
    return lambda state_dir: open_store(
        spec, state_dir, password=lambda: password, tls=tls, timeout=args.timeout)


def _say(text: str) -> str:
    """A line for the terminal: whatever came from a server is escaped and cut."""
    return sanitize(text, 500)


def _credentials(account: Account, args: argparse.Namespace) -> str | TokenSource:
    """The password, or for the bearer methods the token source."""
    if account.auth.upper() not in BEARER_MECHANISMS:
        if args.oauth_token_command:
            raise UsageError("--oauth-token-command needs --auth xoauth2 or --auth oauthbearer")
        return resolve_password(account, args.password_command or account.password_command)
    if args.password_command:
        raise UsageError(f"--auth {account.auth} signs in with a token, not --password-command")
    if args.oauth_token_command:
        if account.oauth is not None:
            raise UsageError("--oauth-token-command and --oauth-provider exclude each other")
        # A token helper needs subprocess, which a password login does not: start-up time.
        from core.auth.oauth_command import CommandTokens

        return CommandTokens(args.oauth_token_command)
    if account.oauth is None:
        raise UsageError(
            f"--auth {account.auth} needs --oauth-token-command, or --oauth-provider after "
            "'popfetch oauth login'"
        )
    # Only a sign-in of the app's OAuth needs its HTTP client and the keychain: start-up time.
    from core.auth.oauth import OAuthTokens

    return OAuthTokens.for_account(account)


def _account_from_flags(args: argparse.Namespace) -> Account:
    if not (args.host and args.user and (args.maildir or args.deliver)):
        raise UsageError(
            "fetch needs --host, --user and --maildir, or --account NAME, or --all "
            "(--deliver URL in place of --maildir)"
        )
    security = Security(args.security or Security.TLS.value)
    port = args.port or (995 if security is Security.TLS else 110)
    try:
        account = Account(
            host=args.host, port=port, security=security, user=args.user,
            maildir=str(args.maildir or args.deliver), cafile=args.cafile,
            pinned_sha256=args.fingerprint,
            allow_plaintext=args.allow_plaintext, auth=args.auth or "auto",
            delete_after_fetch=args.delete, oauth=oauth_settings(args),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.cafile and not Path(args.cafile).is_file():
        raise UsageError(f"--cafile {args.cafile}: no such file")
    return account


def _fetch(args: argparse.Namespace) -> int:
    """``popfetch fetch``: the accounts and their credentials are found here, before
    anything runs (a problem is one line and exit 2); :mod:`core.headless` runs them."""
    from core.headless import Fetcher, stop_status

    # SIGTERM acts as SIGINT until the run installs its own handlers: a password command
    # or prompt that hangs ends with the run's exit status for a stop, not a signal death.
    old_term = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        pairs, options = _prepare(args)
    except KeyboardInterrupt:
        print("popfetch: interrupted before anything was fetched", file=sys.stderr)
        return stop_status(args.every)
    finally:
        signal.signal(signal.SIGTERM, old_term)
    return Fetcher(pairs, options).run(args.every)


def _prepare(args: argparse.Namespace) -> tuple[list[tuple[Account, str | TokenSource]],
                                                FetchOptions]:
    """The accounts with their credentials, and the run's options (see :func:`_fetch`)."""
    from core.engine.coordinator import RetryPolicy
    from core.headless import FetchOptions

    from_flags = not (args.account or args.all)
    if from_flags:
        accounts = [_account_from_flags(args)]
    else:
        try:
            accounts = accountscli.chosen_accounts(args)
        except (accountscli.AccountsError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    if args.state_dir and len(accounts) > 1:
        raise UsageError("--state-dir names one account's state: give one --account")
    try:
        pairs = [(a, _credentials(a, args)) for a in accounts]
        opener = _store_opener(args) if args.deliver else None
    except (ValueError, OSError, PopError) as exc:  # start-up: one plain line, exit 2
        raise UsageError(str(exc)) from None
    # --delete / --keep are in each account's leave-on-server rule (the flags' account
    # or the stored one overridden), which the run applies.
    options = FetchOptions(
        max_size=args.max_size, read_timeout=args.timeout,
        connect_timeout=args.timeout,
        retry=RetryPolicy(initial=args.retry_delay, max_failures=args.max_retries),
        quiet=args.quiet, state_dir=args.state_dir, discard_partials=args.discard_partials,
        open_store=(lambda _account, state_dir: opener(state_dir)) if opener else None,
        # A one-shot run of the flags' account says just the counts; a run of stored
        # accounts, or a log of checks (--every), names the account on every line.
        named=not from_flags or args.every is not None,
        progress=len(accounts) == 1 and not args.quiet and sys.stderr.isatty(),
    )
    return pairs, options


def _demo_server(args: argparse.Namespace) -> int:
    from core.demoserver import DemoServer, Faults
    from core.demoserver.sample import make_demo_mailbox

    if args.sample:
        make_demo_mailbox(args.maildir)
    server = DemoServer(
        args.maildir,
        host=args.host,
        port=args.port,
        users={args.user: args.password},
        ext_retr=not args.no_ext_retr,
        rate=args.rate,
        faults=Faults(cut_at=args.cut_at, drop_every=args.drop_every,
                      random_drop=args.random_drop),
    )
    host, port = server.start()
    print(f"popfetch demo-server: POP3 on {host}:{port}, user {args.user!r}, "
          f"password {args.password!r}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
    try:
        if args.command == "fetch":
            return _fetch(args)
        if args.command == "accounts":
            return accountscli.run(args)
        if args.command == "oauth":
            # The sign-in flows (HTTP server, keychain) load only for this command: start-up time.
            from core.auth import oauth_cli

            return oauth_cli.run(args)
        return _demo_server(args)
    except UsageError as exc:
        print(f"popfetch: {_say(str(exc))}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
