"""Leave-on-server rules (Thunderbird's set): which stored messages to delete on the server.

A pure policy: given what the server lists, what is stored locally (and since when, and
whether the local file is still there) and the time now, it names the UIDLs to *mark*.
The engine then deletes the two-stage way: DELE marks, QUIT commits (DESIGN rule 1),
and nothing is DELE'd before its copy is durable (rule 12). The one guarantee this
module adds: **a rule never selects a message that is not stored**, nor one that the
server does not list.

The day a UIDL was first stored is the store's ``stored.stored_at`` (a UIDL is never
stored twice, so the first time is the only time).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # accounts imports Rule from here: no import at run time
    from core.accounts import Account

__all__ = ["DAY", "Retention", "Rule", "StoredCopy", "retention_of", "to_delete"]

DAY = 86400.0


class Rule(enum.Enum):
    KEEP = "keep"  # leave everything on the server
    AFTER_DAYS = "after-days"  # delete N days after it was first stored
    WHEN_STORED = "when-stored"  # delete once stored (delete after fetch)
    WHEN_LOCAL_GONE = "when-local-gone"  # delete when the local copy is gone


@dataclass(frozen=True, slots=True)
class Retention:
    """One account's rule; ``days`` only for :attr:`Rule.AFTER_DAYS` (ValueError otherwise)."""

    rule: Rule = Rule.KEEP
    days: int | None = None

    def __post_init__(self) -> None:
        if self.rule is Rule.AFTER_DAYS:
            if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 0:
                raise ValueError(f"days must be a whole number of 0 or more, not {self.days!r}")
        elif self.days is not None:
            raise ValueError(f"{self.rule.value} takes no number of days")

    def describe(self) -> str:
        """In words, for the log and the settings' summary."""
        if self.rule is Rule.AFTER_DAYS:
            return f"delete from the server {self.days} days after storing"
        return {
            Rule.KEEP: "keep on the server",
            Rule.WHEN_STORED: "delete from the server once stored",
            Rule.WHEN_LOCAL_GONE: "delete from the server when the local copy is gone",
        }[self.rule]


def retention_of(account: Account) -> Retention:
    """The rule an account's settings choose."""
    rule = Rule(account.leave_on_server)
    return Retention(rule, account.delete_after_days if rule is Rule.AFTER_DAYS else None)


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """What the store knows of one stored UIDL."""

    stored_at: float  # wall-clock seconds (time.time()) when first stored
    present: bool  # the local file is still in the Maildir (new/ or cur/)


def to_delete(
    retention: Retention,
    on_server: Iterable[str],
    stored: Mapping[str, StoredCopy],
    now: float,
) -> set[str]:
    """The UIDLs to mark for deletion now: on the server, stored, and due by the rule."""
    if retention.rule is Rule.KEEP:
        return set()
    candidates = {u: stored[u] for u in on_server if u in stored}
    if retention.rule is Rule.WHEN_STORED:
        return set(candidates)
    if retention.rule is Rule.WHEN_LOCAL_GONE:
        return {u for u, copy in candidates.items() if not copy.present}
    assert retention.days is not None  # checked on construction
    cutoff = now - retention.days * DAY
    return {u for u, copy in candidates.items() if copy.stored_at <= cutoff}
