"""gui.dialogs.prompts: the password prompt shows the reason escaped and answers the engine."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel

from core.accounts import AccountBook
from gui.dialogs.prompts import Prompts
from gui.runner import PasswordRequest
from tests.gui.helpers import RecordingHost, runner_with


def test_the_password_prompt_answers_the_request(qtbot: Any, tmp_path: Any) -> None:
    runner = runner_with(qtbot, [])
    host = RecordingHost()
    prompts = Prompts(host, AccountBook(tmp_path / "a.json"))
    request = PasswordRequest(runner.account, "-ERR \x1b[5mno", keychain_available=False)
    prompts.password(request)
    (dialog,) = host.dialogs
    texts = " ".join(w.text() for w in dialog.findChildren(QLabel))
    assert "\\x1b[5mno" in texts and "\x1b" not in texts
    dialog.edit.setText("pw")  # type: ignore[attr-defined]
    dialog.accept()
    assert request.done.is_set() and request.answer == "pw" and not request.remember


def test_a_password_not_saved_is_explained(qtbot: Any, tmp_path: Any) -> None:
    host = RecordingHost()
    Prompts(host, AccountBook(tmp_path / "a.json")).password_saved(
        ("me@x:995", False, "The keychain is locked."))
    (box,) = host.dialogs
    assert box.objectName() == "keychainProblem"
