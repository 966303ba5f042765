"""gui.dialogs.viewer: one size convention; a private copy to open; failures reported."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from gui import fmt
from gui.dialogs.viewer import MessageViewer, export_eml
from tests.gui.helpers import RecordingHost

MAIL = b"From: a@x.org\nSubject: hi\n\nline\n" * 3


def test_the_viewer_shows_the_size_the_list_shows(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_bytes(MAIL)
    wire = 60_812_345  # LIST's count, CRLF lines: what the Size column shows
    viewer = MessageViewer(str(path), "hi", wire, RecordingHost())
    qtbot.addWidget(viewer)
    qtbot.waitUntil(lambda: viewer.loaded is not None)
    label = viewer.findChild(type(viewer.attachments), "sizeLabel")
    assert label is not None and label.text() == fmt.size(wire) == "60.8 MB"


def test_each_copy_goes_to_a_fresh_private_directory(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    path = tmp_path / "1700000000.x.host:2,S"
    path.write_bytes(MAIL)
    first, second = Path(export_eml(str(path))), Path(export_eml(str(path)))
    assert first.parent != second.parent
    assert first.parent.parent == tmp_path / "run"
    assert first.parent.name != "popfetch-open" and first.parent.name.startswith("popfetch-open-")
    assert stat.S_IMODE(os.stat(first.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600
    assert first.read_bytes() == MAIL and first.name.endswith(".eml") and ":" not in first.name


def test_a_copy_that_cannot_be_made_is_reported(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_bytes(MAIL)
    host = RecordingHost()
    viewer = MessageViewer(str(path), "hi", 0, host)
    qtbot.addWidget(viewer)
    path.unlink()  # a mail program moved it meanwhile
    viewer.open_button.click()
    qtbot.waitUntil(lambda: bool(host.errors))
    assert host.errors[0][0] == "Cannot open the message"
