"""The one record shape, and turning an API's raw items into it.

Every collection hands out the same shape, whatever the API's own::

    {"id": "42", "name": "Ada Lovelace", "fields": {...},
     "created_at": "2024-05-01T09:30:00Z", "updated_at": "2024-05-02T10:00:00Z"}

plus ``raw`` (the item as the API sent it) when asked for. ``id`` is always a string; times
are RFC 3339 in UTC, converted from the format the collection declares (ISO 8601, epoch
seconds, epoch milliseconds).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectory.errors import ResponseError
from connectory.mappings import CompiledMapping, compile_mapping
from connectory.spec.collections import RecordMappingSpec, TimeFormat


class Record(tuple[str, str | None, dict[str, Any], str | None, str | None, Any]):
    """One record of a collection (immutable).

    Attributes:
        id: The record's id, always a string.
        name: A display name, when the collection says where it comes from.
        fields: The record's fields, shaped by the collection's fields schema.
        created_at: RFC 3339 UTC, when known.
        updated_at: RFC 3339 UTC, when known.
        raw: The item as the API sent it (only when asked for).

    A tuple underneath: listings make one per record, and a tuple is made in C, where a
    class with an ``__init__`` would cost more than the rest of the listing's work per record.
    """

    __slots__ = ()

    def __new__(
        cls,
        id: str,
        name: str | None,
        fields: dict[str, Any],
        created_at: str | None = None,
        updated_at: str | None = None,
        raw: Any = None,
    ) -> Record:
        """Make a record (listings use a faster path; see :meth:`RecordMapper.record_maker`)."""
        return tuple.__new__(cls, (id, name, fields, created_at, updated_at, raw))

    @property
    def id(self) -> str:
        """The record's id, always a string."""
        return self[0]

    @property
    def name(self) -> str | None:
        """A display name, when known."""
        return self[1]

    @property
    def fields(self) -> dict[str, Any]:
        """The record's fields."""
        return self[2]

    @property
    def created_at(self) -> str | None:
        """When the record was created (RFC 3339 UTC), when known."""
        return self[3]

    @property
    def updated_at(self) -> str | None:
        """When the record was last updated (RFC 3339 UTC), when known."""
        return self[4]

    @property
    def raw(self) -> Any:
        """The item as the API sent it (only when asked for)."""
        return self[5]

    def to_dict(self, *, include_raw: bool = False) -> dict[str, Any]:
        """The record as JSON data (the API, the CLI and the UI use this shape)."""
        data: dict[str, Any] = {
            "id": self[0],
            "name": self[1],
            "fields": self[2],
            "created_at": self[3],
            "updated_at": self[4],
        }
        if include_raw:
            data["raw"] = self[5]
        return data

    def __repr__(self) -> str:
        return (
            f"Record(id={self[0]!r}, name={self[1]!r}, fields={self[2]!r}, "
            f"created_at={self[3]!r}, updated_at={self[4]!r})"
        )


_new_record = tuple.__new__


_SIMPLE_ID = re.compile(r"^\{\{\s*item\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")


class RecordMapper:
    """A collection's ``record`` mapping, compiled once: raw item in, :class:`Record` out."""

    def __init__(self, spec: RecordMappingSpec, hidden_fields: frozenset[str] = frozenset()):
        self._id = compile_mapping(spec.id)
        self._name = compile_mapping(spec.name) if spec.name is not None else None
        self._fields: CompiledMapping | None = (
            compile_mapping(spec.fields) if spec.fields is not None else None
        )
        self._created = compile_mapping(spec.created_at) if spec.created_at else None
        self._updated = compile_mapping(spec.updated_at) if spec.updated_at else None
        self._time_format: TimeFormat = spec.time_format
        self._id_source = spec.id
        # writeOnly fields (passwords...) never come back in a record.
        self._hidden = hidden_fields
        # The common shape (the item is the fields, the id one of its keys, nothing else
        # mapped) skips the general path: a listing maps every record through here.
        simple = (
            spec.fields is None
            and spec.name is None
            and spec.created_at is None
            and spec.updated_at is None
            and not hidden_fields
        )
        key = _SIMPLE_ID.match(spec.id)
        self._simple_id: str | None = key.group(1) if simple and key else None
        #: A record's fields are its raw item itself (no fields mapping, nothing hidden).
        self.items_are_fields = spec.fields is None and not hidden_fields

    def record_maker(
        self, extra: Mapping[str, Any], include_raw: bool = False
    ) -> Callable[[Any], Record]:
        """Return a function mapping one raw item (see :meth:`to_record`), made for speed.

        A listing calls it once per record, as each record is handed out: the record is
        garbage before the next one is made, so a long listing creates no work for Python's
        cycle collector (a page of records built up front does).
        """
        key = self._simple_id
        to_record = self.to_record
        if key is None:
            return lambda item: to_record(item, extra, include_raw=include_raw)

        def make(item: Any) -> Record:
            identifier = item.get(key) if type(item) is dict else None
            if type(identifier) is int:
                identifier = str(identifier)
            elif type(identifier) is not str or not identifier:
                # Missing, empty, an object...: the general path explains the problem.
                return to_record(item, extra, include_raw=include_raw)
            return _new_record(
                Record, (identifier, None, item, None, None, item if include_raw else None)
            )

        return make

    def map_items(
        self, items: list[Any], extra: Mapping[str, Any], include_raw: bool = False
    ) -> list[Record]:
        """Map a page of raw items (see :meth:`to_record`)."""
        make = self.record_maker(extra, include_raw)
        return [make(item) for item in items]

    def to_record(
        self, item: Any, extra: Mapping[str, Any] | None = None, *, include_raw: bool = False
    ) -> Record:
        """Map one raw item.

        Args:
            item: The raw item.
            extra: More template variables (``parameters``...).
            include_raw: Keep the raw item on the record.

        Raises:
            ResponseError: the item has no id, or a time that is not in the declared format.
        """
        variables: dict[str, Any] = {"item": item}
        if extra:
            variables.update(extra)
        if self._fields is None:
            fields = item if isinstance(item, dict) else {"value": item}
        else:
            mapped = self._fields.evaluate(variables)
            fields = mapped if isinstance(mapped, dict) else {"value": mapped}
        if self._hidden:
            fields = {key: value for key, value in fields.items() if key not in self._hidden}
        variables["fields"] = fields
        identifier = self._id.evaluate(variables)
        if identifier is None or identifier == "" or isinstance(identifier, dict | list):
            raise ResponseError(
                f"a record from the API has no id: record.id ({self._id_source}) gives "
                f"{'nothing' if identifier in (None, '') else 'an object'}; point record.id at "
                "the item's identifier"
            )
        name = self._name.evaluate(variables) if self._name is not None else None
        created = self._created.evaluate(variables) if self._created is not None else None
        updated = self._updated.evaluate(variables) if self._updated is not None else None
        return Record(
            id=identifier if isinstance(identifier, str) else _id_text(identifier),
            name=_name_text(name),
            fields=fields,
            created_at=None if created is None else to_rfc3339(created, self._time_format),
            updated_at=None if updated is None else to_rfc3339(updated, self._time_format),
            raw=item if include_raw else None,
        )


def _name_text(value: Any) -> str | None:
    # "{{ item.first }} {{ item.last }}" with a part missing should not leave stray spaces.
    text = None if value is None else str(value).strip()
    return text or None


def _id_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_rfc3339(value: Any, time_format: TimeFormat) -> str | None:
    """Return *value* as RFC 3339 UTC (``2024-05-01T09:30:00Z``), or None when it is empty.

    Args:
        value: The time as the API wrote it.
        time_format: ``iso`` (ISO 8601 text; a time without offset is UTC), ``epoch_seconds``
            or ``epoch_milliseconds`` (numbers, or numbers as text).

    Raises:
        ResponseError: the value is not a time in that format.
    """
    if value is None or value == "":
        return None
    try:
        if time_format == "iso":
            if not isinstance(value, str):
                raise ValueError
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        else:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if time_format == "epoch_milliseconds":
                number /= 1000
            moment = datetime.fromtimestamp(number, UTC)
    except (ValueError, TypeError, OverflowError, OSError):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ResponseError(
            f"the time {shown} is not {_FORMAT_WORDS[time_format]}; set record.time_format to "
            "the format the API uses (iso, epoch_seconds, epoch_milliseconds)"
        ) from None
    return format_utc(moment)


def format_utc(moment: datetime) -> str:
    """Format a datetime as RFC 3339 UTC; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_time_filter(name: str, value: Any) -> str:
    """Return a time filter value (``updated_since``...) as RFC 3339 UTC.

    Raises:
        InputError: the value is not a datetime or an ISO 8601 time.
    """
    from connectory.errors import InputError

    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, str):
        try:
            return format_utc(datetime.fromisoformat(value.strip().replace("z", "Z")))
        except ValueError:
            pass
    raise InputError(
        f"filter '{name}' must be a time in ISO 8601 / RFC 3339, e.g. 2024-05-01T00:00:00Z",
        parameter=name,
    )


_FORMAT_WORDS = {
    "iso": "an ISO 8601 time",
    "epoch_seconds": "a number of seconds since 1970",
    "epoch_milliseconds": "a number of milliseconds since 1970",
}
