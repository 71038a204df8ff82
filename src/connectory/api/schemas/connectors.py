"""Request and response bodies of ``/connectors`` (index, drafts, versions, publish, exchange)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from connectory.api.problems import ErrorOut, ProblemOut
from connectory.errors import Problem
from connectory.services.connector_documents import (
    FILE_PATH_PATTERN,
    MAX_CHANGELOG,
    MAX_FILE_CHARS,
    MAX_FILE_PATH_CHARS,
    MAX_FILES,
    MAX_FILES_CHARS,
)
from connectory.services.connector_versions import DiffResult
from connectory.services.connectors import ConnectorView
from connectory.services.exchange import EXPORT_FORMAT_VERSION
from connectory.services.exchange_history import MAX_HISTORY
from connectory.services.publishing import Check, PublishPlan
from connectory.services.versioning import Bump, BumpSuggestion
from connectory.store.models import Connector, ConnectorVersion

_ERRORS = {
    403: "The caller can see the connector but their role does not allow this.",
    404: "No such connector or version, or not visible to the caller.",
    409: "The request clashes with the current state (slug taken, in use, nothing to publish).",
    429: "The connector's rate limit left no slot in time.",
    502: "The upstream (or the document's server) refused, answered an error or something "
    "unusable, or its address is not allowed for connectors.",
    503: "The circuit breaker is open.",
    504: "The upstream (or the document's server) could not be reached in time.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation answers besides the common ones."""
    return {status: {"model": ErrorOut, "description": _ERRORS[status]} for status in statuses}


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone-aware columns; they are UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def problems_out(problems: list[Problem]) -> list[ProblemOut]:
    """The API form of connector problems."""
    return [ProblemOut(**problem.to_dict()) for problem in problems]


class VersionSummary(BaseModel):
    """One version in a connector's history (or its draft)."""

    id: str
    version: str | None = Field(description="1.2.0; null for the draft.")
    is_draft: bool
    changelog: str
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None
    published_by: str | None
    published_at: datetime | None

    @classmethod
    def of(cls, row: ConnectorVersion) -> VersionSummary:
        """Build from a row."""
        return cls(
            id=row.id,
            version=row.version,
            is_draft=row.is_draft,
            changelog=row.changelog,
            created_by=row.created_by,
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
            published_by=row.published_by,
            published_at=_utc(row.published_at),
        )


class VersionOut(VersionSummary):
    """A version with its content: the connector document and its other files."""

    document: dict[str, Any] = Field(description="The connector document (as in connector.yaml).")
    files: dict[str, str] = Field(description="Other files by path, e.g. hooks/pre_request.js.")

    @classmethod
    def of(cls, row: ConnectorVersion) -> VersionOut:
        """Build from a row."""
        summary = VersionSummary.of(row).model_dump()
        return cls(**summary, document=row.document, files=dict(row.files))


class DraftOut(VersionOut):
    """The draft, with what validation says about it now (warnings included)."""

    problems: list[ProblemOut] = []


class ConnectorSummary(BaseModel):
    """A connector in the index."""

    id: str
    slug: str
    name: str
    type: str
    description: str | None
    scope: Literal["catalogue", "enterprise"]
    enterprise_id: str | None
    status: Literal["draft", "published"] = Field(
        description="published once a version was published; draft before that."
    )
    latest_version: str | None
    has_draft: bool = Field(description="An unpublished draft exists (shown to its editors only).")
    can_edit: bool = Field(description="The caller may edit, publish and delete it.")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, view: ConnectorView) -> ConnectorSummary:
        """Build from a view of a connector."""
        return cls(**_summary_fields(view.connector, view.has_draft, view.can_edit))


def _summary_fields(connector: Connector, has_draft: bool, can_edit: bool) -> dict[str, Any]:
    return {
        "id": connector.id,
        "slug": connector.slug,
        "name": connector.name,
        "type": connector.type,
        "description": connector.description,
        "scope": connector.scope,
        "enterprise_id": connector.enterprise_id,
        "status": "published" if connector.latest_version else "draft",
        "latest_version": connector.latest_version,
        "has_draft": has_draft,
        "can_edit": can_edit,
        "created_at": _utc(connector.created_at),
        "updated_at": _utc(connector.updated_at),
    }


class ConnectorOut(ConnectorSummary):
    """A connector: its metadata, the latest published version and the draft's summary."""

    latest: VersionOut | None = Field(description="The latest published version, with content.")
    draft: VersionSummary | None = Field(description="The draft, for those who may see it.")

    @classmethod
    def of(cls, view: ConnectorView) -> ConnectorOut:
        """Build from a view of a connector."""
        return cls(
            **_summary_fields(view.connector, view.has_draft, view.can_edit),
            latest=VersionOut.of(view.latest) if view.latest is not None else None,
            draft=VersionSummary.of(view.draft) if view.draft is not None else None,
        )


class ConnectorCreated(ConnectorOut):
    """A connector just created or uploaded, with the warnings its content raised."""

    problems: list[ProblemOut] = []


class ValidationOut(BaseModel):
    """The result of checking a connector without saving it."""

    ok: bool
    problems: list[ProblemOut]
    document: dict[str, Any] | None = Field(
        description="The connector as it would be stored (when valid)."
    )
    files: dict[str, str] = {}


class PublishIn(BaseModel):
    """A publish request."""

    model_config = ConfigDict(extra="forbid", strict=True)

    bump: Bump | None = Field(
        default=None,
        description="major, minor or patch; the suggested bump when left out. "
        "The first publish is always 1.0.0.",
    )
    changelog: str | None = Field(
        default=None, max_length=20_000, description="What changed; the draft's when left out."
    )
    scope: Literal["catalogue", "enterprise"] | None = Field(
        default=None, description="Must be the connector's scope if sent (403 otherwise)."
    )


class SuggestionOut(BaseModel):
    """A suggested version bump and why."""

    bump: Bump
    reasons: list[str]

    @classmethod
    def of(cls, suggestion: BumpSuggestion | None) -> SuggestionOut | None:
        """Build from a suggestion."""
        if suggestion is None:
            return None
        return cls(bump=suggestion.bump, reasons=suggestion.reasons)


class ChangeOut(BaseModel):
    """One difference between two versions."""

    path: str
    kind: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


class NamedChangesOut(BaseModel):
    """Names added, removed and changed."""

    added: list[str]
    removed: list[str]
    changed: list[str]


class DiffOut(BaseModel):
    """What changed from one version to another."""

    from_version: str | None = Field(description="The first version; null for a draft.")
    to_version: str | None = Field(description="The second version; null for a draft.")
    from_id: str
    to_id: str
    changed: bool
    changes: list[ChangeOut]
    operations: NamedChangesOut
    files: NamedChangesOut
    suggested_bump: SuggestionOut | None = Field(
        description="The bump this change calls for (null when a version no longer loads)."
    )
    unified: str = Field(description="A unified diff of the documents (YAML) and files.")

    @classmethod
    def of(cls, result: DiffResult) -> DiffOut:
        """Build from a diff result."""
        diff = result.diff
        return cls(
            from_version=result.old.version,
            to_version=result.new.version,
            from_id=result.old.id,
            to_id=result.new.id,
            changed=diff.changed,
            changes=[
                ChangeOut(path=c.path, kind=c.kind, old=c.old, new=c.new) for c in diff.changes
            ],
            operations=NamedChangesOut(**vars(diff.operations)),
            files=NamedChangesOut(**vars(diff.files)),
            suggested_bump=SuggestionOut.of(result.suggestion),
            unified=diff.unified,
        )


class CheckOut(BaseModel):
    """One item of the publish checklist."""

    name: str
    ok: bool
    message: str

    @classmethod
    def of(cls, check: Check) -> CheckOut:
        """Build from a check."""
        return cls(name=check.name, ok=check.ok, message=check.message)


class PublishPreviewOut(BaseModel):
    """What publishing the draft would do."""

    ready: bool = Field(description="Every check passes: publishing would succeed.")
    checks: list[CheckOut]
    problems: list[ProblemOut]
    latest_version: str | None
    next_versions: dict[str, str] = Field(description="The version each bump would assign.")
    suggested_bump: SuggestionOut | None
    diff: DiffOut | None = Field(description="The draft against the latest published version.")

    @classmethod
    def of(cls, plan: PublishPlan) -> PublishPreviewOut:
        """Build from a plan."""
        return cls(
            ready=plan.ready,
            checks=[CheckOut.of(check) for check in plan.checks],
            problems=problems_out(plan.problems),
            latest_version=plan.connector.latest_version,
            next_versions=plan.next_versions,
            suggested_bump=SuggestionOut.of(plan.suggestion),
            diff=DiffOut.of(plan.diff) if plan.diff is not None else None,
        )


class PublishOut(BaseModel):
    """A published version."""

    connector: ConnectorSummary
    version: VersionSummary
    bump: Bump | None = Field(description="The bump applied; null for the first publish.")
    suggested_bump: SuggestionOut | None


class HistoryStepOut(BaseModel):
    """What an import with history does with one version of the file."""

    version: str
    action: Literal["create", "exists"] = Field(
        description="create: published here by the import; exists: here already, the same."
    )


class ImportOut(BaseModel):
    """What an import did, or in a dry run would do."""

    dry_run: bool
    action: Literal["create", "new_draft"] = Field(
        description="create: a new connector; new_draft: the next draft of an existing one."
    )
    scope: Literal["catalogue", "enterprise"]
    slug: str
    name: str
    version_in_file: str | None
    connector_id: str | None = Field(description="The connector (null in a dry run that creates).")
    draft: VersionSummary | None = Field(
        description="The draft written (null in a dry run, and with history when the file's "
        "version is the last of its history)."
    )
    problems: list[ProblemOut] = Field(description="Warnings about the imported connector.")
    diff: DiffOut | None = Field(description="The import against the latest published version.")
    history: list[HistoryStepOut] | None = Field(
        default=None,
        description="With history=true: each version of the file's history, oldest first.",
    )


_Files = Annotated[
    dict[str, str],
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_FILES,
            "propertyNames": {"maxLength": MAX_FILE_PATH_CHARS, "pattern": FILE_PATH_PATTERN},
            "additionalProperties": {"type": "string", "maxLength": MAX_FILE_CHARS},
        }
    ),
]


class HistoryEntryIn(BaseModel):
    """One published version in an export file's ``history``."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(
        max_length=32, description="MAJOR.MINOR.PATCH; entries in increasing order."
    )
    published_at: str | None = Field(default=None, max_length=40, description="ISO 8601, UTC.")
    changelog: str = Field(default="", max_length=MAX_CHANGELOG)
    document: dict[str, Any]
    files: _Files = Field(default_factory=dict, max_length=MAX_FILES)


class ExportIn(BaseModel):
    """A connector export file as ``POST /connectors/import`` reads it.

    Only its JSON Schema is used: the route reads the body itself, by the same rules
    (services/exchange.py).
    """

    model_config = ConfigDict(extra="forbid", title="ExportIn")

    format: Literal["connectory-connector"]
    format_version: int = Field(ge=1, le=EXPORT_FORMAT_VERSION)
    document: dict[str, Any] = Field(
        description="The connector document: nested at most 64 levels, at most 200,000 values."
    )
    changelog: str = Field(default="", max_length=MAX_CHANGELOG)
    files: Annotated[
        dict[str, str],
        WithJsonSchema(
            {
                "type": "object",
                "maxProperties": MAX_FILES,
                "propertyNames": {"maxLength": MAX_FILE_PATH_CHARS, "pattern": FILE_PATH_PATTERN},
                "additionalProperties": {"type": "string", "maxLength": MAX_FILE_CHARS},
            }
        ),
    ] = Field(
        default_factory=dict,
        max_length=MAX_FILES,
        description=f"Other files by path (hooks/...), at most {MAX_FILE_CHARS:,} characters "
        f"each and {MAX_FILES_CHARS:,} in all.",
    )
    connector_parameters: Any = Field(default=None, description="Ignored on import.")
    history: list[HistoryEntryIn] | None = Field(
        default=None,
        max_length=MAX_HISTORY,
        description="Published versions, oldest first (read by an import with history=true).",
    )
    exported_at: Any = Field(default=None, description="Ignored on import.")
    source: Any = Field(default=None, description="Ignored on import.")


class ExportSource(BaseModel):
    """Where an export came from (ids differ after an import)."""

    connector_id: str
    version_id: str


class ExportOut(BaseModel):
    """A connector export file (see docs/publishing.md)."""

    changelog: str
    connector_parameters: list[str] = Field(description="Names only; values are never exported.")
    document: dict[str, Any]
    exported_at: str
    files: dict[str, str]
    format: Literal["connectory-connector"]
    format_version: int
    source: ExportSource
    history: list[HistoryEntryIn] | None = Field(
        default=None, description="With history=true: every published version, oldest first."
    )
