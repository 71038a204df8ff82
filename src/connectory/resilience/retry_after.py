"""Read how long an upstream asks us to wait: ``Retry-After`` and the rate-limit reset headers.

Rules (all results are seconds from *now*, never negative; unreadable values are ignored):

- ``Retry-After`` (RFC 9110 §10.2.3): delta-seconds (``120``; fractions are accepted) or an
  HTTP-date, which is read relative to the given wall time.
- ``RateLimit-Reset`` (IETF draft ``ratelimit-headers``): delta-seconds. The combined
  ``RateLimit`` header of later drafts is read too: its ``reset=`` or ``t=`` parameter.
- ``X-RateLimit-Reset``: vendors disagree, so the magnitude decides. Values of at least
  ``1e12`` are epoch milliseconds, at least ``1e9`` (September 2001) epoch seconds (GitHub,
  Twitter), anything smaller is delta-seconds (e.g. "reset in 30 s"). No real delta is ever
  31 years long, and no real epoch is before 2001.

``Retry-After`` is an instruction and applies to any retryable response. The reset headers
describe a quota window and many APIs send them on every response, so they only count as a wait
when the response says the quota is spent: status 429, or a ``*-Remaining`` header of ``0``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

_EPOCH_MILLIS = 1e12
_EPOCH_SECONDS = 1e9
_RATELIMIT_PARAM = re.compile(r"(?:^|[;,\s])(?:reset|t)\s*=\s*([0-9]+(?:\.[0-9]+)?)", re.I)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    if math.isnan(value) or math.isinf(value) or value < 0:
        return None
    return value


def parse_retry_after(value: str, now: float) -> float | None:
    """Return the seconds a ``Retry-After`` value asks for.

    Args:
        value: The header value: delta-seconds or an HTTP-date.
        now: The current wall time, Unix epoch seconds (only used for HTTP-dates).

    Returns:
        Seconds to wait (0 for a date in the past), or None when the value is unreadable.
    """
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" (zone unknown) is read as GMT too.
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def parse_reset(value: str, now: float) -> float | None:
    """Return the seconds until an ``X-RateLimit-Reset``-style value, deciding by magnitude.

    Args:
        value: Epoch milliseconds, epoch seconds or delta-seconds (see the module docstring).
        now: The current wall time, Unix epoch seconds.

    Returns:
        Seconds to wait (0 for a reset in the past), or None when the value is unreadable.
    """
    number = _number(value)
    if number is None:
        return None
    if number >= _EPOCH_MILLIS:
        return max(0.0, number / 1000.0 - now)
    if number >= _EPOCH_SECONDS:
        return max(0.0, number - now)
    return number


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # httpx.Headers is case-insensitive already; plain dicts (tests, hooks) may not be.
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def _quota_spent(status_code: int, headers: Mapping[str, str]) -> bool:
    if status_code == 429:
        return True
    for name in ("X-RateLimit-Remaining", "RateLimit-Remaining"):
        remaining = _header(headers, name)
        if remaining is not None and _number(remaining) == 0:
            return True
    return False


def wait_hint(status_code: int, headers: Mapping[str, str], now: float) -> float | None:
    """Return how long the upstream asked us to wait before trying again, if it said so.

    ``Retry-After`` wins; otherwise ``RateLimit-Reset``, the ``RateLimit`` header's reset
    parameter, then ``X-RateLimit-Reset``, those three only when the quota is spent.

    Args:
        status_code: The response status.
        headers: The response headers.
        now: The current wall time, Unix epoch seconds.

    Returns:
        Seconds to wait, or None when the response carries no usable hint.
    """
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        seconds = parse_retry_after(retry_after, now)
        if seconds is not None:
            return seconds
    if not _quota_spent(status_code, headers):
        return None
    reset = _header(headers, "RateLimit-Reset")
    if reset is not None and (seconds := _number(reset)) is not None:
        return seconds
    combined = _header(headers, "RateLimit")
    if combined is not None and (match := _RATELIMIT_PARAM.search(combined)):
        return float(match.group(1))
    x_reset = _header(headers, "X-RateLimit-Reset")
    if x_reset is not None:
        return parse_reset(x_reset, now)
    return None
