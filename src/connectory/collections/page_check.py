"""Every page of a listing checked against the collection's fields schema.

A record's ``fields`` promise to fit the fields schema, so a listing checks each page before
handing out its records: one compiled call per page (see
:meth:`~connectory.collections.fields.FieldsSchema.check_read_batch`), and only for a page
that fails, a look at its records one by one, so the error names the page, the record and
the field. A client created with ``response_validation="off"`` skips the check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectory.collections.fields import FieldsSchema
from connectory.collections.records import Record
from connectory.errors import ConnectoryError, ResponseSchemaError
from connectory.http.redaction import Redactor

#: Records of a failing page described in the error, at most.
_SHOWN = 3


class PageCheck:
    """Checks listing pages of one collection.

    Args:
        label: ``contacts.list``, for messages.
        fields: The collection's fields schema on this connection.
        items_are_fields: The record mapping takes each raw item as the fields (so a page's
            items are checked as they are, without making records first).
        redactor: The connection's redactor (messages quote values).
    """

    def __init__(
        self, label: str, fields: FieldsSchema, items_are_fields: bool, redactor: Redactor
    ) -> None:
        self.label = label
        self.fields = fields
        self.items_are_fields = items_are_fields
        self._redactor = redactor

    def check_items(self, number: int, items: list[Any], make: Callable[[Any], Record]) -> None:
        """Check a page of raw items whose fields are the items themselves.

        Raises:
            ResponseSchemaError: a record does not fit the fields schema.
        """
        if not self.fields.check_read_batch(items):
            entries: list[tuple[int, Record | None, Any]] = [
                (index, None, item if isinstance(item, dict) else {"value": item})
                for index, item in enumerate(items)
            ]
            self._explain(number, entries, make)

    def check_records(self, number: int, records: list[Record]) -> None:
        """Check a page of records made already.

        Raises:
            ResponseSchemaError: a record does not fit the fields schema.
        """
        if not self.fields.check_read_batch([record[2] for record in records]):
            self._explain(number, [(i, r, r[2]) for i, r in enumerate(records)], None)

    def _explain(
        self,
        number: int,
        entries: list[tuple[int, Record | None, Any]],
        make: Callable[[Any], Record] | None,
    ) -> None:
        mismatches: list[tuple[str, str]] = []
        described: list[str] = []
        for index, record, fields in entries:
            issues = self.fields.read_issues(fields)
            if not issues:
                continue  # the quick check is stricter on formats; jsonschema's verdict stands
            where = f"page {number}, record {index + 1}{_id_of(record, fields, make)}"
            for name, message in issues:
                mismatches.append((f"{where}, field '{name}'", self._redactor.redact(message)))
            described.append(f"{where}: {self._redactor.redact(issues[0][1])}")
            if len(described) >= _SHOWN:
                break
        if not described:
            return
        raise ResponseSchemaError(
            f"{self.label}: the API's records do not fit the collection's fields_schema: "
            f"{'; '.join(described)}. Make fields_schema describe what the API sends (e.g. "
            "type: [string, 'null'] for a field that may be null) or map the fields with "
            "record.fields",
            mismatches,
        )


def _id_of(record: Record | None, fields: Any, make: Callable[[Any], Record] | None) -> str:
    try:
        if record is None and make is not None:
            record = make(fields)
    except ConnectoryError:  # no usable id: the page and record number still say where
        return ""
    return f" (id {record[0]})" if record is not None else ""
