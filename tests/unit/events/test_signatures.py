"""Signing outgoing webhooks and verifying incoming ones, against independent implementations."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks

from connectory.errors import WebhookRejected
from connectory.events import answer_challenge, generate_endpoint_secret, verify_signature
from connectory.events.signing import keyed_signature_header, signature_header, signing_keys
from connectory.spec.events import ChallengeSpec, SignatureSpec

NOW = 1_800_000_000
BODY = b'{"events":[{"id":"e1"}]}'


def test_outgoing_signatures_verify_with_the_standardwebhooks_package() -> None:
    secret = generate_endpoint_secret()
    # The package checks the timestamp against its own clock: sign with the current time.
    headers = signature_header([secret], "msg_1", int(time.time()), BODY)
    assert standardwebhooks.Webhook(secret).verify(BODY, headers) == {"events": [{"id": "e1"}]}


def test_every_secret_in_use_signs() -> None:
    old, new = generate_endpoint_secret(), generate_endpoint_secret()
    headers = signature_header([new, old], "m", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        standardwebhooks.Webhook(secret).verify(BODY, headers)


def test_signing_with_keys_decoded_once_gives_the_same_verifiable_headers() -> None:
    old, new = generate_endpoint_secret(), generate_endpoint_secret()
    now = int(time.time())
    keys = signing_keys([new, old])
    headers = keyed_signature_header(keys, "m", now, BODY)
    assert headers == signature_header([new, old], "m", now, BODY)
    for secret in (old, new):
        assert standardwebhooks.Webhook(secret).verify(BODY, headers) == {"events": [{"id": "e1"}]}


def _standard(secret: str) -> SignatureSpec:
    return SignatureSpec.model_validate({"preset": "standard-webhooks", "secret": "x"})


def _signed_by_package(secret: str, stamp: int = NOW) -> dict[str, str]:
    signature = standardwebhooks.Webhook(secret).sign(
        "msg_9", datetime.fromtimestamp(stamp, UTC), BODY
    )
    return {"webhook-id": "msg_9", "webhook-timestamp": str(stamp), "webhook-signature": signature}


def test_incoming_standard_webhooks_are_verified() -> None:
    secret = generate_endpoint_secret()
    spec = _standard(secret)
    assert verify_signature(spec, secret, _signed_by_package(secret), BODY, NOW) == "msg_9"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: {**h, "webhook-signature": "v1,AAAA"}, "does not match"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-signature"}, "missing"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-timestamp"}, "timestamp"),
        (lambda h: {**h, "webhook-timestamp": "soon"}, "not a number"),
        (lambda h: {k: v for k, v in h.items() if k != "webhook-id"}, "webhook-id"),
    ],
)
def test_incoming_mistakes_are_refused(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    secret = generate_endpoint_secret()
    with pytest.raises(WebhookRejected, match=reason):
        verify_signature(_standard(secret), secret, change(_signed_by_package(secret)), BODY, NOW)


def test_a_tampered_body_or_an_old_timestamp_is_refused() -> None:
    secret = generate_endpoint_secret()
    headers = _signed_by_package(secret)
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_signature(_standard(secret), secret, headers, BODY + b" ", NOW)
    with pytest.raises(WebhookRejected, match="300 s"):
        verify_signature(_standard(secret), secret, headers, BODY, NOW + 301)
    with pytest.raises(WebhookRejected, match="300 s"):
        verify_signature(_standard(secret), secret, headers, BODY, NOW - 301)


def test_github_style_hex_hmac_of_the_body() -> None:
    spec = SignatureSpec.model_validate(
        {"secret": "{{ credentials.s }}", "header": "X-Hub-Signature-256", "prefix": "sha256="}
    )
    digest = hmac.new(b"topsecret", BODY, hashlib.sha256).hexdigest()
    assert (
        verify_signature(spec, "topsecret", {"x-hub-signature-256": f"sha256={digest}"}, BODY, NOW)
        is None
    )
    with pytest.raises(WebhookRejected):
        verify_signature(spec, "other", {"x-hub-signature-256": f"sha256={digest}"}, BODY, NOW)


def test_stripe_style_timestamp_dot_body() -> None:
    spec = SignatureSpec.model_validate(
        {
            "secret": "{{ connector_parameters.s }}",
            "header": "X-Signature",
            "timestamp_header": "X-Timestamp",
            "content": "{timestamp}.{body}",
            "encoding": "base64",
        }
    )
    digest = hmac.new(b"k", f"{NOW}.".encode() + BODY, hashlib.sha256).digest()
    headers = {"x-signature": base64.b64encode(digest).decode(), "x-timestamp": str(NOW)}
    assert verify_signature(spec, "k", headers, BODY, NOW) is None


def test_no_secret_configured_is_a_refusal_not_an_acceptance() -> None:
    with pytest.raises(WebhookRejected, match="no signing secret"):
        verify_signature(_standard(""), "", {}, BODY, NOW)


def test_signature_spec_mistakes_are_caught_when_loading() -> None:
    with pytest.raises(ValueError, match="timestamp_header"):
        SignatureSpec.model_validate(
            {"secret": "x", "header": "h", "content": "{timestamp}.{body}"}
        )
    with pytest.raises(ValueError, match="header is required"):
        SignatureSpec.model_validate({"secret": "x"})
    with pytest.raises(ValueError, match="include"):
        SignatureSpec.model_validate(
            {"secret": "x", "header": "h", "content": "{id}", "id_header": "i"}
        )


def test_challenge_matches_and_answers() -> None:
    spec = ChallengeSpec(
        query={"hub.mode": "subscribe", "hub.challenge": "*"},
        respond="{{ query['hub.challenge'] }}",
    )
    assert answer_challenge(spec, {"hub.mode": "subscribe", "hub.challenge": "42"}, {}, b"") == (
        200,
        "text/plain",
        b"42",
    )
    assert (
        answer_challenge(spec, {"hub.mode": "unsubscribe", "hub.challenge": "42"}, {}, b"") is None
    )
    assert answer_challenge(spec, {}, {}, b"") is None
