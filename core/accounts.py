"""Account settings: a JSON file in the user's config dir, and where each account keeps state.

The file holds settings only. Passwords live in the OS keychain (:mod:`core.auth.keychain`)
under the account's :attr:`Account.key`; :class:`Account` has no field that could carry
one, and :class:`AccountBook` writes a fixed list of fields, so a secret cannot reach the
file by accident, not even from a hand-edited file that had one (it is dropped on save).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.auth.passwords import keychain_key, target_key
from core.engine.retention import Rule
from core.net import Security, TlsPolicy, normalize_fingerprint
from core.store.targets import ImapSpec, MaildirSpec, TargetSpec, parse_deliver

__all__ = [
    "AUTH_METHODS",
    "OAUTH_PROVIDERS",
    "Account",
    "AccountBook",
    "AccountFileError",
    "OAuthSettings",
    "config_dir",
    "data_dir",
    "default_port",
    "state_dir",
]

APP_NAME = "popfetch"
AUTH_METHODS = (
    "auto", "user", "apop", "plain", "login", "cram-md5", "scram-sha-256", "xoauth2", "oauthbearer"
)
OAUTH_PROVIDERS = ("google", "microsoft", "generic")
FILE_VERSION = 1
DEFAULT_CHECK_EVERY = 600.0  # 10 minutes: Gmail asks for no less
_CONTROL = {chr(c) for c in range(0x20)} | {"\x7f"}


class AccountFileError(ValueError):
    """The accounts file exists but cannot be understood; it is left untouched."""


# -- XDG base directories -----------------------------------------------------------------------


def _xdg(variable: str, fallback: str) -> Path:
    # The XDG spec says relative paths in these variables are invalid and must be ignored.
    value = os.environ.get(variable, "")
    base = Path(value) if value and os.path.isabs(value) else Path.home() / fallback
    return base / APP_NAME


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/popfetch`` (default ``~/.config/popfetch``): the accounts file."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    """``$XDG_STATE_HOME/popfetch`` (default ``~/.local/state/popfetch``): per-account state."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def data_dir() -> Path:
    """``$XDG_DATA_HOME/popfetch`` (default ``~/.local/share/popfetch``): e.g. the demo mailbox."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def _private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents as 0700: they hold one user's mail metadata.

    (``Path.mkdir(parents=True, mode=...)`` would give the parents the default mode.)
    """
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
    return path


def default_port(security: Security) -> int:
    """995 for implicit TLS (pop3s), 110 for STLS and plaintext (pop3)."""
    return 995 if security is Security.TLS else 110


# -- Account -------------------------------------------------------------------------------------


def _check_text(field: str, value: str, *, allow_empty: bool = False) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be text, not {type(value).__name__}")
    if not value and not allow_empty:
        raise ValueError(f"{field} must not be empty")
    if any(ch in _CONTROL for ch in value):
        # CR/LF in a user name would inject POP3 commands; no control character is legitimate.
        raise ValueError(f"{field} must not contain control characters")


@dataclass
class OAuthSettings:
    """How an account signs in with OAuth 2.0: which provider, which client. Never a token.

    ``client_id`` empty means the installation's configuration provides it
    (:mod:`core.auth.oauth_providers`). ``tenant`` is Microsoft's (default ``common``);
    ``issuer`` (OpenID discovery) or the explicit endpoints are the generic provider's.
    ``scopes`` (space-separated) replaces the preset's when set.
    """

    provider: str
    client_id: str = ""
    tenant: str = ""
    issuer: str = ""
    authorization_endpoint: str = ""
    token_endpoint: str = ""
    device_authorization_endpoint: str = ""
    revocation_endpoint: str = ""
    scopes: str = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _check_text(f"oauth {f.name}", getattr(self, f.name), allow_empty=f.name != "provider")
        self.provider = self.provider.lower()
        if self.provider not in OAUTH_PROVIDERS:
            raise ValueError(
                f"unknown OAuth provider {self.provider!r}; one of {', '.join(OAUTH_PROVIDERS)}"
            )
        if self.provider == "generic" and not (
            self.issuer or (self.authorization_endpoint and self.token_endpoint)
        ):
            raise ValueError("a generic OAuth provider needs an issuer or both endpoints")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OAuthSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Account:
    """One POP3 mailbox and how to reach it. Validated on construction (ValueError).

    ``host`` is stored stripped and lower-cased (DNS names are case-insensitive, and the
    keychain entry must not split on case). ``security`` accepts the enum or its value.
    """

    host: str
    port: int
    security: Security
    user: str
    maildir: str
    name: str = ""
    cafile: str | None = None
    pinned_sha256: str | None = None
    allow_plaintext: bool = False
    auth: str = "auto"  # one of AUTH_METHODS
    delete_after_fetch: bool = False
    # Run for the password instead of the keychain (its first output line); a command,
    # never a secret: ``popfetch accounts add --password-command``.
    password_command: str | None = None
    # Unattended checks: every ``check_every`` seconds (None: only when asked), new mail
    # downloaded by itself or only listed, the leave-on-server rule (a retention.Rule
    # value; "when-stored" is what ``delete_after_fetch`` says, kept in step with it),
    # and messages over ``max_size`` octets only listed, fetched when asked.
    check_every: float | None = DEFAULT_CHECK_EVERY
    auto_download: bool = False
    leave_on_server: str = Rule.KEEP.value
    delete_after_days: int = 14
    max_size: int | None = None
    oauth: OAuthSettings | None = None  # with auth xoauth2/oauthbearer, unless a token command
    # Where fetched mail goes, a ``--deliver`` URL (mbox:, mda:, lmtp:, imap://, imaps://);
    # None: the Maildir at ``maildir`` (an accounts file from before targets has none).
    deliver: str | None = None

    def __post_init__(self) -> None:
        self.security = Security(self.security)
        _check_text("host", self.host)
        self.host = self.host.strip().lower()
        if not self.host or any(ch.isspace() for ch in self.host) or "/" in self.host:
            raise ValueError(f"not a host name: {self.host!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ValueError(f"port must be a number, not {self.port!r}")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"port out of range 1-65535: {self.port}")
        _check_text("user", self.user)
        _check_text("maildir", self.maildir)
        _check_text("name", self.name, allow_empty=True)
        if self.cafile is not None:
            _check_text("cafile", self.cafile)
        if self.pinned_sha256 is not None:
            self.pinned_sha256 = normalize_fingerprint(self.pinned_sha256)
        if self.password_command is not None:
            _check_text("password_command", self.password_command)
        _check_text("auth", self.auth)
        self.auth = self.auth.lower()
        if self.auth not in AUTH_METHODS:
            raise ValueError(f"unknown auth method {self.auth!r}; one of {', '.join(AUTH_METHODS)}")
        self._check_unattended()
        self._check_deliver()

    def _check_deliver(self) -> None:
        if self.deliver is None:
            return
        _check_text("deliver", self.deliver)
        spec = parse_deliver(self.deliver)  # ValueError says what is wrong
        if isinstance(spec, MaildirSpec):  # one place for the Maildir: ``maildir``
            self.maildir, self.deliver = self.deliver.partition(":")[2], None

    def target(self) -> TargetSpec:
        """Where this account delivers (parsed ``deliver``, else its Maildir)."""
        if self.deliver is None:
            return MaildirSpec(self.maildir_path())
        return parse_deliver(self.deliver)

    def target_key(self) -> str | None:
        """The keychain key of its IMAP target's password; None for other targets."""
        spec = self.target()
        return target_key(spec) if isinstance(spec, ImapSpec) else None

    def _check_unattended(self) -> None:
        if self.check_every is not None and not (
            isinstance(self.check_every, int | float) and self.check_every > 0
        ):
            raise ValueError(f"check interval must be above 0 seconds: {self.check_every!r}")
        rule = Rule(self.leave_on_server)  # ValueError names the bad value
        if self.delete_after_fetch and rule is Rule.KEEP:
            rule = Rule.WHEN_STORED  # an account file from before the rules existed
        self.leave_on_server = rule.value
        self.delete_after_fetch = rule is Rule.WHEN_STORED
        if isinstance(self.delete_after_days, bool) or not isinstance(self.delete_after_days, int) \
                or self.delete_after_days < 0:
            raise ValueError(f"days must be 0 or more: {self.delete_after_days!r}")
        if self.max_size is not None and (isinstance(self.max_size, bool) or not isinstance(
                self.max_size, int) or self.max_size <= 0):
            raise ValueError(f"size limit must be above 0 octets: {self.max_size!r}")

    @property
    def key(self) -> str:
        """``USER@HOST:PORT``: the account's identity and its keychain user name.

        An IPv6 literal is bracketed (``user@[::1]:995``) so the port stays unambiguous.
        """
        return keychain_key(self.user, self.host, self.port)

    @property
    def display_name(self) -> str:
        return self.name or self.key

    def tls_policy(self) -> TlsPolicy:
        return TlsPolicy(cafile=self.cafile, pinned_sha256=self.pinned_sha256)

    def maildir_path(self) -> Path:
        return Path(self.maildir).expanduser()

    def state_dir(self, *, create: bool = True) -> Path:
        """This account's private state directory (SQLite state, partial downloads).

        Named by a hash of :attr:`key`: a user or host name may contain ``/``, ``..`` or
        characters a file system rejects, so no part of it becomes a path component.
        Created 0700 unless ``create`` is false.
        """
        digest = hashlib.sha256(self.key.encode("utf-8")).hexdigest()[:32]
        path = state_dir() / "accounts" / digest
        return _private_dir(path) if create else path

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field spelled out, the enum as its value."""
        data = dataclasses.asdict(self)
        data["security"] = self.security.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Account:
        """Build from the JSON form. Unknown keys (a newer version's, or a stray
        ``password``) are ignored, and so never written back. A missing port gets the
        default for the security mode."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        missing = {"host", "security", "user", "maildir"} - values.keys()
        if missing:
            raise ValueError(f"account lacks {', '.join(sorted(missing))}")
        values["security"] = Security(values["security"])
        values.setdefault("port", default_port(values["security"]))
        if isinstance(values.get("oauth"), Mapping):
            values["oauth"] = OAuthSettings.from_dict(values["oauth"])
        return cls(**values)


# -- the accounts file ---------------------------------------------------------------------------


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a 0600 temp file in the same directory, fsync, rename, fsync the directory.

    A crash leaves either the old file or the new one, never a half-written mix; the
    permission is right from the first byte (mkstemp creates 0600), not chmod-ed later.
    """
    directory = _private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class AccountBook:
    """The list of accounts, stored as ``accounts.json`` in :func:`config_dir`.

    Each change loads the file, applies the change and writes the whole file atomically,
    so two windows editing accounts lose at most a race, never the file.
    """

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else config_dir() / "accounts.json"

    def load(self) -> list[Account]:
        """All accounts in file order; ``[]`` when there is no file yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict) or not isinstance(doc.get("accounts"), list):
                raise ValueError("expected an object with an 'accounts' list")
            return [Account.from_dict(item) for item in doc["accounts"]]
        except (ValueError, TypeError) as exc:
            raise AccountFileError(f"{self.path}: {exc}") from exc

    def save(self, accounts: Iterable[Account]) -> None:
        """Replace the file's contents (mode 0600). Two accounts with one key: ValueError."""
        items = list(accounts)
        keys = [a.key for a in items]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate accounts: {', '.join(duplicates)}")
        doc = {"version": FILE_VERSION, "accounts": [a.to_dict() for a in items]}
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        _write_atomically(self.path, text.encode("utf-8"))

    def get(self, key: str) -> Account | None:
        return next((a for a in self.load() if a.key == key), None)

    def add(self, account: Account) -> None:
        """Append; ValueError if an account with the same key exists."""
        accounts = self.load()
        if any(a.key == account.key for a in accounts):
            raise ValueError(f"account {account.key} exists already")
        self.save([*accounts, account])

    def update(self, account: Account, *, old_key: str | None = None) -> None:
        """Replace the account whose key is ``old_key`` (default: ``account.key``).

        Pass ``old_key`` when the user changed user, host or port, which changes the key
        (the caller then moves the keychain entry). KeyError if there is no such account.
        """
        target = old_key if old_key is not None else account.key
        accounts = self.load()
        for i, existing in enumerate(accounts):
            if existing.key == target:
                accounts[i] = account
                self.save(accounts)
                return
        raise KeyError(target)

    def remove(self, key: str) -> None:
        """Drop the account with this key; KeyError if there is none.

        Its password and state directory are the caller's to clean up (keychain, store).
        """
        accounts = self.load()
        kept = [a for a in accounts if a.key != key]
        if len(kept) == len(accounts):
            raise KeyError(key)
        self.save(kept)
