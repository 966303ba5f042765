"""A certificate the user chose to trust for an account (pinned), as the dialog shows it."""

from __future__ import annotations


def fingerprint_text(sha256: str) -> str:
    """"AB:CD:…" in groups, as certificate viewers show it."""
    hexa = sha256.replace(":", "").upper()
    return ":".join(hexa[i : i + 2] for i in range(0, len(hexa), 2))
