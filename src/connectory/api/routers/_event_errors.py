"""The error answers the event routers document (Schemathesis holds them to it)."""

from __future__ import annotations

from typing import Any

from connectory.api.problems import ErrorOut

_TEXT = {
    401: "The webhook's signature or timestamp is wrong or missing (nothing was stored).",
    403: "The caller's role does not allow this (enterprise admins manage events).",
    404: "No such object (or another enterprise's).",
    409: "The delivery is still being sent: replay it once it has finished.",
    413: "The webhook body is larger than CONNECTORY_MAX_INTAKE_BYTES.",
    422: (
        "The request is invalid (field paths given); for a webhook, `webhook_unstorable`: the "
        "database refuses to store it (sending it again would be refused too)."
    ),
    503: (
        "The database is unavailable: the webhook may not have been stored; send it again "
        "(a repeat is recognised by its message id)."
    ),
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that can answer *statuses*."""
    return {code: {"model": ErrorOut, "description": _TEXT[code]} for code in statuses}
