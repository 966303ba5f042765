"""Where resources/ is: in the repository, or installed as the package popfetch_resources."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path


@cache
def resources_dir() -> Path:
    """resources/ (icons, the .desktop entry), found through the import system so that a
    wheel install (pipx, uv) and a checkout both work. No Qt here."""
    spec = importlib.util.find_spec("popfetch_resources")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("popfetch's resources are not installed (popfetch_resources)")
    return Path(spec.origin).resolve().parent
