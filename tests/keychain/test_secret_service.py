"""core.auth.keychain against a real gnome-keyring Secret Service (conftest.py sets it up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from core.accounts import Account, AccountBook, config_dir, state_dir
from core.auth.keychain import LOCKED, NO_KEYCHAIN, Keychain
from core.errors import KeychainUnavailable
from core.net import Security
from tests.keychain.conftest import SecretServiceEnv, running_secret_service

pytestmark = pytest.mark.keychain

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = Account(
    host="pop.example.org", port=995, security=Security.TLS, user="alice", maildir="/tmp/m"
)
PASSWORD = "Tr0ub4dor&3 with spaces and ünïcödé"


def lookup(service: SecretServiceEnv, key: str) -> subprocess.CompletedProcess[str]:
    return service.secret_tool("lookup", "service", "popfetch", "username", key)


def test_available(secret_keyring: KeyringBackend) -> None:
    assert Keychain().available()


def test_saved_password_is_in_the_secret_service(
    secret_service: SecretServiceEnv, secret_keyring: KeyringBackend
) -> None:
    key = "save@pop.example.org:995"
    Keychain().set(key, PASSWORD)
    found = lookup(secret_service, key)
    assert found.returncode == 0, found.stderr
    assert found.stdout == PASSWORD
    # gnome-keyring encrypts its file: the password is not there in the clear either.
    for path in (secret_service.root / "data").rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_reads_what_secret_tool_stored(
    secret_service: SecretServiceEnv, secret_keyring: KeyringBackend
) -> None:
    key = "outside@pop.example.org:110"
    stored = secret_service.secret_tool(
        "store", "--label=popfetch test", "service", "popfetch", "username", key, stdin="from-out"
    )
    assert stored.returncode == 0, stored.stderr
    assert Keychain().get(key) == "from-out"
    assert Keychain().get("nobody@pop.example.org:110") is None


def test_replace_and_delete(
    secret_service: SecretServiceEnv, secret_keyring: KeyringBackend
) -> None:
    key = "delete@pop.example.org:995"
    chain = Keychain()
    chain.set(key, "first")
    chain.set(key, "second")
    assert chain.get(key) == "second"
    assert lookup(secret_service, key).stdout == "second"
    chain.delete(key)
    assert chain.get(key) is None
    gone = lookup(secret_service, key)
    assert gone.returncode != 0 and gone.stdout == ""
    chain.delete(key)  # already gone: not an error


def test_no_file_under_config_or_state_holds_the_password(
    secret_keyring: KeyringBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    AccountBook().add(ACCOUNT)
    (ACCOUNT.state_dir() / "marker").write_text("state lives here")
    Keychain().set(ACCOUNT.key, PASSWORD)
    assert Keychain().get(ACCOUNT.key) == PASSWORD
    files = [p for root in (config_dir(), state_dir()) for p in root.rglob("*") if p.is_file()]
    assert len(files) >= 2
    for path in files:
        data = path.read_bytes()
        assert PASSWORD.encode() not in data, path
        assert PASSWORD.encode("utf-16-le") not in data, path


@pytest.mark.parametrize("bus", ["nowhere", "unset"])
def test_without_dbus_the_message_is_plain(
    bus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("secretstorage")
    from keyring.backends import SecretService

    if bus == "unset":
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus-here")
    chain = Keychain(backend=SecretService.Keyring())
    assert not chain.available()
    for call in (lambda: chain.set(ACCOUNT.key, PASSWORD), lambda: chain.get(ACCOUNT.key)):
        with pytest.raises(KeychainUnavailable) as caught:
            call()
        assert str(caught.value) == NO_KEYCHAIN
        assert PASSWORD not in str(caught.value)


LOCKED_PROBE = """
import secretstorage
from contextlib import closing
from keyring.backends import SecretService
from core.errors import KeychainUnavailable
from core.auth.keychain import Keychain

with closing(secretstorage.dbus_init()) as bus:
    collection = secretstorage.get_default_collection(bus)
    collection.lock()
    assert collection.is_locked()
chain = Keychain(backend=SecretService.Keyring())
for call in (lambda: chain.set("locked@h:995", "pw"), lambda: chain.get("locked@h:995")):
    try:
        call()
    except KeychainUnavailable as exc:
        print(exc)
    else:
        print("NO ERROR")
"""


def test_locked_keyring_fails_plainly_without_a_prompt() -> None:
    """A locked collection with no prompter: KeychainUnavailable, never a hang.

    Runs in its own Secret Service (it stays locked afterwards) and in a subprocess with
    a timeout, so a prompt that did appear could not stall the suite.
    """
    with running_secret_service() as service:
        env = {**os.environ, **service.env, "PYTHONPATH": str(REPO)}
        probe = subprocess.run(
            [sys.executable, "-c", LOCKED_PROBE],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=30,
            check=False,
        )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.splitlines() == [LOCKED, LOCKED]
