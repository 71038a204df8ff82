"""Kind ``javascript``: a method written in connector JavaScript (``code: methods/x.js#fn``).

The method runs through :meth:`ConnectorClient.run_method`, so its ``ctx.apiClient`` goes
through the connection's runtime (hooks, auth, resilience, the egress guard). It gets:

* ``ctx.parameters``: the collection's and the method's parameters, checked;
* ``ctx.input``: ``{collection, method}`` plus the call's values: ``filters``, ``page_size``
  and ``cursor`` (list), ``id``, ``fields``, ``match``, ``query`` (search, with ``filters``).

It returns raw items, which the collection's ``record`` mapping turns into records like any
other kind's: ``list`` returns one page, ``{records: [...], cursor}`` (a cursor that is not
null asks for another page; the next call gets it back as ``ctx.input.cursor``) or a plain
list (the only page); find_by_id, create and update return the item (find_by_id: null when
there is none); match, search and custom_fields return a list of items. An ``ApiError`` of a
404 or 410 the code does not catch means "no such record" on find, update and delete.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from connectory.collections.kinds.base import Fetched, MethodRunner, RunnerContext
from connectory.errors import PaginationError, ScriptError
from connectory.js.lexer import JsSyntaxError, tokenize
from connectory.runtime.pagination import NextPage, PagePosition
from connectory.runtime.results import Page
from connectory.spec.collections import CollectionMethodSpec

if TYPE_CHECKING:
    from connectory.resilience import Observer
    from connectory.spec.code import CodeRefSpec

_JSON_TYPES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "text",
    list: "a list",
    dict: "an object",
}


class JavaScriptRunner(MethodRunner):
    """Runs a method through its JavaScript function."""

    def __init__(self, method: CollectionMethodSpec, context: RunnerContext) -> None:
        super().__init__(method, context)
        assert method.code is not None  # the kind says so
        self.ref: CodeRefSpec = method.code
        self._names: frozenset[str] | None = None

    def reads(self, name: str) -> bool:
        """True when the method's file mentions *name* (``ctx.input.page_size``).

        Code is not analysed beyond its words: a file that names ``page_size`` anywhere in
        its code (not in a comment) is taken to read it.
        """
        if self._names is None:
            text = self.context.client.spec.code_files.get(self.ref.file, "")
            try:
                tokens = tokenize(text)
            except JsSyntaxError:
                tokens = []
            self._names = frozenset(
                token.text.strip("'\"") for token in tokens if token.kind in ("name", "string")
            )
        return name in self._names

    async def fetch(self, variables: Mapping[str, Any], *, single: bool) -> Fetched:
        """Run the method once and find the records in what it returned."""
        value = await self._run(variables)
        self.raise_for_error_object(value, None)
        if self._output is not None:
            found = self._output.evaluate({**variables, "response": value})
            items = found if isinstance(found, list) else [] if found is None else [found]
        elif single:
            items = [] if value is None else [value]
        else:
            items = self._items(value)
        return Fetched(value, items, 200)

    async def pages(
        self,
        variables: Mapping[str, Any],
        resume: PagePosition | None,
        observer: Observer | None = None,
    ) -> AsyncIterator[Page]:
        """Call the method once per page, handing each page's cursor to the next call.

        *observer* is not used: the method's own requests are paced by the runtime.
        """
        number = resume.number if resume is not None else 0
        so_far = resume.records_so_far if resume is not None else 0
        cursor = resume.state.get("cursor") if resume is not None else None
        while True:
            started = time.monotonic()
            value = await self._run({**variables, "cursor": cursor})
            number += 1
            self.raise_for_error_object(value, None, number)
            records, following = self._page(value)
            so_far += len(records)
            position = None
            if following is not None:
                if following == cursor:
                    raise PaginationError(
                        f"{self.label} ({self.ref.label}) returned the cursor it was given, so "
                        "the listing would never end; return the next page's cursor, or null "
                        "after the last page"
                    )
                position = PagePosition(NextPage(), number, so_far, {"cursor": following})
            yield Page(
                number=number,
                records=records,
                status_code=200,
                url=self.ref.label,
                elapsed=time.monotonic() - started,
                records_so_far=so_far,
                next=position,
            )
            if position is None:
                return
            cursor = following

    async def _run(self, variables: Mapping[str, Any]) -> Any:
        given = {key: value for key, value in variables.items() if key != "parameters"}
        data = {"collection": self.context.collection.key, "method": self.context.method_name}
        return await self.context.client.run_method(
            self.ref, parameters=variables.get("parameters") or {}, input={**data, **given}
        )

    def _items(self, value: Any) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, dict) and isinstance(value.get("records"), list):
            records: list[Any] = value["records"]
            return records
        raise self._shape_error(value, "a list of records (or {records: [...]})")

    def _page(self, value: Any) -> tuple[list[Any], Any]:
        if isinstance(value, list):
            return value, None
        if isinstance(value, dict) and isinstance(value.get("records"), list):
            return value["records"], value.get("cursor")
        raise self._shape_error(value, "a page {records: [...], cursor} or a list of records")

    def _shape_error(self, value: Any, wanted: str) -> ScriptError:
        got = _JSON_TYPES.get(type(value), "a value")
        return ScriptError(
            f"{self.ref.file}: {self.ref.label} returned {got} for {self.label}; return {wanted}",
            file=self.ref.file,
        )
