"""core.engine.link: what a caller's stop does to the worker's connection."""

from __future__ import annotations

from core.engine.link import Link
from core.net import Dialer


def test_a_stop_aborts_a_connection_being_opened() -> None:
    link, dialer = Link(), Dialer()
    link.opening(dialer)
    link.stop_requested(shutdown=False)
    assert dialer.aborted


def test_shutdown_aborts_a_busy_session_but_leaves_a_parked_one_to_quit() -> None:
    link, busy = Link(), Dialer()
    link.opening(busy)
    link.opened()
    link.stop_requested(shutdown=False)  # disconnect: the worker QUITs at its next poll
    assert not busy.aborted
    link.stop_requested(shutdown=True)
    assert busy.aborted
    link, parked = Link(), Dialer()
    link.opening(parked)
    link.opened()
    link.park()
    link.stop_requested(shutdown=True)
    assert not parked.aborted
    assert not link.unpark(lambda: True)  # stopping: stays parked for the loop's QUIT
    assert link.take_parked() is parked
    assert link.take_parked() is None  # taken once


def test_a_closed_connection_is_not_aborted() -> None:
    link, dialer = Link(), Dialer()
    link.opening(dialer)
    link.closed()
    link.stop_requested(shutdown=True)
    assert not dialer.aborted
