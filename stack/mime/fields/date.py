"""Date and time (RFC 5322 §3.3, obsolete forms §4.3): Date:, Resent-Date:.

:class:`DateTime` keeps what the field says, no more: seconds are ``None`` when they were not
written, and the zone is ``None`` for ``-0000`` ("the local zone is unknown", §3.3), which is
not the same statement as ``+0000``.  Obsolete zones become offsets: ``UT``/``GMT`` 0, the
North American names their offsets, and the military letters ``-0000`` since §4.3 says their
meaning was never reliable.  Two-digit years add 2000 below 50 and 1900 otherwise, three-digit
years add 1900 (§4.3).  Every obsolete form is reported.

A day of week that does not match the date is reported and the date is kept; a date that does
not exist (30 February, hour 24) is a :class:`ParseError` in both modes: there is no value to
keep.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from stack.mime.errors import Defect, ParseError
from stack.mime.fields.lexer import check_text, report, skip_cfws

__all__ = ["DateTime", "decode_date", "encode_date"]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAY_INDEX = {name.lower(): index for index, name in enumerate(_DAYS)}
_MONTH_INDEX = {name.lower(): index + 1 for index, name in enumerate(_MONTHS)}
# RFC 5322 §4.3 obs-zone, in minutes east of UTC.
_NAMED_ZONES = {
    "ut": 0,
    "gmt": 0,
    "est": -300,
    "edt": -240,
    "cst": -360,
    "cdt": -300,
    "mst": -420,
    "mdt": -360,
    "pst": -480,
    "pdt": -420,
}
_MILITARY = frozenset("abcdefghiklmnopqrstuvwxyz")  # every letter but "j"
_DIGITS = re.compile(r"[0-9]+")
_LETTERS = re.compile(r"[A-Za-z]+")
_MAX_ZONE = 99 * 60 + 59
# The canonical shape (RFC 5322 §3.3 with plain white space, an optional trailing comment
# such as "(PDT)") in one possessive match; everything else takes the general reader.
_FAST_DATE = re.compile(
    r"[ \t]*+(?:(Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]++)?([0-9]{1,2})[ \t]++"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]++([0-9]{4})[ \t]++"
    r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?[ \t]++([+-])([0-9]{2})([0-5][0-9])"
    r"(?:[ \t]*+\([^()\\\x00-\x08\x0a-\x1f\x7f]*+\))?[ \t]*+"
)


@dataclass(frozen=True, slots=True)
class DateTime:
    """A date-time as RFC 5322 writes it; impossible values raise ``ValueError``.

    ``zone`` is minutes east of UTC, or ``None`` for ``-0000``; ``second`` is ``None`` when
    the field leaves seconds out, and may be 60 for a leap second (§3.3).
    """

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int | None
    zone: int | None

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} is not 1..12")
        if not 0 <= self.year <= 9999:
            raise ValueError(f"year {self.year} is not 0..9999")
        if not 1 <= self.day <= calendar.monthrange(max(self.year, 1), self.month)[1]:
            raise ValueError(f"{self.year}-{self.month:02d} has no day {self.day}")
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ValueError(f"{self.hour}:{self.minute} is not a time of day")
        if self.second is not None and not 0 <= self.second <= 60:
            raise ValueError(f"second {self.second} is not 0..60")
        if self.zone is not None and not -_MAX_ZONE <= self.zone <= _MAX_ZONE:
            raise ValueError(f"zone offset {self.zone} minutes is beyond ±99:59")

    @property
    def weekday(self) -> int:
        """Monday is 0, as in :meth:`datetime.date.weekday`."""
        return calendar.weekday(max(self.year, 1), self.month, self.day)

    def to_datetime(self) -> datetime:
        """An aware :class:`datetime`; ``-0000`` becomes UTC and a leap second :59.

        A zone of 24 hours or more, which RFC 5322 allows (up to ±99:59) and Python's
        :class:`timezone` cannot hold, gives the same instant in UTC.
        """
        second = 0 if self.second is None else min(self.second, 59)
        moment = datetime(
            max(self.year, 1), self.month, self.day, self.hour, self.minute, second, tzinfo=UTC
        )
        if self.zone is None:
            return moment
        offset = timedelta(minutes=self.zone)
        if abs(self.zone) < 24 * 60:
            return moment.replace(tzinfo=timezone(offset))
        return moment - offset


class _Reader:
    """A cursor over one date value; obs- CFWS (§4.3) may sit between any two tokens."""

    def __init__(self, text: str, defects: list[Defect] | None) -> None:
        self.text = text
        self.defects = defects
        self.pos = skip_cfws(text, 0, defects)
        self.token_end = 0

    def _take(self, pattern: re.Pattern[str], what: str) -> str:
        match = pattern.match(self.text, self.pos)
        if match is None:
            raise ParseError(f"expected {what}", self.pos)
        self.token_end = match.end()
        self.pos = skip_cfws(self.text, match.end(), self.defects)
        return match.group()

    def letters(self, what: str) -> str:
        return self._take(_LETTERS, what)

    def digits(self, what: str, low: int, high: int) -> str:
        start = self.pos
        digits = self._take(_DIGITS, what)
        if not low <= len(digits) <= high:
            raise ParseError(f"{what} has {len(digits)} digits", start)
        return digits

    def two_digits(self, what: str) -> int:
        start = self.pos
        digits = self.digits(what, 1, 2)
        if len(digits) == 1:
            report(self.defects, "one-digit-time", start, f"{what} should have two digits")
        return int(digits)

    def accept(self, char: str) -> bool:
        if self.text.startswith(char, self.pos):
            self.pos = skip_cfws(self.text, self.pos + 1, self.defects)
            return True
        return False

    def accept_colon(self) -> bool:
        """A ``:`` of time-of-day; CFWS around it is obs-hour/obs-minute (§4.3)."""
        colon = self.pos
        if not self.accept(":"):
            return False
        if colon != self.token_end or self.pos != colon + 1:
            report(self.defects, "obs-time", colon, "white space or comment around ':'")
        return True

    def at_letter(self) -> bool:
        return (
            self.pos < len(self.text)
            and self.text[self.pos].isascii()
            and (self.text[self.pos].isalpha())
        )


def _year(reader: _Reader) -> int:
    start = reader.pos
    digits = reader.digits("a year", 2, 4)
    year = int(digits)
    if len(digits) == 2:
        report(reader.defects, "obs-year", start, "two-digit year")
        return year + (2000 if year < 50 else 1900)
    if len(digits) == 3:
        report(reader.defects, "obs-year", start, "three-digit year")
        return year + 1900
    if year < 1900:
        report(reader.defects, "year-before-1900", start, "years before 1900 are not allowed")
    return year


def _zone(reader: _Reader) -> int | None:
    start = reader.pos
    text = reader.text
    if reader.pos >= len(text):
        report(reader.defects, "missing-zone", start, "date without a zone")
        return None
    sign = text[reader.pos]
    if sign in "+-":
        reader.pos += 1
        match = _DIGITS.match(text, reader.pos)
        if match is None or len(match.group()) != 4 or int(match.group()[2:]) > 59:
            # ``+-0500``, ``+05``, ``+0575``: the date is still good, the zone is not.
            report(reader.defects, "invalid-zone", start, "zone is not [+-]hhmm; read as -0000")
            reader.pos = len(text)
            return None
        reader.pos = skip_cfws(text, match.end(), reader.defects)
        hours, minutes = int(match.group()[:2]), int(match.group()[2:])
        offset = hours * 60 + minutes
        if sign == "-":
            return None if offset == 0 else -offset
        return offset
    name = reader.letters("a zone").lower()
    if name in _NAMED_ZONES:
        report(reader.defects, "obs-zone", start, f"zone name {name.upper()}")
        return _NAMED_ZONES[name]
    if name in _MILITARY:
        report(reader.defects, "obs-zone", start, "military zone letters mean -0000")
        return None
    report(reader.defects, "unknown-zone", start, f"unknown zone {name!r}, read as -0000")
    return None


def _fast_date(text: str) -> DateTime | None:
    """The date if ``text`` has the canonical shape and nothing in it needs a defect."""
    match = _FAST_DATE.fullmatch(text)
    if match is None:
        return None
    day_name, day, month, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    offset = int(zone_h) * 60 + int(zone_m)
    zone = offset if sign == "+" else (-offset or None)
    try:
        value = DateTime(
            int(year),
            _MONTH_INDEX[month.lower()],
            int(day),
            int(hour),
            int(minute),
            None if second is None else int(second),
            zone,
        )
    except ValueError:
        return None
    if value.year < 1900 or (day_name is not None and _DAYS[value.weekday] != day_name):
        return None
    return value


def decode_date(text: str, defects: list[Defect] | None = None) -> DateTime:
    """Decode a date-time (RFC 5322 §3.3, obs-date-time §4.3)."""
    check_text(text, defects)
    fast = _fast_date(text)
    if fast is not None:
        return fast
    reader = _Reader(text, defects)
    weekday = None
    if reader.at_letter():
        start = reader.pos
        name = reader.letters("a day of week")
        weekday = _DAY_INDEX.get(name.lower())
        if weekday is None:
            report(defects, "invalid-day-of-week", start, f"unknown day {name!r}")
        if not reader.accept(","):
            report(defects, "missing-comma", reader.pos, "day of week without ','")
    day = int(reader.digits("a day", 1, 2))
    month_start = reader.pos
    month = _MONTH_INDEX.get(reader.letters("a month").lower())
    if month is None:
        raise ParseError("unknown month name", month_start)
    year = _year(reader)
    hour = reader.two_digits("an hour")
    if not reader.accept_colon():
        raise ParseError("expected ':' after the hour", reader.pos)
    minute = reader.two_digits("a minute")
    second = reader.two_digits("a second") if reader.accept_colon() else None
    zone = _zone(reader)
    if reader.pos < len(text):
        report(defects, "trailing-garbage", reader.pos, "text after the date")
    try:
        value = DateTime(year, month, day, hour, minute, second, zone)
    except ValueError as error:
        raise ParseError(str(error), 0) from None
    if weekday is not None and weekday != value.weekday:
        report(defects, "day-of-week-mismatch", 0, f"{_DAYS[weekday]} is not that day")
    return value


def encode_date(value: DateTime) -> str:
    """Write the canonical form, e.g. ``Tue, 1 Jul 2003 10:52:37 +0200``.

    The day of week is always written, seconds exactly when known, and ``-0000`` for an
    unknown zone.  Years before 1900, which RFC 5322 §3.3 forbids but real mail has
    (``0102``), are written with four digits and read back with a ``year-before-1900``
    defect, so lenient round trips still hold.
    """
    seconds = "" if value.second is None else f":{value.second:02d}"
    if value.zone is None:
        zone = "-0000"
    else:
        hours, minutes = divmod(abs(value.zone), 60)
        zone = f"{'-' if value.zone < 0 else '+'}{hours:02d}{minutes:02d}"
    return (
        f"{_DAYS[value.weekday]}, {value.day} {_MONTHS[value.month - 1]} {value.year:04d} "
        f"{value.hour:02d}:{value.minute:02d}{seconds} {zone}"
    )
