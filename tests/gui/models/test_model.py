"""MessageListModel fed with real core.engine.events objects, checked by qtmodeltester."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from core.engine.events import (
    ListLoaded,
    MarksChanged,
    MessageInfo,
    MessageState,
    MessageStateChanged,
    Progress,
)
from gui.models.columns import Column, RawRole, SortRole, StateRole
from gui.models.filterproxy import MessageFilterProxy
from gui.models.model import MessageListModel


def info(n: int, *, size: int = 1000, state: MessageState = MessageState.REMOTE,
         sender: str | None = None, subject: str | None = None, marked: bool = False,
         received: int = 0) -> MessageInfo:
    return MessageInfo(
        uidl=f"uid-{n}",
        number=n,
        size=size,
        sender=sender or f"Person {n} <p{n}@example.org>",
        subject=subject or f"Message number {n}",
        date=f"Tue, {n % 28 + 1:02d} Oct 2026 10:00:00 +0000",
        state=state,
        received=received,
        marked=marked,
    )


def loaded(*infos: MessageInfo) -> ListLoaded:
    return ListLoaded(messages=tuple(infos))


def test_modeltester_through_a_whole_session(qtmodeltester):
    model = MessageListModel()
    qtmodeltester.check(model)
    model.apply(loaded(*(info(i, size=1000 * i) for i in range(1, 6))))
    qtmodeltester.check(model)
    model.apply(MessageStateChanged("uid-2", MessageState.DOWNLOADING, 0))
    model.apply(Progress("uid-2", 500, 2000, 1e6))
    model.flush_changes()
    model.apply(MarksChanged(frozenset({"uid-1", "uid-4"})))
    # the server's list changes: 3 vanished, 9 and 10 arrived
    model.apply(loaded(*(info(i) for i in (1, 2, 4, 5, 9, 10))))
    qtmodeltester.check(model)
    assert model.uidls() == ["uid-1", "uid-2", "uid-4", "uid-5", "uid-9", "uid-10"]


def test_list_loaded_shows_headers_and_raw_values():
    model = MessageListModel()
    model.apply(loaded(info(1, size=2_500_000, sender="Jürgen <j@example.org>",
                            subject="Hello")))
    idx = model.index(0, Column.FROM)
    assert model.data(idx) == "Jürgen"
    assert model.data(idx, Qt.ItemDataRole.ToolTipRole) == "Jürgen <j@example.org>"
    assert model.data(model.index(0, Column.SUBJECT)) == "Hello"
    assert model.data(model.index(0, Column.SIZE)) == "2.5 MB"
    assert model.data(model.index(0, Column.SIZE), RawRole) == 2_500_000
    assert model.data(model.index(0, Column.STATE), RawRole) is MessageState.REMOTE
    assert model.data(model.index(0, Column.DATE)).startswith("2026-10-")
    assert isinstance(model.data(model.index(0, Column.DATE), RawRole), float)
    assert model.headerData(Column.SUBJECT, Qt.Orientation.Horizontal) == "Subject"


def test_progress_is_coalesced_into_one_range_signal(qtbot):
    model = MessageListModel()
    model.apply(loaded(*(info(i, size=10_000) for i in range(10))))
    for uidl in ("uid-2", "uid-3", "uid-6"):
        model.apply(MessageStateChanged(uidl, MessageState.DOWNLOADING, 0))
    model.flush_changes()
    seen: list[tuple[int, int, int, int]] = []
    model.dataChanged.connect(
        lambda a, b, roles=(): seen.append((a.row(), b.row(), a.column(), b.column()))
    )
    for step in range(1, 101):
        for uidl in ("uid-2", "uid-3", "uid-6"):
            model.apply(Progress(uidl, step * 100, 10_000, 5e5))
    assert seen == []  # nothing until the timer fires
    qtbot.waitUntil(lambda: bool(seen), timeout=2000)
    assert seen == [(2, 6, Column.PROGRESS, Column.PROGRESS)]
    assert model.data(model.index(3, Column.PROGRESS), RawRole) == 1.0
    assert model.data(model.index(6, Column.PROGRESS)).startswith("100%")
    assert model.pending_changes() == 0  # nothing left for another signal


def test_state_change_overrides_older_pending_progress():
    model = MessageListModel()
    model.apply(loaded(info(1, size=4000)))
    model.apply(MessageStateChanged("uid-1", MessageState.DOWNLOADING, 0))
    model.apply(Progress("uid-1", 1000, 4000, 100.0))
    model.apply(MessageStateChanged("uid-1", MessageState.PAUSED, 1640))
    model.flush_changes()
    idx = model.index(0, Column.PROGRESS)
    assert model.data(idx, StateRole) is MessageState.PAUSED
    assert model.data(idx) == "paused at 41%"
    model.apply(MessageStateChanged("uid-1", MessageState.STORED, 4000, path="/x/new/1"))
    model.flush_changes()
    assert model.data(idx) == "stored"
    assert model.path_of("uid-1") == "/x/new/1"
    model.apply(MessageStateChanged("uid-1", MessageState.FAILED, 0, detail="size mismatch"))
    model.flush_changes()
    assert model.data(idx) == "failed: size mismatch"


def test_downloading_text_has_percent_speed_and_time_left():
    model = MessageListModel()
    model.apply(loaded(info(1, size=10_000_000)))
    model.apply(MessageStateChanged("uid-1", MessageState.DOWNLOADING, 0))
    model.apply(Progress("uid-1", 4_000_000, 10_000_000, 2_000_000.0))
    model.flush_changes()
    assert model.data(model.index(0, Column.PROGRESS)) == "40% · 2.0 MB/s · 3 s left"
    t = model.totals()
    assert (t.active, t.bytes_received, t.bytes_total, t.rate) == (1, 4_000_000, 10_000_000, 2e6)


def test_marks_update_rows_and_banner_signal(qtbot):
    model = MessageListModel()
    model.apply(loaded(*(info(i, size=1_000_000) for i in range(5))))
    with qtbot.waitSignal(model.marksChanged):
        model.apply(MarksChanged(frozenset({"uid-1", "uid-3"})))
    t = model.totals()
    assert (t.marked, t.marked_bytes) == (2, 2_000_000)
    assert model.marked_uidls() == ["uid-1", "uid-3"]
    assert model.data(model.index(1, Column.STATE), SortRole) > model.data(
        model.index(0, Column.STATE), SortRole)
    model.apply(MarksChanged(frozenset()))
    assert model.marked_uidls() == []


def test_proxy_filters_from_and_subject_and_sorts_raw(qtmodeltester):
    model = MessageListModel()
    model.apply(loaded(
        info(1, size=300, sender="Alice <a@x.org>", subject="Quarterly report"),
        info(2, size=20, sender="Bob <b@x.org>", subject="Lunch?"),
        info(3, size=1000, sender="Carol <c@x.org>", subject="Re: report draft"),
    ))
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)
    proxy.sort(Column.SIZE, Qt.SortOrder.AscendingOrder)
    sizes = [proxy.data(proxy.index(r, Column.SIZE), RawRole) for r in range(proxy.rowCount())]
    assert sizes == [20, 300, 1000]  # numeric, not "1.0 kB" < "20 B" < "300 B"
    proxy.set_filter_text("REPORT")
    assert proxy.rowCount() == 2
    proxy.set_filter_text("bob")
    assert proxy.rowCount() == 1
    assert proxy.data(proxy.index(0, Column.SUBJECT)) == "Lunch?"
    proxy.set_filter_text("")
    assert proxy.rowCount() == 3
    assert proxy.rowCount(QModelIndex()) == 3


def test_time_left_counts_down_between_progress_events() -> None:
    now = [100.0]
    model = MessageListModel(clock=lambda: now[0])
    model.apply(loaded(info(1, size=10_000_000)))
    model.apply(MessageStateChanged("uid-1", MessageState.DOWNLOADING, 0))
    model.apply(Progress("uid-1", 4_000_000, 10_000_000, 1_000_000.0))
    model.flush_changes()
    idx = model.index(0, Column.PROGRESS)
    assert model.data(idx) == "40% · 1.0 MB/s · 6 s left"
    now[0] += 2
    model.tick()
    assert model.data(idx) == "40% · 1.0 MB/s · 4 s left"
    now[0] += 9  # no data came: the cell says so instead of sticking
    assert model.data(idx) == "40% · 1.0 MB/s · 5 s late"


def test_the_size_header_says_which_octets_and_units() -> None:
    model = MessageListModel()
    tip = model.headerData(Column.SIZE, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "CRLF" in tip and "1 MB = 1,000,000" in tip
