"""Reading Retry-After and the rate-limit reset headers."""

from __future__ import annotations

from email.utils import formatdate

import httpx
import pytest

from connectory.resilience import parse_reset, parse_retry_after, wait_hint

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (" 5 ", 5.0), ("0", 0.0), ("1.5", 1.5)],
)
def test_retry_after_delta_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("value", ["-3", "soon", "", "nan", "inf", "Fri, 99 Foo 2023"])
def test_unreadable_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


def test_retry_after_http_date_is_relative_to_now() -> None:
    assert parse_retry_after(formatdate(NOW + 90, usegmt=True), NOW) == pytest.approx(90)


def test_retry_after_date_in_the_past_means_now() -> None:
    assert parse_retry_after(formatdate(NOW - 90, usegmt=True), NOW) == 0.0


def test_retry_after_date_with_unknown_zone_is_read_as_gmt() -> None:
    value = formatdate(NOW + 30, usegmt=True).replace("GMT", "-0000")
    assert parse_retry_after(value, NOW) == pytest.approx(30)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),  # delta-seconds
        (str(int(NOW) + 45), 45.0),  # epoch seconds (GitHub)
        (str(int(NOW * 1000) + 7_500), 7.5),  # epoch milliseconds
        (str(int(NOW) - 10), 0.0),  # a reset in the past
    ],
)
def test_x_ratelimit_reset_is_decided_by_magnitude(value: str, expected: float) -> None:
    assert parse_reset(value, NOW) == pytest.approx(expected)


def test_retry_after_wins_over_reset_headers() -> None:
    headers = httpx.Headers({"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW) + 60)})
    assert wait_hint(429, headers, NOW) == 3.0


def test_reset_headers_count_only_when_the_quota_is_spent() -> None:
    reset = {"X-RateLimit-Reset": str(int(NOW) + 60)}
    assert wait_hint(503, reset, NOW) is None
    assert wait_hint(429, reset, NOW) == pytest.approx(60)
    spent = {**reset, "X-RateLimit-Remaining": "0"}
    assert wait_hint(503, spent, NOW) == pytest.approx(60)


def test_ietf_ratelimit_headers() -> None:
    assert wait_hint(429, {"RateLimit-Reset": "12"}, NOW) == 12.0
    assert wait_hint(429, {"RateLimit": "limit=100, remaining=0, reset=8"}, NOW) == 8.0
    assert wait_hint(429, {"RateLimit": '"default";r=0;t=17'}, NOW) == 17.0


def test_plain_dicts_are_read_case_insensitively() -> None:
    assert wait_hint(503, {"retry-after": "4"}, NOW) == 4.0


def test_no_hint_without_headers_or_with_garbage() -> None:
    assert wait_hint(429, {}, NOW) is None
    assert wait_hint(429, {"Retry-After": "later"}, NOW) is None
