"""``popfetch accounts add | list | remove``: the app's accounts, from a terminal or a script.

The accounts land in the same file the desktop app reads (:class:`core.accounts.AccountBook`),
so an account added over SSH shows up in the app, and ``popfetch fetch --account NAME``
finds one added in the app (by its name, or by ``USER@HOST:PORT`` when it has none).
The password goes to the keychain, asked on the terminal, or the account keeps a
``--password-command`` to run instead; it never reaches the file or a process argument.
``--deliver URL`` names where the account's mail goes, as ``fetch --deliver`` does; an
IMAP target's password goes to the keychain under the IMAP server's USER@HOST:PORT,
where ``fetch --account`` and the app look for it.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.accounts import AUTH_METHODS, Account, AccountBook, AccountFileError, default_port
from core.auth import oauth_args, passwords
from core.auth.passwords import target_key
from core.auth.sasl import BEARER_MECHANISMS
from core.errors import KeychainUnavailable, PasswordUnavailable
from core.net import Security
from core.store.targets import ImapSpec, MaildirSpec, MboxSpec, TargetSpec, parse_deliver

__all__ = ["AccountsError", "chosen_accounts", "find_account", "register", "run"]

EXIT_OK, EXIT_ERROR = 0, 2


class AccountsError(Exception):
    """A usage problem the user fixes by changing the command (exit 2)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``accounts`` and its subcommands to popfetch's top-level parser."""
    accounts = sub.add_parser("accounts", help="add, list or remove the app's accounts")
    commands = accounts.add_subparsers(dest="accounts_command", required=True)

    add = commands.add_parser("add", help="add an account (the password goes to the keychain)")
    add.add_argument("name", metavar="NAME", help="what --account NAME and the app call it")
    add.add_argument("--host", required=True)
    add.add_argument("--port", type=int)
    add.add_argument("--security", required=True, choices=[s.value for s in Security])
    add.add_argument("--cafile", help="PEM file of CA certificates to trust")
    add.add_argument("--user", required=True)
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--maildir",
                       help="deliver to this Maildir (short for --deliver maildir:PATH)")
    where.add_argument("--deliver", metavar="URL",
                       help="where to deliver: maildir:PATH, mbox:PATH, mda:COMMAND, "
                            "lmtp:HOST:PORT, lmtp:/socket, imap://USER@HOST[:PORT]/MAILBOX "
                            "or imaps://…")
    add.add_argument("--deliver-password-command", metavar="CMD",
                     help="an imap:// or imaps:// target's password: the first output line of "
                          "CMD, saved in the keychain (else asked on the terminal)")
    add.add_argument("--password-command",
                     help="run this for the password (first output line) instead of the keychain")
    add.add_argument("--auth", default="auto", choices=AUTH_METHODS)
    add.add_argument("--allow-plaintext", action="store_true",
                     help="allow USER/PASS or AUTH PLAIN without TLS")
    oauth_args.add_arguments(add)

    commands.add_parser("list", help="one line per account")

    remove = commands.add_parser("remove", help="forget an account and its saved password")
    remove.add_argument("name", metavar="NAME")


def find_account(accounts: Iterable[Account], name: str) -> Account:
    """The account called ``name``, or whose ``USER@HOST:PORT`` is ``name``."""
    items = list(accounts)
    for account in items:
        if account.name == name:
            return account
    for account in items:
        if not account.name and account.key == name:
            return account
    known = ", ".join(a.display_name for a in items) or "none yet (popfetch accounts add)"
    raise AccountsError(f"no account {name!r}; accounts: {known}")


def chosen_accounts(args: argparse.Namespace, book: AccountBook | None = None) -> list[Account]:
    """``fetch --account NAME … | --all``: the stored accounts, with every server flag given
    on the command line overriding the stored setting. ValueError for a bad override."""
    stored = (book or AccountBook()).load()
    if not stored:
        raise AccountsError("no accounts yet: add one with `popfetch accounts add NAME …`")
    names: list[str] = args.account or []
    chosen = stored if args.all else [find_account(stored, n) for n in dict.fromkeys(names)]
    overrides: dict[str, Any] = {
        field: value
        for field, value in (
            ("host", args.host), ("port", args.port), ("security", args.security),
            ("user", args.user), ("cafile", args.cafile), ("pinned_sha256", args.fingerprint),
            ("auth", args.auth),
            ("maildir", _absolute(str(args.maildir)) if args.maildir else None),
            ("allow_plaintext", True if args.allow_plaintext else None),
            ("delete_after_fetch", True if args.delete else False if args.keep else None),
            ("leave_on_server", "when-stored" if args.delete else "keep" if args.keep else None),
        )
        if value is not None
    }
    return [dataclasses.replace(a, **overrides) for a in chosen]


def run(args: argparse.Namespace, book: AccountBook | None = None) -> int:
    book = book or AccountBook()
    try:
        if args.accounts_command == "add":
            _add(args, book)
        elif args.accounts_command == "list":
            _list(book)
        else:
            _remove(args.name, book)
    except (AccountsError, AccountFileError, KeychainUnavailable) as exc:
        print(f"popfetch: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _absolute(path: str) -> str:
    # cron and systemd start in another directory than the shell that added the account.
    return os.path.abspath(os.path.expanduser(path))


def _target(args: argparse.Namespace) -> tuple[str, str | None, ImapSpec | None]:
    """(maildir, deliver URL, IMAP target) from ``--maildir`` or ``--deliver``, with file
    paths made absolute. A target other than a Maildir keeps its URL in the maildir field
    too, as ``fetch --deliver`` does: the field must not be empty, and nothing reads it."""
    if args.maildir is not None:
        spec: TargetSpec = MaildirSpec(Path(args.maildir))
    else:
        try:
            spec = parse_deliver(args.deliver)
        except ValueError as exc:
            raise AccountsError(str(exc)) from None
    if args.deliver_password_command and not isinstance(spec, ImapSpec):
        raise AccountsError("--deliver-password-command is for imap:// and imaps:// targets")
    if isinstance(spec, MaildirSpec):
        return _absolute(str(spec.path)), None, None
    url = f"mbox:{_absolute(str(spec.path))}" if isinstance(spec, MboxSpec) else args.deliver
    return url, url, spec if isinstance(spec, ImapSpec) else None


def _add(args: argparse.Namespace, book: AccountBook) -> None:
    security = Security(args.security)
    maildir, deliver, imap = _target(args)
    try:
        account = Account(
            name=args.name, host=args.host, port=args.port or default_port(security),
            security=security, user=args.user, maildir=maildir, deliver=deliver,
            cafile=_absolute(args.cafile) if args.cafile else None,
            auth=args.auth, allow_plaintext=args.allow_plaintext,
            password_command=args.password_command or None,
            oauth=oauth_args.settings_from(args),
        )
    except ValueError as exc:
        raise AccountsError(str(exc)) from None
    if (account.oauth is not None) != (account.auth.upper() in BEARER_MECHANISMS):
        raise AccountsError("--oauth-provider goes with --auth xoauth2 or --auth oauthbearer")
    if not account.name.strip():
        raise AccountsError("an account name must not be blank")
    existing = book.load()
    if any(a.name == account.name for a in existing):
        raise AccountsError(f"an account called {account.name!r} exists already")
    clash = next((a for a in existing if a.key == account.key), None)
    if clash is not None:
        raise AccountsError(f"{account.key} is already the account {clash.display_name!r}")
    # Every password is asked for before anything is saved: a refusal leaves nothing behind.
    secrets: dict[str, str] = {}
    if imap is not None:
        key = target_key(imap)
        secrets[key] = _ask_password(key, target=True, command=args.deliver_password_command)
    if account.oauth is None and account.password_command is None:
        secrets[account.key] = _ask_password(account.key)
    if secrets:
        from core.auth.keychain import Keychain

        keychain = Keychain()
        for key, password in secrets.items():
            keychain.set(key, password)
    book.add(account)
    if account.oauth is not None:
        print(f"popfetch: added {account.name} ({account.key}); sign in with "
              f"`popfetch oauth login --account {shlex.quote(account.name)}`")
        return
    source = "its command" if account.password_command else "the keychain"
    print(f"popfetch: added {account.name} ({account.key}); password from {source}")


def _ask_password(key: str, *, target: bool = False, command: str | None = None) -> str:
    """``key``'s password: the first output line of ``command`` (an IMAP target's
    --deliver-password-command), else asked on the terminal. Only with a keychain to keep
    it, since the password is asked to be saved there."""
    option = "--deliver-password-command" if target else "--password-command"
    if command is None and not sys.stdin.isatty():
        raise AccountsError(
            f"no terminal to ask the password of {key} on: run it on a terminal, "
            f"or give {option} CMD"
        )
    from core.auth.keychain import Keychain

    if not Keychain().available():
        raise KeychainUnavailable(
            "no keychain is available to save the password in: "
            + ("an IMAP target's password is looked for there" if target
               else "give --password-command CMD")
        )
    if command is not None:
        try:
            return passwords.from_command(command, option)
        except PasswordUnavailable as exc:
            raise AccountsError(str(exc)) from None
    password = getpass.getpass(f"Password for {'the IMAP target ' if target else ''}{key}: ")
    if not password:
        raise AccountsError("no password given; nothing was added")
    return password


def _list(book: AccountBook) -> None:
    for account in book.load():
        source = "command" if account.password_command else "keychain"
        print(f"{account.name or '-'}\t{account.key}\t{account.security.value}\t"
              f"{account.deliver or account.maildir}\tpassword: {source}")


def _remove(name: str, book: AccountBook) -> None:
    account = find_account(book.load(), name)
    book.remove(account.key)
    note = ""
    if account.password_command is None:
        from core.auth.keychain import Keychain

        try:
            Keychain().delete(account.key)
            if account.oauth is not None:  # the sign-in goes with the account
                from core.auth.oauth import refresh_token_key

                Keychain().delete(refresh_token_key(account.key))
        except KeychainUnavailable as exc:
            note = f"; its saved password stays in the keychain ({exc})"
    print(f"popfetch: removed {account.display_name}; "
          f"its mail stays in {account.deliver or account.maildir}{note}")
