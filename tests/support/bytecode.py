"""Benchmarks time popfetch as installed: with its modules already byte-compiled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def compile_tree(tree: Path) -> None:
    """Byte-compile ``tree``'s ``core/`` before timing runs from it.

    pip compiles an installed package; a checkout run with PYTHONDONTWRITEBYTECODE set
    (some CI images set it) never keeps its bytecode, and every timed run would then
    compile every module again, about 50 ms of CPU that no user pays.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(tree / "core")],
        check=True, stdout=subprocess.DEVNULL,
    )
