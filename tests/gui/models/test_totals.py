"""gui.models.totals: counts that do not mislead (over a whole session with a commit)."""

from __future__ import annotations

from core.engine.events import ListLoaded, MessageState, MessageStateChanged
from gui.models.model import MessageListModel
from gui.models.totals import Totals, TotalsCounter
from tests.gui.helpers import info


def test_percent_counts_the_messages_not_downloaded() -> None:
    model = MessageListModel()
    model.apply(ListLoaded((*(info(i, size=1000, state=MessageState.STORED, received=1000)
                              for i in range(9)), info(9, size=1000), info(10, size=1000))))
    t = model.totals()
    assert (t.stored, t.count, t.remote, t.downloadable) == (9, 11, 2, 2)
    assert t.bytes_received * 100 // t.bytes_total == 81  # not 100 %


def test_after_a_commit_deleted_messages_leave_the_counts_and_stored_ones_stay() -> None:
    model = MessageListModel()
    model.apply(ListLoaded((info(1, state=MessageState.STORED, received=1000),
                            *(info(i) for i in range(2, 44)))))
    model.apply(MessageStateChanged("uid-1", MessageState.STORED, 1000, path="/m/1"))
    model.flush_changes()
    # the commit deleted uid-1 (stored here) and uid-2 (never downloaded)
    model.apply(MessageStateChanged("uid-1", MessageState.GONE, 1000))
    model.apply(MessageStateChanged("uid-2", MessageState.GONE, 0))
    model.flush_changes()
    t = model.totals()
    assert (t.stored, t.count) == (1, 42)  # not "1/43": uid-2 is gone for good
    # F5: the server lists neither; the stored copy stays listed, the other goes
    model.apply(ListLoaded(tuple(info(i) for i in range(3, 44))))
    assert "uid-1" in model.uidls() and "uid-2" not in model.uidls()
    assert model.state_of("uid-1") is MessageState.STORED
    t = model.totals()
    assert (t.stored, t.count) == (1, 42)


def test_an_empty_counter_is_all_zero() -> None:
    t = TotalsCounter().totals()
    assert t == Totals(0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0, 0) and t.downloadable == 0
