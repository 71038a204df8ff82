"""Turning an operation and its parameters into a request, with templates compiled once."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson

from connectory.errors import InputError, TemplateError
from connectory.http.request import PreparedRequest, query_pairs, text_value
from connectory.runtime.inputs import resolve_parameters
from connectory.runtime.records import Selector
from connectory.runtime.response import ResponseChecker, json_path
from connectory.runtime.schema_validation import SchemaRegistry, build_validator
from connectory.runtime.styles import add_pairs, style_pairs
from connectory.spec.operations import PATH_PLACEHOLDER, OperationSpec
from connectory.templating import Template, compile_template

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

_JSON = "application/json"
#: The scope of an operation whose request renders no template (never read).
_NO_SCOPE: Mapping[str, Any] = MappingProxyType({})
_FORM = "application/x-www-form-urlencoded"


class OperationPlan:
    """Everything about one operation that can be worked out before the first call.

    Templates, the record selector and the schema validators are compiled once per client, so
    a call only renders what really varies.
    """

    def __init__(
        self, operation: OperationSpec, base_url: str, registry: SchemaRegistry | None = None
    ) -> None:
        self.operation = operation
        self._registry = registry
        self.base_url = base_url.rstrip("/")
        self._placeholders = operation.path_placeholders()
        self._parameter_names = frozenset(parameter.name for parameter in operation.parameters)
        path = operation.path if operation.path.startswith("/") else "/" + operation.path
        self._path = path
        template = compile_template(path)
        self._path_template: Template | None = None if template.is_constant else template
        # A constant path is split once into its literal pieces and placeholder names
        # (``["/items/", "id", ""]``): a call joins them instead of running a regex over it.
        self._path_pieces: tuple[tuple[str, str], ...] = ()
        self._path_tail = path
        if self._path_template is None and self._placeholders:
            split = PATH_PLACEHOLDER.split(path)
            self._path_pieces = tuple(zip(split[0:-1:2], split[1::2], strict=True))
            self._path_tail = split[-1]
        self._headers = {name: compile_template(v) for name, v in operation.headers.items()}
        self.record_selector = (
            Selector.parse(operation.record_selector) if operation.record_selector else None
        )
        self.response_checker = (
            ResponseChecker(operation.response_schema, registry)
            if operation.response_schema
            else None
        )
        body = operation.request_body
        self._body_schema = body.schema_ if body is not None else None
        self._body_validator: Validator | None = None  # built on the first body it checks
        self._form = body is not None and body.content_type == "form"
        self._body_styles = {
            p.name: p for p in operation.parameters if p.location == "body" and p.style
        }

    def check_parameters(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Validate *given* against the operation's parameters; return them with defaults.

        Raises:
            InputError: invalid parameters.
        """
        return resolve_parameters(self.operation, given, known=self._parameter_names)

    def prepare(
        self,
        given: Mapping[str, Any],
        variables: Mapping[str, Any],
        base_headers: Mapping[str, str],
    ) -> tuple[PreparedRequest, dict[str, Any]]:
        """Validate *given*, then build the request.

        Args:
            given: Parameters from the caller.
            variables: Template variables (credentials, connector_parameters, config).
            base_headers: Connector-level headers, already rendered.

        Returns:
            The request and the resolved parameters (defaults applied).

        Raises:
            InputError: invalid parameters or body.
            TemplateError: a template cannot be rendered.
        """
        parameters = resolve_parameters(self.operation, given, known=self._parameter_names)
        # The template scope is only built for templates that read it (headers, a templated
        # path); a plain operation's request needs none.
        scope: Mapping[str, Any] = (
            {**variables, "parameters": parameters}
            if self._headers or self._path_template is not None
            else _NO_SCOPE
        )
        headers = dict(base_headers)
        for name, template in self._headers.items():
            headers[name] = template.render(scope)
        query: dict[str, Any] = {}
        body: dict[str, Any] = {}
        path_values: dict[str, Any] = {}
        for spec in self.operation.parameters:
            if spec.name not in parameters:
                continue
            value = parameters[spec.name]
            if spec.location == "query" and spec.style is not None:
                add_pairs(query, style_pairs(spec.name, value, spec.style, spec.explode))
            elif spec.location == "query":
                query[spec.name] = value
            elif spec.location == "header":
                headers[spec.name] = text_value(value)
            elif spec.location == "body":
                body[spec.name] = value
            else:
                path_values[spec.name] = value
        url = self.base_url + self._render_path(path_values, scope)
        content: bytes | None = None
        if body or self.operation.request_body is not None:
            content = self._encode_body(body, headers)
        return PreparedRequest(self.operation.method, url, query, headers, content), parameters

    def _render_path(self, values: Mapping[str, Any], scope: Mapping[str, Any]) -> str:
        if self._path_pieces:
            return (
                "".join(literal + _path_value(name, values) for literal, name in self._path_pieces)
                + self._path_tail
            )
        path = self._path
        if self._path_template is not None:
            path = self._path_template.render(scope)
        if not self._placeholders:
            return path
        return PATH_PLACEHOLDER.sub(lambda match: _path_value(match.group(1), values), path)

    def _encode_body(self, body: dict[str, Any], headers: dict[str, str]) -> bytes:
        if self._body_schema is not None:
            if self._body_validator is None:
                self._body_validator = build_validator(self._body_schema, self._registry)
            for error in self._body_validator.iter_errors(body):
                where = json_path(error.absolute_path)
                raise InputError(
                    f"the request body does not match its schema at {where}: "
                    f"{_short(error.message)}"
                )
        if self._form:
            headers.setdefault("Content-Type", _FORM)
            pairs: list[tuple[str, str]] = []
            for name, value in body.items():
                spec = self._body_styles.get(name)
                if spec is not None and spec.style is not None:
                    pairs += style_pairs(name, value, spec.style, spec.explode)
                else:
                    pairs += query_pairs({name: value})
            return urlencode(pairs).encode()
        headers.setdefault("Content-Type", _JSON)
        return orjson.dumps(body)


def _path_value(name: str, values: Mapping[str, Any]) -> str:
    """The text that replaces placeholder ``{name}`` in a path, percent-encoded.

    Raises:
        TemplateError: *values* has no value for *name*.
    """
    if name not in values:
        raise TemplateError(f"path placeholder {{{name}}} has no value")
    value = values[name]
    text = ",".join(text_value(v) for v in value) if isinstance(value, list) else text_value(value)
    if text.isascii() and text.isalnum():
        return text  # what quote() would return: letters and digits are never encoded
    # safe="" so a "/" in an id cannot change which resource is addressed; nor can an
    # id of "." or "..", which URL normalisation would otherwise resolve away.
    if text in (".", ".."):
        return text.replace(".", "%2E")
    return quote(text, safe="")


def _short(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."
