"""The app's own settings (gui.ini beside the accounts file; never a secret), typed."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from core.accounts import config_dir


def settings_path() -> str:
    return str(config_dir() / "gui.ini")


def make_settings() -> QSettings:
    return QSettings(settings_path(), QSettings.Format.IniFormat)


class AppSettings:
    """Named, typed values over a QSettings (window geometry stays with the window)."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def _bool(self, key: str, default: bool) -> bool:
        value = self.store.value(key, default)
        return value in (True, "true", "1", 1) if not isinstance(value, bool) else value

    @property
    def connect_at_start(self) -> bool:
        """Connect every account when popfetch starts (else only list the stored mail)."""
        return self._bool("general/connect_at_start", True)

    @connect_at_start.setter
    def connect_at_start(self, value: bool) -> None:
        self.store.setValue("general/connect_at_start", value)

    @property
    def ask_before_quit(self) -> bool:
        """Ask before quitting with marks or downloads pending."""
        return self._bool("general/ask_before_quit", True)

    @ask_before_quit.setter
    def ask_before_quit(self, value: bool) -> None:
        self.store.setValue("general/ask_before_quit", value)

    @property
    def current_account(self) -> str:
        return str(self.store.value("accounts/current", ""))

    @current_account.setter
    def current_account(self, key: str) -> None:
        self.store.setValue("accounts/current", key)
