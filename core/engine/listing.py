"""Reading the server's list: UIDL, LIST and pipelined TOP headers, matched by UIDL.

:func:`read_list` is session work: it talks to the server and returns a
:class:`Listing`; the coordinator merges it into its table. Listing anomalies (a
duplicate UIDL, a UIDL without a LIST entry) affect those messages only and come back
as ``problems`` for the user to see (issue 8: nothing is skipped silently).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from core.errors import ServerError
from core.pop3.headers import Headers, parse_headers
from core.pop3.session import Session
from core.text import sanitize

__all__ = ["Listing", "read_list"]


@dataclass
class Listing:
    """Message number -> (UIDL, LIST size) for the messages that can be told apart."""

    entries: dict[int, tuple[str, int]]
    headers: dict[int, Headers] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_list(session: Session, known: set[str], *, with_headers: bool) -> Listing:
    """LIST + UIDL (or size + header hashes without UIDL); TOP for UIDLs not in ``known``."""
    sizes = session.list_sizes()
    listed = session.uidls()
    problems: list[str] = []
    if listed is None:
        uidls = _synthetic_uidls(session, sizes)
    else:
        uidls, bad = listed
        problems.extend(
            f"the server sent an invalid UIDL line {sanitize(line.decode('latin-1'))}: "
            "that message is left on the server"
            for line in bad
        )
    seen: dict[str, int] = {}
    duplicated: set[str] = set()
    for number, uidl in sorted(uidls.items()):
        if uidl in seen:
            duplicated.add(uidl)
        seen.setdefault(uidl, number)
    entries: dict[int, tuple[str, int]] = {}
    for number, uidl in sorted(uidls.items()):
        size = sizes.get(number)
        if uidl in duplicated:
            continue
        if size is None:
            problems.append(
                f"the UIDL {uidl!r} names message {number}, which LIST does not have: "
                "left on the server"
            )
            continue
        entries[number] = (uidl, size)
    for uidl in sorted(duplicated):
        numbers = sorted(n for n, u in uidls.items() if u == uidl)
        problems.append(
            f"messages {', '.join(map(str, numbers))} share the UIDL {uidl[:40]!r}: the "
            "server cannot tell them apart, so they are left on the server"
        )
    for number in sorted(set(sizes) - set(uidls)):
        problems.append(f"message {number} has no valid UIDL: left on the server")
    fresh = sorted(n for n, (u, _) in entries.items() if u not in known)
    headers: dict[int, Headers] = {}
    if with_headers and fresh:
        headers = {n: parse_headers(h) for n, h in session.headers(fresh).items()}
    return Listing(entries, headers, problems)


def _synthetic_uidls(session: Session, sizes: dict[int, int]) -> dict[int, str]:
    """No UIDL: identify by size + a hash of the headers (DESIGN rule 4)."""
    tops = session.headers(sorted(sizes))
    out: dict[int, str] = {}
    for number, size in sizes.items():
        if number not in tops:
            raise ServerError("UIDL", "the server has neither UIDL nor TOP: cannot tell "
                              "messages apart safely", "SYS/PERM")
        digest = hashlib.sha256(str(size).encode() + b"\0" + tops[number]).hexdigest()
        out[number] = f"~{digest[:40]}"
    return out
