"""core.pop3.headers: what the list shows of a header block, decoded once for every source."""

from __future__ import annotations

from core.pop3.headers import parse_headers


def test_headers_are_decoded_for_the_list() -> None:
    h = parse_headers(b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
                      b"Subject: caf\xc3\xa9\r\n  folded\r\nDate: Tue, 3 Mar 2026\r\n\r\n")
    assert h.sender == "J\u00fcrgen <j@example.org>"
    assert h.subject == "caf\u00e9 folded"
    assert h.date == "Tue, 3 Mar 2026"
    assert parse_headers(b"\xff\xfe\r\n\r\n").subject == ""



def test_an_encoded_word_with_an_unknown_charset_is_shown_raw() -> None:
    h = parse_headers(b"Subject: =?x-unknown?q?abc?=\r\n\r\n")
    assert h.subject == "=?x-unknown?q?abc?="
