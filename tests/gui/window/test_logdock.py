"""gui.window.logdock: keep-alives collapse into one counting line; server text is escaped."""

from __future__ import annotations

from typing import Any

from core.engine.events import TranscriptLine
from gui.window.logdock import LogDock


def test_noop_keepalives_collapse_and_other_traffic_ends_the_run(qtbot: Any) -> None:
    dock = LogDock()
    qtbot.addWidget(dock)
    dock.show()
    for _ in range(5):
        dock.add("acct", [TranscriptLine(True, "NOOP"), TranscriptLine(False, "+OK")])
    lines = dock.lines()
    assert len(lines) == 1 and lines[0].endswith("keep-alive (NOOP): 5 since " +
                                                 lines[0].split()[0])
    dock.add("acct", [TranscriptLine(True, "STAT"), TranscriptLine(False, "+OK 2 320")])
    dock.add("acct", [TranscriptLine(True, "NOOP"), TranscriptLine(False, "+OK")])
    assert [line.split(" ", 2)[2] for line in dock.lines()] == [
        lines[0].split(" ", 2)[2], "C: STAT", "S: +OK 2 320",
        f"-- keep-alive (NOOP): 1 since {dock.lines()[-1].split()[0]}"]
    assert dock.shown_lines() == dock.lines()  # rewritten in place on screen too


def test_a_noop_refused_is_shown(qtbot: Any) -> None:
    dock = LogDock()
    qtbot.addWidget(dock)
    dock.add("acct", [TranscriptLine(True, "NOOP"), TranscriptLine(False, "-ERR go away")])
    assert dock.lines()[-1].endswith("S: -ERR go away")


def test_control_characters_from_the_server_are_escaped(qtbot: Any) -> None:
    dock = LogDock()
    qtbot.addWidget(dock)
    dock.add("acct", [TranscriptLine(False, "+OK \x1b]0;owned\x07 ready")])
    assert "\x1b" not in dock.lines()[-1] and "\\x1b" in dock.lines()[-1]
