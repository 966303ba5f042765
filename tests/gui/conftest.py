"""GUI tests run offscreen, with throwaway XDG dirs and an in-memory keychain."""

from __future__ import annotations

import os

# Before anything imports Qt.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_QUICK_BACKEND", "software")

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from core.accounts import AccountBook
from core.demoserver.sample import make_demo_mailbox
from core.engine.coordinator import RetryPolicy
from gui.keyring_access import KeychainAccess
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import LARGE, Server
from tests.support.memkeyring import MemoryKeyring, installed


@pytest.fixture(autouse=True)
def xdg_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Config, state and data of the app go to a temp dir, never to the user's home."""
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        d = tmp_path / "xdg" / name.lower()
        d.mkdir(parents=True)
        monkeypatch.setenv(name, str(d))
    yield tmp_path / "xdg"


@pytest.fixture(autouse=True)
def _app(qapp):  # type: ignore[no-untyped-def]
    """Every GUI test has its QApplication before it creates models (their timers need it)."""
    return qapp


# Qt's offscreen platform warns that it cannot pass size hints on to a window manager it
# does not have; that is about the test platform, not about popfetch.
OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


# --- end-to-end fixtures: a keychain in memory, a demo server, the main window -------------


@pytest.fixture
def keyring_backend() -> Iterator[MemoryKeyring]:
    with installed(MemoryKeyring()) as backend:
        assert isinstance(backend, MemoryKeyring)
        yield backend


@pytest.fixture(scope="module")
def mailbox_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "mailbox"
    make_demo_mailbox(path, count=8, large_sizes=(LARGE,))
    return path


@pytest.fixture
def mailbox(tmp_path: Path, mailbox_template: Path) -> Path:
    """A fresh copy per test: commits delete files."""
    target = tmp_path / "server-mailbox"
    shutil.copytree(mailbox_template, target)
    return target


@pytest.fixture
def server(mailbox: Path) -> Iterator[Server]:
    s = Server(mailbox)
    yield s
    s.stop()


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, keyring_backend: MemoryKeyring) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "xdg" / "gui.ini"), QSettings.Format.IniFormat)
    w = MainWindow(
        settings,
        book=AccountBook(tmp_path / "xdg" / "accounts.json"),
        keychain=KeychainAccess(),
        engine_kwargs={
            "retry": RetryPolicy(initial=1.5, factor=1.0, maximum=1.5, jitter=0.0),
            "read_timeout": 10.0,
            "connect_timeout": 5.0,
        },
    )
    qtbot.addWidget(w)
    w.show()
    yield w
    w.closer.really_close = True
    w.close()
