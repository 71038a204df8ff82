"""Pre-request and post-response hooks around every request of a connector client.

The client calls :meth:`OperationHooks.before` with the prepared request (before auth, so a
hook never sees tokens) and :meth:`OperationHooks.after` with the reply (before decoding,
schema checks, record extraction and pagination). Global hooks run first, then the
operation's. A pre-request hook gets a copy of the request and returns changes, or
``{response: ...}`` to answer without calling the API.

A hook with secret access (a sensitive credential or connector parameter declared) that
writes a header, query or body value has that value registered with the connection's
redactor, unless it marked the value public (``ctx.markPublic(value)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
import orjson

from connectory.errors import ScriptError
from connectory.http.reply import Reply
from connectory.http.request import PreparedRequest
from connectory.runtime.code import CallTrace, CodeContext
from connectory.runtime.results import SentRequest
from connectory.spec.code import CodeRefSpec
from connectory.spec.operations import OperationSpec

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class OperationHooks:
    """The hooks of one operation (global first, then its own)."""

    def __init__(
        self,
        code: CodeContext,
        operation: OperationSpec,
        origins: frozenset[str],
        describe: Callable[[PreparedRequest], SentRequest],
    ) -> None:
        self.code = code
        self.operation = operation
        self.origins = origins
        self.describe = describe
        own = operation.hooks
        self.pre = [*code.spec.hooks.pre_request, *(own.pre_request if own else [])]
        self.post = [*code.spec.hooks.post_response, *(own.post_response if own else [])]

    async def before(
        self,
        request: PreparedRequest,
        parameters: Mapping[str, Any] | None,
        trace: CallTrace | None,
    ) -> PreparedRequest | Reply:
        """Run the pre-request hooks; return the request to send, or a hook's answer."""
        if not self.pre:
            return request
        if trace is not None and trace.request_before_hooks is None:
            trace.request_before_hooks = self.describe(request)
        for ref in self.pre:
            fields = {
                "operation": self.operation.name,
                "parameters": dict(parameters or {}),
                "request": request_view(request),
            }
            outcome = await self.code.run(ref, "pre", fields, trace)
            value = outcome.value if isinstance(outcome.value, dict) else {}
            if "response" in value:
                return self._answer(ref, value["response"], request)
            changed = self._changed_request(ref, value.get("request"), request)
            if self.code.has_secret_access(ref):
                self._register_written(request, changed, outcome.public)
            request = changed
        return request

    async def after(
        self,
        reply: Reply,
        request: PreparedRequest,
        parameters: Mapping[str, Any] | None,
        trace: CallTrace | None,
    ) -> Reply:
        """Run the post-response hooks; return the reply the runtime goes on with."""
        for ref in self.post:
            url = request.full_url()
            fields = {
                "operation": self.operation.name,
                "parameters": dict(parameters or {}),
                "request": {
                    "method": request.method,
                    "url": self.code.redactor.redact_url(url),
                    "path": urlsplit(url).path,
                    "query": self.code.redactor.redact_data(dict(request.params)),
                },
                "response": response_view(reply),
            }
            outcome = await self.code.run(ref, "post", fields, trace)
            value = outcome.value if isinstance(outcome.value, dict) else {}
            reply = self._changed_reply(ref, value.get("response"), reply)
        return reply

    def _fail(self, ref: CodeRefSpec, message: str) -> ScriptError:
        line, column = self.code.bundle.export_line(ref)
        return ScriptError(
            f"{ref.file}:{line or 1}:{column or 1} ({ref.label}): {message}",
            file=ref.file,
            line=line,
            column=column,
        )

    def _changed_request(
        self, ref: CodeRefSpec, data: Any, original: PreparedRequest
    ) -> PreparedRequest:
        if not isinstance(data, dict):
            raise self._fail(ref, "the hook's result is not a request")
        method = str(data.get("method") or original.method).upper()
        if method not in _METHODS:
            raise self._fail(ref, f"method {method[:20]!r} is not an HTTP method")
        url = data.get("url")
        if not isinstance(url, str) or not url:
            raise self._fail(ref, "url must be text")
        if url != original.url:
            if origin_of(url) not in self.origins:
                raise self._fail(
                    ref,
                    f"the hook sent the request to {origin_of(url) or 'an invalid URL'}, which is "
                    "not the connector's origin; a hook may change the path, or list the origin "
                    "in javascript.allowed_origins",
                )
        else:
            path = data.get("path")
            if isinstance(path, str) and path != urlsplit(original.url).path:
                if not path.startswith("/"):
                    raise self._fail(ref, "path must start with /")
                url = urlunsplit(urlsplit(original.url)._replace(path=path))
        headers = _text_mapping(data.get("headers"))
        if headers is None:
            raise self._fail(ref, "headers must be an object of name: text")
        query = data.get("query")
        if not isinstance(query, dict):
            raise self._fail(ref, "query must be an object of name: value")
        raw = data.get("rawBody")
        if raw is not None and not isinstance(raw, str):
            raise self._fail(ref, "rawBody must be text")
        content = raw.encode() if raw is not None else None
        return PreparedRequest(method, url, query, headers, content)

    def _answer(self, ref: CodeRefSpec, data: Any, request: PreparedRequest) -> Reply:
        if not isinstance(data, dict):
            raise self._fail(ref, "response must be an object {status, headers, body}")
        status = _status(data.get("status"))
        if status is None:
            raise self._fail(ref, "response.status must be a number from 100 to 599")
        headers = _text_mapping(data.get("headers") or {})
        if headers is None:
            raise self._fail(ref, "response.headers must be an object of name: text")
        content, headers = _encode_body(data.get("body"), headers)
        return Reply(status, httpx.Headers(headers), content, request.full_url(), 0.0, attempts=0)

    def _changed_reply(self, ref: CodeRefSpec, data: Any, reply: Reply) -> Reply:
        if not isinstance(data, dict):
            raise self._fail(ref, "the hook's result is not a response")
        status = _status(data.get("status"))
        if status is None:
            raise self._fail(ref, "status must be a number from 100 to 599")
        headers = _text_mapping(data.get("headers"))
        if headers is None:
            raise self._fail(ref, "headers must be an object of name: text")
        content = reply.content
        if data.get("bodyChanged"):
            content, headers = _encode_body(data.get("body"), headers)
        return Reply(
            status, httpx.Headers(headers), content, reply.url, reply.elapsed, reply.attempts
        )

    def _register_written(
        self, before: PreparedRequest, after: PreparedRequest, public: frozenset[str]
    ) -> None:
        written: list[str] = []
        written += [v for k, v in after.headers.items() if before.headers.get(k) != v]
        written += [
            str(v) for k, v in after.params.items() if before.params.get(k) != v and v is not None
        ]
        if after.content != before.content and after.content:
            earlier = set(_leaf_texts(before.content)) if before.content else set()
            written += [text for text in _leaf_texts(after.content) if text not in earlier]
        self.code.redactor.add(*(value for value in written if value not in public))


def request_view(request: PreparedRequest) -> dict[str, Any]:
    """The request as a hook's ``ctx.request`` (a copy: the hook returns its changes)."""
    raw = request.content.decode("utf-8", "replace") if request.content is not None else None
    content_type = _header(request.headers, "content-type")
    return {
        "method": request.method,
        "url": request.url,
        "path": urlsplit(request.url).path,
        "query": dict(request.params),
        "headers": dict(request.headers),
        "body": _decode(raw, content_type),
        "rawBody": raw,
    }


def response_view(reply: Reply) -> dict[str, Any]:
    """The reply as a post-response hook's ``ctx.response``."""
    headers: dict[str, str] = {}
    for name, value in reply.headers.multi_items():
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    text = reply.content.decode(reply.charset, "replace") if reply.content else None
    return {
        "status": reply.status_code,
        "headers": headers,
        "body": _decode(text, reply.content_type),
    }


def _decode(text: str | None, content_type: str) -> Any:
    if text is None or text == "":
        return None
    if content_type.endswith("x-www-form-urlencoded"):
        return dict(parse_qsl(text, keep_blank_values=True))
    if content_type.endswith("json") or text.lstrip()[:1] in ("{", "["):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text


def _encode_body(body: Any, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    if body is None:
        return b"", headers
    if isinstance(body, str):
        return body.encode(), headers
    if not _header(headers, "content-type").endswith("json"):
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        headers["content-type"] = "application/json"
    # The length httpx would have sent is now wrong: the body changed.
    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    return orjson.dumps(body), headers


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value.split(";", 1)[0].strip().lower()
    return ""


def _text_mapping(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            return None
        out[str(key)] = str(item)
    return out


def _status(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        return None
    return int(value) if 100 <= value <= 599 else None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of *url* (the port only when not the default); empty if invalid."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def origins_of(base_url: str, allowed: list[str]) -> frozenset[str]:
    """The origins code may send requests to: the base URL's and the declared ones."""
    return frozenset(o for o in (origin_of(base_url), *(origin_of(a) for a in allowed)) if o)


def _leaf_texts(content: bytes) -> list[str]:
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        return [content.decode("utf-8", "replace")]
    out: list[str] = []
    pending = [data]
    while pending and len(out) < 1000:
        item = pending.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return out
