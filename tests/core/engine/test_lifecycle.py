"""The message lifecycle table alone: no sockets, no threads (issue 7 item 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.engine.events import MessageState
from core.engine.lifecycle import ACTIVE, TABLE, Step, advance, markdown

ROOT = Path(__file__).resolve().parents[3]
S = MessageState


def test_readme_shows_the_table_the_module_prints() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "core.engine.lifecycle"], cwd=ROOT, capture_output=True,
        text=True, check=True, timeout=60,
    ).stdout
    assert printed == markdown()
    assert markdown() in (ROOT / "README.md").read_text()


def test_the_table_has_a_row_per_state_and_a_column_per_step() -> None:
    lines = markdown().splitlines()
    assert len(lines) == 2 + len(MessageState)
    assert all(line.count("|") == len(Step) + 2 for line in lines)


def test_stored_and_gone_are_final_but_for_vanishing() -> None:
    for step in Step:
        assert advance(S.GONE, step) is None
        assert advance(S.STORED, step) == (S.GONE if step is Step.VANISH else None)


def test_every_state_but_gone_can_vanish() -> None:
    assert {s for s in MessageState if advance(s, Step.VANISH) is S.GONE} == (
        set(MessageState) - {S.GONE}
    )


def test_only_a_transfer_in_flight_can_lose_its_link_or_be_held() -> None:
    assert {s for s, step in TABLE if step is Step.LINK_LOST} == {S.DOWNLOADING}
    assert {s for s, step in TABLE if step is Step.HOLD} == {S.DOWNLOADING}
    assert advance(S.STALLED, Step.RECONNECT) is S.QUEUED


def test_a_failure_needs_a_message_on_its_way() -> None:
    """Evidence comes from a transfer: a message sitting on the server cannot fail."""
    assert {s for s, step in TABLE if step is Step.FAIL} == ACTIVE
    assert advance(S.REMOTE, Step.FAIL) is None


@pytest.mark.parametrize("state", sorted(ACTIVE, key=lambda s: s.value))
def test_pause_and_cancel_catch_every_active_message(state: MessageState) -> None:
    assert advance(state, Step.PAUSE) is S.PAUSED
    assert advance(state, Step.CANCEL) is S.REMOTE


def test_a_failed_or_paused_message_can_be_queued_again() -> None:
    for state in (S.FAILED, S.PAUSED, S.REMOTE):
        assert advance(state, Step.QUEUE) is S.QUEUED


def test_any_message_not_gone_can_turn_out_stored_by_another_run() -> None:
    assert {s for s, step in TABLE if step is Step.STORE} == set(MessageState) - {
        S.STORED, S.GONE
    }


def test_every_target_is_a_state_and_steps_are_unique_titles() -> None:
    assert all(isinstance(t, MessageState) for t in TABLE.values())
    assert len({s.value for s in Step}) == len(Step)
