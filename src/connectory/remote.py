"""The Python API of a Connectory server: call operations of stored connections remotely.

Where :class:`connectory.ConnectorClient` runs a connector in this process with credentials you
hold, :class:`Server` asks a Connectory server to do it with the credentials it keeps
encrypted::

    async with Server("http://127.0.0.1:8000", token) as server:
        connection = server.connection("7f3a...")
        result = await connection.call("get_item", {"id": 7})
        async for record in connection.iter_records("list_items"):
            ...

Errors come back as the same exception classes the server raised (``NotFound``,
``InputError``, ``UpstreamError``...), with the server's message.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import aclosing
from types import TracebackType
from typing import Any

import httpx
import orjson

from connectory.errors import (
    AmbiguousMatch,
    AuthError,
    CircuitOpen,
    Conflict,
    ConnectoryError,
    CredentialsError,
    EgressDenied,
    InputError,
    InvalidRequest,
    InvalidURL,
    NotAuthenticated,
    NotFound,
    NotSupported,
    PaginationError,
    PayloadTooLarge,
    PermissionDenied,
    Problem,
    RateLimited,
    RecordInvalid,
    RecordNotFound,
    ResponseError,
    SpecError,
    TransportError,
    UpstreamError,
)
from connectory.remote_collections import RemoteCollection
from connectory.runtime.results import OperationResult, SentRequest

_ERRORS: dict[str, type[ConnectoryError]] = {
    "record_not_found": RecordNotFound,
    "not_supported": NotSupported,
    "invalid_record": RecordInvalid,
    "ambiguous_match": AmbiguousMatch,
    "not_authenticated": NotAuthenticated,
    "not_found": NotFound,
    "forbidden": PermissionDenied,
    "conflict": Conflict,
    "payload_too_large": PayloadTooLarge,
    "invalid_request": InvalidRequest,
    "invalid_parameters": InputError,
    "invalid_credentials": CredentialsError,
    "rate_limited": RateLimited,
    "circuit_open": CircuitOpen,
    "upstream_auth_failed": AuthError,
    "upstream_error": UpstreamError,
    "upstream_unreachable": TransportError,
    "egress_denied": EgressDenied,
    "invalid_url": InvalidURL,
    "upstream_response_unusable": ResponseError,
    "pagination_failed": PaginationError,
}


#: The key of the keep-alive lines a server sends in a JSON Lines stream (docs/api.md).
_KEEPALIVE = "_connectory_keepalive"


async def read_lines(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any],
    json: Any = None,
    on_wait: Callable[[float, str], None] | None,
    failed: Callable[[Any], ConnectoryError],
) -> AsyncGenerator[Any, None]:
    """The items of a streamed read (JSON Lines), the server's keep-alive lines skipped.

    Args:
        http: The server's client.
        method: The request's method.
        path: The request's path.
        params: Its query.
        json: Its body.
        on_wait: Called with ``(seconds, cause)`` when a keep-alive line says the read waits.
        failed: The error to raise for the failure the stream's last line reports.

    Raises:
        ConnectoryError: the server refused the read (its error), or the read failed part
            way (*failed*'s; the items before the failure have been yielded).
        TransportError: the server could not be reached.
    """
    try:
        async with http.stream(method, path, params=params, json=json) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_from_response(response)
            async for line in response.aiter_lines():
                if not line:
                    continue
                item = orjson.loads(line)
                if isinstance(item, dict) and len(item) == 1:
                    if _KEEPALIVE in item:
                        _report_wait(item[_KEEPALIVE], on_wait)
                        continue
                    if "_connectory_error" in item:
                        raise failed(item["_connectory_error"])
                yield item
    except httpx.HTTPError as error:
        raise TransportError(f"could not reach the Connectory server: {error}") from None


def _failed_read(error: Any) -> ConnectoryError:
    """An operation read's failure, as its stream's last line reports it."""
    return ConnectoryError(f"{error.get('code')}: {error.get('detail')}")


def _report_wait(info: Any, on_wait: Callable[[float, str], None] | None) -> None:
    """Pass a keep-alive line's ``{"waiting": s, "cause": c}`` on, when it has one."""
    if on_wait is None or not isinstance(info, dict):
        return
    seconds, cause = info.get("waiting"), info.get("cause")
    if isinstance(seconds, int | float) and isinstance(cause, str):
        on_wait(float(seconds), cause)


def error_from_response(response: httpx.Response) -> ConnectoryError:
    """Rebuild the server's error from an error response."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    code = body.get("code") if isinstance(body, dict) else None
    message = detail if isinstance(detail, str) else f"the server answered {response.status_code}"
    problems = body.get("problems") if isinstance(body, dict) else None
    found = [
        problem_from_json(item)
        for item in (problems if isinstance(problems, list) else [])
        if isinstance(item, dict)
    ]
    # Every 422 that carries connector problems is an invalid connector, whatever its code.
    if found and (code == "invalid_connector" or response.status_code == 422):
        return SpecError(found)
    cls = _ERRORS.get(code if isinstance(code, str) else "", ConnectoryError)
    if cls is UpstreamError:
        return UpstreamError(message, status_code=response.status_code)
    if cls is AuthError:
        return AuthError(message, status_code=response.status_code)
    if cls is InvalidRequest:
        return InvalidRequest(message, problems=found)
    if cls is RecordInvalid:
        issues = body.get("issues") if isinstance(body, dict) else None
        return RecordInvalid(message, _record_issues(issues))
    if cls is AmbiguousMatch:
        return AmbiguousMatch(message, [])
    return cls(message)


def _record_issues(issues: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for issue in issues if isinstance(issues, list) else []:
        if isinstance(issue, dict) and isinstance(issue.get("loc"), list) and issue["loc"]:
            found.append((str(issue["loc"][-1]), str(issue.get("message", ""))))
    return found


def problem_from_json(item: Mapping[str, Any]) -> Problem:
    """Rebuild a connector problem from its JSON form, ignoring fields of the wrong type."""

    def text(key: str) -> str | None:
        value = item.get(key)
        return value if isinstance(value, str) else None

    def number(key: str) -> int | None:
        value = item.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return Problem(
        message=text("message") or "problem",
        path=text("path") or "",
        file=text("file"),
        line=number("line"),
        column=number("column"),
        severity=text("severity") or "error",
    )


class Server:
    """A Connectory server, reached with an API token.

    Args:
        url: The server's base URL, e.g. ``http://127.0.0.1:8000``.
        token: An API token (``cty_...``).
        timeout: Seconds to wait for the server (operations include upstream time).
        transport: An httpx transport (tests pass an ASGI transport).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "connectory-remote"},
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection to the server."""
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send a request to the API and return its decoded JSON body.

        Raises:
            ConnectoryError: the server's error, as its class (NotFound, InputError, ...).
            TransportError: the server could not be reached.
        """
        try:
            response = await self._http.request(
                method, path, json=json, params=params, content=content, headers=headers
            )
        except httpx.HTTPError as error:
            raise TransportError(f"could not reach the Connectory server: {error}") from None
        if response.status_code >= 400:
            raise error_from_response(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def connection(self, connection_id: str) -> RemoteConnection:
        """A stored connection of the token's enterprise."""
        return RemoteConnection(self, self._http, connection_id)

    # --- events --------------------------------------------------------------------------

    async def subscriptions(self, connection_id: str | None = None) -> list[dict[str, Any]]:
        """The enterprise's event subscriptions (status, last error, lag, intake URL)."""
        params = {"connection_id": connection_id} if connection_id else None
        result: list[dict[str, Any]] = await self.request("GET", "/subscriptions", params=params)
        return result

    async def unsubscribe(self, subscription_id: str) -> None:
        """Delete a subscription; the server's worker tells the provider."""
        await self.request("DELETE", f"/subscriptions/{subscription_id}")

    async def create_endpoint(
        self, url: str, *, event_types: list[str] | None = None, description: str = ""
    ) -> dict[str, Any]:
        """Register a webhook endpoint; the answer's ``secret`` is shown this once."""
        body: dict[str, Any] = {"url": url, "description": description}
        if event_types is not None:
            body["event_types"] = event_types
        result: dict[str, Any] = await self.request("POST", "/webhook-endpoints", json=body)
        return result

    async def events(self, after: int = 0, *, wait: float = 0, **filters: str) -> dict[str, Any]:
        """One page of events after cursor *after*: ``{"items": [...], "next_after": N}``.

        Args:
            after: The last ``seq`` seen (0: from the oldest kept).
            wait: Seconds to wait for an event when there is none yet (long-poll, <= 60).
            filters: ``connection_id``, ``subscription_id``, ``type``.
        """
        params: dict[str, Any] = {"after": after, "wait": wait, **filters}
        result: dict[str, Any] = await self.request("GET", "/events", params=params)
        return result

    async def iter_events(
        self, after: int = 0, *, follow: bool = False, **filters: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Every event after *after*, oldest first; with *follow*, wait for new ones forever."""
        while True:
            page = await self.events(after, wait=30 if follow else 0, **filters)
            for item in page["items"]:
                yield item
            after = page["next_after"]
            if not page["items"] and not follow:
                return

    async def deliveries(self, status: str | None = None) -> list[dict[str, Any]]:
        """Deliveries, newest first (``status="dead"``: the dead letters)."""
        params = {"status": status} if status else None
        result: list[dict[str, Any]] = await self.request("GET", "/deliveries", params=params)
        return result

    async def replay_delivery(self, delivery_id: str) -> dict[str, Any]:
        """Send a dead-lettered delivery again."""
        result: dict[str, Any] = await self.request("POST", f"/deliveries/{delivery_id}/replay")
        return result


class RemoteConnection:
    """A connection stored on the server; calls run there with its stored credentials."""

    def __init__(self, server: Server, http: httpx.AsyncClient, connection_id: str) -> None:
        self._server = server
        self._http = http
        self.id = connection_id

    async def subscribe(self, event: str, **parameters: Any) -> dict[str, Any]:
        """Subscribe this connection to one of its connector's events."""
        result: dict[str, Any] = await self._server.request(
            "POST",
            "/subscriptions",
            json={"connection_id": self.id, "event": event, "parameters": parameters},
        )
        return result

    def collection(self, key: str) -> RemoteCollection:
        """Collection *key* of this connection: the same methods as a local collection."""
        return RemoteCollection(self._server, self._http, self.id, key)

    async def test(self) -> dict[str, Any]:
        """Test the connection: status ok / auth_failed / unreachable / degraded, and health."""
        result: dict[str, Any] = await self._server.request("POST", f"/connections/{self.id}/test")
        return result

    async def contract_test(
        self, description: str | None = None, *, include_writes: bool = False
    ) -> dict[str, Any]:
        """Contract-test the connection on the server, with its own credentials.

        Args:
            description: The OpenAPI 3.x description (text); default: the one the server
                keeps with the connection's connector version.
            include_writes: Call unsafe operations too.

        Returns:
            ``counts`` (passed, failed, skipped), ``operations`` (each operation's check) and
            ``description_source`` (``request`` or ``kept``).
        """
        body: dict[str, Any] = {"include_writes": include_writes}
        if description is not None:
            body["description"] = description
        result: dict[str, Any] = await self._server.request(
            "POST", f"/connections/{self.id}/contract-test", json=body
        )
        return result

    async def call(
        self, operation: str, params: Mapping[str, Any] | None = None
    ) -> OperationResult:
        """Run *operation* once; the result carries whatever status the upstream answered."""
        data = await self._server.request(
            "POST",
            f"/connections/{self.id}/operations/{operation}",
            json={"params": dict(params or {})},
        )
        request = data.get("request")
        return OperationResult(
            operation=data["operation"],
            status_code=data["status_code"],
            headers=data["headers"],
            body=data["body"],
            elapsed=data["elapsed"],
            schema_mismatches=[(m["path"], m["message"]) for m in data["schema_mismatches"]],
            request=SentRequest(**request) if isinstance(request, dict) else None,
        )

    async def iter_records(
        self,
        operation: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_pages: int | None = None,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> AsyncIterator[Any]:
        """Stream every record of *operation*; the server holds one page at a time.

        The server paces the read by the connection's rate limit; while it waits, it sends
        keep-alive lines, which are skipped here.

        Args:
            operation: The operation's name.
            params: Its parameters.
            max_pages: Stop after this many pages.
            on_wait: Called with ``(seconds, cause)`` when a keep-alive line says the read is
                paused, e.g. ``(42.5, "rate limit")``.

        Raises:
            ConnectoryError: the server refused the call, or the read failed part way (the
                records before the failure have been yielded).
        """
        query: dict[str, Any] = {"all_pages": "true"}
        if max_pages is not None:
            query["max_pages"] = max_pages
        lines = read_lines(
            self._http,
            "POST",
            f"/connections/{self.id}/operations/{operation}",
            params=query,
            json={"params": dict(params or {})},
            on_wait=on_wait,
            failed=_failed_read,
        )
        # Closed with this one: a caller that stops early releases the stream at once.
        async with aclosing(lines):
            async for record in lines:
                yield record
