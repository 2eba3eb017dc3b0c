"""Durations as written in standards files (SPEC §3.1 `within`: whole units s, m, h, d)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("2m", timedelta(minutes=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("90m", timedelta(minutes=90)),  # a unit may exceed the next one up
        ("0d5m", timedelta(minutes=5)),  # a zero part is fine while the whole is positive
        (" 2m ", timedelta(minutes=2)),  # YAML scalars may carry surrounding blanks
    ],
)
def test_it_parses_whole_units_in_order(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "0s",  # a target of nothing is no target
        "0d0h",
        "2",  # no unit
        "m",  # no number
        "1.5h",  # whole units only
        "-1m",
        "+1m",
        "30m1h",  # units out of order
        "1h 30m",  # no inner blanks
        "2M",  # units are lower case
        "2min",
        "1w",
        "PT2M",  # ISO 8601 is not the house format
        "2m2m",
    ],
)
def test_it_refuses_other_forms_with_a_value_error(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("value", [120, 2.0, None, ["2m"]])
def test_it_refuses_non_text(value):
    with pytest.raises(ValueError):
        parse_duration(value)


def test_it_explains_what_is_accepted():
    with pytest.raises(ValueError, match=r"90s.*2m.*1h30m.*2d"):
        parse_duration("two minutes")


def test_it_refuses_an_absurdly_long_duration_with_a_value_error():
    with pytest.raises(ValueError):
        parse_duration("9999999999d")


def test_it_refuses_non_ascii_digits():
    with pytest.raises(ValueError):
        parse_duration("٣m")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=90), "1m30s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=2), "2d"),
        (timedelta(days=1, seconds=1), "1d1s"),
    ],
)
def test_it_formats_the_shortest_text(value, text):
    assert format_duration(value) == text


@given(st.integers(min_value=1, max_value=10 * 365 * 86400))
def test_it_reads_back_what_it_formats(seconds):
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@given(
    st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)
)
def test_it_formats_back_the_canonical_text_it_parses(d, h, m, s):
    parts = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    if not text:
        return
    assert format_duration(parse_duration(text)) == text
