"""gui.fmt: the text the user reads for sizes, rates, durations and headers."""

from __future__ import annotations

import pytest

from gui import fmt


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1234, "1.2 kB"), (99_949, "99.9 kB"),
    (123_456, "123 kB"), (2_500_000, "2.5 MB"), (25_300_000, "25.3 MB"),
    (4_990_050_000, "5.0 GB"), (3 * 10**15, "3000 TB"),
])
def test_size(n, text):
    assert fmt.size(n) == text


@pytest.mark.parametrize(("s", "text"), [
    (0, "0 s"), (0.4, "0 s"), (59.6, "1 min 00 s"), (61, "1 min 01 s"), (3599, "59 min 59 s"),
    (3600, "1 h 00 min"), (7322, "2 h 02 min"), (-5, "0 s"),
])
def test_duration(s, text):
    assert fmt.duration(s) == text


def test_percent_is_clamped_and_safe():
    assert fmt.percent(410, 1000) == 41
    assert fmt.percent(1002, 1000) == 100  # a server that adds a final CRLF
    assert fmt.percent(5, 0) == 100
    assert fmt.percent(-1, 10) == 0


def test_headers():
    assert fmt.sender_display("Ada Lovelace <ada@example.org>") == "Ada Lovelace"
    assert fmt.sender_display("ada@example.org") == "ada@example.org"
    assert fmt.sender_display("Jürgen <j@example.org>") == "Jürgen"
    ts = fmt.parse_date("Tue, 03 Mar 2026 05:06:00 +0000")
    assert ts == 1772514360.0
    assert fmt.parse_date("yesterday") == 0.0 and fmt.parse_date("") == 0.0
    assert fmt.date_display(0.0, "yesterday") == "yesterday"
