"""New-mail notifications: what the Notify calls say, grouping, silence while the window
has focus, and a click coming back as the message, against Debian's dunst on a private bus."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QWidget

from gui.desktop.notifications import GROUP_OVER, NewMail, Notifier, compose
from tests.support.desktop import dunstctl

MAILS = [NewMail("work", f"uidl-{i}", f"Sender {i} <s{i}@example.org>", f"Subject {i}")
         for i in range(7)]


# -- what is said (no bus) -----------------------------------------------------------------


def test_few_messages_get_one_notification_each_sender_and_subject():
    notes = compose(MAILS[:GROUP_OVER], markup=False)
    assert [(n.summary, n.body, n.opens) for n in notes] == [
        (m.sender, m.subject, m) for m in MAILS[:GROUP_OVER]]


def test_many_messages_are_grouped_in_one_that_opens_the_first():
    [note] = compose(MAILS, markup=False)
    assert note.summary == "7 new messages"
    assert note.body.splitlines() == [
        "Sender 0 <s0@example.org>: Subject 0", "Sender 1 <s1@example.org>: Subject 1",
        "Sender 2 <s2@example.org>: Subject 2", "Sender 3 <s3@example.org>: Subject 3",
        "and 3 more"]
    assert note.opens == MAILS[0]


def test_server_text_is_escaped_and_markup_kept_as_text():
    evil = NewMail("a", "u", "Eve\x1b[2J <e@x>", "<b>win</b> & \u202eevil\nline")
    [note] = compose([evil], markup=True)
    assert "\x1b" not in note.summary and "\\x1b" in note.summary
    assert note.body.startswith("&lt;b&gt;win&lt;/b&gt; &amp; ")
    assert "\n" not in note.body and "\u202e" not in note.body
    [plain] = compose([NewMail("a", "u", " ", "")], markup=False)
    assert (plain.summary, plain.body) == ("(no sender)", "(no subject)")


# -- against dunst -------------------------------------------------------------------------


def shown(env: dict[str, str], ids: list[int]) -> dict[int, dict[str, str]]:
    """What dunst received for our notification ids (closed into its history first)."""
    dunstctl(env, "close-all")
    history = json.loads(dunstctl(env, "history"))["data"][0]
    return {entry["id"]["data"]: {k: v["data"] for k, v in entry.items()}
            for entry in history if entry["id"]["data"] in ids}


@pytest.fixture
def notifier(qtbot, notifications):
    n = Notifier()
    yield n
    n.close()


def test_each_new_message_reaches_the_daemon_with_sender_and_subject(qtbot, notifier,
                                                                     notifications):
    ids: list[int] = []
    notifier.sent.connect(lambda nid, note: ids.append(nid))
    assert notifier.announce(MAILS[:2])
    qtbot.waitUntil(lambda: len(ids) == 2, timeout=10_000)
    got = shown(notifications.env, ids)
    assert sorted((g["summary"], g["body"]) for g in got.values()) == [
        ("Sender 0 <s0@example.org>", "Subject 0"), ("Sender 1 <s1@example.org>", "Subject 1")]
    assert {g["appname"] for g in got.values()} == {"popfetch"}
    assert {g["category"] for g in got.values()} == {"email.arrived"}


def test_a_burst_is_one_grouped_notification(qtbot, notifier, notifications):
    with qtbot.waitSignal(notifier.sent, timeout=10_000) as blocker:
        notifier.announce(MAILS)
    nid, note = blocker.args
    got = shown(notifications.env, [nid])[nid]
    assert got["summary"] == "7 new messages"
    assert got["body"] == note.body and got["body"].endswith("and 3 more")


def test_nothing_is_sent_while_the_window_has_focus(qtbot, notifications):
    window = QWidget()
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    notifier = Notifier(quiet=window.isActiveWindow)
    sent: list[str] = []
    notifier.sent.connect(lambda nid, note: sent.append(note.summary))
    try:
        assert notifier.announce(MAILS[:1]) is False  # focused: quiet
        window.hide()
        qtbot.waitUntil(lambda: not window.isActiveWindow())
        assert notifier.announce(MAILS[1:2]) is True
        # One worker sends in order: had the first gone out, it would have come first.
        qtbot.waitUntil(lambda: len(sent) >= 1, timeout=10_000)
        assert sent == ["Sender 1 <s1@example.org>"]
        assert int(dunstctl(notifications.env, "count", "displayed")) == 1
    finally:
        notifier.close()


def test_a_click_comes_back_as_the_message(qtbot, notifier, notifications):
    with qtbot.waitSignal(notifier.sent, timeout=10_000):
        notifier.announce([MAILS[4]])
    with qtbot.waitSignal(notifier.activated, timeout=10_000) as clicked:
        dunstctl(notifications.env, "action", "0")  # what a click on it does
    assert clicked.args == [MAILS[4]]


def test_no_notification_service_is_said_once(qtbot, x_and_bus, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    notifier = Notifier()
    try:
        with qtbot.waitSignal(notifier.unavailable, timeout=10_000) as blocker:
            notifier.announce(MAILS[:1])
        assert blocker.args[0].startswith("desktop notifications unavailable: ")
    finally:
        notifier.close()
