"""RFC 5322 §3.3 date-time, with the §4.3 obsolete forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.mime.errors import Defect, ParseError
from stack.mime.fields.date import DateTime, decode_date, encode_date


@st.composite
def date_times(draw: st.DrawFn) -> DateTime:
    moment = draw(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(9999, 12, 31)))
    second = draw(st.one_of(st.none(), st.integers(0, 60)))
    zone = draw(st.one_of(st.none(), st.integers(-(99 * 60 + 59), 99 * 60 + 59)))
    return DateTime(moment.year, moment.month, moment.day, moment.hour, moment.minute, second, zone)


@given(date_times())
def test_date_round_trips(value: DateTime) -> None:
    encoded = encode_date(value)
    assert decode_date(" " + encoded) == value
    assert encode_date(decode_date(encoded)) == encoded


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # RFC 5322 Appendix A.1.1 and A.3
        ("Fri, 21 Nov 1997 09:55:06 -0600", DateTime(1997, 11, 21, 9, 55, 6, -360)),
        ("Tue, 1 Jul 2003 10:52:37 +0200", DateTime(2003, 7, 1, 10, 52, 37, 120)),
        ("Thu, 13 Feb 1969 23:32:54 -0330", DateTime(1969, 2, 13, 23, 32, 54, -210)),
        # A.5: white space and comments everywhere
        (
            "Thu,\t13\t  Feb\t  1969\t  23:32\t  -0330 (Newfoundland Time)",
            DateTime(1969, 2, 13, 23, 32, None, -210),
        ),
        # Day of week is optional; seconds are optional.
        ("21 Nov 1997 09:55 +0000", DateTime(1997, 11, 21, 9, 55, None, 0)),
        ("Sat, 31 Dec 2016 23:59:60 +0000", DateTime(2016, 12, 31, 23, 59, 60, 0)),
    ],
)
def test_rfc_examples_decode(text: str, expected: DateTime) -> None:
    assert decode_date(text) == expected


def test_minus_zero_zone_is_distinct_from_plus_zero() -> None:
    unknown = decode_date("Tue, 1 Jul 2003 10:52:37 -0000")
    utc = decode_date("Tue, 1 Jul 2003 10:52:37 +0000")
    assert unknown.zone is None
    assert utc.zone == 0
    assert unknown != utc
    assert encode_date(unknown).endswith(" -0000")
    assert encode_date(utc).endswith(" +0000")


@pytest.mark.parametrize(
    ("text", "expected", "kinds"),
    [
        # RFC 5322 Appendix A.6.2 and §4.3
        ("21 Nov 97 09:55:06 GMT", DateTime(1997, 11, 21, 9, 55, 6, 0), ["obs-year", "obs-zone"]),
        (
            "21 Nov 97 09(comment):   55  :  06 GMT",
            DateTime(1997, 11, 21, 9, 55, 6, 0),
            ["obs-time", "obs-year", "obs-zone"],
        ),
        ("1 Jan 49 00:00 +0000", DateTime(2049, 1, 1, 0, 0, None, 0), ["obs-year"]),
        ("1 Jan 50 00:00 +0000", DateTime(1950, 1, 1, 0, 0, None, 0), ["obs-year"]),
        ("1 Jul 103 10:52 -0000", DateTime(2003, 7, 1, 10, 52, None, None), ["obs-year"]),
        ("1 Jul 2003 10:52 UT", DateTime(2003, 7, 1, 10, 52, None, 0), ["obs-zone"]),
        ("1 Jul 2003 10:52 EST", DateTime(2003, 7, 1, 10, 52, None, -300), ["obs-zone"]),
        ("1 Jul 2003 10:52 EDT", DateTime(2003, 7, 1, 10, 52, None, -240), ["obs-zone"]),
        ("1 Jul 2003 10:52 CST", DateTime(2003, 7, 1, 10, 52, None, -360), ["obs-zone"]),
        ("1 Jul 2003 10:52 CDT", DateTime(2003, 7, 1, 10, 52, None, -300), ["obs-zone"]),
        ("1 Jul 2003 10:52 MST", DateTime(2003, 7, 1, 10, 52, None, -420), ["obs-zone"]),
        ("1 Jul 2003 10:52 MDT", DateTime(2003, 7, 1, 10, 52, None, -360), ["obs-zone"]),
        ("1 Jul 2003 10:52 PST", DateTime(2003, 7, 1, 10, 52, None, -480), ["obs-zone"]),
        ("1 Jul 2003 10:52 pdt", DateTime(2003, 7, 1, 10, 52, None, -420), ["obs-zone"]),
        # Military zones: RFC 5322 §4.3 says to read them as -0000.
        ("1 Jul 2003 10:52 Z", DateTime(2003, 7, 1, 10, 52, None, None), ["obs-zone"]),
        ("1 Jul 2003 10:52 A", DateTime(2003, 7, 1, 10, 52, None, None), ["obs-zone"]),
        ("1 Jul 2003 10:52 CEST", DateTime(2003, 7, 1, 10, 52, None, None), ["unknown-zone"]),
        ("1 Jul 2003 10:52", DateTime(2003, 7, 1, 10, 52, None, None), ["missing-zone"]),
        (
            "Mon, 1 Jul 2003 10:52:37 +0200",
            DateTime(2003, 7, 1, 10, 52, 37, 120),
            ["day-of-week-mismatch"],
        ),
        (
            "Tuesday, 1 Jul 2003 10:52 +0200",
            DateTime(2003, 7, 1, 10, 52, None, 120),
            ["invalid-day-of-week"],
        ),
        ("Tue 1 Jul 2003 10:52 +0200", DateTime(2003, 7, 1, 10, 52, None, 120), ["missing-comma"]),
        ("Tue, 1 Jul 2003 1:2 +0200", DateTime(2003, 7, 1, 1, 2, None, 120), ["one-digit-time"]),
        (
            "1 Jul 2003 10:52 +0200 junk",
            DateTime(2003, 7, 1, 10, 52, None, 120),
            ["trailing-garbage"],
        ),
        ("1 Jul 1850 10:52 +0200", DateTime(1850, 7, 1, 10, 52, None, 120), ["year-before-1900"]),
        ("1 Jul 2003 10:52 +00", DateTime(2003, 7, 1, 10, 52, None, None), ["invalid-zone"]),
        ("1 Jul 2003 10:52 +0060", DateTime(2003, 7, 1, 10, 52, None, None), ["invalid-zone"]),
        # Seen in SpamAssassin's corpus.
        (
            "Thu, 29 Aug 2002 15:36:58 +-0500",
            DateTime(2002, 8, 29, 15, 36, 58, None),
            ["invalid-zone"],
        ),
    ],
)
def test_obsolete_and_sloppy_dates_are_read_and_reported(
    text: str, expected: DateTime, kinds: list[str]
) -> None:
    defects: list[Defect] = []
    assert decode_date(text, defects) == expected
    assert sorted({defect.kind for defect in defects}) == sorted(kinds)
    with pytest.raises(ParseError):
        decode_date(text)


@pytest.mark.parametrize(
    "text",
    [
        "30 Feb 2003 10:00 +0000",
        "29 Feb 2003 10:00 +0000",
        "1 Jul 2003 24:00 +0000",
        "1 Jul 2003 10:60 +0000",
        "1 Foo 2003 10:00 +0000",
        "1 Jul 2003 10 +0000",
        "",
        "Tue,",
        "123 Jul 2003 10:00 +0000",
        "1 Jul 20031 10:00 +0000",
    ],
)
def test_impossible_dates_are_parse_errors_in_both_modes(text: str) -> None:
    with pytest.raises(ParseError):
        decode_date(text, [])


def test_leap_day_exists_in_leap_years() -> None:
    assert decode_date("Thu, 29 Feb 2024 12:00 +0000").day == 29


def test_hand_built_impossible_values_are_refused() -> None:
    with pytest.raises(ValueError, match="no day 31"):
        DateTime(2003, 4, 31, 0, 0, None, 0)
    with pytest.raises(ValueError, match="zone"):
        DateTime(2003, 4, 1, 0, 0, None, 6000)


def test_years_before_1900_are_written_and_read_back_with_a_defect() -> None:
    # SpamAssassin has "Sun, 25 Aug 0102 03:37:45 +1100"; lenient round trips must hold.
    value = DateTime(102, 8, 25, 3, 37, 45, 660)
    encoded = encode_date(value)
    assert " 0102 " in encoded
    defects: list[Defect] = []
    assert decode_date(encoded, defects) == value
    assert [defect.kind for defect in defects] == ["year-before-1900"]


def test_canonical_form_writes_day_of_week_and_omits_unknown_seconds() -> None:
    assert encode_date(DateTime(2003, 7, 1, 10, 52, None, 120)) == "Tue, 1 Jul 2003 10:52 +0200"
    assert encode_date(DateTime(2003, 7, 1, 10, 52, 0, -90)) == "Tue, 1 Jul 2003 10:52:00 -0130"


def test_to_datetime_gives_an_aware_datetime() -> None:
    assert DateTime(2003, 7, 1, 10, 52, 37, 120).to_datetime() == datetime(
        2003, 7, 1, 10, 52, 37, tzinfo=timezone(timedelta(hours=2))
    )
    assert DateTime(2003, 7, 1, 10, 52, None, None).to_datetime() == datetime(
        2003, 7, 1, 10, 52, tzinfo=UTC
    )
    assert DateTime(2016, 12, 31, 23, 59, 60, 0).to_datetime().second == 59


@pytest.mark.parametrize(
    "text",
    [
        "Tue, 1 Jul 2003 10:52:37 +0200",
        "Mon, 1 Jul 2003 10:52:37 +0200",
        "1 Jul 2003 10:52 -0000 (PDT)",
        "Tue, 1 Jul 1850 10:52:37 +0200",
        "Tue, 31 Jun 2003 10:52:37 +0200",
        "Tue, 1 Jul 2003 10:52:37 +0200 (a (nested) comment)",
    ],
)
def test_fast_and_general_paths_agree(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from stack.mime.fields import date

    def read() -> object:
        defects: list[Defect] = []
        try:
            return date.decode_date(text, defects), defects
        except ParseError as error:
            return error.offset, error.reason

    fast = read()
    monkeypatch.setattr(date, "_fast_date", lambda text: None)
    assert read() == fast
