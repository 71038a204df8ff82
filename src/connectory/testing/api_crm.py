"""The test API's CRUD resource: contacts, for collections to read and write.

Each account (the ``X-Tenant`` header, ``acme`` when absent) has its own contacts and its own
custom fields, as multi-tenant SaaS APIs do. Every route needs the API key (``X-API-Key``).

=================================  ================================================================
``GET /crm/contacts``              ``?limit=&cursor=``; filters ``status=``, ``email=``,
                                   ``company=``, ``updated_since=`` / ``created_since=`` (ISO
                                   8601); ``q=`` searches name and email server-side;
                                   ``{"data": [...], "next_cursor": ...}``
``GET /crm/contacts/{id}``         one contact; 404 when missing or deleted
``POST /crm/contacts``             create; 422 ``{"errors": [{field, message}]}`` for an invalid
                                   body (missing email, a read-only field, a wrong type)
``PATCH /crm/contacts/{id}``       partial update; 404 when missing, 422 when invalid
``DELETE /crm/contacts/{id}``      soft delete (the contact disappears, ``deleted_at`` is set)
``GET /crm/custom-fields``         the account's custom fields: ``[{key, type, label}]``
``POST /crm/legacy/contacts``      create, answering **200** with ``{"ok": false, "error": ...}``
                                   when invalid (APIs that never use error statuses)
``GET /crm/legacy/contacts``       ``?limit=&cursor=``: ``{"ok": true, "contacts": [...],
                                   "next_cursor": ...}``; a listing gets two pages, the third
                                   answers **200** ``{"ok": false, "error": ...}``
=================================  ================================================================

Seeded contacts have fixed times in 2024; writes stamp the real time, so ``updated_since`` of
any recent moment finds exactly what a test changed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from connectory.testing.api_state import TestApiState, int_param, json_response, unauthorized

Endpoint = Callable[[Request], Awaitable[Response]]

_STATUSES = ("active", "inactive")
_READ_ONLY = ("id", "created_at", "updated_at", "deleted_at")
_WRITABLE = {
    "first_name": str,
    "last_name": str,
    "email": str,
    "company": str,
    "status": str,
    "score": int,
}
_CUSTOM_FIELDS: dict[str, list[dict[str, Any]]] = {
    "acme": [{"key": "cf_tier", "type": "string", "label": "Tier"}],
    "globex": [
        {"key": "cf_region", "type": "string", "label": "Region"},
        {"key": "cf_seats", "type": "integer", "label": "Seats"},
    ],
}
_FIRST = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John")
_LAST = ("Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus")
_COMPANIES = ("Initech", "Hooli", "Umbrella")
_EPOCH = datetime(2024, 3, 1, tzinfo=UTC)


@dataclass
class CrmState:
    """Contacts by account, with the next id to hand out."""

    contacts: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    next_id: int = 1

    def account(self, name: str) -> dict[int, dict[str, Any]]:
        """The contacts of account *name* (seeded on first use)."""
        if name not in self.contacts:
            self.contacts[name] = {}
            for index in range(24):
                self._seed(name, index)
        return self.contacts[name]

    def _seed(self, account: str, index: int) -> None:
        created = _EPOCH + timedelta(days=index)
        contact = {
            "id": self.next_id,
            "first_name": _FIRST[index % len(_FIRST)],
            "last_name": _LAST[(index // len(_FIRST) + index) % len(_LAST)],
            "email": f"contact{index + 1}@{account}.example",
            "company": _COMPANIES[index % len(_COMPANIES)],
            "status": _STATUSES[index % 2],
            "score": index * 10,
            "created_at": _iso(created),
            "updated_at": _iso(created + timedelta(hours=index)),
            "deleted_at": None,
            "custom": {field["key"]: None for field in _CUSTOM_FIELDS.get(account, [])},
        }
        self.contacts[account][self.next_id] = contact
        self.next_id += 1


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> str:
    return _iso(datetime.now(UTC))


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"c:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("c:")) if text.startswith("c:") else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _errors(body: Any, *, creating: bool, account: str) -> list[dict[str, str]]:
    if not isinstance(body, dict):
        return [{"field": "$", "message": "the body must be a JSON object"}]
    custom_keys = {f["key"]: f["type"] for f in _CUSTOM_FIELDS.get(account, [])}
    errors = []
    for name, value in body.items():
        if name in _READ_ONLY:
            errors.append({"field": name, "message": "is read-only"})
        elif name in _WRITABLE:
            if not isinstance(value, _WRITABLE[name]) or isinstance(value, bool):
                errors.append({"field": name, "message": f"must be a {_WRITABLE[name].__name__}"})
        elif name in custom_keys:
            kind = int if custom_keys[name] == "integer" else str
            if value is not None and not isinstance(value, kind):
                errors.append({"field": name, "message": f"must be a {kind.__name__}"})
        else:
            errors.append({"field": name, "message": "is not a field of contacts"})
    if creating and not body.get("email"):
        errors.append({"field": "email", "message": "is required"})
    email = body.get("email")
    if isinstance(email, str) and "@" not in email:
        errors.append({"field": "email", "message": "is not an email address"})
    status = body.get("status")
    if isinstance(status, str) and status not in _STATUSES:
        errors.append({"field": "status", "message": f"must be one of {', '.join(_STATUSES)}"})
    return errors


def crm_routes(api: TestApiState) -> list[BaseRoute]:
    """Routes of the contacts resource (its data per app, created here).

    Every route needs the API key in ``X-API-Key`` (with the key prefix), as the test API's
    other API-key endpoints do.
    """
    state = CrmState()
    expected = api.credentials.api_key_prefix + api.credentials.api_key

    def keyed(endpoint: Endpoint) -> Endpoint:
        async def checked(request: Request) -> Response:
            given = request.headers.get("x-api-key", "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return unauthorized(api, "X-API-Key must be the key prefix and a valid key")
            return await endpoint(request)

        return checked

    def account_of(request: Request) -> dict[int, dict[str, Any]]:
        return state.account(request.headers.get("x-tenant", "acme"))

    def find(request: Request) -> dict[str, Any] | None:
        contacts = account_of(request)
        try:
            contact_id = int(request.path_params["contact_id"])
        except ValueError:
            return None
        contact = contacts.get(contact_id)
        return contact if contact is not None and contact["deleted_at"] is None else None

    def not_found(request: Request) -> Response:
        return json_response(
            {"error": {"code": "not_found", "id": request.path_params["contact_id"]}}, 404
        )

    async def list_contacts(request: Request) -> Response:
        limit = int_param(request, "limit", 10, minimum=1, maximum=50)
        query = request.query_params
        start = 0
        if query.get("cursor"):
            offset = _offset(query["cursor"])
            if offset is None:
                return json_response({"error": {"code": "bad_cursor"}}, 400)
            start = offset
        rows = [c for c in account_of(request).values() if c["deleted_at"] is None]
        for name in ("status", "email", "company"):
            if name in query:
                rows = [c for c in rows if str(c.get(name)) == query[name]]
        for name, column in (("updated_since", "updated_at"), ("created_since", "created_at")):
            if name in query:
                since = _parse_time(query[name])
                if since is None:
                    return json_response({"error": {"code": "bad_time", "param": name}}, 400)
                rows = [c for c in rows if (_parse_time(c[column]) or since) >= since]
        if query.get("q"):
            needle = query["q"].lower()
            rows = [
                c
                for c in rows
                if needle in f"{c['first_name']} {c['last_name']} {c['email']}".lower()
            ]
        page = rows[start : start + limit]
        following = _cursor(start + limit) if start + limit < len(rows) else None
        return json_response({"data": [c for c in page], "next_cursor": following})

    async def get_contact(request: Request) -> Response:
        contact = find(request)
        return json_response(contact) if contact else not_found(request)

    async def create_contact(request: Request) -> Response:
        body = await _json(request)
        account = request.headers.get("x-tenant", "acme")
        errors = _errors(body, creating=True, account=account)
        if errors:
            return json_response({"errors": errors}, 422)
        return json_response(_insert(state, account, body), 201)

    async def update_contact(request: Request) -> Response:
        contact = find(request)
        if contact is None:
            return not_found(request)
        body = await _json(request)
        account = request.headers.get("x-tenant", "acme")
        errors = _errors(body, creating=False, account=account)
        if errors:
            return json_response({"errors": errors}, 422)
        _apply(contact, body)
        contact["updated_at"] = _now()
        return json_response(contact)

    async def delete_contact(request: Request) -> Response:
        contact = find(request)
        if contact is None:
            return not_found(request)
        contact["deleted_at"] = contact["updated_at"] = _now()
        return Response(status_code=204)

    async def custom_fields(request: Request) -> Response:
        account = request.headers.get("x-tenant", "acme")
        return json_response({"fields": _CUSTOM_FIELDS.get(account, [])})

    async def legacy_create(request: Request) -> Response:
        body = await _json(request)
        account = request.headers.get("x-tenant", "acme")
        errors = _errors(body, creating=True, account=account)
        if errors:
            detail = "; ".join(f"{e['field']} {e['message']}" for e in errors)
            return json_response({"ok": False, "error": detail})
        return json_response({"ok": True, "contact": _insert(state, account, body)})

    async def legacy_list(request: Request) -> Response:
        limit = int_param(request, "limit", 10, minimum=1, maximum=50)
        start = _offset(request.query_params.get("cursor", "")) or 0
        if start >= 2 * limit:  # the third page of a listing
            return json_response(
                {"ok": False, "error": "page limit exceeded: narrow the listing with a filter"}
            )
        rows = [c for c in account_of(request).values() if c["deleted_at"] is None]
        following = _cursor(start + limit) if start + limit < len(rows) else None
        page = rows[start : start + limit]
        return json_response({"ok": True, "contacts": page, "next_cursor": following})

    return [
        Route("/crm/contacts", keyed(list_contacts), methods=["GET"]),
        Route("/crm/contacts", keyed(create_contact), methods=["POST"]),
        Route("/crm/contacts/{contact_id}", keyed(get_contact), methods=["GET"]),
        Route("/crm/contacts/{contact_id}", keyed(update_contact), methods=["PATCH"]),
        Route("/crm/contacts/{contact_id}", keyed(delete_contact), methods=["DELETE"]),
        Route("/crm/custom-fields", keyed(custom_fields), methods=["GET"]),
        Route("/crm/legacy/contacts", keyed(legacy_create), methods=["POST"]),
        Route("/crm/legacy/contacts", keyed(legacy_list), methods=["GET"]),
    ]


async def _json(request: Request) -> Any:
    import orjson

    try:
        return orjson.loads(await request.body() or b"null")
    except orjson.JSONDecodeError:
        return None


def _insert(state: CrmState, account: str, body: dict[str, Any]) -> dict[str, Any]:
    contacts = state.account(account)
    now = _now()
    contact: dict[str, Any] = {
        "id": state.next_id,
        "first_name": "",
        "last_name": "",
        "email": "",
        "company": "",
        "status": "active",
        "score": 0,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
        "custom": {field["key"]: None for field in _CUSTOM_FIELDS.get(account, [])},
    }
    _apply(contact, body)
    contacts[state.next_id] = contact
    state.next_id += 1
    return contact


def _apply(contact: dict[str, Any], body: dict[str, Any]) -> None:
    for name, value in body.items():
        if name in _WRITABLE:
            contact[name] = value
        else:
            contact["custom"][name] = value
