"""Human-readable formatting of sizes, rates, durations and mail headers (no Qt)."""

from __future__ import annotations

import email.utils
from datetime import datetime

_UNITS = ("kB", "MB", "GB", "TB")


def size(n: int | float) -> str:
    """Decimal units, as a user compares them with what the server or a file manager shows
    (gui.models.columns.SIZE_CONVENTION says which octets are counted)."""
    if n < 1000:
        return f"{int(n)} B"
    value = float(n)
    for unit in _UNITS:
        value /= 1000.0
        if value < 1000 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def rate(bytes_per_s: float) -> str:
    return f"{size(bytes_per_s)}/s"


def duration(seconds: float) -> str:
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def percent(received: int, total: int) -> int:
    if total <= 0:
        return 100
    return max(0, min(100, int(received * 100 / total)))


def sender_display(value: str) -> str:
    """"Name <addr>" -> "Name"; a bare address stays as it is (``value`` is decoded)."""
    name, addr = email.utils.parseaddr(value)
    return name or addr or value


def parse_date(value: str) -> float:
    """The Date header as a POSIX timestamp for sorting; 0.0 when it does not parse."""
    if not value:
        return 0.0
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return 0.0


def date_display(timestamp: float, raw: str) -> str:
    if timestamp <= 0.0:
        return raw
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
