"""The test API's webhooks: subscriptions that expire, signed notifications, a handshake.

A real sender to test Connectory's intake against:

==================================  =============================================================
``POST /webhooks``                  register ``{url, secret, events?, verify?, ttl?}`` (API key
                                    in ``X-API-Key``); with ``verify`` the URL must first echo a
                                    ``GET ?hub.mode=subscribe&hub.challenge=...``; answers
                                    ``{id, url, events, expires_at}``
``GET /webhooks``                   the registrations (secrets not shown)
``DELETE /webhooks/{id}``           unregister
``POST /webhooks/{id}/renew``       a new expiry (``?ttl=``); an expired one gets nothing
``GET /changes``                    records changed since ``?updated_since=`` (ISO 8601),
                                    oldest change first, ``?limit=`` (for polling)
``POST /_admin/touch/{id}``         change a record (``updated_at`` = now, ``?name=``) and notify
                                    every live registration (and the global webhook); answers
                                    ``{notified, failures}``
``POST /_admin/global-webhook``     ``{url, secret}``: one URL for every account's changes
==================================  =============================================================

Notifications are signed per Standard Webhooks with the registration's ``whsec_`` secret:
``{"events": [{"id", "type": "item.updated", "occurred_at", "account", "item"}]}``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectory.testing.api_state import TestApiState, json_response

#: The account every change belongs to (global webhooks route on it).
ACCOUNT = "acct-1"


@dataclass
class Registration:
    """One webhook registration."""

    id: str
    url: str
    secret: str
    events: list[str]
    expires_at: datetime


@dataclass
class WebhookState:
    """Registrations, the global webhook and the notification counter."""

    registrations: dict[str, Registration] = field(default_factory=dict)
    global_url: str | None = None
    global_secret: str = ""
    sequence: int = 0
    #: Seconds ``/changes`` waits before answering (to catch a poller mid-poll).
    changes_delay: float = 0.0
    #: ``/changes`` requests received so far.
    changes_requests: int = 0
    now: Any = field(default=lambda: datetime.now(UTC))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """A Standard Webhooks ``v1,`` signature (the test API's own, independent code)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _registration_view(registration: Registration) -> dict[str, Any]:
    return {
        "id": registration.id,
        "url": registration.url,
        "events": registration.events,
        "expires_at": _iso(registration.expires_at),
    }


def webhook_routes(state: TestApiState, hooks: WebhookState) -> list[BaseRoute]:
    """The webhook routes of the test API, over *state*'s records and *hooks*."""

    def require_key(request: Request) -> None:
        creds = state.credentials
        given = request.headers.get("x-api-key", "")
        if not hmac.compare_digest(given, creds.api_key_prefix + creds.api_key):
            raise HTTPException(401, "send X-API-Key: Token <api key>")

    async def register(request: Request) -> Response:
        require_key(request)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise HTTPException(400, "the body must be JSON") from None
        url, secret = body.get("url"), body.get("secret")
        if not isinstance(url, str) or not isinstance(secret, str) or not secret:
            raise HTTPException(400, "url and secret are required")
        if str(body.get("verify", "")).lower() in ("true", "1"):
            challenge = secrets.token_hex(8)
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.get(
                    url, params={"hub.mode": "subscribe", "hub.challenge": challenge}
                )
            if answer.text != challenge:
                raise HTTPException(
                    400, f"the URL did not echo the challenge ({answer.status_code})"
                )
        ttl = int(body.get("ttl", 3600))
        registration = Registration(
            id=f"wh_{secrets.token_hex(6)}",
            url=url,
            secret=secret,
            events=list(body.get("events") or ["item.updated"]),
            expires_at=hooks.now() + timedelta(seconds=ttl),
        )
        hooks.registrations[registration.id] = registration
        return json_response(_registration_view(registration), 201)

    async def list_registrations(request: Request) -> Response:
        require_key(request)
        return json_response([_registration_view(r) for r in hooks.registrations.values()])

    async def unregister(request: Request) -> Response:
        require_key(request)
        if hooks.registrations.pop(request.path_params["hook_id"], None) is None:
            raise HTTPException(404, "no such webhook")
        return Response(status_code=204)

    async def renew(request: Request) -> Response:
        require_key(request)
        registration = hooks.registrations.get(request.path_params["hook_id"])
        if registration is None or registration.expires_at <= hooks.now():
            raise HTTPException(404, "no such webhook (or it expired)")
        ttl = int(request.query_params.get("ttl", "3600"))
        registration.expires_at = hooks.now() + timedelta(seconds=ttl)
        return json_response(_registration_view(registration))

    async def changes(request: Request) -> Response:
        require_key(request)
        hooks.changes_requests += 1
        if hooks.changes_delay:
            await asyncio.sleep(hooks.changes_delay)
        since = request.query_params.get("updated_since", "")
        limit = int(request.query_params.get("limit", "100"))
        rows = sorted(
            (r for r in state.records if not since or r["updated_at"] >= since),
            key=lambda r: (r["updated_at"], r["id"]),
        )
        return json_response({"data": rows[:limit]})

    async def touch(request: Request) -> Response:
        record_id = request.path_params["record_id"]
        record = next((r for r in state.records if r["id"] == record_id), None)
        if record is None:
            raise HTTPException(404, "no such record")
        record["updated_at"] = _iso(hooks.now())
        if "name" in request.query_params:
            record["name"] = request.query_params["name"]
        hooks.sequence += 1
        event = {
            "id": f"evt_{hooks.sequence}",
            "type": "item.updated",
            "occurred_at": record["updated_at"],
            "account": ACCOUNT,
            "item": record,
        }
        targets = [
            (r.url, r.secret)
            for r in hooks.registrations.values()
            if r.expires_at > hooks.now() and "item.updated" in r.events
        ]
        if hooks.global_url is not None:
            targets.append((hooks.global_url, hooks.global_secret))
        failures: list[str] = []
        async with httpx.AsyncClient(timeout=10) as client:
            for url, secret in targets:
                body = orjson.dumps({"events": [event]})
                stamp = int(time.time())
                headers = {
                    "content-type": "application/json",
                    "webhook-id": event["id"],
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": sign(secret, event["id"], stamp, body),
                }
                try:
                    answer = await client.post(url, content=body, headers=headers)
                    if answer.status_code >= 300:
                        failures.append(f"{url}: {answer.status_code}")
                except httpx.HTTPError as error:
                    failures.append(f"{url}: {type(error).__name__}")
        return json_response({"notified": len(targets) - len(failures), "failures": failures})

    async def set_global(request: Request) -> Response:
        body = orjson.loads(await request.body())
        hooks.global_url = body.get("url")
        hooks.global_secret = body.get("secret", "")
        return json_response({"url": hooks.global_url})

    return [
        Route("/webhooks", register, methods=["POST"]),
        Route("/webhooks", list_registrations, methods=["GET"]),
        Route("/webhooks/{hook_id}", unregister, methods=["DELETE"]),
        Route("/webhooks/{hook_id}/renew", renew, methods=["POST"]),
        Route("/changes", changes),
        Route("/_admin/touch/{record_id:int}", touch, methods=["POST"]),
        Route("/_admin/global-webhook", set_global, methods=["POST"]),
    ]
