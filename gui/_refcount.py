"""Work around a reference-count bug of PySide6 6.12 on Python 3.11.

Found here: with PySide6 6.12.0 (abi3 wheels) on CPython 3.11, every call of a Qt method
returning void from Python (``action.setEnabled(True)``, ``label.setVisible(...)``), and
every Python override returning None where C++ expects a QVariant (``data()`` for an
unknown role), drops one reference to ``None`` without taking it; some bool conversions
do the same to ``True``. The binding assumes Python 3.12's immortal singletons. On 3.11 the
count reaches zero after some thousands of such calls and the interpreter aborts with
"Fatal Python error: none_dealloc" (seen here after a few seconds of downloading, and at
exit). ``tests/gui/test_refcount.py`` shows it.

The fix does what 3.12 does: it makes the singletons practically immortal by raising their
reference counts once, very high, before any thread runs. Nothing on 3.12 and later.
"""

from __future__ import annotations

import ctypes
import sys

_HIGH = 1 << 40  # at a million lost references a second: 12 days
_done = False


def pin_singletons() -> None:
    global _done
    if _done or sys.version_info >= (3, 12):
        return
    for obj in (None, True, False, Ellipsis, NotImplemented):
        ref = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is the first field
        if ref.value < _HIGH:
            ref.value += _HIGH
    _done = True
