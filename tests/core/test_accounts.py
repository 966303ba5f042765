"""core.accounts: validation, keys, XDG places, and the accounts file (atomic, 0600, no secrets)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import accounts
from core.accounts import (
    Account,
    AccountBook,
    AccountFileError,
    config_dir,
    data_dir,
    default_port,
    state_dir,
)
from core.auth.keychain import Keychain
from core.net import Security, TlsPolicy
from core.store.targets import ImapSpec, MaildirSpec
from tests.support.memkeyring import MemoryKeyring, installed

PIN = ":".join(["AB"] * 32)


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield tmp_path


def make(**overrides: object) -> Account:
    values: dict[str, object] = {
        "host": "pop.example.org",
        "port": 995,
        "security": Security.TLS,
        "user": "alice",
        "maildir": "~/Mail/example",
    }
    values.update(overrides)
    return Account(**values)  # type: ignore[arg-type]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- Account ----------------------------------------------------------------------------------


def test_key_is_user_at_host_port() -> None:
    assert make().key == "alice@pop.example.org:995"
    assert make(host=" POP.Example.ORG ").key == "alice@pop.example.org:995"
    assert make(host="::1", port=1995).key == "alice@[::1]:1995"
    assert make(host="127.0.0.1", port=110).key == "alice@127.0.0.1:110"
    assert make(user="a.b+c@example.org").key == "a.b+c@example.org@pop.example.org:995"


def test_security_accepts_value_and_default_ports() -> None:
    assert make(security="starttls").security is Security.STARTTLS
    assert default_port(Security.TLS) == 995
    assert default_port(Security.STARTTLS) == 110
    assert default_port(Security.NONE) == 110
    base = {"host": "h", "user": "u", "maildir": "/m"}
    assert Account.from_dict({**base, "security": "tls"}).port == 995
    assert Account.from_dict({**base, "security": "starttls"}).port == 110
    assert Account.from_dict({**base, "security": "none"}).port == 110
    assert Account.from_dict({**base, "security": "none", "port": 2110}).port == 2110


@pytest.mark.parametrize(
    "overrides",
    [
        {"user": "alice\r\nDELE 1"},
        {"user": ""},
        {"host": ""},
        {"host": "pop example.org"},
        {"host": "a/b"},
        {"port": 0},
        {"port": 70000},
        {"port": "995"},
        {"port": True},
        {"auth": "kerberos"},
        {"security": "ssl"},
        {"pinned_sha256": "AB:CD"},
        {"maildir": ""},
        {"name": "tab\there"},
    ],
)
def test_invalid_accounts_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make(**overrides)


def test_pin_and_policy() -> None:
    account = make(pinned_sha256=PIN.replace(":", "").lower(), cafile="/etc/ca.pem")
    assert account.pinned_sha256 == PIN
    assert account.tls_policy() == TlsPolicy(cafile="/etc/ca.pem", pinned_sha256=PIN)
    assert make().tls_policy() == TlsPolicy()


def test_auth_is_case_insensitive_and_display_name() -> None:
    assert make(auth="CRAM-MD5").auth == "cram-md5"
    assert make().display_name == "alice@pop.example.org:995"
    assert make(name="Work").display_name == "Work"


def test_maildir_path_expands_home(xdg: Path) -> None:
    assert make().maildir_path() == xdg / "home" / "Mail" / "example"


# -- XDG places -------------------------------------------------------------------------------


def test_xdg_dirs_honour_environment(xdg: Path) -> None:
    assert config_dir() == xdg / "config" / "popfetch"
    assert state_dir() == xdg / "state" / "popfetch"
    assert data_dir() == xdg / "data" / "popfetch"


def test_xdg_dirs_default_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", "")
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/invalid")
    assert config_dir() == tmp_path / ".config" / "popfetch"
    assert state_dir() == tmp_path / ".local" / "state" / "popfetch"
    assert data_dir() == tmp_path / ".local" / "share" / "popfetch"


def test_state_dir_is_hashed_private_and_stable(xdg: Path) -> None:
    evil = make(user="../../../etc", host="pop.example.org")
    path = evil.state_dir()
    assert path.is_dir() and mode(path) == 0o700
    assert path.parent == state_dir() / "accounts"
    assert len(path.name) == 32 and all(c in "0123456789abcdef" for c in path.name)
    assert path.resolve().is_relative_to(xdg / "state" / "popfetch" / "accounts")
    assert mode(path.parent) == mode(state_dir()) == 0o700  # parents made private too
    assert make(user="../../../etc").state_dir() == path  # same key, same place
    assert make(user="bob").state_dir() != path
    assert make(port=1995).state_dir(create=False) != path
    assert not make(port=1995).state_dir(create=False).exists()


# -- AccountBook ------------------------------------------------------------------------------


def test_round_trip_and_file_permissions(xdg: Path) -> None:
    book = AccountBook()
    assert book.path == config_dir() / "accounts.json"
    assert book.load() == []
    first = make(name="Work", pinned_sha256=PIN, delete_after_fetch=True, auth="apop")
    second = make(host="127.0.0.1", port=2110, security=Security.NONE, allow_plaintext=True)
    book.save([first, second])
    assert mode(book.path) == 0o600
    assert mode(book.path.parent) == 0o700
    assert book.load() == [first, second]
    doc = json.loads(book.path.read_text())
    assert doc["version"] == 1
    assert doc["accounts"][1]["security"] == "none"
    assert sorted(os.listdir(book.path.parent)) == ["accounts.json"]  # no temp file left


def test_mode_stays_0600_when_umask_is_lax(xdg: Path) -> None:
    old = os.umask(0)
    try:
        book = AccountBook()
        book.save([make()])
        book.save([make(), make(user="bob")])
    finally:
        os.umask(old)
    assert mode(book.path) == 0o600


def test_add_update_remove(xdg: Path) -> None:
    book = AccountBook(xdg / "elsewhere" / "a.json")
    alice = make()
    book.add(alice)
    with pytest.raises(ValueError, match="exists"):
        book.add(make(host="POP.EXAMPLE.ORG"))  # same key after normalisation
    book.add(make(user="bob"))
    assert [a.user for a in book.load()] == ["alice", "bob"]

    book.update(make(name="Alice at work"))
    assert book.get(alice.key) == make(name="Alice at work")

    moved = make(port=1995)
    book.update(moved, old_key=alice.key)
    assert book.get(alice.key) is None and book.get(moved.key) == moved
    assert [a.user for a in book.load()] == ["alice", "bob"]  # order kept
    with pytest.raises(KeyError):
        book.update(make(user="carol"))

    book.remove(moved.key)
    assert [a.user for a in book.load()] == ["bob"]
    with pytest.raises(KeyError):
        book.remove(moved.key)


def test_duplicate_keys_refused_on_save(xdg: Path) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        AccountBook().save([make(), make(name="again")])


def test_corrupt_file_is_reported_and_left_alone(xdg: Path) -> None:
    book = AccountBook()
    book.path.parent.mkdir(parents=True)
    for junk in ("{not json", '{"accounts": 3}', '{"accounts": [{"host": "h"}]}', "[]"):
        book.path.write_text(junk)
        with pytest.raises(AccountFileError):
            book.load()
        with pytest.raises(AccountFileError):
            book.add(make())
        assert book.path.read_text() == junk


def test_failed_write_keeps_the_old_file(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = AccountBook()
    book.save([make()])
    before = book.path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(accounts.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        book.save([make(), make(user="bob")])
    assert book.path.read_bytes() == before
    assert sorted(os.listdir(book.path.parent)) == ["accounts.json"]


def test_no_secret_ever_reaches_the_file(xdg: Path) -> None:
    """The password goes to the keychain; the accounts file and state dir never see it."""
    secret = "s3cr3t-Pa55word!"
    account = make()
    with installed(MemoryKeyring()) as backend:
        Keychain().set(account.key, secret)
        book = AccountBook()
        book.add(account)
        account.state_dir()
        assert backend.passwords == {("popfetch", account.key): secret}  # type: ignore[attr-defined]
    for root in (config_dir(), state_dir()):
        for path in root.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
    # A *_command field names a program that prints the secret, never the secret itself.
    fields = {f.lower() for f in make().to_dict() if not f.endswith("_command")}
    assert not any("pass" in f or "secret" in f or "token" in f for f in fields)


def test_hand_edited_password_is_dropped_on_save(xdg: Path) -> None:
    book = AccountBook()
    book.path.parent.mkdir(parents=True)
    entry = make().to_dict() | {"password": "hunter2", "future_option": 1}
    book.path.write_text(json.dumps({"version": 1, "accounts": [entry]}))
    [loaded] = book.load()
    assert loaded == make()
    book.save([loaded])
    text = book.path.read_text()
    assert "hunter2" not in text and '"password"' not in text and "future_option" not in text


# -- Deliver to ----------------------------------------------------------------------------------


def test_an_account_from_before_targets_delivers_to_its_maildir():
    account = Account.from_dict({"host": "pop.example.org", "security": "tls", "user": "me",
                                 "maildir": "/home/me/Mail/work"})
    assert account.deliver is None
    assert account.target() == MaildirSpec(Path("/home/me/Mail/work"))


def test_a_deliver_url_is_kept_and_round_trips_through_the_file(tmp_path: Path):
    book = AccountBook(tmp_path / "accounts.json")
    book.add(make(deliver="imaps://me@example.com@imap.example.org/Archive/POP"))
    (loaded,) = book.load()
    assert loaded.deliver == "imaps://me@example.com@imap.example.org/Archive/POP"
    assert loaded.target() == ImapSpec("me@example.com", "imap.example.org", 993,
                                       "Archive/POP", True)


def test_only_an_imap_target_has_a_keychain_key():
    imap = make(deliver="imap://me@example.com@Imap.Example.org:1143/INBOX")
    assert imap.target_key() == "me@example.com@Imap.Example.org:1143"  # as fetch looks
    assert make(deliver="imaps://me@[::1]/INBOX").target_key() == "me@[::1]:993"
    assert make(deliver="mbox:/m").target_key() is None
    assert make().target_key() is None


def test_a_maildir_url_is_the_maildir_field():
    account = make(deliver="maildir:/srv/mail/me")
    assert (account.deliver, account.maildir) == (None, "/srv/mail/me")


@pytest.mark.parametrize("url", ["pop3://x", "imap://nobody-at-host/INBOX", "mbox:", "lmtp:host",
                                 "mda:true\nrm -rf"])
def test_a_bad_deliver_url_is_refused(url: str):
    with pytest.raises(ValueError):
        make(deliver=url)
