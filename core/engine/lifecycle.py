"""What can happen to a message: one (state, step) -> state table, and nothing else.

The engine changes a message's state only through :func:`advance`; a step the table
does not list for a state is ignored (``None``), which is what makes "cancel a message
that was stored meanwhile" or "pause a message that already failed" harmless instead
of a special case at every call site. The table is plain data so that it can be
printed (``python -m core.engine.lifecycle`` writes the Markdown table in README.md)
and tested without sockets, as :mod:`core.pop3.protocol` is for the wire.

Deletion marks are not states: they are the user's intent, kept apart (DESIGN rule 3).
"""

from __future__ import annotations

from enum import Enum

from core.engine.events import MessageState

__all__ = ["ACTIVE", "TABLE", "Step", "advance", "markdown"]


class Step(Enum):
    """Something that happens to one message; the value is its README column title."""

    QUEUE = "queue"  # the user (or "download all") wants it
    START = "start"  # its RETR goes out
    HOLD = "hold"  # paused mid-body on a server that cannot resume: connection held
    PAUSE = "pause"  # stopped, partial bytes kept
    CANCEL = "cancel"  # stopped, partial bytes dropped
    STORE = "store"  # durable where it is read (also by another popfetch meanwhile)
    LINK_LOST = "link lost"  # the connection broke while it was in flight (not its fault)
    RECONNECT = "reconnect"  # a new session is up: stalled transfers go on
    RESTART = "restart"  # its copy cannot be continued: fetch it whole again
    FAIL = "fail"  # evidence against this message: refused, poison, suspect copy
    VANISH = "vanish"  # no longer on the server (deleted by a commit, or elsewhere)


S = MessageState
_ANY_LOCAL = (S.REMOTE, S.QUEUED, S.DOWNLOADING, S.PAUSED, S.STALLED, S.FAILED)

TABLE: dict[tuple[MessageState, Step], MessageState] = {
    **{(s, Step.QUEUE): S.QUEUED for s in (S.REMOTE, S.PAUSED, S.FAILED, S.STALLED)},
    (S.QUEUED, Step.START): S.DOWNLOADING,
    (S.STALLED, Step.START): S.DOWNLOADING,
    (S.DOWNLOADING, Step.HOLD): S.PAUSED,
    (S.PAUSED, Step.START): S.DOWNLOADING,  # a held transfer goes on reading
    **{(s, Step.PAUSE): S.PAUSED for s in (S.QUEUED, S.DOWNLOADING, S.STALLED)},
    **{(s, Step.CANCEL): S.REMOTE for s in (S.QUEUED, S.DOWNLOADING, S.PAUSED, S.STALLED)},
    (S.FAILED, Step.CANCEL): S.REMOTE,
    **{(s, Step.STORE): S.STORED for s in _ANY_LOCAL},
    (S.DOWNLOADING, Step.LINK_LOST): S.STALLED,
    (S.STALLED, Step.RECONNECT): S.QUEUED,
    **{(s, Step.RESTART): S.QUEUED for s in (S.DOWNLOADING, S.STALLED, S.QUEUED)},
    **{(s, Step.FAIL): S.FAILED for s in (S.QUEUED, S.DOWNLOADING, S.STALLED)},
    **{(s, Step.VANISH): S.GONE for s in (*_ANY_LOCAL, S.STORED)},
}
"""Every transition there is. STORED and GONE are final but for VANISH."""

ACTIVE = frozenset(s for s in S if s.active)  # the one definition: MessageState.active
"""On their way: what "pause all" catches and what keeps a session busy."""


def advance(state: MessageState, step: Step) -> MessageState | None:
    """The state after ``step``, or None when the step does not apply to ``state``."""
    return TABLE.get((state, step))


def markdown() -> str:
    """The table as Markdown: one row per state, one column per step."""
    steps = list(Step)
    lines = [
        "| state | " + " | ".join(s.value for s in steps) + " |",
        "|---|" + "---|" * len(steps),
    ]
    for state in MessageState:
        cells = [advance(state, step) for step in steps]
        lines.append(
            f"| **{state.value}** | "
            + " | ".join(c.value if c is not None else "" for c in cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
