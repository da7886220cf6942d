"""``Retry-After`` and ``retry-after-ms``: every HTTP date form of RFC 9110
§5.6.7, delta-seconds, and whatever else a server sends (never an exception,
never negative, NaN or infinite)."""

from __future__ import annotations

import math
import time
from email.utils import formatdate

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rill._errors import RateLimitError, retry_after_seconds


def after(value: str, **more: str) -> float | None:
    return retry_after_seconds({"retry-after": value, **more})


def test_delta_seconds() -> None:
    assert after("120") == 120.0
    assert after(" 7 ") == 7.0
    assert after("0") == 0.0
    assert after("1.5") == 1.5


def test_retry_after_ms_comes_first() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    # an unreadable ms value falls back to retry-after
    assert retry_after_seconds({"retry-after-ms": "soon", "retry-after": "9"}) == 9.0
    assert retry_after_seconds({"retry-after-ms": "nan", "retry-after": "9"}) == 9.0
    assert retry_after_seconds({"retry-after-ms": "-5"}) == 0.0
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize("value", ["-3", "-0.5", "-1e9"])
def test_negative_is_zero(value: str) -> None:
    assert after(value) == 0.0


@pytest.mark.parametrize(
    "value", ["", "soon", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "1_000", "0x10", "1,5"]
)
def test_garbage_is_none(value: str) -> None:
    assert after(value) is None


def _in(seconds: float, value: str) -> None:
    got = after(value)
    assert got is not None and seconds - 2 <= got <= seconds + 1, (value, got)


def test_imf_fixdate() -> None:
    _in(30, formatdate(time.time() + 30, usegmt=True))  # Sun, 06 Nov 1994 08:49:37 GMT


@pytest.mark.parametrize("zone", ["-0000", "+0000", "UTC"])
def test_imf_fixdate_with_a_numeric_or_utc_zone(zone: str) -> None:
    # "-0000" used to raise TypeError (a naive datetime minus an aware one).
    value = formatdate(time.time() + 60, usegmt=True).replace("GMT", zone)
    _in(60, value)


def test_an_offset_is_applied() -> None:
    base = formatdate(time.time() + 3600 + 60, usegmt=True)  # an hour ahead, at +0100
    _in(60, base.replace("GMT", "+0100"))


def test_rfc850_date() -> None:
    when = time.gmtime(time.time() + 45)
    value = time.strftime("%A, %d-%b-%y %H:%M:%S GMT", when)  # Sunday, 06-Nov-94 08:49:37 GMT
    _in(45, value)


def test_asctime_date() -> None:
    when = time.gmtime(time.time() + 90)
    value = (
        time.strftime("%a %b ", when) + f"{when.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", when)
    )
    _in(90, value)  # Sun Nov  6 08:49:37 1994


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:37 -0000",
    ],
)
def test_a_date_in_the_past_is_zero(value: str) -> None:
    assert after(value) == 0.0


def test_rfc850_two_digit_year_more_than_50_years_ahead_is_in_the_past() -> None:
    yy = (time.gmtime().tm_year + 60) % 100
    assert after(f"Monday, 01-Jan-{yy:02d} 00:00:00 GMT") == 0.0


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 31 Feb 2099 08:49:37 GMT",
        "Sun, 06 Nov 2099 25:49:37 GMT",
        "Sun, 06 Foo 2099 08:49:37 GMT",
        "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, 06 Nov 2099 08:49:37 +9999",
    ],
)
def test_impossible_dates(value: str) -> None:
    got = after(value)
    assert got is None or (got >= 0 and math.isfinite(got))


def test_rate_limit_error_reads_it() -> None:
    error = RateLimitError(
        "x", status_code=429, body=None, headers={"retry-after": "2"}, provider="p"
    )
    assert error.retry_after == 2.0


def _sane(value: float | None) -> bool:
    return value is None or (value >= 0 and math.isfinite(value))


@settings(max_examples=300, deadline=500)
@given(st.text(max_size=60), st.text(max_size=20))
def test_any_string_is_none_or_a_finite_non_negative_number(value: str, ms: str) -> None:
    assert _sane(after(value))
    assert _sane(retry_after_seconds({"retry-after-ms": ms}))


date_like = st.builds(
    lambda day, mon, year, h, m, s, zone: (
        f"Sun, {day:02d} {mon} {year} {h:02d}:{m:02d}:{s:02d} {zone}"
    ),
    st.integers(0, 40),
    st.sampled_from(["Jan", "Feb", "Nov", "Xyz", "nov"]),
    st.integers(0, 10000),
    st.integers(0, 30),
    st.integers(0, 70),
    st.integers(0, 70),
    st.sampled_from(["GMT", "-0000", "+0000", "+2400", "-9959", "UTC", "", "EST"]),
)


@settings(max_examples=300, deadline=500)
@given(date_like)
def test_any_date_like_string(value: str) -> None:
    assert _sane(after(value))
