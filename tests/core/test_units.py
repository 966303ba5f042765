"""--max-size and --every spellings: what each accepts, and that a typo is a clear error."""

from __future__ import annotations

import pytest

from core.units import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "octets"),
    [("1200", 1200), ("500k", 500 * 1024), ("500K", 500 * 1024), ("5M", 5 * 1024**2),
     ("5m", 5 * 1024**2), ("5MB", 5 * 1024**2), ("5MiB", 5 * 1024**2), ("1G", 1024**3),
     ("1.5M", 1536 * 1024), (" 64k ", 64 * 1024)],
)
def test_sizes(text, octets):
    assert parse_size(text) == octets


@pytest.mark.parametrize("text", ["", "k", "-5M", "5X", "5 MBs", "0", "0k", "2T", "ten", "5M5"])
def test_bad_sizes_name_the_input_and_the_forms(text):
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("30", 30), ("10m", 600), ("10M", 600), ("1h", 3600), ("2d", 172800),
     ("0.5s", 0.5), ("1.5h", 5400)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "-1m", "10x", "0s", "31d", "1h30m", "soon"])
def test_bad_durations_name_the_input_and_the_forms(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_messages_say_what_is_accepted():
    with pytest.raises(ValueError, match=r"500k or 5M"):
        parse_size("5X")
    with pytest.raises(ValueError, match=r"30s, 10m or 1h"):
        parse_duration("5x")


@pytest.mark.parametrize(
    ("octets", "shown"),
    [(0, "0 octets"), (1023, "1023 octets"), (1024, "1.0 KiB"), (5 * 1024**2, "5.0 MiB"),
     (3 * 1024**3, "3.0 GiB")],
)
def test_format_size(octets, shown):
    assert format_size(octets) == shown


@pytest.mark.parametrize(("seconds", "shown"), [(30, "30 s"), (90, "90 s"), (600, "10 min"),
                                                (3600, "1 h"), (0.5, "0.5 s")])
def test_format_duration(seconds, shown):
    assert format_duration(seconds) == shown
