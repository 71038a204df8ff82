"""Collections: one consistent way to read and write an API's records.

A collection names a kind of record (``contacts``), describes its fields with a JSON Schema
and says how each uniform method (list, find_by_id, match, search, create, update, delete) is
done against this API::

    collections:
      - key: contacts
        name: Contacts
        fields_schema: {$ref: "#/schemas/Contact"}
        record:
          id: "{{ item.id }}"
          name: "{{ item.first_name }} {{ item.last_name }}"
          updated_at: "{{ item.updated_at }}"
        methods:
          list:
            operation: list_contacts          # an existing operation ...
            filters: [status, updated_since]
            input: {status: "{{ filters.status }}"}
          create:
            request:                          # ... or an inline request
              method: POST
              path: /contacts
              body: "{{ fields }}"

Each method is implemented by exactly one kind, named by its key: ``operation`` (an existing
operation plus ``input`` and ``output`` mappings), ``request`` (an inline request) or ``code``
(a JavaScript method, ``methods/contacts.js#list``: kind ``javascript``). Mappings
are templates in the connector's one template language; a mapping that is exactly one
``{{ expr }}`` yields the expression's JSON value (number, list, object...), not its text.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from connectory.spec.base import SpecModel
from connectory.spec.code import CodeRefSpec
from connectory.spec.fields import InputFieldSpec
from connectory.spec.operations import HttpMethod
from connectory.spec.pagination import PaginationSpec

MethodName = Literal["list", "find_by_id", "match", "search", "create", "update", "delete"]
METHOD_NAMES: tuple[MethodName, ...] = (
    "list",
    "find_by_id",
    "match",
    "search",
    "create",
    "update",
    "delete",
)
#: Methods that change records upstream (an enterprise admin's, never a viewer's).
WRITE_METHODS = frozenset({"create", "update", "delete"})

#: The keys that name a method's implementation kind. Exactly one is written per method;
#: a new kind adds its key here and a module in ``connectory.collections.kinds``.
IMPLEMENTATION_KEYS: tuple[str, ...] = ("operation", "request", "code")
#: The kind each key names (``code:`` is a JavaScript method, as on operations).
KIND_OF_KEY: dict[str, str] = {"operation": "operation", "request": "request", "code": "javascript"}

#: Time filters ``list`` may declare next to field filters.
TIME_FILTERS = ("updated_since", "created_since")

TimeFormat = Literal["iso", "epoch_seconds", "epoch_milliseconds"]

COLLECTION_KEY = re.compile(r"^[a-z][a-z0-9_\-]*$")


class InlineRequestSpec(SpecModel):
    """A request written in the collection itself, for simple REST APIs.

    Every value is a template with the method's variables (``id``, ``fields``, ``filters``,
    ``query``, ``parameters``, ``credentials``...). A query or header value that renders to
    null is not sent.
    """

    method: HttpMethod = "GET"
    path: str = Field(
        min_length=1, description="Path appended to base_url, e.g. /contacts/{{ id }}."
    )
    query: dict[str, Any] = Field(default_factory=dict, description="Query parameters (templates).")
    headers: dict[str, str] = Field(default_factory=dict, description="Headers (templates).")
    body: Any = Field(
        default=None, description="The body: a template, or an object/list of templates."
    )
    content_type: Literal["json", "form"] = "json"
    pagination: PaginationSpec | None = Field(
        default=None, description="How list pages through the results (as for operations)."
    )
    record_selector: str | None = Field(
        default=None, description="Where the records are in a list response, e.g. data."
    )

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class CollectionMethodSpec(SpecModel):
    """How one collection method is done: an implementation kind plus mappings.

    Attributes:
        operation: The operation that does the work (kind ``operation``).
        request: An inline request (kind ``request``).
        code: A JavaScript method (kind ``javascript``): it gets the call's values in
            ``ctx.input`` and returns the record(s), or for ``list`` a page
            ``{records, cursor}``.
        input: The operation's parameters: a mapping of parameter name to template, or one
            template that yields the whole mapping (``"{{ fields }}"``); only for ``operation``.
        output: Where the record (or the records) are in the response, as a template over
            ``response``; by default the operation's ``record_selector``, else the body.
        error: A template over ``response``; when it yields a value that is not empty, the
            call failed with that message (for APIs that answer 200 with an error object).
        parameters: The method's own inputs, merged with the collection's.
        filters: ``list`` and ``search``: the fields (and ``updated_since``/``created_since``)
            a caller may filter on; any other filter is "not supported".
        match_fields: ``match``: the fields a record may be matched by.
    """

    operation: str | None = Field(default=None, description="An operation of this connector.")
    request: InlineRequestSpec | None = None
    code: CodeRefSpec | None = Field(
        default=None,
        description="A JavaScript method, e.g. methods/contacts.js#list: ctx.input holds the "
        "call's values (filters, cursor, id, fields...), it returns the record(s) or, for list, "
        "{records, cursor}.",
    )
    input: Any = Field(default=None, description="Operation parameters (templates).")
    output: str | None = Field(
        default=None, description="Template over response giving the record(s)."
    )
    error: str | None = Field(
        default=None, description="Template over response; non-empty means the call failed."
    )
    parameters: dict[str, InputFieldSpec] = Field(default_factory=dict)
    filters: list[str] = Field(default_factory=list)
    match_fields: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        if isinstance(data, dict):
            kinds = [key for key in IMPLEMENTATION_KEYS if data.get(key) is not None]
            if len(kinds) != 1:
                written = " and ".join(kinds)
                found = f"it has {written}" if kinds else "it has none"
                raise ValueError(
                    "a collection method needs exactly one implementation: operation: <name>, "
                    "request: {method, path, ...} or code: methods/<file>.js#<export>; "
                    f"{found}"
                )
        return data

    @property
    def kind_key(self) -> str:
        """The key that names the implementation: ``operation``, ``request`` or ``code``."""
        return next(key for key in IMPLEMENTATION_KEYS if getattr(self, key) is not None)

    @property
    def kind(self) -> str:
        """The implementation kind: ``operation``, ``request`` or ``javascript``."""
        return KIND_OF_KEY[self.kind_key]


class CollectionMethodsSpec(SpecModel):
    """The methods a collection supports; a method the API cannot do is left out."""

    list: CollectionMethodSpec | None = None
    find_by_id: CollectionMethodSpec | None = None
    match: CollectionMethodSpec | None = None
    search: CollectionMethodSpec | None = None
    create: CollectionMethodSpec | None = None
    update: CollectionMethodSpec | None = None
    delete: CollectionMethodSpec | None = None

    def defined(self) -> dict[str, CollectionMethodSpec]:
        """The methods that are defined, by name, in the canonical order."""
        found = {name: getattr(self, name) for name in METHOD_NAMES}
        return {name: method for name, method in found.items() if method is not None}


class RecordMappingSpec(SpecModel):
    """Where a record's parts come from; templates over ``item`` (one raw API record)."""

    id: str = Field(default="{{ item.id }}", description="The record id (always a string).")
    name: str | None = Field(default=None, description="A display name, e.g. {{ item.title }}.")
    fields: Any = Field(
        default=None,
        description="The record's fields: a mapping of field to template, or one template; "
        "by default the raw item as it is.",
    )
    created_at: str | None = Field(default=None, description="When the record was created.")
    updated_at: str | None = Field(default=None, description="When it was last updated.")
    time_format: TimeFormat = Field(
        default="iso",
        description="How the API writes created_at/updated_at: iso, epoch_seconds or "
        "epoch_milliseconds; records always carry RFC 3339 UTC.",
    )


class CustomFieldsSpec(CollectionMethodSpec):
    """A method that returns extra field schemas for one connection (per-account fields).

    Its records (one per custom field) become properties of the fields schema: ``key`` names
    the field, ``schema`` is its JSON Schema; both templates over ``item``.
    """

    key: str = Field(default="{{ item.key }}", description="The field name.")
    schema_: str | dict[str, Any] = Field(
        # A mapping of plain look-ups: checking it at load time needs no Jinja2.
        default_factory=lambda: {"type": "{{ item.type }}"},
        alias="schema",
        description="The field's JSON Schema: a mapping, or one template yielding it.",
    )


class CollectionSpec(SpecModel):
    """A kind of record, its fields schema, and how each uniform method is done."""

    key: str = Field(min_length=1, description="Identifier, e.g. contacts.")
    name: str | None = Field(default=None, description="Display name, e.g. Contacts.")
    description: str | None = None
    parameters: dict[str, InputFieldSpec] = Field(
        default_factory=dict,
        description="Inputs that select a subset (e.g. a project id), given to every method.",
    )
    fields_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"},
        description="JSON Schema of a record's fields (readOnly/writeOnly per field); may be "
        "a $ref to a shared schema.",
    )
    record: RecordMappingSpec = Field(default_factory=RecordMappingSpec)
    custom_fields: CustomFieldsSpec | None = None
    error: str | None = Field(
        default=None, description="Default error template for every method (see methods)."
    )
    methods: CollectionMethodsSpec = Field(default_factory=CollectionMethodsSpec)

    @property
    def title(self) -> str:
        """The display name, or a readable form of the key."""
        return self.name or self.key.replace("_", " ").replace("-", " ").capitalize()

    def code_refs(self) -> list[tuple[tuple[str, ...], CodeRefSpec]]:
        """The JavaScript methods of this collection, with their paths in it."""
        refs: list[tuple[tuple[str, ...], CodeRefSpec]] = [
            (("methods", name, "code"), method.code)
            for name, method in self.methods.defined().items()
            if method.code is not None
        ]
        if self.custom_fields is not None and self.custom_fields.code is not None:
            refs.append((("custom_fields", "code"), self.custom_fields.code))
        return refs

    def method(self, name: str) -> CollectionMethodSpec | None:
        """Return the method called *name*, or None when the collection does not have it."""
        if name not in METHOD_NAMES:
            return None
        found: CollectionMethodSpec | None = getattr(self.methods, name)
        return found
