"""What every implementation kind provides: one call's response, or a listing's pages."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectory.errors import UpstreamError
from connectory.mappings import compile_mapping
from connectory.runtime.records import Selector, extract_records
from connectory.runtime.results import Page, SentRequest
from connectory.spec.collections import CollectionMethodSpec, CollectionSpec

if TYPE_CHECKING:
    from connectory.resilience import Observer
    from connectory.runtime.client import ConnectorClient
    from connectory.runtime.pagination import PagePosition
    from connectory.runtime.request import OperationPlan


@dataclass
class RunnerContext:
    """What a runner works with: the connection's client and the collection it serves."""

    client: ConnectorClient
    collection: CollectionSpec
    method_name: str


@dataclass
class Fetched:
    """One response of a method: the body, the raw items found in it, and the request sent."""

    body: Any
    items: list[Any]
    status_code: int
    request: SentRequest | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)


class MethodRunner(ABC):
    """Runs one collection method in one implementation kind."""

    def __init__(self, method: CollectionMethodSpec, context: RunnerContext) -> None:
        self.method = method
        self.context = context
        error = method.error or context.collection.error
        self._error = compile_mapping(error) if error else None
        self._output = compile_mapping(method.output) if method.output else None

    @property
    def label(self) -> str:
        """``contacts.create``: how errors name the method."""
        return f"{self.context.collection.key}.{self.context.method_name}"

    @abstractmethod
    async def fetch(self, variables: Mapping[str, Any], *, single: bool) -> Fetched:
        """Make the method's call and return its response.

        Args:
            variables: The call's template variables (``id``, ``fields``, ``filters``...).
            single: The response holds one record (find, create, update), not a list.
        """

    @abstractmethod
    def pages(
        self,
        variables: Mapping[str, Any],
        resume: PagePosition | None,
        observer: Observer | None = None,
    ) -> AsyncIterator[Page]:
        """Read a listing page by page, from its start or from *resume*.

        *observer* gets the read's resilience events (a paced read's waits), when the kind
        makes the requests itself.
        """

    @abstractmethod
    def reads(self, name: str) -> bool:
        """True when the method's mappings read the variable *name* (e.g. ``page_size``)."""

    def raise_for_error_object(
        self, body: Any, status: int | None, page: int | None = None
    ) -> None:
        """Raise when the ``error`` mapping finds an error in a successful response.

        Args:
            body: The decoded response (a JavaScript method: what it returned).
            status: Its status, when there was one response.
            page: The listing's page number, for ``list``.

        Raises:
            UpstreamError: the API answered 2xx with an error object.
        """
        if self._error is None:
            return
        found = self._error.evaluate({"response": body})
        if found is None or found is False or found == "" or found == [] or found == {}:
            return
        text = found if isinstance(found, str) else str(found)
        text = self.context.client.redactor.redact(text)[:300]
        answered = f"the API answered {status} but" if status is not None else "the API"
        where = f"{self.label}: page {page}" if page is not None else self.label
        raise UpstreamError(
            f"{where}: {answered} reported an error: {text}",
            status_code=status or 200,
            body=text,
        )


class ClientRunner(MethodRunner):
    """A kind that ends in one request through the connection's client (operation, request).

    Subclasses say which operation (or inline plan) to run and with what parameters; this
    class calls it, applies the ``error`` check and finds the records with ``output``.
    """

    @abstractmethod
    def target(self, variables: Mapping[str, Any]) -> tuple[str | OperationPlan, dict[str, Any]]:
        """The operation (or plan) to run, and its parameters, for one call."""

    @property
    @abstractmethod
    def record_selector(self) -> Selector | None:
        """Where the records are in a response when ``output`` does not say."""

    async def fetch(self, variables: Mapping[str, Any], *, single: bool) -> Fetched:
        """Call once; raise for an error status or an error object; find the records."""
        client = self.context.client
        operation, params = self.target(variables)
        result = await client.call(operation, params)
        body = result.body
        self.raise_for_error_object(body, result.status_code)
        if self._output is not None:
            found = self._output.evaluate({**variables, "response": body})
            items = found if isinstance(found, list) else [] if found is None else [found]
        elif single and self.record_selector is None:
            items = [] if body is None or body == "" else [body]
        else:
            items = extract_records(body, self.record_selector)
        return Fetched(body, items, result.status_code, result.request)

    async def pages(
        self,
        variables: Mapping[str, Any],
        resume: PagePosition | None,
        observer: Observer | None = None,
    ) -> AsyncIterator[Page]:
        """Page through the listing with the client's own paging (one page in memory)."""
        operation, params = self.target(variables)
        inspect = self._inspect_page if self._error is not None else None
        pages = self.context.client.iter_pages(
            operation, params, resume=resume, inspect=inspect, observer=observer
        )
        async for page in pages:
            yield page

    def _inspect_page(self, body: Any, status: int, number: int) -> None:
        self.raise_for_error_object(body, status, number)
