"""A collection's fields schema: what a record holds, and checking writes before they are sent.

The schema may be a ``$ref`` to a shared schema, and per-connection custom fields may add
properties. Writes are checked here, before anything goes upstream: read-only fields are
refused, a create needs every required field, every value must have its declared type (and
any other constraint of the schema, checked by jsonschema with the connector's shared schemas).

Reads are checked too: every page of a listing must hold records whose fields fit the schema
(write-only fields aside, since records never carry them). That check runs once per page in
``jsonschema_rs`` (compiled; a fraction of a microsecond per record), and only a page it
rejects goes to jsonschema, for the messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from connectory.errors import RecordInvalid
from connectory.runtime.schema_validation import SchemaRegistry
from connectory.spec.shared_schemas import bundle_schema, iter_refs, resolve_shared

WriteMode = Literal["create", "update"]

_MAX_ISSUES = 20


class FieldsSchema:
    """The fields schema of one collection on one connection (custom fields merged in)."""

    def __init__(
        self,
        schema: Mapping[str, Any],
        shared: Mapping[str, Any],
        registry: SchemaRegistry,
        custom: Mapping[str, Any] | None = None,
    ) -> None:
        resolved = resolve_shared(schema, shared)
        base: dict[str, Any] = (
            dict(resolved) if isinstance(resolved, Mapping) else {"type": "object"}
        )
        properties = dict(base.get("properties") or {})
        for name, extra in (custom or {}).items():
            properties.setdefault(name, extra)  # a declared field wins over a custom one
        if custom:
            base["properties"] = properties
        self._schema = base
        self._shared = shared
        self._registry = registry
        self.properties: dict[str, Any] = {
            name: resolve_shared(value, shared) or {} for name, value in properties.items()
        }
        required = base.get("required")
        self.required: list[str] = (
            [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        )
        self.read_only = frozenset(
            name
            for name, p in self.properties.items()
            if isinstance(p, Mapping) and p.get("readOnly")
        )
        self.write_only = frozenset(
            name
            for name, p in self.properties.items()
            if isinstance(p, Mapping) and p.get("writeOnly")
        )
        self._validators: dict[str, Any] = {}
        self._read_check: Callable[[Any], bool] | None = None

    def _flagged(self, keyword: str) -> frozenset[str]:
        return frozenset(
            name
            for name, schema in self.properties.items()
            if isinstance(schema, Mapping) and schema.get(keyword) is True
        )

    def public(self) -> dict[str, Any]:
        """The schema made self-contained (shared schemas under ``$defs``), for forms and docs."""
        bundled = bundle_schema(self._schema, self._shared)
        return dict(bundled) if isinstance(bundled, Mapping) else {"type": "object"}

    def check_write(self, fields: Any, mode: WriteMode) -> dict[str, Any]:
        """Return *fields* when a create or update may send them.

        Raises:
            RecordInvalid: every problem found (read-only fields, missing required fields on
                create, wrong types or values), each naming its field.
        """
        if not isinstance(fields, Mapping):
            raise RecordInvalid(
                "fields must be an object of field names to values", [("$", "not an object")]
            )
        issues: list[tuple[str, str]] = []
        for name in fields:
            if name in self.read_only:
                issues.append((name, f"field '{name}' is read-only; remove it from the {mode}"))
        if mode == "create":
            for name in self.required:
                if name not in self.read_only and fields.get(name) is None:
                    issues.append((name, f"field '{name}' is required to create a record"))
        writable = {k: v for k, v in fields.items() if k not in self.read_only}
        for error in self._validator(mode).iter_errors(writable):
            path = list(error.absolute_path)
            name = str(path[0]) if path else "$"
            if any(existing == name for existing, _ in issues):
                continue
            issues.append((name, _message(name, error)))
            if len(issues) >= _MAX_ISSUES:
                break
        if issues:
            summary = "; ".join(message for _, message in issues[:5])
            raise RecordInvalid(f"the record was not {mode}d: {summary}; nothing was sent", issues)
        return dict(fields)

    def _validator(self, mode: WriteMode) -> Any:
        validator = self._validators.get(mode)
        if validator is None:
            # Required fields are checked above (with read-only ones exempt); the schema
            # checks types, formats and every other constraint.
            schema = {key: value for key, value in self._schema.items() if key != "required"}
            properties = schema.get("properties")
            schema["properties"] = {
                name: value
                for name, value in (properties if isinstance(properties, dict) else {}).items()
                if name not in self.read_only
            }
            validator = self._validators[mode] = self._registry.validator(schema)
        return validator

    def read_schema(self) -> dict[str, Any]:
        """The schema a record's fields must fit: write-only fields neither listed nor required."""
        schema = dict(self._schema)
        if self.write_only:
            properties = schema.get("properties")
            if isinstance(properties, dict):
                schema["properties"] = {
                    name: value for name, value in properties.items() if name not in self.write_only
                }
            required = schema.get("required")
            if isinstance(required, list):
                schema["required"] = [name for name in required if name not in self.write_only]
        return schema

    def check_read_batch(self, batch: list[Any]) -> bool:
        """True when every element of *batch* (records' fields) fits :meth:`read_schema`.

        A quick yes/no for a whole page; :meth:`read_issues` explains a record it rejects.
        """
        if self._read_check is None:
            self._read_check = self._compile_read_check()
        return self._read_check(batch)

    def read_issues(self, fields: Any) -> list[tuple[str, str]]:
        """``(field, message)`` for each way *fields* (one record's) do not fit the schema."""
        validator = self._validators.get("read")
        if validator is None:
            validator = self._validators["read"] = self._registry.validator(self.read_schema())
        issues: list[tuple[str, str]] = []
        for error in validator.iter_errors(fields):
            path = list(error.absolute_path)
            name = str(path[0]) if path else "$"
            issues.append((name, _message(name, error)))
            if len(issues) >= _MAX_ISSUES:
                break
        return issues

    def _compile_read_check(self) -> Callable[[Any], bool]:
        schema = dict(bundle_schema(self.read_schema(), self._shared))
        refs = [ref for _, ref in iter_refs(schema)]
        if not all(ref.startswith("#") for ref in refs):
            fallback = self._registry.validator(self.read_schema())
            return lambda batch: all(fallback.is_valid(fields) for fields in batch)
        import jsonschema_rs  # here: only listings that are checked need it

        try:
            if all(ref.startswith("#/$defs/") for ref in refs):
                # One call per page: the page as an array of records (the shared schemas
                # stay at the document's root, where "#/$defs/..." points).
                defs = schema.pop("$defs", {})
                page_schema: dict[str, Any] = {
                    "$defs": {**defs, "__record": schema},
                    "type": "array",
                    "items": {"$ref": "#/$defs/__record"},
                }
                if "$schema" in schema:
                    page_schema["$schema"] = schema.pop("$schema")
                check: Callable[[Any], bool] = jsonschema_rs.validator_for(page_schema).is_valid
                return check
            record = jsonschema_rs.validator_for(schema)
        except ValueError:  # a schema it cannot compile: jsonschema decides
            fallback = self._registry.validator(self.read_schema())
            return lambda batch: all(fallback.is_valid(fields) for fields in batch)
        return lambda batch: all(map(record.is_valid, batch))


def _message(name: str, error: Any) -> str:
    text = str(error.message)
    if len(text) > 160:
        text = text[:157] + "..."
    # jsonschema quotes the value; that is the caller's own input, not a secret of ours.
    return f"field '{name}': {text}" if name != "$" else text
