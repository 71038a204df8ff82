"""What an import returns: the connector draft, the warnings and the pagination suggestions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectory.openapi.collections import CollectionSuggestion


@dataclass(frozen=True)
class OpenAPIWarning:
    """Something in the document the connector cannot express, or expresses differently.

    Attributes:
        pointer: JSON pointer into the document (``/paths/~1pets/get/parameters/0``).
        message: What happened and, where there is something to do, what to do.
    """

    pointer: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-serialisable form."""
        return {"pointer": self.pointer, "message": self.message}

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


@dataclass(frozen=True)
class PaginationSuggestion:
    """A pagination block the document suggests for an operation; applied only when accepted.

    Attributes:
        operation: The operation's name in the connector.
        pagination: The ``pagination`` block (connector format).
        reason: What in the document suggests it.
        record_selector: Where the records are in each page, when the response wraps them.
        replaces: Parameters the paginator sets on every page, removed when accepted.
    """

    operation: str
    pagination: dict[str, Any]
    reason: str
    record_selector: str | None = None
    replaces: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form."""
        return {
            "operation": self.operation,
            "pagination": self.pagination,
            "record_selector": self.record_selector,
            "replaces": list(self.replaces),
            "reason": self.reason,
        }


@dataclass
class ImportResult:
    """The outcome of an import.

    Attributes:
        connector: The connector draft as a document (connector format), valid by construction.
        warnings: What could not be expressed, each with its JSON pointer.
        suggestions: Pagination the document suggests; see :func:`accept_pagination`.
        collection_suggestions: Collections for CRUD-shaped resources; see
            :func:`~connectory.openapi.collections.accept_collections`.
        version: The document's version (``2.0``, ``3.0`` or ``3.1``).
        auth_options: Every security scheme that maps to an auth block, by scheme name; the
            connector uses ``auth_scheme``.
        auth_scheme: The scheme the connector's auth block comes from, if any.
        operation_ids: The document's operationId (or ``METHOD path``) of each operation name.
    """

    connector: dict[str, Any]
    warnings: list[OpenAPIWarning] = field(default_factory=list)
    suggestions: list[PaginationSuggestion] = field(default_factory=list)
    version: str = ""
    auth_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    auth_scheme: str | None = None
    operation_ids: dict[str, str] = field(default_factory=dict)
    collection_suggestions: list[CollectionSuggestion] = field(default_factory=list)
