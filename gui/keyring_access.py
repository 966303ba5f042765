"""The OS keychain from the GUI: every call off the GUI thread (D-Bus may block or prompt)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from core.errors import KeychainUnavailable
from gui.tasks import BackgroundTask, ErrorSink, serial

NO_KEYCHAIN = (
    "No keychain is available on this system, so the password cannot be saved. "
    "popfetch will ask for it each time it connects."
)


def _keychain() -> Any:
    from core.auth.keychain import Keychain

    return Keychain()


def _problem(exc: BaseException) -> str:
    """A sentence for the user. core.auth.keychain's messages are written for users already."""
    detail = str(exc).strip()
    if isinstance(exc, KeychainUnavailable) and detail:
        return detail if detail.endswith(".") else detail + "."
    return f"{NO_KEYCHAIN} ({detail})" if detail else NO_KEYCHAIN


class KeychainAccess(QObject):
    """``available`` is None until a call tells; then True or False."""

    saved = Signal(object)  # (key, ok, problem)
    availabilityChanged = Signal(object)  # bool
    failed = Signal(str)  # a keychain call that cannot fail quietly failed: the reason

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.available: bool | None = None
        self.problem = ""

    def _report(self, exc: BaseException) -> None:
        self.failed.emit(_problem(exc))

    def _note(self, ok: bool, problem: str = "") -> None:
        changed = ok != self.available
        self.available = ok
        self.problem = problem
        if changed:
            self.availabilityChanged.emit(ok)

    def get_password_blocking(self, key: str) -> tuple[str | None, str | None]:
        """(password or None, why no keychain or None). For worker threads only."""
        try:
            pw = _keychain().get(key)
        except KeychainUnavailable as exc:
            self.available, self.problem = False, _problem(exc)
            return None, self.problem
        except Exception as exc:  # keyring's NoKeyringError, a D-Bus RuntimeError ...
            self.available, self.problem = False, _problem(exc)
            return None, self.problem
        self.available = True
        return pw, None

    def set_password(self, key: str, password: str) -> BackgroundTask:
        def work() -> tuple[bool, str]:
            try:
                _keychain().set(key, password)
            except Exception as exc:  # KeychainUnavailable and whatever a backend raises
                return False, _problem(exc)
            return True, ""

        task = BackgroundTask(work, on_error=self._report, parent=self, executor=serial)
        task.done.connect(lambda result, key=key: self._after_set(key, result))
        return task.start()

    def _after_set(self, key: str, result: tuple[bool, str]) -> None:
        ok, problem = result
        self._note(ok, problem)
        self.saved.emit((key, ok, problem))

    def delete_password(self, key: str, on_error: ErrorSink | None = None) -> BackgroundTask:
        """Remove the saved password; no entry is no error (core.auth.keychain), but a
        keychain that refuses reaches ``on_error`` (by default, the ``failed`` signal)."""
        return BackgroundTask(lambda: _keychain().delete(key), on_error=on_error or self._report,
                              parent=self, executor=serial).start()

    def move_password(self, old_key: str, new_key: str, *, keep_old: bool = False
                      ) -> BackgroundTask:
        """A key changed: keep its saved password under the new key; under the old one
        too with ``keep_old`` (another account still uses it)."""

        def work() -> None:
            keychain = _keychain()
            password = keychain.get(old_key)
            if password:
                keychain.set(new_key, password)
            if not keep_old:
                keychain.delete(old_key)

        return BackgroundTask(work, on_error=self._report, parent=self,
                              executor=serial).start()

    def probe(self) -> BackgroundTask:
        """Find out whether a keychain answers, without storing anything."""

        def work() -> tuple[bool, str]:
            try:
                ok = bool(_keychain().available())
            except Exception as exc:
                return False, _problem(exc)
            return ok, "" if ok else NO_KEYCHAIN

        task = BackgroundTask(work, on_error=self._report, parent=self, executor=serial)
        task.done.connect(lambda result: self._note(*result))
        return task.start()
