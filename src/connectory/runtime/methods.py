"""JavaScript methods: code that calls the API through ``ctx.apiClient`` and returns data.

:meth:`ConnectorClient.run_method <connectory.runtime.ConnectorClient.run_method>` is the one
entry point (operations with ``implementation: javascript``, collections and events use it).
Each apiClient request goes through the client's own runtime: the connector's hooks, auth,
resilience (timeout, retries, rate limit, breaker) and the transport's egress guard. It may
only reach the base URL's origin and those in ``javascript.allowed_origins``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson

from connectory.errors import InputError
from connectory.http.reply import Reply
from connectory.http.request import PreparedRequest
from connectory.runtime.code import CallTrace, CodeContext
from connectory.runtime.hooks import origin_of, response_view
from connectory.runtime.request import OperationPlan
from connectory.runtime.results import SentRequest
from connectory.spec.code import CodeRefSpec

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

Send = Callable[
    [PreparedRequest, OperationPlan, Mapping[str, Any] | None, bool, CallTrace | None],
    Awaitable[tuple[Reply, PreparedRequest]],
]


class Describe(Protocol):
    """Shows a request as sent, secrets redacted."""

    def __call__(self, request: PreparedRequest) -> SentRequest:
        """The request as it can be shown."""
        ...


class ApiBridge:
    """ctx.apiClient of one method invocation, sending through the client's runtime."""

    def __init__(
        self,
        *,
        plan: OperationPlan,
        base_url: str,
        origins: frozenset[str],
        send: Send,
        describe: Describe,
        base_headers: Mapping[str, str],
        parameters: Mapping[str, Any] | None,
        trace: CallTrace | None,
    ) -> None:
        self._plan = plan
        self._base = base_url.rstrip("/")
        self._origins = origins
        self._send = send
        self._describe = describe
        self._base_headers = base_headers
        self._parameters = parameters
        self._trace = trace

    async def http(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Send one apiClient request; return ``{status, headers, body}``.

        Raises:
            InputError: the request is malformed or goes to another origin.
            ConnectoryError: whatever the runtime raises (transport, timeout, breaker...).
        """
        prepared = self._prepare(request)
        reply, sent = await self._send(
            prepared,
            self._plan,
            self._parameters,
            prepared.method in _IDEMPOTENT,
            self._trace,
        )
        if self._trace is not None:
            self._trace.api_calls.append(self._describe(sent))
        return response_view(reply)

    def _prepare(self, request: Mapping[str, Any]) -> PreparedRequest:
        method = str(request.get("method") or "GET").upper()
        if method not in _METHODS:
            raise InputError(f"apiClient: {method[:20]!r} is not an HTTP method")
        url = request.get("url")
        path = request.get("path")
        if isinstance(url, str) and url:
            if origin_of(url) not in self._origins:
                raise InputError(
                    f"apiClient: {(origin_of(url) or 'the URL')[:100]} is not the connector's "
                    "origin; call paths of the base URL, or list the origin in "
                    "javascript.allowed_origins"
                )
            target = url
        elif isinstance(path, str) and path:
            if not path.startswith("/"):
                path = "/" + path
            target = self._base + path
        else:
            raise InputError("apiClient: give a path (/items) or a url")
        headers = request.get("headers") or {}
        query = request.get("query") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(v, str | int | float) for v in headers.values()
        ):
            raise InputError("apiClient: headers must be an object of name: text")
        if not isinstance(query, dict):
            raise InputError("apiClient: query must be an object of name: value")
        given = {str(k).lower() for k in headers}
        headers = {
            **{k: v for k, v in self._base_headers.items() if k.lower() not in given},
            **{str(k): str(v) for k, v in headers.items()},
        }
        body = request.get("body")
        content: bytes | None = None
        if isinstance(body, str):
            content = body.encode()
        elif body is not None:
            content = orjson.dumps(body)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        return PreparedRequest(method, target, dict(query), headers, content)


async def run_method(
    code: CodeContext,
    ref: CodeRefSpec,
    bridge: ApiBridge,
    *,
    operation: str | None,
    parameters: Mapping[str, Any] | None,
    input: Any,
    trace: CallTrace | None,
) -> Any:
    """Run the method *ref* and return its value (see :mod:`connectory.runtime.methods`)."""
    fields = {
        "operation": operation,
        "parameters": dict(parameters or {}),
        "input": input,
    }
    outcome = await code.run(ref, "method", fields, trace, bridge)
    return outcome.value
