"""gui.models.rows: rows from the server's list and from the store; the progress words."""

from __future__ import annotations

from core.engine.events import MessageState
from core.store.catalog import StoredEntry
from gui.models.columns import ServerState
from gui.models.rows import Row, progress_fraction, progress_text
from tests.gui.helpers import info


def test_a_stored_entry_is_a_stored_row_whose_server_state_is_unknown() -> None:
    row = Row.from_stored(StoredEntry("u", 1200, "/m/new/1", "Ann <a@x>", "Hi", "x"))
    assert (row.state, row.server, row.path, row.received) == (
        MessageState.STORED, ServerState.UNKNOWN, "/m/new/1", 1200)
    assert row.sender_short == "Ann" and progress_fraction(row) == 1.0
    listed = Row.from_info(info(1))
    assert listed.server is ServerState.PRESENT


def test_progress_words() -> None:
    d = MessageState.DOWNLOADING
    assert progress_text(d, 500, 1000, 3.2, 100.0, "") == "50% · 100 B/s · 3 s left"
    assert progress_text(d, 500, 1000, None, 0.0, "") == "50%"
    assert progress_text(d, 500, 1000, -7, 100.0, "") == "50% · 100 B/s · 7 s late"
    assert progress_text(MessageState.FAILED, 0, 10, None, 0.0, "refused") == "failed: refused"
