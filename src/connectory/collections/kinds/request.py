"""Kind ``request``: an inline request written in the collection, for simple REST APIs.

The request's path, query, headers and body are mappings over the call's variables. Values
placed in the path are percent-encoded whole (an id of ``../admin`` cannot change which
resource is addressed); a query parameter or header whose mapping yields null is not sent.
The request goes through the same client as operations: auth, resilience, the egress guard,
pagination (``request.pagination``) and ``record_selector``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from connectory.collections.kinds.base import ClientRunner, RunnerContext
from connectory.errors import TemplateError
from connectory.http.request import PreparedRequest, query_pairs, text_value
from connectory.mappings import CompiledMapping, compile_mapping, mapping_references
from connectory.runtime.records import Selector
from connectory.runtime.request import OperationPlan
from connectory.runtime.schema_validation import schema_registry_for
from connectory.spec.collections import CollectionMethodSpec, InlineRequestSpec
from connectory.spec.operations import OperationSpec

_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.DOTALL)


class InlineRequestPlan(OperationPlan):
    """An :class:`OperationPlan` whose request is built from the collection's mappings."""

    def __init__(self, label: str, spec: InlineRequestSpec, base_url: str, registry: Any) -> None:
        operation = OperationSpec(
            name=label,
            method=spec.method,
            path=spec.path,
            # Declared so the client knows which headers may carry secrets (redaction).
            headers=spec.headers,
            pagination=spec.pagination,
            record_selector=spec.record_selector,
        )
        super().__init__(operation, base_url, registry)
        self.spec = spec
        self._path_parts = _compile_path(spec.path)
        self._query = {name: compile_mapping(value) for name, value in spec.query.items()}
        self._headers_map = {name: compile_mapping(value) for name, value in spec.headers.items()}
        self._body = compile_mapping(spec.body) if spec.body is not None else None

    def prepare(
        self,
        given: Mapping[str, Any],
        variables: Mapping[str, Any],
        base_headers: Mapping[str, str],
    ) -> tuple[PreparedRequest, dict[str, Any]]:
        """Build the request from the call's variables (*given*) and the connection's."""
        scope = {**variables, **given}
        path = "".join(
            part if isinstance(part, str) else _path_value(part.evaluate(scope))
            for part in self._path_parts
        )
        if not path.startswith("/"):
            path = "/" + path
        query: dict[str, Any] = {}
        for name, mapping in self._query.items():
            value = mapping.evaluate(scope)
            if value is not None:
                query[name] = value
        headers = dict(base_headers)
        for name, mapping in self._headers_map.items():
            value = mapping.evaluate(scope)
            if value is not None:
                headers[name] = text_value(value)
        content: bytes | None = None
        if self._body is not None:
            body = self._body.evaluate(scope)
            if self.spec.content_type == "form":
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
                pairs = query_pairs(body) if isinstance(body, dict) else []
                content = urlencode(pairs).encode()
            else:
                headers.setdefault("Content-Type", "application/json")
                content = orjson.dumps(body)
        request = PreparedRequest(self.spec.method, self.base_url + path, query, headers, content)
        return request, dict(given)


def _compile_path(path: str) -> list[str | CompiledMapping]:
    parts: list[str | CompiledMapping] = []
    position = 0
    for match in _EXPRESSION.finditer(path):
        if match.start() > position:
            parts.append(path[position : match.start()])
        parts.append(compile_mapping(match.group(0)))
        position = match.end()
    if position < len(path):
        parts.append(path[position:])
    return parts


def _path_value(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        raise TemplateError(
            "a value placed in the request path is missing or not a single value; check the "
            "method's request.path"
        )
    text = text_value(value)
    # The same rule as operation paths: "/" and dot segments cannot move the request.
    if text in (".", ".."):
        return text.replace(".", "%2E")
    return quote(text, safe="")


class InlineRequestRunner(ClientRunner):
    """Runs a method through its inline request."""

    def __init__(self, method: CollectionMethodSpec, context: RunnerContext) -> None:
        super().__init__(method, context)
        assert method.request is not None  # the kind says so
        client = context.client
        self.plan = InlineRequestPlan(
            f"{context.collection.key}.{context.method_name}",
            method.request,
            client.base_url,
            schema_registry_for(client.spec),
        )
        self._selector = (
            Selector.parse(method.request.record_selector)
            if method.request.record_selector
            else None
        )

    @property
    def record_selector(self) -> Selector | None:
        """The inline request's record selector."""
        return self._selector

    def reads(self, name: str) -> bool:
        """True when any of the request's mappings reads *name*."""
        request = self.method.request
        assert request is not None
        sources: list[Any] = [request.path, request.query, request.headers, request.body]
        return any(
            reference.split(".")[0] == name
            for source in sources
            for _, reference in mapping_references(source)
        )

    def target(self, variables: Mapping[str, Any]) -> tuple[str | OperationPlan, dict[str, Any]]:
        """The inline plan; the call's variables are its parameters."""
        return self.plan, dict(variables)
