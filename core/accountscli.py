"""``popfetch accounts add | list | remove``: the app's accounts, from a terminal or a script.

The accounts land in the same file the desktop app reads (:class:`core.accounts.AccountBook`),
so an account added over SSH shows up in the app, and ``popfetch fetch --account NAME``
finds one added in the app (by its name, or by ``USER@HOST:PORT`` when it has none).
The password goes to the keychain, asked on the terminal, or the account keeps a
``--password-command`` to run instead; it never reaches the file or a process argument.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import sys
from collections.abc import Iterable
from typing import Any

from core.accounts import AUTH_METHODS, Account, AccountBook, AccountFileError, default_port
from core.errors import KeychainUnavailable
from core.net import Security

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
    add.add_argument("--maildir", required=True)
    add.add_argument("--password-command",
                     help="run this for the password (first output line) instead of the keychain")
    add.add_argument("--auth", default="auto", choices=AUTH_METHODS)
    add.add_argument("--allow-plaintext", action="store_true",
                     help="allow USER/PASS or AUTH PLAIN without TLS")

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


def _add(args: argparse.Namespace, book: AccountBook) -> None:
    security = Security(args.security)
    try:
        account = Account(
            name=args.name, host=args.host, port=args.port or default_port(security),
            security=security, user=args.user, maildir=_absolute(args.maildir),
            cafile=_absolute(args.cafile) if args.cafile else None,
            auth=args.auth, allow_plaintext=args.allow_plaintext,
            password_command=args.password_command or None,
        )
    except ValueError as exc:
        raise AccountsError(str(exc)) from None
    if not account.name.strip():
        raise AccountsError("an account name must not be blank")
    existing = book.load()
    if any(a.name == account.name for a in existing):
        raise AccountsError(f"an account called {account.name!r} exists already")
    clash = next((a for a in existing if a.key == account.key), None)
    if clash is not None:
        raise AccountsError(f"{account.key} is already the account {clash.display_name!r}")
    if account.password_command is None:
        _save_password(account.key)
    book.add(account)
    source = "its command" if account.password_command else "the keychain"
    print(f"popfetch: added {account.name} ({account.key}); password from {source}")


def _save_password(key: str) -> None:
    if not sys.stdin.isatty():
        raise AccountsError(
            f"no terminal to ask the password of {key} on: run it on a terminal, "
            "or give --password-command CMD"
        )
    from core.auth.keychain import Keychain

    keychain = Keychain()
    if not keychain.available():
        raise KeychainUnavailable(
            "no keychain is available to save the password in: give --password-command CMD"
        )
    password = getpass.getpass(f"Password for {key}: ")
    if not password:
        raise AccountsError("no password given; nothing was added")
    keychain.set(key, password)


def _list(book: AccountBook) -> None:
    for account in book.load():
        source = "command" if account.password_command else "keychain"
        print(f"{account.name or '-'}\t{account.key}\t{account.security.value}\t"
              f"{account.maildir}\tpassword: {source}")


def _remove(name: str, book: AccountBook) -> None:
    account = find_account(book.load(), name)
    book.remove(account.key)
    note = ""
    if account.password_command is None:
        from core.auth.keychain import Keychain

        try:
            Keychain().delete(account.key)
        except KeychainUnavailable as exc:
            note = f"; its saved password stays in the keychain ({exc})"
    print(f"popfetch: removed {account.display_name}; its mail stays in {account.maildir}{note}")
