"""Checking a received webhook before it is parsed: its signature, its age, a handshake.

The signature is an HMAC over the raw bytes as received (never over re-serialised JSON), in
the layout the connector declares (:class:`~connectory.spec.events.SignatureSpec`); it is
compared in constant time. A timestamp older (or further in the future) than the tolerance
is refused, so a captured request cannot be replayed later; a repeated message id within
the tolerance is caught by the intake store.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

import orjson

from connectory.errors import TemplateError, WebhookRejected
from connectory.spec.events import ChallengeSpec, SignatureSpec
from connectory.templating import compile_template


def _key(secret: str, encoding: str) -> bytes:
    if encoding == "whsec":
        secret = secret.removeprefix("whsec_")
    if encoding in ("base64", "whsec"):
        try:
            return base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRejected(
                "the signing secret is not valid base64; fix it in the connection or the "
                "connector parameters"
            ) from None
    return secret.encode()


def verify_signature(
    spec: SignatureSpec,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
) -> str | None:
    """Check a webhook's signature (and age) against *secret*.

    Args:
        spec: The declared layout.
        secret: The signing secret, rendered from credentials or connector parameters.
        headers: Request headers, names in lower case.
        body: The raw body.
        now: The current time (Unix seconds).

    Returns:
        The message id (from ``id_header``) when one is declared, else None.

    Raises:
        WebhookRejected: missing or wrong signature, missing or stale timestamp.
    """
    if not secret:
        raise WebhookRejected("no signing secret is configured for this webhook")
    timestamp = ""
    if spec.timestamp_header is not None:
        timestamp = headers.get(spec.timestamp_header.lower(), "")
        try:
            sent = int(timestamp)
        except ValueError:
            raise WebhookRejected(
                f"the {spec.timestamp_header} header is missing or not a number"
            ) from None
        if abs(now - sent) > spec.tolerance_seconds:
            raise WebhookRejected(
                f"the webhook's timestamp is more than {spec.tolerance_seconds} s away from now"
            )
    message_id = ""
    if spec.id_header is not None:
        message_id = headers.get(spec.id_header.lower(), "")
        if not message_id:
            raise WebhookRejected(f"the {spec.id_header} header is missing")
    given = headers.get(spec.header.lower(), "")
    if not given:
        raise WebhookRejected(f"the {spec.header} header is missing")
    before, _, after = spec.content.partition("{body}")
    content = (
        _fill(before, timestamp, message_id).encode()
        + body
        + _fill(after, timestamp, message_id).encode()
    )
    digest = hmac.new(_key(secret, spec.secret_encoding), content, spec.algorithm).digest()
    expected = base64.b64encode(digest).decode() if spec.encoding == "base64" else digest.hex()
    candidates = given.split(spec.separator) if spec.separator else [given]
    for candidate in candidates:
        candidate = candidate.strip()
        if candidate.startswith(spec.prefix) and hmac.compare_digest(
            candidate[len(spec.prefix) :].encode(), expected.encode()
        ):
            return message_id or None
    raise WebhookRejected("the webhook's signature does not match")


def _fill(text: str, timestamp: str, message_id: str) -> str:
    return text.replace("{timestamp}", timestamp).replace("{id}", message_id)


def answer_challenge(
    spec: ChallengeSpec, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> tuple[int, str, bytes] | None:
    """The inline answer to a verification handshake, or None when *query* is not one.

    Returns:
        (status, content type, body).
    """
    for name, wanted in spec.query.items():
        value = query.get(name)
        if value is None or (wanted != "*" and value != wanted):
            return None
    parsed: Any = None
    if body:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
    try:
        text = compile_template(spec.respond).render(
            {"query": dict(query), "headers": dict(headers), "body": parsed}
        )
    except TemplateError as error:
        raise WebhookRejected(f"the verification handshake cannot be answered: {error}") from None
    return spec.status, spec.content_type, text.encode()


__all__ = ["answer_challenge", "verify_signature"]
