"""Account passwords in the OS keychain (Secret Service, macOS Keychain, Windows) via keyring.

Entries live under service ``"popfetch"`` with the account's ``USER@HOST:PORT`` as user
name, so ``secret-tool lookup service popfetch username USER@HOST:PORT`` finds them.

Every way a keychain can be missing or refuse -- no backend at all (keyring's ``fail``
backend), a Secret Service backend with no D-Bus, a locked collection whose unlock
prompt was dismissed or cannot be shown -- becomes :class:`KeychainUnavailable` with a
sentence a user understands; the caller then asks for the password instead. Nothing here
logs or formats a password, and messages are built from our own text and the backend's
error, never from arguments.
"""

from __future__ import annotations

import contextlib
import importlib
import logging

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends import fail as fail_backend

from core.errors import KeychainUnavailable

__all__ = ["NO_KEYCHAIN", "SERVICE", "Keychain", "KeychainUnavailable"]

SERVICE = "popfetch"

NO_KEYCHAIN = (
    "No keychain is available (no Secret Service on D-Bus); "
    "popfetch will ask for the password each time"
)
LOCKED = (
    "The keychain is locked and was not unlocked; popfetch will ask for the password each time"
)

log = logging.getLogger(__name__)


def _backend_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the keychain cannot serve us", not "popfetch has a bug".

    RuntimeError: keyring's NoKeyringError, and a forced SecretService backend without a
    session bus. OSError: the bus address points at a missing socket. SecretStorage and
    jeepney exist only where the Secret Service backend does (Linux).
    """
    errors: list[type[BaseException]] = [keyring.errors.KeyringError, RuntimeError, OSError]
    for module, name in (
        ("secretstorage.exceptions", "SecretStorageException"),
        ("jeepney.wrappers", "DBusErrorResponse"),
    ):
        with contextlib.suppress(ImportError, AttributeError):
            errors.append(getattr(importlib.import_module(module), name))
    return tuple(errors)


_BACKEND_ERRORS = _backend_errors()


def _is_locked(exc: BaseException) -> bool:
    if isinstance(exc, keyring.errors.KeyringLocked):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"LockedException", "PromptDismissedException"}:
        return True
    text = str(exc).lower()  # secretstorage's own messages, e.g. "Prompt dismissed."
    return "prompt dismissed" in text or "locked" in text


def _unavailable(exc: BaseException, secret: str | None = None) -> KeychainUnavailable:
    detail = str(exc)
    if secret:  # a backend could echo its arguments; never let a password into a log line
        detail = detail.replace(secret, "***")
    if _is_locked(exc):
        message = LOCKED
    elif isinstance(exc, (RuntimeError, OSError, keyring.errors.InitError)) or type(
        exc
    ).__name__ in {"SecretServiceNotAvailableException", "DBusErrorResponse"}:
        message = NO_KEYCHAIN
    else:  # e.g. PasswordSetError from a backend that refused for its own reasons
        message = f"The keychain refused ({detail}); popfetch will ask for the password each time"
    log.info("keychain unavailable: %s: %s", type(exc).__name__, detail)
    return KeychainUnavailable(message)


class Keychain:
    """get/set/delete one password per account key; KeychainUnavailable when it cannot.

    Uses ``backend`` if given, else whatever keyring currently selects (read on every call,
    so ``keyring.set_keyring`` in tests and ``PYTHON_KEYRING_BACKEND`` take effect).
    """

    def __init__(self, backend: KeyringBackend | None = None, service: str = SERVICE) -> None:
        self._backend = backend
        self.service = service

    def _keyring(self) -> KeyringBackend:
        backend = self._backend if self._backend is not None else keyring.get_keyring()
        if isinstance(backend, fail_backend.Keyring):
            raise KeychainUnavailable(NO_KEYCHAIN)
        return backend

    def available(self) -> bool:
        """A usable backend is configured and reachable. Never prompts, never reads a secret.

        Checks the backend's priority, which for the Secret Service backend opens the
        session bus and asks whether the service runs or is activatable. A locked keyring
        still counts as available: unlocking it is the desktop's business.
        """
        try:
            backend = self._keyring()
            return float(type(backend).priority) > 0
        except KeychainUnavailable:
            return False
        except _BACKEND_ERRORS:
            return False

    def get(self, key: str) -> str | None:
        """The stored password, or None if there is none for ``key``."""
        backend = self._keyring()
        try:
            return backend.get_password(self.service, key)
        except _BACKEND_ERRORS as exc:
            raise _unavailable(exc) from None

    def set(self, key: str, password: str) -> None:
        """Store or replace the password for ``key``."""
        if not password:
            raise ValueError("refusing to store an empty password")
        backend = self._keyring()
        try:
            backend.set_password(self.service, key, password)
        except _BACKEND_ERRORS as exc:
            raise _unavailable(exc, password) from None

    def delete(self, key: str) -> None:
        """Remove the password for ``key``; no entry is not an error (the goal is reached)."""
        backend = self._keyring()
        try:
            backend.delete_password(self.service, key)
        except keyring.errors.PasswordDeleteError:
            # keyring raises this both for "no such entry" and for a backend refusal;
            # a refusal shows up again on the next get(), which is what matters.
            if self._still_there(backend, key):
                raise KeychainUnavailable(
                    "The keychain did not delete the password; remove it with your "
                    "system's password manager"
                ) from None
        except _BACKEND_ERRORS as exc:
            raise _unavailable(exc) from None

    def move(self, old_key: str, new_key: str) -> None:
        """Re-file a password after the user changed user, host or port of an account."""
        if old_key == new_key:
            return
        password = self.get(old_key)
        if password is None:
            return
        self.set(new_key, password)
        self.delete(old_key)

    def _still_there(self, backend: KeyringBackend, key: str) -> bool:
        try:
            return backend.get_password(self.service, key) is not None
        except _BACKEND_ERRORS:
            return False
