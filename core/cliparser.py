"""The command line's grammar: every subcommand's flags and help, and what a usage error is.

Kept apart from :mod:`core.cli` (which runs the commands) so that the spellings, a
contract with scripts (DESIGN, "The command line"), are read in one place.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from core import __version__, accountscli
from core.accounts import AUTH_METHODS, OAuthSettings
from core.auth import oauth_args
from core.auth.oauth_args import DEFAULT_TIMEOUT
from core.net import Security
from core.units import parse_duration, parse_size

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2
_T = TypeVar("_T")


class UsageError(Exception):
    pass


def _units(parse: Callable[[str], _T]) -> Callable[[str], _T]:
    """An argparse type from a units parser: its ValueError becomes a usage error."""

    def convert(text: str) -> _T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


FETCH_EPILOG = """\
password: --password-command (the first line it prints), else the environment variable
POPFETCH_PASSWORD, else the keychain (service "popfetch", user USER@HOST:PORT), else a
prompt on a terminal; with none of them, fetch stops with an error.

delivery (--deliver URL; --maildir PATH is short for maildir:PATH):
  maildir:PATH  mbox:PATH  mda:COMMAND (the message on its standard input)
  lmtp:HOST:PORT  lmtp:/path/to/socket
  imap://USER@HOST[:PORT]/MAILBOX (STARTTLS, required)  imaps://USER@HOST[:PORT]/MAILBOX
The IMAP password comes from --deliver-password-command, else the keychain (service
"popfetch", user USER@HOST:PORT of the IMAP server). --cafile applies to every server the
run talks to. A message is deleted (--delete) only once its target has it; one the target
refuses or defers stays on the server, and the next run delivers it.

exit status: 0 all done, 1 some messages failed, 2 usage, connection or authentication
error, or an interrupt (SIGTERM, SIGINT: partial downloads are kept). A message left on
the server (a duplicate UIDL) is 1 too; with --every, SIGTERM ends the run with 0. Each
check ends with a line that sums up messages and bytes fetched, resumed and deleted.
"""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Epilogs as written; an option's default named after its help when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, [], argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a count (0, 1, 2 ...): {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    fmt = _Help
    parser = argparse.ArgumentParser(
        prog="popfetch",
        description="POP3 mail fetcher, headless: fetch mail into a Maildir, or serve one.",
        formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"popfetch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser(
        "fetch", help="download new mail into a Maildir, headless", formatter_class=fmt,
        description="Download every message whose UIDL is not stored yet into a Maildir,\n"
                    "resuming partial downloads and reconnecting after drops.",
        epilog=FETCH_EPILOG)
    # --host, --user and --maildir name the server, unless --account / --all take it from
    # the accounts file; then every flag given overrides that account's stored setting.
    fetch.add_argument("--host", help="the POP3 server's host name")
    fetch.add_argument("--port", type=int,
                       help="the server's port (default: 995 for tls, 110 otherwise)")
    fetch.add_argument(
        "--security", choices=[s.value for s in Security],
        help="tls: TLS from the start (the default); starttls: upgrade with STLS; "
             "none: clear text"
    )
    fetch.add_argument("--user", help="the user name on the server")
    where = fetch.add_mutually_exclusive_group()
    where.add_argument("--maildir", type=Path,
                       help="the Maildir to store into (created if missing)")
    where.add_argument("--deliver", metavar="URL",
                       help="where to deliver: maildir:, mbox:, mda:, lmtp:, imap://, imaps:// "
                            "(see below)")
    fetch.add_argument("--deliver-password-command", metavar="CMD",
                       help="command whose first output line is the IMAP target's password")
    chosen = fetch.add_mutually_exclusive_group()
    chosen.add_argument("--account", action="append", metavar="NAME",
                        help="an account from `popfetch accounts add` or the app (repeatable)")
    chosen.add_argument("--all", action="store_true", help="every configured account")
    fetch.add_argument("--max-size", type=_units(parse_size), metavar="SIZE",
                       help="skip larger messages (500k, 5M, or octets)")
    fetch.add_argument("--every", type=_units(parse_duration), metavar="DURATION",
                       help="keep running, checking on this schedule (30s, 10m, 1h)")
    fetch.add_argument("--cafile",
                       help="PEM file of CA certificates to trust (every server of the run)")
    fetch.add_argument("--fingerprint",
                       help="trust the POP3 server's certificate with this SHA-256 (pin)")
    fetch.add_argument("--password-command", help="command whose first output line is the password")
    fetch.add_argument("--auth", choices=AUTH_METHODS,
                       help="sign-in method; auto (the default) picks the safest the server "
                            "offers")
    fetch.add_argument("--oauth-token-command", metavar="CMD",
                       help="command whose first output line is an OAuth access token "
                            "(with --auth xoauth2 or oauthbearer); run again once after a refusal")
    oauth_args.add_arguments(fetch)
    fetch.add_argument("--allow-plaintext", action="store_true",
                       help="allow USER/PASS or AUTH PLAIN without TLS")
    keep = fetch.add_mutually_exclusive_group()
    keep.add_argument("--keep", action="store_true", help="leave mail on the server (default)")
    keep.add_argument("--delete", action="store_true",
                      help="delete what is stored, committed with QUIT")
    fetch.add_argument("--state-dir", type=Path,
                       help="where partial downloads and stored UIDLs are kept (default: "
                            "under $XDG_STATE_HOME/popfetch, one directory per account)")
    fetch.add_argument("--max-retries", type=_count, default=5,
                       help="give up after this many failures in a row")
    # Durations, never 0, negative, "nan" or "inf": a NaN timeout crashed, an inf delay hung.
    fetch.add_argument("--retry-delay", type=_units(parse_duration), default=1.0,
                       help="first reconnect delay in seconds (doubles, with jitter)")
    fetch.add_argument("--timeout", type=_units(parse_duration), default=60.0,
                       help="connect, TLS handshake and read timeout in seconds")
    fetch.add_argument("--discard-partials", action="store_true",
                       help="forget partly downloaded messages first (fetch them whole)")
    fetch.add_argument("--quiet", "-q", action="store_true",
                       help="print only errors and the summary line")

    accountscli.register(sub)

    oauth = sub.add_parser("oauth", help="sign in with OAuth 2.0 (Google, Microsoft, ...)")
    oauth_sub = oauth.add_subparsers(dest="oauth_command", required=True)
    login = oauth_sub.add_parser(
        "login", help="sign in once in a browser (or with --device, on another machine's); "
                      "the refresh token goes to the keychain and fetch uses it")
    logout = oauth_sub.add_parser(
        "logout", help="revoke the sign-in at the provider (where it can) and forget it")
    for command in (login, logout):
        command.add_argument("--account", metavar="NAME",
                             help="an account of the app (popfetch accounts add ... "
                                  "--oauth-provider P), instead of the flags below")
        command.add_argument("--user", help="the mail address signed in")
        command.add_argument("--host", help="POP3 server (default: the provider's)")
        command.add_argument("--port", type=int)
        command.add_argument("--security", choices=[s.value for s in Security])
        oauth_args.add_arguments(command)
    login.add_argument("--device", action="store_true",
                       help="device sign-in (RFC 8628): show a code to enter on any device")
    login.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                       help="seconds to wait for the browser (default 300)")

    demo = sub.add_parser(
        "demo-server", help="serve a Maildir over POP3 on loopback", formatter_class=fmt,
        description="A POP3 server with EXT-RETR, throttling and fault injection, for trying\n"
                    "popfetch and for tests. It prints its address, user and password.")
    demo.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    demo.add_argument("--host", default="127.0.0.1", help="address to listen on")
    demo.add_argument("--maildir", required=True, type=Path, help="the Maildir to serve")
    demo.add_argument("--rate", type=float, help="throttle to this many bytes/s per connection")
    demo.add_argument("--no-ext-retr", action="store_true", help="do not offer RETR offsets")
    demo.add_argument("--drop-every", type=int, metavar="BYTES",
                      help="drop the connection each time this many more body bytes were sent")
    demo.add_argument("--cut-at", type=int, nargs="+", default=[], metavar="BYTES",
                      help="drop the connection once, when the body bytes sent reach each position")
    demo.add_argument("--random-drop", type=float, default=0.0, metavar="P",
                      help="chance that a RETR is cut at a random point (a flaky link)")
    demo.add_argument("--user", default="demo", help="the user name the server accepts")
    demo.add_argument("--password", default="demo", help="the password the server accepts")
    demo.add_argument("--sample", action="store_true",
                      help="fill an empty Maildir with the demo mailbox first")
    return parser


def oauth_settings(args: argparse.Namespace) -> OAuthSettings | None:
    try:
        return oauth_args.settings_from(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
