"""Response bodies of the OpenAPI import endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from connectory.api.problems import ProblemOut
from connectory.api.schemas.connectors import (
    ChangeOut,
    NamedChangesOut,
    SuggestionOut,
    VersionSummary,
    problems_out,
)
from connectory.errors import Problem
from connectory.openapi import ImportResult, OpenAPIWarning, PaginationSuggestion


class ImportWarningOut(BaseModel):
    """Something the connector cannot express, and where it is in the document."""

    pointer: str = Field(description="JSON pointer into the document, e.g. /paths/~1pets/get.")
    message: str

    @classmethod
    def of(cls, warning: OpenAPIWarning) -> ImportWarningOut:
        """Build from a warning."""
        return cls(pointer=warning.pointer, message=warning.message)


class PaginationSuggestionOut(BaseModel):
    """Pagination the document suggests for one operation (applied when accepted)."""

    operation: str
    pagination: dict[str, Any] = Field(description="The pagination block it would get.")
    record_selector: str | None
    replaces: list[str] = Field(description="Parameters the paginator sets (removed).")
    reason: str

    @classmethod
    def of(cls, suggestion: PaginationSuggestion) -> PaginationSuggestionOut:
        """Build from a suggestion."""
        return cls(**suggestion.to_dict())


class CollectionSuggestionOut(BaseModel):
    """A collection suggested for a CRUD-shaped resource (added when accepted)."""

    key: str
    collection: dict[str, Any]
    reason: str


class _ImportDetails(BaseModel):
    openapi_version: str = Field(description="2.0, 3.0 or 3.1.")
    auth_scheme: str | None = Field(description="The security scheme the auth block is from.")
    auth_options: list[str] = Field(description="Every scheme that maps to an auth block.")
    warnings: list[ImportWarningOut]
    suggestions: list[PaginationSuggestionOut]
    collection_suggestions: list[CollectionSuggestionOut] = Field(
        description="Collections for CRUD-shaped resources; accept with accept_collection."
    )
    problems: list[ProblemOut] = Field(description="What the platform's checks say (warnings).")

    @staticmethod
    def details(result: ImportResult, problems: list[Problem]) -> dict[str, Any]:
        return {
            "openapi_version": result.version,
            "auth_scheme": result.auth_scheme,
            "auth_options": list(result.auth_options),
            "warnings": [ImportWarningOut.of(w) for w in result.warnings],
            "suggestions": [PaginationSuggestionOut.of(s) for s in result.suggestions],
            "collection_suggestions": [
                CollectionSuggestionOut(**s.to_dict()) for s in result.collection_suggestions
            ],
            "problems": problems_out(problems),
        }


class OpenAPIImportOut(_ImportDetails):
    """A connector created from an OpenAPI document, or in a dry run what it would be."""

    dry_run: bool
    ok: bool = Field(description="The connector passes the platform's checks.")
    connector_id: str | None = Field(description="The new connector (null in a dry run).")
    draft: VersionSummary | None = Field(description="Its draft (null in a dry run).")
    operations: int = Field(description="How many operations were imported.")
    document: dict[str, Any] = Field(description="The connector document.")


class ReimportOut(_ImportDetails):
    """What re-importing a document changes in a connector (or, in a dry run, would change)."""

    dry_run: bool
    connector_id: str
    compared_with: str = Field(description="draft, or the published version compared with.")
    compared_with_id: str
    changed: bool
    operations: NamedChangesOut = Field(description="Operations added, removed and changed.")
    changes: list[ChangeOut]
    unified: str = Field(description="A unified diff of the documents (YAML).")
    suggested_bump: SuggestionOut | None = Field(
        description="The version bump the change calls for (published connectors)."
    )
    notes: list[ImportWarningOut] = Field(
        description="Differences kept as they were (base URL, auth)."
    )
    draft: VersionSummary | None = Field(description="The draft written (null in a dry run).")
    document: dict[str, Any] = Field(description="The connector document after the re-import.")
