"""Events: signing outgoing webhooks, verifying incoming ones, turning bodies into events.

Pure logic on top of the spec and the runtime: :mod:`~connectory.events.pulling` is what one
poll finds, :mod:`~connectory.events.testing` runs events' test cases. Storage and scheduling
live in ``connectory.services.events`` and ``connectory.worker``.
"""

from connectory.events.handling import ReceivedEvent, WebhookInput, events_from_webhook
from connectory.events.signing import (
    generate_endpoint_secret,
    sign_payload,
    signature_header,
)
from connectory.events.verification import answer_challenge, verify_signature

__all__ = [
    "ReceivedEvent",
    "WebhookInput",
    "answer_challenge",
    "events_from_webhook",
    "generate_endpoint_secret",
    "sign_payload",
    "signature_header",
    "verify_signature",
]
