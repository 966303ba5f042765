"""gui.models.coalesce: 2,500 state changes give one dataChanged and one totals update."""

from __future__ import annotations

from typing import Any

from core.engine.events import ListLoaded, MessageState, MessageStateChanged, Progress
from gui.models.coalesce import ChangeCoalescer
from gui.models.model import MessageListModel
from tests.gui.helpers import info


def test_a_batch_of_stored_messages_is_one_range_and_one_totals_update(qtbot: Any) -> None:
    model = MessageListModel()
    model.apply(ListLoaded(tuple(info(i, size=4000) for i in range(3000))))
    ranges: list[tuple[int, int]] = []
    totals: list[int] = []
    model.dataChanged.connect(lambda a, b, roles=(): ranges.append((a.row(), b.row())))
    model.totalsChanged.connect(lambda: totals.append(1))
    for i in range(100, 2600):
        model.apply(MessageStateChanged(f"uid-{i}", MessageState.STORED, 4000, path=f"/m/{i}"))
    assert ranges == [] and totals == []
    qtbot.waitUntil(lambda: bool(ranges))
    assert ranges == [(100, 2599)] and totals == [1]
    assert model.totals().stored == 2500 and model.pending_changes() == 0


def test_per_message_the_state_comes_first_and_later_progress_after_it() -> None:
    flushed: list[int] = []
    c = ChangeCoalescer(lambda: flushed.append(1))
    c.put_progress("a", (10, 100, 1.0))
    c.put_state(MessageStateChanged("a", MessageState.DOWNLOADING, 0))  # drops the older
    c.put_progress("a", (50, 100, 1.0))
    c.put_state(MessageStateChanged("b", MessageState.STORED, 9, path="/m/b"))
    c.put_state(MessageStateChanged("b", MessageState.GONE, 9))  # the path is kept
    states, progress = c.take()
    assert progress == {"a": (50, 100, 1.0)}
    assert states["a"].state is MessageState.DOWNLOADING
    assert states["b"].state is MessageState.GONE and states["b"].path == "/m/b"
    assert c.pending() == 0
    assert Progress  # the event type the model feeds in


def test_a_lone_change_after_a_quiet_spell_is_applied_at_the_next_turn(qapp: Any) -> None:
    """No fixed tick to wait out: the last message stored shows as soon as the GUI thread
    is free (a later flush waits for the pause after this one, not this one)."""
    flushed: list[int] = []

    def flush() -> None:
        flushed.append(c.pending())
        c.take()

    c = ChangeCoalescer(flush)
    c.put_state(MessageStateChanged("a", MessageState.STORED, 9, path="/m/a"))
    for _ in range(20):  # a zero-interval timer: due at once, no waiting
        qapp.processEvents()
        if flushed:
            break
    assert flushed == [1] and c.pending() == 0
