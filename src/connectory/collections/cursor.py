"""Opaque list cursors: where a listing stopped, bound to its connection and collection.

A cursor carries the paginator's position (see
:class:`~connectory.runtime.pagination.PagePosition`), so the next call resumes exactly where
the last page ended, in this process or another. It is bound to the connection, the
collection and the listing's filters and parameters: a cursor used elsewhere is refused, not
silently applied to another listing. It is encoded, not encrypted: it holds only what the
caller's own requests already show (paging parameters, a next-page URL on the API's origin,
which the client checks again on resume).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from connectory.errors import InputError
from connectory.runtime.pagination import NextPage, PagePosition

_VERSION = 1
_MAX_LENGTH = 8192


def binding(connection_key: str, collection: str, listing: Mapping[str, Any]) -> str:
    """A short digest naming one listing of one collection on one connection."""
    text = orjson.dumps([connection_key, collection, listing], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:24]


def encode_cursor(position: PagePosition, bound_to: str) -> str:
    """Return the cursor text for *position*."""
    data = {
        "v": _VERSION,
        "b": bound_to,
        "p": position.next.params,
        "u": position.next.url,
        "n": position.number,
        "r": position.records_so_far,
        "s": position.state,
    }
    return base64.urlsafe_b64encode(orjson.dumps(data)).decode().rstrip("=")


def decode_cursor(text: str, bound_to: str) -> PagePosition:
    """Return the position a cursor holds.

    Raises:
        InputError: the cursor is not one Connectory made, or belongs to another listing.
    """
    invalid = InputError(
        "the cursor is not valid (cut short or altered); pass the cursor exactly as the last "
        "page returned it, or start again without one",
        parameter="cursor",
    )
    if not isinstance(text, str) or len(text) > _MAX_LENGTH:
        raise invalid
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("v") != _VERSION:
        raise invalid
    if data.get("b") != bound_to:
        raise InputError(
            "the cursor belongs to another listing (another connection, collection, filter or "
            "parameter); list again with the same filters, or start without a cursor",
            parameter="cursor",
        )
    params, url, number, so_far, state = (data.get(k) for k in ("p", "u", "n", "r", "s"))
    if (
        not isinstance(params, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())
        or not (url is None or isinstance(url, str))
        or not isinstance(number, int)
        or not isinstance(so_far, int)
        or not isinstance(state, dict)
    ):
        raise invalid
    return PagePosition(NextPage(params=params, url=url), number, so_far, state)
