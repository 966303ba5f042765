"""The fault meter: positions fire exactly once, in order, and threads cannot double-fire."""

from __future__ import annotations

import threading

import pytest

from core.demoserver.faults import Event, Faults


def test_no_faults_admits_everything_and_counts() -> None:
    faults = Faults()
    assert faults.admit(1000) == (1000, None)
    assert faults.admit(5) == (5, None)
    assert faults.body_bytes_sent == 1005


def test_cut_positions_fire_once_each() -> None:
    faults = Faults(cut_at=[150, 100])
    assert faults.admit(60) == (60, None)
    assert faults.admit(60) == (40, Event.CUT)  # reaches 100 exactly
    assert faults.admit(60) == (50, Event.CUT)  # then 150
    assert faults.admit(60) == (60, None)
    assert faults.body_bytes_sent == 210


def test_position_reached_at_the_end_of_a_send_fires() -> None:
    faults = Faults(cut_at=[10])
    assert faults.admit(10) == (10, Event.CUT)
    assert faults.admit(10) == (10, None)


def test_a_passed_position_fires_at_once() -> None:
    faults = Faults()
    faults.admit(500)
    faults.cut_at([100])
    assert faults.admit(10) == (0, Event.CUT)
    assert faults.admit(10) == (10, None)


def test_drop_every_lets_each_connection_progress() -> None:
    faults = Faults(drop_every=100)
    assert faults.admit(250) == (100, Event.CUT)
    assert faults.admit(250) == (100, Event.CUT)
    assert faults.admit(30) == (30, None)
    assert faults.admit(250) == (70, Event.CUT)
    with pytest.raises(ValueError):
        Faults(drop_every=0)


def test_stall_before_cut_and_cut_wins_a_tie() -> None:
    faults = Faults(cut_at=[50, 80], stall_at=[30, 80])
    assert faults.admit(100) == (30, Event.STALL)
    assert faults.admit(100) == (20, Event.CUT)
    assert faults.admit(100) == (30, Event.CUT)  # 80: the cut, the stall stays pending
    assert faults.admit(100) == (0, Event.STALL)
    assert faults.admit(100) == (100, None)


def test_close_after_greeting_counts_down() -> None:
    faults = Faults(close_after_greeting=2)
    assert [faults.take_close_after_greeting() for _ in range(3)] == [True, True, False]
    faults.set_close_after_greeting(-1)
    assert all(faults.take_close_after_greeting() for _ in range(5))


def test_random_drop_is_seeded_and_inside_the_body() -> None:
    def cuts(seed: int) -> list[int]:
        faults = Faults(random_drop=0.5, seed=seed)
        found = []
        for _ in range(20):
            faults.start_body(1000)
            sent, event = faults.admit(1000)
            if event is Event.CUT:
                found.append(sent)
        return found

    first = cuts(7)
    assert first == cuts(7)
    assert 3 <= len(first) <= 17
    assert all(0 <= n < 1000 for n in first)
    assert Faults(random_drop=0.0).admit(10) == (10, None)


def test_concurrent_senders_fire_each_cut_once() -> None:
    faults = Faults(cut_at=range(1000, 200_001, 1000))
    events: list[Event] = []
    lock = threading.Lock()

    def send() -> None:
        for _ in range(2000):
            _, event = faults.admit(17)
            if event is not None:
                with lock:
                    events.append(event)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert faults.body_bytes_sent <= 8 * 2000 * 17
    assert events.count(Event.CUT) == min(200, faults.body_bytes_sent // 1000)
