r"""How request bodies are read: strict JSON, decoded once, for every endpoint.

Python's ``json`` module accepts text that is not JSON a server can keep: a lone surrogate
(``"\ud800"``) decodes to a ``str`` that cannot be encoded as UTF-8 again, so it fails later,
when it is encrypted, stored or sent upstream (a 500, far from the mistake); ``NaN`` and
``Infinity`` are refused by PostgreSQL's ``json`` type; and nesting is limited only by the
interpreter's recursion limit. Every route of the API uses :class:`StrictJSONRoute`, whose
request decodes bodies with pydantic-core's parser instead: it refuses all three, keeps big
integers exact, and the refusal is an ordinary ``422`` naming the position in the body.

Endpoints whose body is a connector document (marked with :func:`takes_connector_document`)
let a lone surrogate through to the document checker instead, which refuses it as a connector
problem with the field's path (``description: the text contains an unpaired surrogate``), as
it does for a YAML file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

import pydantic_core
from fastapi import Request, Response
from fastapi.routing import APIRoute

#: Deepest nesting pydantic-core's parser accepts (its own limit, not configurable).
MAX_JSON_DEPTH = 200

_POSITION = re.compile(r" at line (\d+) column (\d+)$")


class StrictJSONRequest(Request):
    """A request whose :meth:`json` accepts only JSON that can be stored and sent on."""

    async def json(self) -> Any:
        """Decode the body as strict JSON.

        Raises:
            json.JSONDecodeError: not valid JSON (FastAPI answers it with a 422 at ``body``).
        """
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = pydantic_core.from_json(body, allow_inf_nan=False)
            except ValueError as error:
                message, position = _explain(str(error), body)
                raise json.JSONDecodeError(
                    message, body.decode("utf-8", "replace"), position
                ) from None
        return self._json


class DocumentJSONRequest(StrictJSONRequest):
    """A request whose body is a connector document: lone surrogates reach its checker."""

    async def json(self) -> Any:
        """Decode the body strictly, except that a lone surrogate is left to the checker."""
        try:
            return await super().json()
        except json.JSONDecodeError as error:
            if "surrogate" not in error.msg:
                raise
            body = await self.body()
            try:
                # Only the escape was wrong: the strict parser already checked the rest.
                self._json = json.loads(body)
            except (ValueError, RecursionError):
                raise error from None
            return self._json


_DOCUMENT_MARK = "_connectory_connector_document"

Endpoint = Callable[..., Any]


def takes_connector_document(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint whose JSON body is a connector document (see the module docstring)."""
    setattr(endpoint, _DOCUMENT_MARK, True)
    return endpoint


class StrictJSONRoute(APIRoute):
    """An API route whose endpoint gets a :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler so the body is decoded strictly."""
        handler = super().get_route_handler()
        documents = getattr(self.endpoint, _DOCUMENT_MARK, False)
        request_class = DocumentJSONRequest if documents else StrictJSONRequest

        async def strict_handler(request: Request) -> Response:
            return await handler(request_class(request.scope, request.receive))

        return strict_handler


def _explain(message: str, body: bytes) -> tuple[str, int]:
    """Turn pydantic-core's message into one a client can act on, and a character offset."""
    position = 0
    found = _POSITION.search(message)
    if found is not None:
        message = message[: found.start()]
        line, column = int(found.group(1)), int(found.group(2))
        lines = body.decode("utf-8", "replace").split("\n")
        position = sum(len(text) + 1 for text in lines[: line - 1]) + max(column - 1, 0)
    if "surrogate" in message or "end of hex escape" in message:
        message = (
            "a \\u escape is not a whole Unicode character (a lone surrogate such as \\ud800, "
            "or a cut-off escape); strings must be valid Unicode"
        )
    elif "recursion limit" in message:
        message = f"the JSON nests deeper than {MAX_JSON_DEPTH} levels"
    elif "invalid unicode" in message.lower() or "utf-8" in message.lower():
        message = "the body is not valid UTF-8"
    return message, position
