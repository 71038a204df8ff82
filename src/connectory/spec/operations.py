"""Operations: one API call each, with typed parameters, schemas, pagination and a record selector.

The seed's operation loads as written (``operation:`` names it; ``name:`` is accepted too)::

    operation: get_current_weather
    method: GET
    path: /data/2.5/weather
    parameters:
      - name: q
        location: query
        type: string
        required: true
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from connectory.spec.base import HeaderMap, SpecModel
from connectory.spec.code import CodeRefSpec, HooksSpec
from connectory.spec.pagination import PaginationSpec
from connectory.spec.resilience import ResilienceOverrideSpec

Implementation = Literal["http", "javascript"]
HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ParameterLocation = Literal["query", "path", "header", "body"]
ParameterStyle = Literal["form", "spaceDelimited", "pipeDelimited", "deepObject"]
ParameterType = Literal["string", "number", "integer", "boolean", "array", "object"]

#: ``{name}`` placeholders in a path, as in OpenAPI; ``{{ ... }}`` is template syntax, not a
#: placeholder, hence the look-arounds.
PATH_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_.\-]*)\}(?!\})")

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_SAFE_METHODS = frozenset({"GET", "HEAD"})


class ParameterSpec(SpecModel):
    """One input of an operation and where it goes in the request."""

    name: str = Field(min_length=1, description="The name the API expects.")
    location: ParameterLocation = Field(default="query", description="query, path, header or body.")
    type: ParameterType = Field(default="string", description="string, number, integer, boolean.")
    required: bool = Field(default=False, description="Whether the caller must provide it.")
    default: Any = Field(default=None, description="Used when the caller omits the parameter.")
    enum: list[Any] | None = Field(default=None, description="The only values allowed.")
    example: Any = Field(
        default=None,
        description="A sample value (never sent on its own): the builder's forms show it, and "
        "its 'Test every operation' sends it for a required parameter without a default.",
    )
    description: str | None = None
    items: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the items of an array parameter."
    )
    style: ParameterStyle | None = Field(
        default=None,
        description="How a query or form-body value is serialised, as OpenAPI says: form, "
        "spaceDelimited, pipeDelimited or deepObject. Unset: arrays repeat the name, objects "
        "are sent as JSON text.",
    )
    explode: bool | None = Field(
        default=None,
        description="OpenAPI's explode for style (default: true for form and deepObject); "
        "style form with explode false sends arrays comma-separated.",
    )


class RequestBodySpec(SpecModel):
    """How body parameters are sent, and the JSON Schema the body must match."""

    content_type: Literal["json", "form"] = Field(
        default="json", description="json (application/json) or form (x-www-form-urlencoded)."
    )
    schema_: dict[str, Any] | None = Field(
        default=None, alias="schema", description="JSON Schema of the whole body."
    )

    @field_validator("content_type", mode="before")
    @classmethod
    def _short_content_type(cls, value: Any) -> Any:
        aliases = {
            "application/json": "json",
            "application/x-www-form-urlencoded": "form",
        }
        return aliases.get(value, value) if isinstance(value, str) else value


class OperationSpec(SpecModel):
    """One API operation: a method and path, its inputs, and what comes back."""

    name: str = Field(
        validation_alias=AliasChoices("name", "operation"),
        min_length=1,
        description="Identifier used to call the operation, e.g. get_current_weather.",
    )
    display_name: str | None = None
    description: str | None = None
    implementation: Implementation = Field(
        default="http",
        description="http (a request built from method and path) or javascript (a method in "
        "code, which may call the API through ctx.apiClient).",
    )
    code: CodeRefSpec | None = Field(
        default=None, description="The JavaScript method of an implementation: javascript one."
    )
    method: HttpMethod = "GET"
    path: str = Field(
        default="",
        description="Path appended to base_url; {name} placeholders are filled. Required for "
        "implementation: http.",
    )
    parameters: list[ParameterSpec] = Field(default_factory=list)
    headers: HeaderMap = Field(
        default_factory=dict, description="Extra headers (templates) for this operation."
    )
    request_body: RequestBodySpec | None = None
    response_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the response body."
    )
    record_selector: str | None = Field(
        default=None, description="Where the records are in the response, e.g. data.items."
    )
    pagination: PaginationSpec | None = None
    idempotent: bool | None = Field(
        default=None,
        description="Safe to retry after the request was sent. Defaults to true for GET, HEAD, "
        "OPTIONS, PUT, DELETE.",
    )
    safe: bool | None = Field(
        default=None,
        description="Reads only, changes nothing upstream: viewers may run it. Defaults to "
        "true for GET and HEAD; mark a read done by POST (a search) safe: true.",
    )
    resilience: ResilienceOverrideSpec | None = None
    hooks: HooksSpec | None = Field(
        default=None, description="Hooks of this operation, run after the connector's own."
    )
    tags: list[str] = Field(default_factory=list)

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def title(self) -> str:
        """The display name, or a readable form of the operation name."""
        return self.display_name or self.name.replace("_", " ").capitalize()

    @property
    def is_javascript(self) -> bool:
        """Whether a JavaScript method implements the operation."""
        return self.implementation == "javascript"

    @property
    def is_idempotent(self) -> bool:
        """Whether a retry after the request was sent is safe."""
        if self.idempotent is not None:
            return self.idempotent
        return self.method in _IDEMPOTENT_METHODS

    @property
    def is_safe(self) -> bool:
        """Whether the operation only reads (viewers may run it)."""
        if self.safe is not None:
            return self.safe
        return self.method in _SAFE_METHODS

    def path_placeholders(self) -> list[str]:
        """Return the ``{name}`` placeholders of the path, in order."""
        return PATH_PLACEHOLDER.findall(self.path)

    def parameter(self, name: str) -> ParameterSpec | None:
        """Return the parameter called *name*, or None."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        return None
