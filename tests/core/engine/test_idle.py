"""core.engine.idle: idle means "nothing to do as of the intent's current generation"."""

from __future__ import annotations

import threading

from core.engine.idle import IdleState


def test_idle_only_as_of_the_current_generation() -> None:
    generation = [0]
    idle = IdleState(lambda: generation[0])
    assert not idle.wait(0)  # the worker has not said anything yet
    idle.idle(0)
    assert idle.wait(0)
    generation[0] = 1  # a request the worker has not seen: busy, with no flag to clear
    assert not idle.wait(0)
    idle.idle(1)
    assert idle.wait(0)
    idle.busy()
    assert not idle.wait(0)


def test_a_waiter_wakes_when_the_worker_says_idle_or_ends() -> None:
    idle = IdleState(lambda: 5)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(idle.wait(10)))
    waiter.start()
    idle.idle(4)  # an older generation: not yet
    idle.idle(5)
    waiter.join(10)
    assert woke == [True]
    ended = IdleState(lambda: 7)
    ended.ended()  # the worker returned: nothing more will happen
    assert ended.wait(0)
