"""Kind ``operation``: an existing operation of the connector plus input and output mappings.

``input`` maps the call's variables to the operation's parameters; a parameter whose mapping
yields null is left out (so an optional filter the caller did not give is not sent). Without
``input``, parameters are filled by name: the collection's parameters, the list filters, the
id (``id``, or the operation's only path parameter), search's ``query`` (``q``, ``query`` or
``search``) and, for create and update, the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connectory.collections.kinds.base import ClientRunner, RunnerContext
from connectory.errors import OperationNotFound
from connectory.mappings import compile_mapping, mapping_references
from connectory.runtime.records import Selector
from connectory.spec.collections import CollectionMethodSpec

if TYPE_CHECKING:
    from connectory.runtime.request import OperationPlan

_QUERY_NAMES = ("q", "query", "search")


class OperationRunner(ClientRunner):
    """Runs a method through one of the connector's operations."""

    def __init__(self, method: CollectionMethodSpec, context: RunnerContext) -> None:
        super().__init__(method, context)
        assert method.operation is not None  # the kind says so
        operation = context.client.spec.operation(method.operation)
        if operation is None:  # the loader reports it; a spec built in code may still have it
            raise OperationNotFound(
                f"{self.label} uses operation '{method.operation}', which the connector does not "
                "have; fix the collection's method"
            )
        self.operation = operation
        self._input = compile_mapping(method.input) if method.input is not None else None
        self._selector = (
            Selector.parse(operation.record_selector) if operation.record_selector else None
        )
        self._names = [parameter.name for parameter in operation.parameters]

    @property
    def record_selector(self) -> Selector | None:
        """The operation's record selector."""
        return self._selector

    def reads(self, name: str) -> bool:
        """True when ``input`` reads *name* (by default, filters and page size by name)."""
        if self._input is None:
            return name in self._names
        return any(
            reference.split(".")[0] == name
            for _, reference in mapping_references(self.method.input)
        )

    def target(self, variables: Mapping[str, Any]) -> tuple[str | OperationPlan, dict[str, Any]]:
        """The operation's name and its parameters for this call."""
        if self._input is not None:
            mapped = self._input.evaluate(variables)
            params = mapped if isinstance(mapped, dict) else {}
        else:
            params = self._by_name(variables)
        return self.operation.name, {k: v for k, v in params.items() if v is not None}

    def _by_name(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        names = set(self._names)
        params: dict[str, Any] = {}
        for source in ("parameters", "filters", "match", "fields"):
            values = variables.get(source)
            if isinstance(values, Mapping):
                params.update({k: v for k, v in values.items() if k in names})
        if variables.get("page_size") is not None and "page_size" in names:
            params["page_size"] = variables["page_size"]
        if variables.get("id") is not None:
            path_names = [p.name for p in self.operation.parameters if p.location == "path"]
            target = "id" if "id" in names else path_names[0] if len(path_names) == 1 else None
            if target is not None:
                params[target] = variables["id"]
        if variables.get("query") is not None:
            target = next((n for n in _QUERY_NAMES if n in names), None)
            if target is not None:
                params[target] = variables["query"]
        return params
