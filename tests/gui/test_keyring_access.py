"""gui.keyring_access: keychain calls off the GUI thread; failures are heard of."""

from __future__ import annotations

from typing import Any

from gui.keyring_access import KeychainAccess
from tests.support.memkeyring import BrokenKeyring, MemoryKeyring, installed


def test_a_changed_key_keeps_the_password(qtbot: Any, keyring_backend: MemoryKeyring) -> None:
    keyring_backend.passwords[("popfetch", "me@old:995")] = "pw"
    access = KeychainAccess()
    with qtbot.waitSignal(access.move_password("me@old:995", "me@new:995").finished):
        pass
    assert keyring_backend.passwords == {("popfetch", "me@new:995"): "pw"}


def test_a_key_another_account_uses_keeps_its_entry(qtbot: Any,
                                                    keyring_backend: MemoryKeyring) -> None:
    keyring_backend.passwords[("popfetch", "me@imap:143")] = "pw"
    access = KeychainAccess()
    with qtbot.waitSignal(access.move_password("me@imap:143", "me@imap:993",
                                               keep_old=True).finished):
        pass
    assert keyring_backend.passwords == {("popfetch", "me@imap:143"): "pw",
                                         ("popfetch", "me@imap:993"): "pw"}


def test_a_keychain_that_refuses_to_delete_is_reported(qtbot: Any) -> None:
    access = KeychainAccess()
    with installed(BrokenKeyring(RuntimeError("locked"))), \
            qtbot.waitSignal(access.failed) as blocker:
        access.delete_password("me@x:995")
    assert "keychain" in str(blocker.args[0]).lower()


def test_deleting_what_is_not_there_is_no_error(qtbot: Any,
                                                keyring_backend: MemoryKeyring) -> None:
    access = KeychainAccess()
    errors: list[BaseException] = []
    with qtbot.waitSignal(access.delete_password("nobody@x:995", errors.append).finished):
        pass
    assert errors == []
