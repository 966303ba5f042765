"""Random sequences of engine events against the model, watched by Qt's model tester."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from core.engine.events import (
    ListLoaded,
    MarksChanged,
    MessageInfo,
    MessageState,
    MessageStateChanged,
    Progress,
)
from gui.models.columns import Column, RawRole
from gui.models.filterproxy import MessageFilterProxy
from gui.models.model import MessageListModel

UIDLS = [f"u{i}" for i in range(12)]
SIZES = {u: 100 + 37 * i for i, u in enumerate(UIDLS)}


def info(uidl: str) -> MessageInfo:
    n = int(uidl[1:])
    return MessageInfo(uidl, n + 1, SIZES[uidl], f"Sender {n % 4} <s{n}@x.org>",
                       f"Subject {n % 5}", f"Mon, {n + 1:02d} Mar 2026 10:00:00 +0000",
                       MessageState.REMOTE, 0, False)


events = st.one_of(
    st.lists(st.sampled_from(UIDLS), unique=True).map(
        lambda us: ("list", ListLoaded(tuple(info(u) for u in us)))),
    st.tuples(st.sampled_from(UIDLS), st.sampled_from(list(MessageState)),
              st.integers(0, 600)).map(
        lambda t: ("state", MessageStateChanged(t[0], t[1], t[2]))),
    st.tuples(st.sampled_from(UIDLS), st.integers(0, 600), st.floats(0, 1e6)).map(
        lambda t: ("progress", Progress(t[0], t[1], SIZES[t[0]], t[2]))),
    st.just(("flush", None)),
    st.frozensets(st.sampled_from(UIDLS)).map(lambda m: ("marks", MarksChanged(m))),
    st.tuples(st.integers(-1, 5), st.booleans()).map(lambda t: ("sort", t)),
    st.sampled_from(["", "sender 1", "subject 3", "zz"]).map(lambda f: ("filter", f)),
)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(events, max_size=30))
def test_model_matches_a_plain_reference(qapp, steps):
    model = MessageListModel()
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    mode = QAbstractItemModelTester.FailureReportingMode.Warning  # warnings fail the test
    testers = [QAbstractItemModelTester(model, mode), QAbstractItemModelTester(proxy, mode)]
    listed: list[str] = []
    states: dict[str, MessageState] = {}
    pending: dict[str, MessageState] = {}
    marked: set[str] = set()
    needle = ""
    for kind, ev in steps:
        if kind == "list":
            listed = [m.uidl for m in ev.messages]
            states = {u: MessageState.REMOTE for u in listed}
            pending.clear()  # older than the list
            marked = set()  # a list carries each message's mark (here: none)
            model.apply(ev)
        elif kind == "state":
            if ev.uidl in states:
                pending[ev.uidl] = ev.state  # coalesced: shown at the next flush
            model.apply(ev)
        elif kind in ("progress", "marks"):
            if kind == "marks":
                marked = set(ev.marked)
            model.apply(ev)
        elif kind == "flush":
            states.update(pending)
            pending.clear()
            model.flush_changes()
        elif kind == "sort":
            col, desc = ev
            proxy.sort(col, Qt.SortOrder.DescendingOrder if desc else Qt.SortOrder.AscendingOrder)
        else:
            needle = ev
            proxy.set_filter_text(ev)
        # the model holds exactly the listed messages, with their last state and mark
        assert sorted(model.uidls()) == sorted(listed)
        for row, uidl in enumerate(model.uidls()):
            assert model.row_of(uidl) == row
            assert model.state_of(uidl) is states[uidl]
            assert model.is_marked(uidl) == (uidl in marked)
        # totals kept incrementally equal totals counted afresh
        kept = model.totals()
        model._recount()
        fresh = model.totals()
        assert dataclasses.replace(kept, rate=0) == dataclasses.replace(fresh, rate=0)
        assert abs(kept.rate - fresh.rate) < 1e-3
        # the proxy shows the rows that match the filter, in the model's order
        shown = [proxy.mapToSource(proxy.index(r, 0)).row() for r in range(proxy.rowCount())]
        expected = [r for r, u in enumerate(model.uidls())
                    if not needle or needle in f"Sender {int(u[1:]) % 4} <s{int(u[1:])}@x.org>"
                    "\n" f"Subject {int(u[1:]) % 5}".casefold()]
        assert shown == expected
        # sorted by the chosen column
        col, order = model.sort_column()
        if col == Column.SIZE:
            sizes = [model.data(model.index(r, Column.SIZE), RawRole)
                     for r in range(model.rowCount())]
            assert sizes == sorted(sizes, reverse=order == Qt.SortOrder.DescendingOrder)
    del testers
