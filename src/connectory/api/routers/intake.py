"""``/hooks``: where providers send webhooks. Public (no API token): the URL is the secret.

Bodies are read up to ``CONNECTORY_MAX_INTAKE_BYTES`` (413 beyond), checked, stored, and
acknowledged; handling happens in the background.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from connectory.api.routers._event_errors import errors
from connectory.api.routers.event_subscriptions import events_context
from connectory.errors import PayloadTooLarge
from connectory.services.events.intake import accept_webhook

router = APIRouter(prefix="/hooks", tags=["intake"])

#: The URL's token (43 characters; anything else is not found).
Token = Annotated[str, Path(max_length=64, description="The intake URL's token.")]
#: What a sender appended to the URL (ignored).
SubPath = Annotated[str, Path(max_length=2000, description="Ignored.")]


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"webhook bodies are limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"webhook bodies are limited to {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _receive(token: str, request: Request) -> Response:
    context = events_context(request)
    body = await _read_capped(request, context.settings.max_intake_bytes)
    answer = await accept_webhook(
        context,
        token,
        request.method,
        dict(request.query_params),
        dict(request.headers),
        body,
    )
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


_INTAKE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "Stored (or a repeat of a stored message), or a handshake answered.",
        "content": {"application/json": {}, "text/plain": {}},
    },
    **errors(401, 404, 413, 422, 503),
}


@router.post(
    "/{token}", summary="Receive a webhook", response_class=Response, responses=_INTAKE_RESPONSES
)
async def receive_webhook(token: Token, request: Request) -> Response:
    """Store a webhook for its subscription (or connector, for a global webhook)."""
    return await _receive(token, request)


@router.get(
    "/{token}",
    summary="Answer a verification handshake",
    response_class=Response,
    responses=_INTAKE_RESPONSES,
)
async def receive_handshake(token: Token, request: Request) -> Response:
    """Providers that verify a URL with a GET (``hub.challenge``) are answered here."""
    return await _receive(token, request)


@router.post(
    "/{token}/{subpath:path}",
    summary="Receive a webhook sent to a path under the URL",
    response_class=Response,
    responses=_INTAKE_RESPONSES,
)
async def receive_webhook_subpath(token: Token, subpath: SubPath, request: Request) -> Response:
    """Some senders append a path to the registered URL (OpenAPI callbacks: ``{url}/data``)."""
    return await _receive(token, request)
