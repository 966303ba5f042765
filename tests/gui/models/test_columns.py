"""gui.models.columns: the column constants follow the enum; every state has words."""

from __future__ import annotations

from core.engine.events import MessageState
from gui.models.columns import (
    HEADERS,
    NCOLS,
    PROGRESS_COL,
    SIZE_COL,
    STATE_TEXT,
    Column,
    ServerState,
)


def test_constants_follow_the_enum() -> None:
    assert NCOLS == len(Column) == len(HEADERS)
    assert (SIZE_COL, PROGRESS_COL) == (Column.SIZE, Column.PROGRESS)
    assert set(STATE_TEXT) == set(MessageState)
    assert {s.value for s in ServerState} == {"not checked", "on the server",
                                              "not on the server"}
