"""PySide6 6.12.0 on CPython 3.11 dropped a reference to True on every signal emit and to
None on every void call (PYSIDE-3474); pyproject.toml pins that version out. This test
fails if a PySide6 with the bug is installed again."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

EMITS = 5_000


class _Emitter(QObject):
    flag = Signal(bool)


def test_signals_and_void_calls_keep_the_singletons_reference_counts() -> None:
    emitter = _Emitter()
    seen: list[bool] = []
    emitter.flag.connect(seen.append)
    action = QAction("x")
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(EMITS):
        emitter.flag.emit(True)
        action.setEnabled(True)
    seen.clear()
    # Immortal objects (3.12+) report a fixed huge count; on 3.11 a leak of one per call
    # would show as thousands lost.
    assert sys.getrefcount(True) >= true_before - 100
    assert sys.getrefcount(None) >= none_before - 100
