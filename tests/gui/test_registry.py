"""gui.registry: the runners, the current one, and the signals listeners rely on."""

from __future__ import annotations

from typing import Any

from gui.registry import RunnerRegistry
from tests.gui.helpers import runner_with


def test_added_removed_and_current_are_signalled_in_order(qtbot: Any) -> None:
    registry = RunnerRegistry()
    a, b, c = (runner_with(qtbot, []) for _ in range(3))
    seen: list[tuple[str, object]] = []
    registry.added.connect(lambda r, i: seen.append(("added", i)))
    registry.removed.connect(lambda r, i: seen.append(("removed", i)))
    registry.currentChanged.connect(lambda r: seen.append(("current", r)))
    registry.add(a)
    registry.add(b)
    registry.add(c, 1)
    assert registry.runners() == [a, c, b] and registry.current is a
    registry.set_current(b)
    registry.remove(b)  # the current one: its neighbour takes over
    assert registry.current is c
    registry.remove(a)
    registry.remove(c)
    assert registry.current is None and len(registry) == 0
    assert seen == [("added", 0), ("current", a), ("added", 1), ("added", 1), ("current", b),
                    ("removed", 2), ("current", c), ("removed", 0), ("removed", 0),
                    ("current", None)]


def test_a_runner_summary_change_reaches_listeners_with_the_runner(qtbot: Any) -> None:
    registry = RunnerRegistry()
    runner = runner_with(qtbot, [])
    registry.add(runner)
    with qtbot.waitSignal(registry.changed) as blocker:
        runner.summaryChanged.emit()
    assert blocker.args == [runner]
    assert registry.by_key(runner.account.key) is runner and registry.demo() is None
