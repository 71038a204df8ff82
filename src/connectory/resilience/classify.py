"""What one attempt's outcome means: retry or not, and does it count against the breaker.

Retryable: connection failures, timeouts, and the statuses 408, 429, 500, 502, 503 and 504.
Never retried: every other status.

Whether the request *was sent* matters for methods that are not idempotent. A connect error,
connect timeout or pool timeout happens before a byte of the request leaves, so it is retried
for every method. After sending (read/write errors and timeouts, resets, and every status), a
POST or PATCH is retried only when the operation is declared idempotent or the request carries
an idempotency key: the upstream may already have acted on it. This holds for 429 and 503 too,
because an upstream may count or half-process such a request.

For the circuit breaker an outcome is a *failure* (5xx, timeouts, connection errors), a
*success* (the upstream answered on purpose: 1xx-4xx except 408 and 429) or *neutral* (408,
429, and problems on our side such as a full local pool or an unencodable request): neutral
outcomes neither count nor reset the count.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal

import httpx

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

ErrorKind = Literal["status", "timeout", "transport", "response"]


class BreakerVerdict(enum.Enum):
    """How an outcome moves the circuit breaker."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class Outcome:
    """The classified result of one attempt.

    Attributes:
        reason: Why it failed, fit for an error message (never headers, URLs or bodies).
        retryable: The outcome is of a retryable kind (before the idempotency rule).
        sent: The request may have reached the upstream.
        verdict: What it means for the circuit breaker.
        kind: Which error to raise if this is the last attempt.
        status_code: The response status, for responses.
    """

    reason: str
    retryable: bool
    sent: bool
    verdict: BreakerVerdict
    kind: ErrorKind
    status_code: int | None = None

    @property
    def ok(self) -> bool:
        """A response the pipeline hands back as it is (not a retryable status, not an error)."""
        return self.kind == "status" and not self.retryable


def may_retry_after_send(method: str, *, idempotent: bool, has_idempotency_key: bool) -> bool:
    """Return True if a request that may have reached the upstream can be sent again.

    Args:
        method: The HTTP method.
        idempotent: The operation is declared idempotent.
        has_idempotency_key: The request carries an idempotency key.
    """
    return idempotent or has_idempotency_key or method.upper() in IDEMPOTENT_METHODS


def describe_status(status_code: int) -> str:
    """Return ``"503 Service Unavailable"`` (the standard phrase, never the server's text)."""
    try:
        return f"{status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:
        return f"status {status_code}"


@functools.lru_cache(maxsize=1024)  # an Outcome is immutable; status codes are few
def classify_status(status_code: int) -> Outcome:
    """Classify a response by its status code."""
    if status_code >= 500:
        verdict = BreakerVerdict.FAILURE
    elif status_code in (408, 429):
        verdict = BreakerVerdict.NEUTRAL
    else:
        verdict = BreakerVerdict.SUCCESS
    return Outcome(
        reason=describe_status(status_code),
        retryable=status_code in RETRYABLE_STATUSES,
        sent=True,
        verdict=verdict,
        kind="status",
        status_code=status_code,
    )


def _os_detail(exc: BaseException) -> str:
    # The OS error text ("Connection refused") is safe and useful; httpx's own message may
    # include the URL, which may carry secrets in its query string.
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return f" ({current.strerror})"
        current = current.__cause__ or current.__context__
    return ""


# (class, reason, retryable, sent, verdict, kind); the first matching class wins, so
# subclasses come before their bases.
_EXCEPTIONS: tuple[tuple[type[Exception], str, bool, bool, BreakerVerdict, ErrorKind], ...] = (
    (httpx.ConnectTimeout, "connect timed out", True, False, BreakerVerdict.FAILURE, "timeout"),
    (
        httpx.PoolTimeout,
        "no free connection in the local pool in time",
        True,
        False,
        BreakerVerdict.NEUTRAL,
        "timeout",
    ),
    (httpx.ReadTimeout, "read timed out", True, True, BreakerVerdict.FAILURE, "timeout"),
    (httpx.WriteTimeout, "write timed out", True, True, BreakerVerdict.FAILURE, "timeout"),
    (httpx.TimeoutException, "timed out", True, True, BreakerVerdict.FAILURE, "timeout"),
    (httpx.ConnectError, "connection failed", True, False, BreakerVerdict.FAILURE, "transport"),
    (httpx.ProxyError, "the proxy failed", True, False, BreakerVerdict.FAILURE, "transport"),
    (
        httpx.RemoteProtocolError,
        "the upstream closed the connection or broke the HTTP protocol",
        True,
        True,
        BreakerVerdict.FAILURE,
        "transport",
    ),
    (
        httpx.NetworkError,
        "the connection broke",
        True,
        True,
        BreakerVerdict.FAILURE,
        "transport",
    ),
    (
        httpx.UnsupportedProtocol,
        "the URL scheme is not supported (use http or https)",
        False,
        False,
        BreakerVerdict.NEUTRAL,
        "transport",
    ),
    (
        httpx.LocalProtocolError,
        "the request could not be sent as valid HTTP",
        False,
        False,
        BreakerVerdict.NEUTRAL,
        "transport",
    ),
    (
        httpx.DecodingError,
        "the response body could not be decoded",
        False,
        True,
        BreakerVerdict.NEUTRAL,
        "response",
    ),
    (
        httpx.TooManyRedirects,
        "the upstream redirected too many times",
        False,
        True,
        BreakerVerdict.NEUTRAL,
        "response",
    ),
)


def classify_exception(exc: httpx.HTTPError) -> Outcome:
    """Classify an exception raised by httpx while sending or receiving.

    Args:
        exc: The httpx exception.

    Returns:
        The outcome; unknown httpx errors are transport errors that are not retried.
    """
    for cls, reason, retryable, sent, verdict, kind in _EXCEPTIONS:
        if isinstance(exc, cls):
            detail = _os_detail(exc) if kind in ("transport", "timeout") else ""
            return Outcome(reason + detail, retryable, sent, verdict, kind)
    return Outcome(
        f"the HTTP client failed ({type(exc).__name__})",
        False,
        True,
        BreakerVerdict.NEUTRAL,
        "transport",
    )


def classify_cut() -> Outcome:
    """Classify an attempt that the call's deadline cut while it was in flight."""
    return Outcome("no answer before the deadline", False, True, BreakerVerdict.FAILURE, "timeout")


def classify_local_timeout(exc: TimeoutError) -> Outcome:
    """Classify a bare :class:`TimeoutError` from the send function (as a read timeout)."""
    del exc
    return Outcome("timed out", True, True, BreakerVerdict.FAILURE, "timeout")
