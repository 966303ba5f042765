"""The scheduler's rules, on an injected clock: no test sleeps, every time is exact."""

from __future__ import annotations

import pytest

from core.engine.scheduler import DEFAULT_INTERVAL, Due, Reason, Scheduler
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def run_check(s: Scheduler, account: str = "a") -> None:
    """Poll, expect exactly ``account`` due, and report its check finished."""
    assert [d.account for d in s.poll()] == [account]
    s.finished(account)


def test_first_check_at_once_then_every_interval(clock):
    s = Scheduler(clock)
    s.add("a")
    assert s.poll() == [Due("a", Reason.FIRST)]
    s.finished("a")
    assert s.next_wakeup() == DEFAULT_INTERVAL == 600
    clock.advance(599.9)
    assert s.poll() == []
    clock.advance(0.1)
    assert s.poll() == [Due("a", Reason.INTERVAL)]


def test_the_interval_counts_from_the_start_of_the_last_check(clock):
    s = Scheduler(clock)
    s.add("a", 60)
    s.poll()
    clock.advance(45)  # a slow check
    s.finished("a")
    assert s.next_wakeup() == pytest.approx(15)


def test_accounts_have_their_own_intervals(clock):
    s = Scheduler(clock)
    s.add("a", 30)
    s.add("b", 120)
    assert {d.account for d in s.poll()} == {"a", "b"}
    s.finished("a")
    s.finished("b")
    seen = []
    for _ in range(12):
        clock.advance(10)
        for due in s.poll():
            seen.append((clock.mono - 1000, due.account))
            s.finished(due.account)
    assert seen == [(30, "a"), (60, "a"), (90, "a"), (120, "a"), (120, "b")]


def test_without_check_first_the_first_check_waits_one_interval(clock):
    s = Scheduler(clock)
    s.add("a", 30, check_first=False)
    assert s.poll() == []
    assert s.next_wakeup() == 30


def test_an_interval_never_beats_login_delay(clock):
    s = Scheduler(clock)
    s.add("a", 30)
    s.poll()
    s.set_login_delay("a", 300)  # Gmail's CAPA LOGIN-DELAY 300
    s.finished("a")
    assert s.next_wakeup() == 300
    clock.advance(299)
    assert s.poll() == []
    clock.advance(1)
    assert s.poll() == [Due("a", Reason.INTERVAL)]


def test_f5_checks_at_once_even_between_intervals_and_without_one(clock):
    s = Scheduler(clock)
    s.add("a")
    s.add("manual", None)
    assert {d.account for d in s.poll()} == {"a", "manual"}
    s.finished("a")
    s.finished("manual")
    assert s.due_in("manual") is None  # never by itself
    clock.advance(5)
    s.check_now("a")
    s.check_now("manual")
    assert s.poll() == [Due("a", Reason.MANUAL), Due("manual", Reason.MANUAL)]


def test_f5_waits_out_login_delay_instead_of_being_refused(clock):
    s = Scheduler(clock)
    s.add("a")
    s.set_login_delay("a", 120)
    run_check(s)
    clock.advance(20)
    s.check_now("a")
    assert s.poll() == []
    assert s.due_in("a") == 100
    clock.advance(100)
    assert s.poll() == [Due("a", Reason.MANUAL)]


def test_a_check_never_overlaps_the_same_accounts_running_check(clock):
    s = Scheduler(clock, jump_threshold=60)
    s.add("a", 30)
    assert s.poll() == [Due("a", Reason.FIRST)]
    clock.advance(100)  # still running, three intervals later
    s.check_now("a")
    s.network_up()
    assert s.poll() == []
    assert s.next_wakeup() is None
    s.finished("a")
    # The trigger that came during the check is kept, not lost, and runs once.
    assert s.poll() == [Due("a", Reason.MANUAL)]
    assert s.poll() == []


def test_network_up_checks_every_scheduled_account_not_manual_ones(clock):
    s = Scheduler(clock)
    s.add("a", 600)
    s.add("b", 3600)
    s.add("manual", None)
    for due in s.poll():
        s.finished(due.account)
    clock.advance(10)
    s.network_up()
    assert s.poll() == [Due("a", Reason.NETWORK_UP), Due("b", Reason.NETWORK_UP)]


def test_network_up_respects_login_delay(clock):
    s = Scheduler(clock)
    s.add("a")
    s.set_login_delay("a", 300)
    run_check(s)
    clock.advance(10)
    s.network_up()
    assert s.poll() == []
    assert s.due_in("a") == 290


def test_a_resume_from_suspend_checks_at_once(clock):
    s = Scheduler(clock)
    s.add("a", 600)
    s.add("manual", None)
    for due in s.poll():
        s.finished(due.account)
    clock.advance(100)
    clock.suspend(3 * 3600)  # the wall clock ran on while monotonic time stood still
    assert s.poll() == [Due("a", Reason.RESUMED)]
    s.finished("a")
    assert s.next_wakeup() == 600  # and the schedule carries on from there


def test_small_clock_corrections_and_backward_jumps_are_not_a_resume(clock):
    s = Scheduler(clock)
    s.add("a", 600)
    run_check(s)
    clock.suspend(30)  # NTP step under the threshold
    assert s.poll() == []
    clock.suspend(-7200)  # someone set the clock back
    assert s.poll() == []
    clock.suspend(61)  # a real sleep, measured from the new baseline
    assert s.poll() == [Due("a", Reason.RESUMED)]


def test_a_resume_during_a_check_runs_after_it(clock):
    s = Scheduler(clock)
    s.add("a")
    assert s.poll() == [Due("a", Reason.FIRST)]
    clock.suspend(600)
    assert s.poll() == []
    s.finished("a")
    assert s.poll() == [Due("a", Reason.RESUMED)]


def test_changing_the_interval_counts_from_the_last_check(clock):
    s = Scheduler(clock)
    s.add("a", 600)
    run_check(s)
    clock.advance(100)
    s.set_interval("a", 60)
    assert s.poll() == [Due("a", Reason.INTERVAL)]
    s.finished("a")
    s.set_interval("a", None)
    assert s.next_wakeup() is None


def test_removed_accounts_are_forgotten_even_mid_check(clock):
    s = Scheduler(clock)
    s.add("a")
    s.poll()
    s.remove("a")
    s.finished("a")  # a worker reporting late does not resurrect it
    assert s.accounts() == [] and s.next_wakeup() is None


@pytest.mark.parametrize("interval", [0, -5.0])
def test_bad_intervals_and_duplicates_are_refused(clock, interval):
    s = Scheduler(clock)
    with pytest.raises(ValueError, match="above 0"):
        s.add("a", interval)
    s.add("a")
    with pytest.raises(ValueError, match="already"):
        s.add("a")


def test_a_login_delay_beyond_the_sane_bound_is_capped(clock):
    from core.errors import MAX_SERVER_WAIT

    s = Scheduler(clock)
    s.add("a", 60)
    run_check(s)
    s.set_login_delay("a", 10 * MAX_SERVER_WAIT)  # a server asking for days
    assert s.next_wakeup() == MAX_SERVER_WAIT
    s.set_login_delay("gone", 300)  # a late report about an account removed meanwhile
