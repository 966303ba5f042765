"""GUI tests run offscreen, with throwaway XDG dirs and an in-memory keychain."""

from __future__ import annotations

import os

# Before anything imports Qt.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_QUICK_BACKEND", "software")

from collections.abc import Iterator
from pathlib import Path

import pytest

import gui  # noqa: F401 - pins None/True/False before Qt runs (see gui/_refcount.py)


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
