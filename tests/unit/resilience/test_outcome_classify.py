"""Which outcomes are retried, which count for the breaker, and what "sent" means."""

from __future__ import annotations

import httpx
import pytest

from connectory.resilience import (
    BreakerVerdict,
    classify_exception,
    classify_status,
    may_retry_after_send,
)

REQUEST = httpx.Request("GET", "http://upstream.test/x?api_key=SECRET")


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    outcome = classify_status(status)
    assert outcome.retryable and outcome.sent and not outcome.ok


@pytest.mark.parametrize("status", [200, 201, 204, 301, 400, 401, 403, 404, 409, 422, 501, 505])
def test_other_statuses_are_not_retried(status: int) -> None:
    outcome = classify_status(status)
    assert not outcome.retryable and outcome.ok


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, BreakerVerdict.SUCCESS),
        (404, BreakerVerdict.SUCCESS),
        (401, BreakerVerdict.SUCCESS),
        (408, BreakerVerdict.NEUTRAL),
        (429, BreakerVerdict.NEUTRAL),
        (500, BreakerVerdict.FAILURE),
        (501, BreakerVerdict.FAILURE),
        (503, BreakerVerdict.FAILURE),
    ],
)
def test_breaker_verdicts_for_statuses(status: int, verdict: BreakerVerdict) -> None:
    assert classify_status(status).verdict is verdict


def test_status_reason_uses_the_standard_phrase() -> None:
    assert classify_status(503).reason == "503 Service Unavailable"
    assert classify_status(599).reason == "status 599"


@pytest.mark.parametrize(
    ("exc", "sent", "verdict", "kind"),
    [
        (httpx.ConnectError("x", request=REQUEST), False, BreakerVerdict.FAILURE, "transport"),
        (httpx.ConnectTimeout("x", request=REQUEST), False, BreakerVerdict.FAILURE, "timeout"),
        (httpx.PoolTimeout("x", request=REQUEST), False, BreakerVerdict.NEUTRAL, "timeout"),
        (httpx.ProxyError("x", request=REQUEST), False, BreakerVerdict.FAILURE, "transport"),
        (httpx.ReadTimeout("x", request=REQUEST), True, BreakerVerdict.FAILURE, "timeout"),
        (httpx.WriteTimeout("x", request=REQUEST), True, BreakerVerdict.FAILURE, "timeout"),
        (httpx.ReadError("x", request=REQUEST), True, BreakerVerdict.FAILURE, "transport"),
        (httpx.WriteError("x", request=REQUEST), True, BreakerVerdict.FAILURE, "transport"),
        (
            httpx.RemoteProtocolError("x", request=REQUEST),
            True,
            BreakerVerdict.FAILURE,
            "transport",
        ),
    ],
)
def test_retryable_exceptions(
    exc: httpx.HTTPError, sent: bool, verdict: BreakerVerdict, kind: str
) -> None:
    outcome = classify_exception(exc)
    assert outcome.retryable
    assert outcome.sent is sent
    assert outcome.verdict is verdict
    assert outcome.kind == kind


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.UnsupportedProtocol("x", request=REQUEST), "transport"),
        (httpx.LocalProtocolError("x", request=REQUEST), "transport"),
        (httpx.DecodingError("x", request=REQUEST), "response"),
        (httpx.TooManyRedirects("x", request=REQUEST), "response"),
    ],
)
def test_our_own_problems_are_not_retried_and_do_not_count(exc: httpx.HTTPError, kind: str) -> None:
    outcome = classify_exception(exc)
    assert not outcome.retryable
    assert outcome.verdict is BreakerVerdict.NEUTRAL
    assert outcome.kind == kind


def test_reason_carries_the_os_error_but_never_the_url() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as os_error:
            raise httpx.ConnectError(f"failed {REQUEST.url}", request=REQUEST) from os_error
    except httpx.ConnectError as exc:
        outcome = classify_exception(exc)
    assert outcome.reason == "connection failed (Connection refused)"
    assert "SECRET" not in outcome.reason


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "get"])
def test_idempotent_methods_may_be_resent(method: str) -> None:
    assert may_retry_after_send(method, idempotent=False, has_idempotency_key=False)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_post_and_patch_need_a_declaration_or_a_key(method: str) -> None:
    assert not may_retry_after_send(method, idempotent=False, has_idempotency_key=False)
    assert may_retry_after_send(method, idempotent=True, has_idempotency_key=False)
    assert may_retry_after_send(method, idempotent=False, has_idempotency_key=True)
