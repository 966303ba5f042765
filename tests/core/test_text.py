"""core.text.sanitize: server text safe to show."""

from __future__ import annotations

from core.text import sanitize


def test_control_characters_and_bidi_overrides_are_escaped() -> None:
    assert sanitize("-ERR \x1b[31mred\x07") == "-ERR \\x1b[31mred\\x07"
    assert sanitize("a\u202eb\nc") == "a\\u202eb\\x0ac"
    assert sanitize("tab\tstays") == "tab\tstays"


def test_long_text_is_cut_with_an_ellipsis() -> None:
    out = sanitize("x" * 10_000, limit=20)
    assert len(out) == 20 and out.endswith("…")
