"""The headless command line: ``popfetch fetch`` and ``popfetch demo-server``. No Qt here.

Exit status of ``fetch``: 0 all done, 1 some messages failed (or were left on the server:
a suspect copy, a duplicate UIDL), 2 usage, connection or authentication error, or an
interrupt (SIGTERM/SIGINT: the engine stops within a second, partials are kept). Every
session ends with QUIT; it ends with one summary line.
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
from typing import TYPE_CHECKING, TypeVar

from core import __version__, accountscli
from core.accounts import AUTH_METHODS, Account, AccountBook, OAuthSettings, default_port
from core.auth import oauth_args, passwords
from core.auth.oauth import (
    DEFAULT_TIMEOUT,
    DeviceCode,
    OAuthTokens,
    get_json,
    sign_in,
    sign_in_with_device,
    sign_out,
    store_sign_in,
)
from core.auth.oauth_command import CommandTokens
from core.auth.oauth_providers import PRESETS, resolve
from core.auth.sasl import BEARER_MECHANISMS, TokenSource
from core.engine.events import (
    CommitFinished,
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
    Event,
    MessageState,
    MessageStateChanged,
    Progress,
)
from core.errors import PasswordUnavailable, PopError
from core.net import Security, TlsPolicy
from core.text import sanitize
from core.units import parse_duration, parse_size

if TYPE_CHECKING:
    from core.store.local import Store

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
error. The last line printed sums up messages and bytes fetched, resumed and deleted.
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


def _parser() -> argparse.ArgumentParser:
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


def _oauth_settings(args: argparse.Namespace) -> OAuthSettings | None:
    try:
        return oauth_args.settings_from(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


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


class _Reporter:
    """Prints progress on a terminal and one line per problem; counts for the summary."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.failed: dict[str, str] = {}
        self.commit: CommitFinished | None = None
        self.fatal: ErrorOccurred | None = None
        self.done = threading.Event()  # CommitFinished arrived
        self.ended = threading.Event()  # the session ended (or the account stopped)
        self._lock = threading.Lock()

    def wait_until(self, event: threading.Event, interrupted: threading.Event) -> None:
        """Until ``event``, a fatal error or an interrupt (the engine reports either)."""
        while not event.wait(0.2):
            if self.fatal is not None or interrupted.is_set():
                return

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        out = sys.stderr
        if isinstance(event, Progress):
            if self.tty and not self.quiet and event.total:
                pct = 100 * event.received / event.total
                rate = event.rate / 1e6
                out.write(f"\r  {_say(event.uidl)[:30]:30} {pct:5.1f}% {rate:7.1f} MB/s")
                out.flush()
        elif isinstance(event, MessageStateChanged):
            if event.state is MessageState.FAILED:
                self.failed[event.uidl] = event.detail
                out.write(f"\npopfetch: {_say(f'{event.uidl}: {event.detail}')}\n")
            elif event.state is MessageState.STORED:
                self.failed.pop(event.uidl, None)
                if self.tty and not self.quiet:
                    out.write(f"\r  {_say(event.uidl)[:30]:30} stored{' ' * 20}\n")
        elif isinstance(event, ErrorOccurred):
            if event.fatal:
                self.fatal = event
            if not self.quiet or event.fatal or event.left_on_server:
                out.write(f"popfetch: {_say(event.message)}\n")
        elif isinstance(event, CommitFinished):
            self.commit = event
            self.done.set()
        elif isinstance(event, ConnectionChanged) and event.state in (
            ConnectionState.DISCONNECTED, ConnectionState.FAILED
        ):
            self.ended.set()


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
        return CommandTokens(args.oauth_token_command)
    if account.oauth is None:
        raise UsageError(
            f"--auth {account.auth} needs --oauth-token-command, or --oauth-provider after "
            "'popfetch oauth login'"
        )
    return OAuthTokens.for_account(account)


def _fetch(args: argparse.Namespace) -> int:
    from core.engine.coordinator import Engine, RetryPolicy

    if args.account or args.all or args.every or args.max_size:
        return _fetch_accounts(args)
    account = _account_from_flags(args)
    try:
        password = _credentials(account, args)
        store = _store_opener(args)(args.state_dir or account.state_dir())
    except (ValueError, OSError, PopError) as exc:  # start-up: one plain line, exit 2
        raise UsageError(str(exc)) from None
    if args.discard_partials:
        dropped = store.discard_partials()
        if dropped and not args.quiet:
            print(f"popfetch: discarded {dropped} partial download(s)", file=sys.stderr)
    reporter = _Reporter(args.quiet)
    engine = Engine(
        account,
        password=lambda: password,
        listener=reporter,
        store=store,
        retry=RetryPolicy(initial=args.retry_delay, max_failures=args.max_retries),
        auto_download=True,
        delete_after_fetch=args.delete,
        read_timeout=args.timeout,
        connect_timeout=args.timeout,
        transcript=False,
        list_headers=False,
    )
    interrupted = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        interrupted.set()
        engine.shutdown(timeout=0)  # aborts any connection; the worker ends within a second

    old = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        engine.start()
        engine.wait_idle()
        if reporter.fatal is None and not interrupted.is_set():
            if args.delete:
                engine.commit()
                reporter.wait_until(reporter.done, interrupted)
            else:
                reporter.ended.clear()
                engine.disconnect()  # QUIT ends the session (RSET first if marks went out)
                reporter.wait_until(reporter.ended, interrupted)
    finally:
        engine.shutdown(timeout=10)
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGTERM, old_term)
    s = engine.stats
    deleted = reporter.commit.deleted if reporter.commit else frozenset()
    if reporter.fatal is not None and not (s.fetched or deleted or reporter.failed):
        return EXIT_ERROR  # the error line says it all; "0 messages fetched" would mislead
    print(
        f"popfetch: {s.fetched} messages ({s.fetched_bytes / 1e6:.1f} MB) fetched, "
        f"{s.resumed} resumed, {len(deleted)} deleted, {len(reporter.failed)} failed"
        + (f", {s.suspect} suspect copies kept" if s.suspect else "")
        + (f", {s.skipped} left on the server" if s.skipped else "")
        + (f", {s.reconnects} reconnects" if s.reconnects else "")
        + (f", {s.received_bytes - s.fetched_bytes} octets sent again"
           if s.received_bytes > s.fetched_bytes else "")
    )
    if interrupted.is_set():
        print("popfetch: interrupted; partial downloads are kept for the next run",
              file=sys.stderr)
        return EXIT_ERROR
    if reporter.fatal is not None:
        return EXIT_ERROR
    if args.delete and (reporter.commit is None or not reporter.commit.ok):
        return EXIT_ERROR
    return EXIT_SOME_FAILED if reporter.failed or s.skipped else EXIT_OK


def _oauth_command(args: argparse.Namespace) -> int:
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
    settings = _oauth_settings(args)
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
            delete_after_fetch=args.delete, oauth=_oauth_settings(args),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.cafile and not Path(args.cafile).is_file():
        raise UsageError(f"--cafile {args.cafile}: no such file")
    return account


def _fetch_accounts(args: argparse.Namespace) -> int:
    """--account / --all, --max-size, --every: :mod:`core.headless` runs the checks."""
    from core.engine.coordinator import RetryPolicy
    from core.engine.retention import Retention, Rule
    from core.headless import Fetcher, FetchOptions

    if args.account or args.all:
        try:
            accounts = accountscli.chosen_accounts(args)
        except (accountscli.AccountsError, ValueError) as exc:
            raise UsageError(str(exc)) from None
    else:
        accounts = [_account_from_flags(args)]
    if args.state_dir and len(accounts) > 1:
        raise UsageError("--state-dir names one account's state: give one --account")
    pairs = [(a, _credentials(a, args)) for a in accounts]
    retention = (Retention(Rule.WHEN_STORED) if args.delete
                 else Retention() if args.keep else None)
    opener = _store_opener(args) if args.deliver else None
    options = FetchOptions(
        max_size=args.max_size, retention=retention, read_timeout=args.timeout,
        retry=RetryPolicy(initial=args.retry_delay, max_failures=args.max_retries),
        quiet=args.quiet, state_dir=args.state_dir, discard_partials=args.discard_partials,
        open_store=(lambda _account, state_dir: opener(state_dir)) if opener else None,
    )
    fetcher = Fetcher(pairs, options)
    old = signal.signal(signal.SIGINT, lambda *_: fetcher.stop())
    old_term = signal.signal(signal.SIGTERM, lambda *_: fetcher.stop())
    try:
        return fetcher.every(args.every) if args.every else fetcher.once()
    finally:
        signal.signal(signal.SIGINT, old)
        signal.signal(signal.SIGTERM, old_term)


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
    parser = _parser()
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
            return _oauth_command(args)
        return _demo_server(args)
    except UsageError as exc:
        print(f"popfetch: {_say(str(exc))}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
