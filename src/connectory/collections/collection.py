"""A collection on one connection: the uniform methods over an API's records.

Get one from a client, ``client.collection("contacts")``, and use the same methods whatever
the API::

    page = await contacts.list_page(filters={"status": "active"})      # one page + cursor
    async for record in contacts.list(filters={"status": "active"}):   # every page, streamed
        ...
    record = await contacts.find_by_id("42")
    record = await contacts.match({"email": "ada@example.com"})        # None when not found
    records = await contacts.search("ada")
    record = await contacts.create({"email": "ada@example.com"})
    record = await contacts.update("42", {"status": "inactive"})       # partial
    await contacts.delete("42")

A method the collection does not define raises :class:`~connectory.errors.NotSupported`, as do
filters it does not declare: nothing is ever emulated by scanning records client-side.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

from connectory.collections.cursor import binding, decode_cursor, encode_cursor
from connectory.collections.fields import FieldsSchema
from connectory.collections.kinds import MethodRunner, RunnerContext, create_runner
from connectory.collections.listing import Listing, Mismatches, RecordPage
from connectory.collections.page_check import PageCheck
from connectory.collections.records import Record, RecordMapper, parse_time_filter
from connectory.errors import (
    AmbiguousMatch,
    InputError,
    NotSupported,
    RecordNotFound,
    ResponseSchemaError,
    ScriptError,
    UpstreamError,
)
from connectory.mappings import compile_mapping
from connectory.runtime.inputs import check_fields
from connectory.runtime.schema_validation import schema_registry_for
from connectory.spec.collections import METHOD_NAMES, TIME_FILTERS, CollectionSpec

if TYPE_CHECKING:
    from connectory.resilience import Observer
    from connectory.runtime.client import ConnectorClient

#: Statuses that mean "no such record" (410: deleted for good).
_MISSING = (404, 410)


class Collection:
    """One collection of one connection (see the module docstring)."""

    def __init__(self, client: ConnectorClient, spec: CollectionSpec) -> None:
        self.client = client
        self.spec = spec
        self.key = spec.key
        self._runners: dict[str, MethodRunner] = {}
        self._fields: FieldsSchema | None = None
        self._custom: dict[str, Any] | None = None
        self._mapper: RecordMapper | None = None

    # ----------------------------------------------------------------- description

    @property
    def methods(self) -> builtins.list[str]:
        """The methods this collection supports, in the canonical order."""
        return list(self.spec.methods.defined())

    async def fields_schema(self) -> FieldsSchema:
        """The fields schema on this connection, custom fields included (fetched once)."""
        if self._fields is None:
            custom = await self._custom_fields()
            self._fields = FieldsSchema(
                self.spec.fields_schema,
                self.client.spec.schemas,
                schema_registry_for(self.client.spec),
                custom,
            )
        return self._fields

    async def describe(self) -> dict[str, Any]:
        """The collection's spec on this connection: methods, filters, merged fields schema."""
        fields = await self.fields_schema()
        methods = self.spec.methods.defined()
        return {
            "key": self.key,
            "name": self.spec.title,
            "description": self.spec.description,
            "parameters": {
                name: field.model_dump(exclude_none=True)
                for name, field in self.spec.parameters.items()
            },
            "methods": {
                name: {
                    "kind": method.kind,
                    "filters": method.filters,
                    "match_fields": method.match_fields,
                    "parameters": {
                        key: value.model_dump(exclude_none=True)
                        for key, value in method.parameters.items()
                    },
                    "page_size": name == "list" and self._runner("list").reads("page_size"),
                }
                for name, method in methods.items()
            },
            "fields_schema": fields.public(),
            "custom_fields": sorted(self._custom or {}),
            "read_only": sorted(fields.read_only),
            "write_only": sorted(fields.write_only),
        }

    # ----------------------------------------------------------------- reading

    async def list_page(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
        include_raw: bool = False,
        schema_mismatches: Mismatches = "raise",
    ) -> RecordPage:
        """Return one page of records and the cursor of the next page.

        Raises:
            NotSupported: no ``list``, or a filter or page size the method does not declare.
            InputError: a bad cursor or parameter; plus whatever the call raises.
        """
        listing = self.pages(
            filters=filters,
            parameters=parameters,
            cursor=cursor,
            page_size=page_size,
            include_raw=include_raw,
            schema_mismatches=schema_mismatches,
        )
        async with aclosing(listing) as pages:  # one page: the read ends here
            async for page in pages:
                return page
        return RecordPage([], None)  # pragma: no cover - a listing yields at least one page

    async def pages(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
        include_raw: bool = False,
        schema_mismatches: Mismatches = "raise",
    ) -> AsyncGenerator[RecordPage, None]:
        """Yield the listing page by page (each with its cursor); one page is held at a time.

        Records that do not fit the fields schema raise ``ResponseSchemaError`` (the client's
        ``response_validation="off"`` checks nothing). With ``schema_mismatches="report"`` the
        page comes with its records as they are and, in its ``schema_mismatches``, where they
        do not fit (a builder shows them, to adopt the schema they imply).
        """
        listing = await self._listing(filters, parameters, cursor, page_size, include_raw)
        async for page in self._record_pages(listing, report=schema_mismatches == "report"):
            yield page

    async def open_pages(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
        include_raw: bool = False,
        observer: Observer | None = None,
    ) -> AsyncGenerator[RecordPage, None]:
        """Check a listing's input now, and return its pages, read as they are iterated.

        What :meth:`pages` does, with the caller's mistakes raised before any page is read
        (a server answers them with an error status, then streams), and *observer* told of
        the read's waits (a paced read; see :class:`~connectory.resilience.Waiting`).

        Raises:
            NotSupported: no ``list``, or a filter or page size the method does not declare.
            InputError: a bad cursor or parameter.
        """
        listing = await self._listing(filters, parameters, cursor, page_size, include_raw)
        listing.observer = observer
        return self._record_pages(listing)

    async def _record_pages(
        self, listing: Listing, report: bool = False
    ) -> AsyncGenerator[RecordPage, None]:
        async for page in listing.pages():
            mismatches: list[tuple[str, str]] = []
            try:
                records = listing.records(page)
            except ResponseSchemaError as mismatch:
                if not report:
                    raise
                records = [listing.make(item) for item in page.records]
                mismatches = mismatch.mismatches
            following = encode_cursor(page.next, listing.bound_to) if page.next else None
            yield RecordPage(records, following, mismatches)
            del page, records  # not held while the next page is fetched

    async def list(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        cursor: str | None = None,
        page_size: int | None = None,
        include_raw: bool = False,
    ) -> AsyncIterator[Record]:
        """Stream every record of the listing (from *cursor*, when given), page by page."""
        listing = await self._listing(filters, parameters, cursor, page_size, include_raw)
        make, check = listing.make, listing.check
        async for page in listing.pages():
            if check is not None and not check.items_are_fields:
                for record in listing.records(page):
                    yield record
                continue
            if check is not None:
                check.check_items(page.number, page.records, make)
            # Each record is made as it is handed out (see RecordMapper.record_maker).
            for item in page.records:
                yield make(item)
            del page

    async def _listing(
        self,
        filters: Mapping[str, Any] | None,
        parameters: Mapping[str, Any] | None,
        cursor: str | None,
        page_size: int | None,
        include_raw: bool,
    ) -> Listing:
        runner = self._runner("list")
        variables = self._list_variables(runner, filters, parameters, page_size)
        bound_to = binding(
            self.client.binding_key,
            self.key,
            {k: variables.get(k) for k in ("filters", "parameters", "page_size")},
        )
        resume = decode_cursor(cursor, bound_to) if cursor else None
        mapper = await self._record_mapper()
        make = mapper.record_maker({"parameters": variables["parameters"]}, include_raw)
        check = None
        if self.client.response_validation != "off":
            fields = await self.fields_schema()
            label = f"{self.key}.list"
            check = PageCheck(label, fields, mapper.items_are_fields, self.client.redactor)
        return Listing(runner, variables, resume, bound_to, make, check)

    async def find_by_id(
        self,
        record_id: str | int,
        *,
        parameters: Mapping[str, Any] | None = None,
        include_raw: bool = False,
    ) -> Record:
        """Return the record with *record_id*.

        Raises:
            RecordNotFound: the API has no such record.
        """
        runner = self._runner("find_by_id")
        variables = self._variables("find_by_id", parameters, id=_record_id(record_id))
        fetched = await self._fetch(runner, variables, single=True, record_id=str(record_id))
        if not fetched:
            raise RecordNotFound(f"{self.key}: no record with id '{record_id}'")
        return (await self._record_mapper()).to_record(
            fetched[0], {"parameters": variables["parameters"]}, include_raw=include_raw
        )

    async def match(
        self,
        fields: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any] | None = None,
        include_raw: bool = False,
    ) -> Record | None:
        """Return the one record whose fields equal *fields*, or None when there is none.

        Raises:
            NotSupported: a field the method cannot match by.
            AmbiguousMatch: more than one record matches.
        """
        runner = self._runner("match")
        method = self.spec.methods.match
        assert method is not None
        if not isinstance(fields, Mapping) or not fields:
            raise InputError("match needs at least one field and value, e.g. {email: ...}")
        allowed = method.match_fields
        for name in fields:
            if name not in allowed:
                raise NotSupported(
                    f"{self.key}.match cannot match by '{name}'; it matches by: "
                    f"{', '.join(allowed) or 'nothing declared'}"
                )
        variables = self._variables("match", parameters, match=dict(fields))
        items = await self._fetch(runner, variables, single=False)
        mapper = await self._record_mapper()
        extra = {"parameters": variables["parameters"]}
        records = [mapper.to_record(item, extra, include_raw=include_raw) for item in items]
        # The API's answer is trusted only as far as it shows: a record whose fields differ
        # from what was asked (an API that ignored a filter) is not a match.
        matching = [r for r in records if _fields_equal(r.fields, fields)]
        if len(matching) > 1:
            ids = [record.id for record in matching[:10]]
            raise AmbiguousMatch(
                f"{self.key}: {len(matching)} records match "
                f"{', '.join(f'{k}={v!r}' for k, v in fields.items())} (ids "
                f"{', '.join(ids)}); match by a field that identifies one record",
                ids,
            )
        return matching[0] if matching else None

    async def search(
        self,
        query: str,
        *,
        filters: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        include_raw: bool = False,
    ) -> builtins.list[Record]:
        """Return the records the API finds for a text *query* (one page, for type-ahead)."""
        runner = self._runner("search")
        if not isinstance(query, str):
            raise InputError("search needs a text query", parameter="q")
        variables = self._variables("search", parameters, query=query)
        variables["filters"] = self._filters("search", filters)
        items = await self._fetch(runner, variables, single=False)
        mapper = await self._record_mapper()
        extra = {"parameters": variables["parameters"]}
        return [mapper.to_record(item, extra, include_raw=include_raw) for item in items]

    # ----------------------------------------------------------------- writing

    async def create(
        self,
        fields: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any] | None = None,
        include_raw: bool = False,
    ) -> Record:
        """Create a record; the fields are checked against the schema before anything is sent.

        Raises:
            RecordInvalid: read-only fields, missing required fields, wrong types.
        """
        runner = self._runner("create")
        checked = (await self.fields_schema()).check_write(fields, "create")
        variables = self._variables("create", parameters, fields=checked)
        items = await self._fetch(runner, variables, single=True)
        return await self._written(items, variables, checked, None, include_raw)

    async def update(
        self,
        record_id: str | int,
        fields: Mapping[str, Any],
        *,
        parameters: Mapping[str, Any] | None = None,
        include_raw: bool = False,
    ) -> Record:
        """Update some fields of a record (partial); checked before anything is sent.

        Raises:
            RecordInvalid: read-only fields or wrong types.
            RecordNotFound: the API has no such record.
        """
        runner = self._runner("update")
        checked = (await self.fields_schema()).check_write(fields, "update")
        variables = self._variables("update", parameters, id=_record_id(record_id), fields=checked)
        items = await self._fetch(runner, variables, single=True, record_id=str(record_id))
        return await self._written(items, variables, checked, str(record_id), include_raw)

    async def delete(
        self, record_id: str | int, *, parameters: Mapping[str, Any] | None = None
    ) -> None:
        """Delete a record.

        Raises:
            RecordNotFound: the API has no such record.
        """
        runner = self._runner("delete")
        variables = self._variables("delete", parameters, id=_record_id(record_id))
        await self._fetch(runner, variables, single=True, record_id=str(record_id))

    # ----------------------------------------------------------------- internals

    def _runner(self, name: str) -> MethodRunner:
        runner = self._runners.get(name)
        if runner is not None:
            return runner
        method = self.spec.method(name)
        if method is None:
            supported = ", ".join(self.methods) or "none"
            what = f"method '{name}'" if name in METHOD_NAMES else f"'{name}' (not a method)"
            raise NotSupported(
                f"collection '{self.key}' does not support {what}; it supports: {supported}"
            )
        runner = self._runners[name] = create_runner(
            method, RunnerContext(self.client, self.spec, name)
        )
        return runner

    def _parameters(self, method: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
        spec = self.spec.method(method)
        schema = {**self.spec.parameters, **(spec.parameters if spec is not None else {})}
        resolved, problems = check_fields(schema, dict(given or {}), "parameter")
        if problems:
            name, message = problems[0]
            raise InputError(f"{self.key}.{method}: {message}", parameter=name)
        return resolved

    def _variables(
        self, method: str, parameters: Mapping[str, Any] | None, **values: Any
    ) -> dict[str, Any]:
        return {"parameters": self._parameters(method, parameters), **values}

    def _filters(self, method: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
        spec = self.spec.method(method)
        declared = spec.filters if spec is not None else []
        filters: dict[str, Any] = dict.fromkeys(declared)
        for name, value in (given or {}).items():
            if name not in declared:
                raise NotSupported(
                    f"{self.key}.{method} cannot filter by '{name}'; it filters by: "
                    f"{', '.join(declared) or 'nothing'} (filters are applied by the API, "
                    "never by reading every record)"
                )
            filters[name] = parse_time_filter(name, value) if name in TIME_FILTERS else value
        return filters

    def _list_variables(
        self,
        runner: MethodRunner,
        filters: Mapping[str, Any] | None,
        parameters: Mapping[str, Any] | None,
        page_size: int | None,
    ) -> dict[str, Any]:
        variables = self._variables("list", parameters)
        variables["filters"] = self._filters("list", filters)
        if page_size is not None:
            if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
                raise InputError("page_size must be a whole number of at least 1")
            if not runner.reads("page_size"):
                raise NotSupported(
                    f"{self.key}.list does not take a page size (its mapping does not read "
                    "page_size); leave it out"
                )
        variables["page_size"] = page_size
        return variables

    async def _fetch(
        self,
        runner: MethodRunner,
        variables: Mapping[str, Any],
        *,
        single: bool,
        record_id: str | None = None,
    ) -> builtins.list[Any]:
        try:
            fetched = await runner.fetch(variables, single=single)
        except UpstreamError as exc:
            if record_id is not None and exc.status_code in _MISSING:
                raise RecordNotFound(
                    f"{self.key}: no record with id '{record_id}' (the API answered "
                    f"{exc.status_code})"
                ) from None
            raise
        except ScriptError as exc:
            # A JavaScript method that let the apiClient's 404 through: the same signal.
            if record_id is not None and exc.upstream_status in _MISSING:
                raise RecordNotFound(
                    f"{self.key}: no record with id '{record_id}' (the API answered "
                    f"{exc.upstream_status} to {exc.file or 'the method'})"
                ) from None
            raise
        return fetched.items

    async def _written(
        self,
        items: builtins.list[Any],
        variables: Mapping[str, Any],
        fields: Mapping[str, Any],
        record_id: str | None,
        include_raw: bool,
    ) -> Record:
        mapper = await self._record_mapper()
        extra = {"parameters": variables["parameters"]}
        if items and isinstance(items[0], dict):
            return mapper.to_record(items[0], extra, include_raw=include_raw)
        # The API answered without the record (204): re-read it when possible.
        if record_id is not None and self.spec.methods.find_by_id is not None:
            return await self.find_by_id(record_id, parameters=variables["parameters"])
        if record_id is None:
            raise UpstreamError(
                f"{self.key}.create: the API answered without the created record, so its id "
                "is unknown; set the method's output to where the response holds it",
                status_code=200,
            )
        return Record(id=record_id, name=None, fields=dict(fields))

    async def _record_mapper(self) -> RecordMapper:
        if self._mapper is None:
            fields = await self.fields_schema()
            self._mapper = RecordMapper(self.spec.record, fields.write_only)
        return self._mapper

    async def _custom_fields(self) -> dict[str, Any]:
        if self._custom is not None:
            return self._custom
        spec = self.spec.custom_fields
        if spec is None:
            self._custom = {}
            return self._custom
        runner = create_runner(spec, RunnerContext(self.client, self.spec, "custom_fields"))
        # Custom fields belong to the account, not to a subset: no collection parameters.
        fetched = await runner.fetch({"parameters": {}}, single=False)
        key_map = compile_mapping(spec.key)
        schema_map = compile_mapping(spec.schema_)
        custom: dict[str, Any] = {}
        for item in fetched.items:
            name = key_map.evaluate({"item": item})
            schema = schema_map.evaluate({"item": item})
            if isinstance(name, str) and name and isinstance(schema, dict):
                custom[name] = schema
        self._custom = custom
        return custom


def _record_id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise InputError("a record id must be a non-empty string or number", parameter="id")
    return str(value)


def _fields_equal(fields: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    for name, value in wanted.items():
        have = fields.get(name)
        if have != value and str(have) != str(value):
            return False
    return True
