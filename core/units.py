"""Sizes and durations as a user types them: ``--max-size 5M``, ``--every 10m``.

One parser each, shared by the command line and the settings, so ``500k`` means the
same octets everywhere. Sizes use powers of 1024 (``k``, ``M``, ``G``), as fetchmail's
and mpop's size limits do; a trailing ``B`` (``5MB``) is accepted. Durations take
``s``, ``m``, ``h`` or ``d``; a bare number is seconds.
"""

from __future__ import annotations

import re

__all__ = ["format_duration", "format_size", "parse_duration", "parse_size"]

_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?", re.IGNORECASE)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
# Sanity bounds: a limit past 1 TiB or a schedule past 30 days is a typo, not a plan.
MAX_SIZE = 1024**4
MAX_DURATION = 30 * 86400


def parse_size(text: str) -> int:
    """``"500k"`` → 512000, ``"5M"`` → 5242880, ``"1200"`` → 1200 octets.

    ValueError with the accepted forms for anything else (empty, negative, ``5X``, zero).
    """
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"not a size: {text!r} (use octets, or a number with k, M or G, e.g. 500k or 5M)"
        )
    octets = int(float(match[1]) * _SIZE_UNITS[match[2].lower()])
    if octets <= 0:
        raise ValueError(f"a size must be above 0, not {text!r}")
    if octets > MAX_SIZE:
        raise ValueError(f"size {text!r} is above 1 TiB")
    return octets


def parse_duration(text: str) -> float:
    """``"30s"`` → 30, ``"10m"`` → 600, ``"1h"`` → 3600 seconds; a bare number is seconds.

    ValueError with the accepted forms for anything else (empty, negative, ``5x``, zero).
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"not a duration: {text!r} (use a number with s, m, h or d, e.g. 30s, 10m or 1h)"
        )
    seconds = float(match[1]) * _DURATION_UNITS[match[2].lower()]
    if seconds <= 0:
        raise ValueError(f"a duration must be above 0, not {text!r}")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration {text!r} is above 30 days")
    return seconds


def format_size(octets: int) -> str:
    """Short and exact enough for a summary line: ``812 octets``, ``4.2 MiB``."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if octets >= factor:
            return f"{octets / factor:.1f} {unit}"
    return f"{octets} octets"


def format_duration(seconds: float) -> str:
    """The largest whole unit that fits: ``90s`` → ``90 s``, ``600`` → ``10 min``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
