"""core.auth.keychain with an in-memory keyring, and every failure mapped to KeychainUnavailable."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import keyring
import keyring.errors
import pytest
from keyring.backends import fail

from core.auth.keychain import LOCKED, NO_KEYCHAIN, SERVICE, Keychain
from core.errors import KeychainUnavailable
from tests.support.memkeyring import BrokenKeyring, MemoryKeyring, installed

KEY = "alice@pop.example.org:995"
SECRET = "correct horse battery staple"


def every_call(chain: Keychain) -> list[Callable[[], object]]:
    return [lambda: chain.get(KEY), lambda: chain.set(KEY, SECRET), lambda: chain.delete(KEY)]


@pytest.fixture
def memory() -> Iterator[MemoryKeyring]:
    with installed(MemoryKeyring()) as backend:
        assert isinstance(backend, MemoryKeyring)
        yield backend


def test_fixture_restores_the_previous_keyring() -> None:
    before = keyring.get_keyring()
    with installed(MemoryKeyring()) as backend:
        assert keyring.get_keyring() is backend
    assert keyring.get_keyring() is before


def test_set_get_delete(memory: MemoryKeyring) -> None:
    chain = Keychain()
    assert chain.available()
    assert chain.get(KEY) is None
    chain.set(KEY, SECRET)
    assert memory.passwords == {(SERVICE, KEY): SECRET}
    assert SERVICE == "popfetch"
    assert chain.get(KEY) == SECRET
    chain.set(KEY, "new one")
    assert chain.get(KEY) == "new one"
    chain.delete(KEY)
    assert chain.get(KEY) is None
    chain.delete(KEY)  # deleting what is gone is fine: the goal is reached
    assert memory.passwords == {}


def test_entries_are_per_account(memory: MemoryKeyring) -> None:
    chain = Keychain()
    chain.set(KEY, "one")
    chain.set("bob@pop.example.org:995", "two")
    assert chain.get(KEY) == "one" and chain.get("bob@pop.example.org:995") == "two"


def test_move_refiles_the_password(memory: MemoryKeyring) -> None:
    chain = Keychain()
    chain.set(KEY, SECRET)
    chain.move(KEY, "alice@pop.example.org:1995")
    assert memory.passwords == {(SERVICE, "alice@pop.example.org:1995"): SECRET}
    chain.move("nobody@x:1", "somebody@x:1")  # nothing stored: nothing to move
    assert len(memory.passwords) == 1


def test_empty_password_refused(memory: MemoryKeyring) -> None:
    with pytest.raises(ValueError):
        Keychain().set(KEY, "")
    assert memory.passwords == {}


def test_explicit_backend_wins_over_global(memory: MemoryKeyring) -> None:
    own = MemoryKeyring()
    Keychain(backend=own).set(KEY, SECRET)
    assert own.passwords and not memory.passwords


def test_fail_backend_is_unavailable() -> None:
    with installed(fail.Keyring()):
        chain = Keychain()
        assert not chain.available()
        for call in every_call(chain):
            with pytest.raises(KeychainUnavailable) as caught:
                call()
            assert str(caught.value) == NO_KEYCHAIN


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (keyring.errors.NoKeyringError("No recommended backend was available."), NO_KEYCHAIN),
        (RuntimeError("Unable to initialize SecretService"), NO_KEYCHAIN),
        (FileNotFoundError(2, "No such file or directory"), NO_KEYCHAIN),
        (ConnectionRefusedError(111, "Connection refused"), NO_KEYCHAIN),
        (keyring.errors.InitError("Failed to create the collection"), NO_KEYCHAIN),
        (keyring.errors.KeyringLocked("Failed to unlock the collection!"), LOCKED),
    ],
)
def test_backend_failures_become_plain_messages(error: Exception, expected: str) -> None:
    chain = Keychain(backend=BrokenKeyring(error))
    for call in every_call(chain):
        with pytest.raises(KeychainUnavailable) as caught:
            call()
        assert str(caught.value) == expected
        assert caught.value.__cause__ is None  # the plain message is the whole story


def test_secretstorage_failures() -> None:
    exceptions = pytest.importorskip("secretstorage.exceptions")
    for error, expected in (
        (exceptions.PromptDismissedException("Prompt dismissed."), LOCKED),
        (exceptions.LockedException("Item is locked!"), LOCKED),
        (exceptions.SecretServiceNotAvailableException("no service"), NO_KEYCHAIN),
    ):
        with pytest.raises(KeychainUnavailable) as caught:
            Keychain(backend=BrokenKeyring(error)).set(KEY, SECRET)
        assert str(caught.value) == expected


def test_other_refusals_are_reported_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    echoing = keyring.errors.PasswordSetError(f"cannot store {SECRET!r} for {KEY}")
    with pytest.raises(KeychainUnavailable) as caught:
        Keychain(backend=BrokenKeyring(echoing)).set(KEY, SECRET)
    assert "refused" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in caplog.text
    assert "keychain unavailable" in caplog.text


def test_unavailable_when_priority_check_fails() -> None:
    class Unreachable(MemoryKeyring):
        @keyring.compat.properties.classproperty
        def priority(cls) -> float:
            raise RuntimeError("The Secret Service daemon is neither running nor activatable")

    assert not Keychain(backend=Unreachable()).available()


def test_forced_secret_service_without_dbus(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real SecretService backend, with the session bus address pointing nowhere."""
    pytest.importorskip("secretstorage")
    from keyring.backends import SecretService

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/popfetch-test-bus")
    chain = Keychain(backend=SecretService.Keyring())
    assert not chain.available()
    with pytest.raises(KeychainUnavailable) as caught:
        chain.set(KEY, SECRET)
    assert str(caught.value) == NO_KEYCHAIN
    with pytest.raises(KeychainUnavailable):
        chain.get(KEY)
