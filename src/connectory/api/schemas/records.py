"""Request and response bodies of a connection's collections and records."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from connectory.api.schemas.values import JsonParameter, Key, describe_json_object

#: A record's fields, for create and update.
RecordFields = Annotated[
    dict[Key, JsonParameter], Field(max_length=500, description=describe_json_object("fields", 500))
]
#: The fields that identify one record.
MatchFields = Annotated[
    dict[Key, JsonParameter],
    Field(min_length=1, max_length=20, description=describe_json_object("fields", 20)),
]
#: A collection's parameters (e.g. ``project_id``), or filters.
CollectionParameters = Annotated[
    dict[Key, JsonParameter],
    Field(max_length=50, description=describe_json_object("parameters", 50)),
]


class _Request(BaseModel):
    # strict: no coercion the schema does not promise (true is not an integer, "1" not a bool).
    model_config = ConfigDict(extra="forbid", strict=True)


class RecordWrite(_Request):
    """Fields of a record to create, or to change (update is partial)."""

    fields: RecordFields
    parameters: CollectionParameters = Field(default_factory=dict)


class RecordMatch(_Request):
    """Field values that identify one record, e.g. ``{"email": "ada@example.com"}``."""

    fields: MatchFields
    parameters: CollectionParameters = Field(default_factory=dict)


class RecordOut(BaseModel):
    """One record, in the shape every collection shares."""

    id: str
    name: str | None
    fields: dict[str, Any]
    created_at: str | None = Field(description="RFC 3339, UTC.")
    updated_at: str | None = Field(description="RFC 3339, UTC.")
    raw: Any = Field(default=None, description="The item as the API sent it (include_raw).")


class RecordPageOut(BaseModel):
    """One page of records and the cursor of the next (null on the last page)."""

    records: list[RecordOut]
    cursor: str | None


class MatchOut(BaseModel):
    """The record that matched, or null when none did."""

    record: RecordOut | None


class CollectionSummary(BaseModel):
    """A collection of the connection's connector."""

    key: str
    name: str
    description: str | None
    methods: list[str]


class CollectionSpecOut(BaseModel):
    """A collection on one connection: methods, filters, and the merged fields schema."""

    key: str
    name: str
    description: str | None
    parameters: dict[str, Any]
    methods: dict[str, Any]
    fields_schema: dict[str, Any]
    custom_fields: list[str]
    read_only: list[str]
    write_only: list[str]
