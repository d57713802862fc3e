"""The date codec's contract, point by point: the range of each part of a :class:`DateTime`,
the calendar it follows, and where each defect and error points and what it says.

Written for issue 18 from the mutants of stack/mime/fields/date.py that no test noticed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from field_reasons import check_defect, states
from hypothesis import example, given
from hypothesis import strategies as st

from harness.strategies import date_time_wire
from stack.mime.errors import Defect, ParseError
from stack.mime.fields.date import DateTime, decode_date, encode_date

MAX_ZONE = 99 * 60 + 59  # RFC 5322 §3.3: zone = ("+" / "-") 4DIGIT, minutes below 60


@pytest.mark.parametrize(
    "value",
    [
        DateTime(0, 1, 1, 0, 0, 0, -MAX_ZONE),
        DateTime(9999, 12, 31, 23, 59, 60, MAX_ZONE),
        DateTime(2003, 2, 28, 0, 0, None, None),
    ],
)
def test_every_part_at_its_bounds_is_a_date(value: DateTime) -> None:
    assert decode_date(encode_date(value), []) == value


@pytest.mark.parametrize(
    ("parts", "says"),
    [
        ((2003, 0, 1, 0, 0, None, 0), "month 0"),
        ((2003, 13, 1, 0, 0, None, 0), "month 13"),
        ((-1, 1, 1, 0, 0, None, 0), "year -1"),
        ((10000, 1, 1, 0, 0, None, 0), "year 10000"),
        ((2003, 1, 0, 0, 0, None, 0), "no day 0"),
        ((2003, 1, 32, 0, 0, None, 0), "no day 32"),
        ((2003, 1, 1, -1, 0, None, 0), "time of day"),
        ((2003, 1, 1, 24, 0, None, 0), "time of day"),
        ((2003, 1, 1, 0, -1, None, 0), "time of day"),
        ((2003, 1, 1, 0, 60, None, 0), "time of day"),
        ((2003, 1, 1, 0, 0, -1, 0), "second -1"),
        ((2003, 1, 1, 0, 0, 61, 0), "second 61"),
        ((2003, 1, 1, 0, 0, None, MAX_ZONE + 1), "zone offset"),
        ((2003, 1, 1, 0, 0, None, -MAX_ZONE - 1), "zone offset"),
    ],
)
def test_a_part_out_of_range_is_refused_by_name(
    parts: tuple[int, int, int, int, int, int | None, int | None], says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        DateTime(*parts)


@given(st.dates(min_value=date(1, 1, 1)), st.integers(0, 23), st.integers(0, 59))
@example(date(1, 1, 1), 0, 0)
def test_the_calendar_is_the_proleptic_gregorian_one(day: date, hour: int, minute: int) -> None:
    value = DateTime(day.year, day.month, day.day, hour, minute, None, 0)
    assert value.weekday == day.weekday()
    assert value.to_datetime() == datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
    assert encode_date(value).startswith(day.strftime("%a, "))


@given(st.integers(1, 9999), st.integers(1, 12), st.integers(28, 31))
def test_a_day_exists_exactly_when_the_calendar_has_it(year: int, month: int, day: int) -> None:
    try:
        date(year, month, day)
    except ValueError:
        with pytest.raises(ValueError, match=f"no day {day}"):
            DateTime(year, month, day, 0, 0, None, 0)
    else:
        assert DateTime(year, month, day, 0, 0, None, 0).day == day


@given(st.integers(-MAX_ZONE, MAX_ZONE), st.one_of(st.none(), st.integers(0, 60)))
@example(24 * 60 - 1, None)
@example(24 * 60, None)
@example(-24 * 60, 60)
def test_to_datetime_is_the_same_instant_in_every_zone(zone: int, second: int | None) -> None:
    moment = DateTime(2003, 7, 1, 10, 52, second, zone).to_datetime()
    # A leap second has no datetime; it is the last second of its minute.
    kept = 0 if second is None else min(second, 59)
    assert moment == datetime(2003, 7, 1, 10, 52, kept, tzinfo=UTC) - timedelta(minutes=zone)
    assert moment.second == kept
    if abs(zone) < 24 * 60:  # what Python's timezone can hold is kept as the offset
        assert moment.utcoffset() == timedelta(minutes=zone)


@given(date_time_wire())
def test_every_wire_form_of_the_grammar_reads_as_its_value(wire: tuple[str, DateTime]) -> None:
    text, value = wire
    assert decode_date(text, []) == value


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("1 Jul 2003 10:52 +0100", 60),
        ("1 Jul 2003 10:52 +1000", 600),
        ("1 Jul 2003 10:52 +0159", 119),
        ("1 Jul 2003 10:52 -0130", -90),
        ("1 Jul 2003 10:52 +9959", MAX_ZONE),
        ("1 Jul 2003 10:52 -9959", -MAX_ZONE),
        ("1 Jul 2003 10:52 (a) -0001 (b)", -1),
        ("1 Jul 2003 10:52 -0000", None),
        ("1 Jul 2003 10:52 +0000", 0),
    ],
)
def test_a_numeric_zone_is_hours_and_minutes_east_of_utc(text: str, zone: int | None) -> None:
    defects: list[Defect] = []
    assert decode_date(text, defects).zone == zone
    assert defects == []


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("1 Jan 00 00:00 +0000", 2000),
        ("1 Jan 49 00:00 +0000", 2049),
        ("1 Jan 50 00:00 +0000", 1950),
        ("1 Jan 99 00:00 +0000", 1999),
        ("1 Jan 100 00:00 +0000", 2000),
        ("1 Jan 999 00:00 +0000", 2899),
    ],
)
def test_short_years_are_read_as_rfc_5322_section_4_3_says(text: str, year: int) -> None:
    defects: list[Defect] = []
    assert decode_date(text, defects).year == year
    assert [defect.kind for defect in defects] == ["obs-year"]


def test_1900_is_the_first_year_without_a_defect() -> None:
    defects: list[Defect] = []
    assert decode_date("1 Jan 1900 00:00 +0000", defects).year == 1900
    assert defects == []
    assert decode_date("31 Dec 1899 23:59 +0000", defects).year == 1899
    assert [defect.kind for defect in defects] == ["year-before-1900"]
    # The same in an obsolete form, which the general reader takes.
    defects = []
    assert decode_date("1 Jan 1900 00:00 GMT", defects).year == 1900
    assert [defect.kind for defect in defects] == ["obs-zone"]


# Each defect: the text it is about (its offset is where that text starts, or a number), and
# a phrase its detail must hold so that a reader knows what is wrong.
DEFECTS = [
    ("Tue, 1 Jul 2003 1:52 +0200", "one-digit-time", "1:52", "an hour should have two"),
    ("Tue, 1 Jul 2003 10:5 +0200", "one-digit-time", "5 +", "a minute should have two"),
    ("Tue, 1 Jul 2003 10:52:7 +0200", "one-digit-time", "7 +", "a second should have two"),
    ("1 Jul 2003 10 :52 +0200", "obs-time", ":", "around ':'"),
    ("1 Jul 2003 10: 52 +0200", "obs-time", ":", "around ':'"),
    ("1 Jul 2003 10:52(x):07 +0200", "obs-time", ":07", "around ':'"),
    ("1 Jul 03 10:52 +0200", "obs-year", "03", "two-digit year"),
    ("1 Jul 103 10:52 +0200", "obs-year", "103", "three-digit year"),
    ("1 Jul 1899 10:52 +0200", "year-before-1900", "1899", "years before 1900"),
    ("1 Jul 2003 10:52 ", "missing-zone", 17, "without a zone"),
    ("1 Jul 2003 10:52 +00", "invalid-zone", "+00", "read as -0000"),
    ("1 Jul 2003 10:52 +02000", "invalid-zone", "+02000", "read as -0000"),
    ("1 Jul 2003 10:52 -0060", "invalid-zone", "-0060", "read as -0000"),
    ("1 Jul 2003 10:52 EST", "obs-zone", "EST", "EST"),
    ("1 Jul 2003 10:52 z", "obs-zone", "z", "military"),
    ("1 Jul 2003 10:52 X", "obs-zone", "X", "military"),
    ("1 Jul 2003 10:52 CEST", "unknown-zone", "CEST", "unknown zone 'cest'"),
    ("Tuesday, 1 Jul 2003 10:52 +0200", "invalid-day-of-week", "Tuesday", "'Tuesday'"),
    ("Tue 1 Jul 2003 10:52 +0200", "missing-comma", "1 Jul", "without ','"),
    ("1 Jul 2003 10:52 +0200 junk", "trailing-garbage", "junk", "after the date"),
    ("1 Jul 2003 10:52 +0200 (\x01)", "obs-ctext", "\x01", "control character '\\x01'"),
    # A comment keeps its defect wherever CFWS may stand in a date.
    ("(\x01) 1 Jul 2003 10:52 +0200", "obs-ctext", "\x01", "control character"),
    ("1 Jul 2003 (\x01) 10:52 +0200", "obs-ctext", "\x01", "control character"),
    ("Tue, (\x01) 1 Jul 2003 10:52 +0200", "obs-ctext", "\x01", "control character"),
    ("Mon, 1 Jul 2003 10:52 +0200", "day-of-week-mismatch", 0, "Mon is not"),
    ("1 Jul 2003 10:52 +0200 \udcff", "invalid-utf8", "\udcff", "not UTF-8"),
]


@pytest.mark.parametrize(("text", "kind", "at", "says"), DEFECTS)
def test_a_defect_points_at_its_text_and_says_what_is_wrong(
    text: str, kind: str, at: str | int, says: str
) -> None:
    check_defect(decode_date, text, kind, at, says)


@pytest.mark.parametrize(
    ("text", "at", "says"),
    [
        ("", 0, "expected a day"),
        ("Tue,", 4, "expected a day"),
        ("Tue, 1", 6, "expected a month"),
        ("1 Foo 2003 10:00 +0000", "Foo", "unknown month"),
        ("123 Jul 2003 10:00 +0000", 0, "a day has 3 digits"),
        ("1 Jul 1 10:00 +0000", "1 10", "a year has 1 digits"),
        ("1 Jul 20031 10:00 +0000", "20031", "a year has 5 digits"),
        ("1 Jul 2003 100:00 +0000", "100", "an hour has 3 digits"),
        ("1 Jul 2003 10:000 +0000", "000", "a minute has 3 digits"),
        ("1 Jul 2003 10 +0000", "+", "expected ':' after the hour"),
        ("1 Jul 2003 10:00:+0000", "+", "expected a second"),
        ("1 Jul 2003 10:00 +0000", None, ""),
        ("1 Jul 2003 10:00 1", 17, "expected a zone"),
        ("30 Feb 2003 10:00 +0000", 0, "no day 30"),
        ("1 Jul 2003 24:00 +0000", 0, "not a time of day"),
        ("1 Jul 2003 10:60 +0000", 0, "not a time of day"),
        ("1 Jul 2003 10:59:61 +0000", 0, "second 61"),
    ],
)
def test_a_date_that_cannot_be_read_says_where_and_why_in_both_modes(
    text: str, at: str | int | None, says: str
) -> None:
    if at is None:  # the control case: the same shape, readable
        assert decode_date(text) == DateTime(2003, 7, 1, 10, 0, None, 0)
        return
    for defects in (None, []):
        with pytest.raises(ParseError) as error:
            decode_date(text, defects)
        assert error.value.offset == (at if isinstance(at, int) else text.index(at))
        assert states(error.value.reason, says), error.value
