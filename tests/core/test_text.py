"""core.text: the one definition of showing server text safely and of redacting secrets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ServerError
from core.pop3.commands import Command
from core.text import SHOWN_LIMIT, redact_command, sanitize

HOSTILE = [
    ("\x1b[2J", "\\x1b[2J"),  # clear screen
    ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),  # window title, ended by BEL
    ("a\x9b31mb", "a\\x9b31mb"),  # C1 CSI: an ESC [ in one octet on some terminals
    ("line\r\nnext", "line\\x0d\\x0anext"),
    ("x\x00y\x7f", "x\\x00y\\x7f"),
    ("abc\u202etxt.exe", "abc\\u202etxt.exe"),  # right-to-left override
    ("a\u2028b", "a\\u2028b"),
    ("tab\there", "tab\\x09here"),
]


@pytest.mark.parametrize(("raw", "shown"), HOSTILE)
def test_control_characters_are_escaped_visibly(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown


def test_plain_text_and_other_scripts_pass_unchanged() -> None:
    for text in ("Authentication failed", "Anmeldung fehlgeschlagen: Passwort", "认证失败"):
        assert sanitize(text) == text


def test_long_text_is_cut_with_an_ellipsis() -> None:
    shown = sanitize("x" * 10_000)
    assert len(shown) == SHOWN_LIMIT and shown.endswith("\u2026")
    assert sanitize("abcdef", limit=4) == "abc\u2026"


@given(st.text())
def test_nothing_unprintable_survives(text: str) -> None:
    shown = sanitize(text)
    assert all(c.isprintable() or c == " " for c in shown)


def test_a_server_error_message_is_sanitized_and_keeps_the_raw_text() -> None:
    error = ServerError("PASS", "\x1b[2Jbad\x07", "AUTH")
    assert "\x1b" not in str(error) and "\\x1b[2Jbad\\x07" in str(error)
    assert error.text == "\x1b[2Jbad\x07"


@pytest.mark.parametrize(
    ("verb", "args", "shown"),
    [
        ("PASS", ("pass word",), "PASS ***"),
        ("PASS", ("pass", "word"), "PASS ***"),  # split by a server: not even the word count
        ("APOP", ("alice", "c4c9334bac560ecc979e58001b3e22fb"), "APOP alice ***"),
        ("AUTH", ("PLAIN", "AGFsaWNlAHNlY3JldA=="), "AUTH PLAIN ***"),
        ("AUTH", ("PLAIN",), "AUTH PLAIN"),
        ("USER", ("alice",), "USER alice"),
        ("RETR", ("1", "200"), "RETR 1 200"),
    ],
)
def test_redaction(verb: str, args: tuple[str, ...], shown: str) -> None:
    assert redact_command(verb, args) == shown
    assert Command(verb, args).redacted() == shown
    secret = args[-1] if verb in ("PASS", "APOP") or len(args) > 1 else None
    if secret and verb in ("PASS", "APOP", "AUTH"):
        assert secret not in repr(Command(verb, args))
