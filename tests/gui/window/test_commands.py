"""gui.window.commands: functions of (runner, selection, host), checked on a recording engine."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QMessageBox

from core.engine.events import CommitFinished, MarksChanged, MessageState
from gui.window import commands
from tests.gui.helpers import RecordingEngine, RecordingHost, info, runner_with

S = MessageState


def calls(runner: Any) -> list[tuple[str, Any]]:
    engine = runner.engine
    assert isinstance(engine, RecordingEngine)
    return [c for c in engine.calls if c[0] != "start"]


def test_toggle_pauses_what_moves_else_resumes_what_waits(qtbot: Any) -> None:
    runner = runner_with(qtbot, [info(1)])
    host = RecordingHost()
    commands.toggle_selected(runner, [("a", S.DOWNLOADING), ("b", S.PAUSED)], host)
    commands.toggle_selected(runner, [("b", S.PAUSED), ("c", S.STORED)], host)
    commands.cancel_selected(runner, [("a", S.QUEUED), ("c", S.STORED)], host)
    commands.download_selected(runner, [("c", S.STORED), ("d", S.FAILED)], host)
    assert calls(runner) == [("pause", ["a"]), ("resume", ["b"]), ("cancel", ["a"]),
                             ("download", ["d"])]


def test_only_messages_on_the_server_are_marked(qtbot: Any) -> None:
    runner = runner_with(qtbot, [info(1, state=S.STORED, received=1000), info(2)])
    host = RecordingHost()
    commands.mark_stored(runner, [], host)
    commands.mark_selected(runner, [("uid-2", S.REMOTE), ("nowhere", S.REMOTE)], host)
    assert calls(runner) == [("mark", ["uid-1"]), ("mark", ["uid-2"])]


def test_commit_asks_first_without_blocking_and_commits_on_yes(qtbot: Any) -> None:
    runner = runner_with(qtbot, [info(1), info(2)])
    host = RecordingHost()
    commands.commit(runner, [], host)
    assert host.statuses == ["No message is marked for deletion."] and not host.dialogs
    runner.model.apply(MarksChanged(frozenset({"uid-1", "uid-2"})))
    commands.commit(runner, [], host)
    (box,) = host.dialogs
    assert isinstance(box, QMessageBox) and "Delete 2 messages" in box.text()
    assert "not downloaded" in box.informativeText()
    assert calls(runner) == []  # nothing until the answer
    box.button(QMessageBox.StandardButton.Ok).click()
    assert calls(runner) == [("commit", None)]


def test_commit_report_quotes_the_server_escaped() -> None:
    text = commands.commit_report("Work", CommitFinished(True, "+OK bye\x1b[2J",
                                                         frozenset({"a"})))
    assert "deleted 1 message." in text and "\\x1b[2J" in text and "\x1b" not in text


def test_open_a_stored_message_without_its_file_says_so(qtbot: Any) -> None:
    runner = runner_with(qtbot, [info(1, state=S.STORED, received=1000)])
    host = RecordingHost()
    commands.open_selected(runner, [("uid-1", S.STORED)], host)
    assert host.statuses and "no longer in the Maildir" in host.statuses[0]
    commands.open_selected(runner, [("uid-1", S.REMOTE)], host)
    assert calls(runner) == [("download", ["uid-1"])]
