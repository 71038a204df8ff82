"""Export and import of connectors: one JSON file with a connector version's document and files.

The file (``format: connectory-connector``, ``format_version: 1``)::

    {
      "changelog": "...",
      "connector_parameters": ["tenant"],        # names only: values are never exported
      "document": {...},                          # the canonical connector document
      "exported_at": "2026-01-01T00:00:00Z",
      "files": {"hooks/pre_request.js": "..."},
      "format": "connectory-connector",
      "format_version": 1,
      "source": {"connector_id": "...", "version_id": "..."}
    }

With ``history`` it also carries every published version (services/exchange_history.py), and
an import asked to keep it recreates them as published versions.

It is written with sorted keys, two-space indentation and a final newline, so export -> import
-> export gives the same bytes apart from ``exported_at`` and the ids in ``source``. No secret
leaves: the ``default`` of every sensitive credential field and connector parameter is removed.

An import always lands as a draft in the caller's scope (platform admins: the catalogue; SDK
enterprise admins: their enterprise): a new connector, or the next draft of the connector with
the same slug. A slug whose version exists already there is refused unless the caller asks to
import as a new version.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import Conflict, FieldIssue, InvalidRequest, Problem
from connectory.services.access import check_may_build_connectors
from connectory.services.connector_documents import (
    ConnectorSource,
    check_changelog,
    check_document,
    check_files,
    read_files,
)
from connectory.services.connector_versions import DiffResult, check_new_slug, compare_versions
from connectory.services.connectors import (
    Scope,
    apply_metadata,
    commit_or_conflict,
    create_connector,
    draft_of,
    find_editable_connector,
    published_version,
    scope_of,
)
from connectory.services.exchange_history import (
    HistoryEntry,
    HistoryStep,
    history_entry,
    plan_history,
    published_versions,
    read_history,
)
from connectory.services.openapi_descriptions import StoredDescription, store_description
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox
from connectory.services.sensitive_defaults import conceal_defaults, store_sensitive_defaults
from connectory.services.versioning import has_changes
from connectory.spec import ConnectorSpec
from connectory.store.models import Connector, ConnectorVersion, new_id, utcnow

EXPORT_FORMAT = "connectory-connector"
EXPORT_FORMAT_VERSION = 1
_KEYS = frozenset(
    {
        "changelog",
        "connector_parameters",
        "document",
        "exported_at",
        "files",
        "format",
        "format_version",
        "history",
        "openapi",
        "source",
    }
)


def without_secrets(document: dict[str, Any]) -> dict[str, Any]:
    """Return *document* without the default of any sensitive field (the input is not changed).

    Stored documents show such defaults as the placeholder already; an export drops even that,
    so an import elsewhere asks for the value instead of keeping one that is not there.
    """
    result = dict(document)
    if isinstance(result.get("parameters"), dict):
        result["parameters"] = _strip_defaults(result["parameters"])
    auth = result.get("auth")
    if isinstance(auth, dict) and isinstance(auth.get("credential_schema"), dict):
        result["auth"] = {**auth, "credential_schema": _strip_defaults(auth["credential_schema"])}
    return result


def _strip_defaults(fields: dict[str, Any]) -> dict[str, Any]:
    def sensitive(spec: dict[str, Any]) -> bool:
        # Canonical documents carry ``sensitive`` explicitly; password fields always are.
        return bool(spec.get("sensitive")) or spec.get("type") == "password"

    return {
        name: {k: v for k, v in spec.items() if k != "default"}
        if isinstance(spec, dict) and sensitive(spec)
        else spec
        for name, spec in fields.items()
    }


def build_export(
    connector: Connector,
    version: ConnectorVersion,
    description: StoredDescription | None = None,
    history: list[ConnectorVersion] | None = None,
) -> dict[str, Any]:
    """Return the export of one version of *connector* (with its OpenAPI description, if given).

    The description, when asked for, is the ``openapi`` field: its media type, where it came
    from, and its text. *history*, when given (the published versions, oldest first), is the
    ``history`` field, each version stripped of secrets like the exported one.
    """
    document = without_secrets(version.document)
    parameters = document.get("parameters")
    export = {
        "changelog": version.changelog,
        "connector_parameters": sorted(parameters) if isinstance(parameters, dict) else [],
        "document": document,
        "exported_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "files": dict(version.files),
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "source": {"connector_id": connector.id, "version_id": version.id},
    }
    if history is not None:
        export["history"] = [history_entry(row, without_secrets(row.document)) for row in history]
    if description is not None:
        export["openapi"] = {
            "media_type": description.media_type,
            "source": description.source,
            "content": description.content.decode("utf-8", "replace"),
        }
    return export


def render_export(export: dict[str, Any]) -> bytes:
    """The bytes of an export file: sorted keys, two-space indentation, a final newline."""
    return (json.dumps(export, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def export_filename(connector: Connector, version: ConnectorVersion) -> str:
    """A file name for the export, e.g. ``openweathermap-1.0.0.connector.json``."""
    return f"{connector.slug}-{version.version or 'draft'}.connector.json"


@dataclass
class ImportFile:
    """An export file, read and checked."""

    source: ConnectorSource
    changelog: str
    #: The OpenAPI description the export carries (bytes, where it came from), if any.
    openapi: tuple[bytes, str | None] | None = None
    #: The published versions the file carries, oldest first (read only when asked for).
    history: list[HistoryEntry] | None = None


def parse_export(raw: bytes) -> Any:
    """Parse the bytes of an export file as JSON.

    Raises:
        InvalidRequest: the bytes are not UTF-8 JSON (NaN and Infinity are not JSON either).
    """

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=refuse_constant)
    except UnicodeDecodeError as error:
        where = f"byte {error.start}"
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}: {error.msg}"
    except (ValueError, RecursionError) as error:
        where = str(error) if isinstance(error, ValueError) else "nested too deeply"
    raise InvalidRequest(
        f"the body is not a JSON export file ({where})",
        [FieldIssue(("body",), "expected a JSON export file")],
    )


def read_export(data: Any, with_history: bool = False) -> ImportFile:
    """Check an export file's structure and its connector (and, if asked, its ``history``).

    Raises:
        InvalidRequest: it is not an export this server reads.
        SpecError: its connector is invalid (via :meth:`ConnectorSource.valid`, by the caller).
    """
    if not isinstance(data, dict):
        raise InvalidRequest(
            "the body is not a connector export (a JSON object)",
            [FieldIssue(("body",), "expected an object")],
        )
    if data.get("format") != EXPORT_FORMAT:
        raise InvalidRequest(
            f"the body is not a connector export: format must be '{EXPORT_FORMAT}'",
            [FieldIssue(("body", "format"), f"expected '{EXPORT_FORMAT}'")],
        )
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidRequest(
            "format_version must be a positive integer",
            [FieldIssue(("body", "format_version"), "expected an integer")],
        )
    if version > EXPORT_FORMAT_VERSION:
        raise InvalidRequest(
            f"the export has format_version {version}, written by a newer Connectory; this "
            f"server reads format_version {EXPORT_FORMAT_VERSION}",
            [FieldIssue(("body", "format_version"), f"at most {EXPORT_FORMAT_VERSION}")],
        )
    unknown = sorted(str(key)[:80] for key in set(data) - _KEYS)
    if unknown:
        raise InvalidRequest(
            f"unknown field(s) in the export: {', '.join(unknown[:5])}",
            [FieldIssue(("body", key), "unknown field") for key in unknown[:20]],
        )
    if not isinstance(data.get("document"), dict):
        raise InvalidRequest(
            "the export has no document", [FieldIssue(("body", "document"), "expected an object")]
        )
    changelog = data.get("changelog", "")
    if not isinstance(changelog, str):
        raise InvalidRequest(
            "changelog must be text", [FieldIssue(("body", "changelog"), "expected text")]
        )
    files = read_files(data.get("files", {}))
    source = check_document(data["document"], filename="document", files=files)
    source.extra_problems += check_files(files)
    file = ImportFile(source, check_changelog(changelog, ("body", "changelog")))
    if "openapi" in data:
        file.openapi = _read_openapi(data["openapi"])
    if with_history:
        if "history" not in data:
            raise InvalidRequest(
                "the file carries no version history; export it with history=true "
                "(connectory export --history), or import it without history",
                [FieldIssue(("body", "history"), "missing")],
            )
        file.history = read_history(data["history"])
    return file


def _read_openapi(value: Any) -> tuple[bytes, str | None]:
    content = value.get("content") if isinstance(value, dict) else None
    if not isinstance(content, str):
        raise InvalidRequest(
            "openapi must be an object with the description's text in content",
            [FieldIssue(("body", "openapi", "content"), "expected text")],
        )
    source = value.get("source")
    return content.encode(), source if isinstance(source, str) else None


@dataclass
class Imported:
    """What an import did (or, in a dry run, would do)."""

    dry_run: bool
    action: Literal["create", "new_draft"]
    scope: Scope
    slug: str
    name: str
    version_in_file: str | None
    connector: Connector | None
    draft: ConnectorVersion | None
    warnings: list[Problem] = field(default_factory=list)
    diff: DiffResult | None = None
    #: With history: what happens to each version of the file's history, oldest first.
    history: list[HistoryStep] | None = None


async def import_connector(
    session: AsyncSession,
    principal: Principal,
    data: Any,
    *,
    dry_run: bool = False,
    as_new_version: bool = False,
    connector_id: str | None = None,
    history: bool = False,
    box: SecretBox,
) -> Imported:
    """Import an export file as a draft in *principal*'s scope.

    Args:
        session: The database session (committed unless *dry_run*).
        principal: The caller; platform admins import into the catalogue, SDK enterprise
            admins into their enterprise.
        data: The parsed export file.
        dry_run: Check and report, but write nothing.
        as_new_version: Import even when that slug and version exist already (as the next
            draft of the existing connector).
        connector_id: Import as the next draft of this connector instead of finding it by slug.
        history: Recreate the file's ``history`` as published versions (in order, with
            their publish times) before the draft; the draft is left out when it is the
            last of them.
        box: Seals the file's sensitive defaults (a file may carry them: exports never do).
            One given as the placeholder keeps the value of the latest version.

    Raises:
        PermissionDenied: the caller may not build connectors (or change that connector).
        NotFound: *connector_id* is not a connector the caller can see.
        InvalidRequest: the file is not an export; or the slug of a published target differs.
        SpecError: the connector in the file is invalid.
        Conflict: the slug and version exist already (without *as_new_version*), or the
            existing connector has an unpublished draft; with *history*, a version of the
            file exists there with other content, would go before its latest, or nothing
            is new.
    """
    check_may_build_connectors(principal)
    target = (
        await find_editable_connector(session, principal, connector_id)
        if connector_id is not None
        else None
    )
    # Checking compiles the connector's code: off the event loop.
    file = await asyncio.to_thread(read_export, data, history)
    spec, document = file.source.valid()
    files = file.source.files or {}
    if target is None:
        target = await session.scalar(
            select(Connector).where(
                Connector.owner_key == principal.owner_key(),
                Connector.slug == spec.slug,
                Connector.deleted_at.is_(None),
            )
        )
    else:
        await check_new_slug(session, target, spec)
    result = Imported(
        dry_run=dry_run,
        action="create" if target is None else "new_draft",
        scope=scope_of(principal),
        slug=spec.slug,
        name=spec.name,
        version_in_file=spec.version,
        connector=target,
        draft=None,
        warnings=file.source.problems,
    )
    if file.history:
        return await _import_history(
            session, principal, result, file, file.history, spec, document, box
        )
    if target is None:
        if dry_run:
            return result
        result.connector, result.draft = await create_connector(
            session, principal, spec, document, files, file.changelog, box=box
        )
        if file.openapi is not None:
            await session.flush()
            await store_description(session, result.draft.id, *file.openapi)
        await commit_or_conflict(session)
        return result
    await _check_clash(session, target, spec.version, as_new_version)
    draft = ConnectorVersion(
        id=new_id(),  # known before the flush: a dry run reports against it too
        connector_id=target.id,
        document=conceal_defaults(document)[0],  # what a diff may show
        files=files,
        changelog=file.changelog,
        created_by=principal.user_id,
    )
    latest = await published_version(session, target, target.latest_version)
    result.diff = compare_versions(latest, draft) if latest is not None else None
    if dry_run:
        return result
    follows = (latest.id,) if latest is not None else ()
    draft.document = await store_sensitive_defaults(session, box, draft.id, document, follows)
    session.add(draft)
    if file.openapi is not None:
        await session.flush()
        await store_description(session, draft.id, *file.openapi)
    await commit_or_conflict(session)
    result.draft = draft
    return result


async def _check_clash(
    session: AsyncSession, connector: Connector, version: str | None, as_new_version: bool
) -> None:
    if await draft_of(session, connector) is not None:
        raise Conflict(
            f"the connector '{connector.slug}' has an unpublished draft; publish or discard it "
            "before importing into it"
        )
    if as_new_version:
        return
    if version is None:
        raise Conflict(
            f"a connector with the slug '{connector.slug}' exists already and the file names no "
            "version; import with as_new_version=true to make it that connector's next draft"
        )
    if await published_version(session, connector, version) is not None:
        raise Conflict(
            f"the connector '{connector.slug}' has a version {version} already; import with "
            "as_new_version=true to make the file that connector's next draft"
        )


async def _import_history(
    session: AsyncSession,
    principal: Principal,
    result: Imported,
    file: ImportFile,
    entries: list[HistoryEntry],
    spec: ConnectorSpec,
    document: dict[str, Any],
    box: SecretBox,
) -> Imported:
    """Import *entries* as published versions, then the file's document as the draft."""
    files = file.source.files or {}
    last = entries[-1]
    # The exported version was the latest published one: there is no draft to add.
    needs_draft = has_changes(
        without_secrets(last.document), without_secrets(document), last.files, files
    )
    target = result.connector
    existing: list[ConnectorVersion] = []
    if target is not None:
        await _check_clash(session, target, None, as_new_version=True)
        existing = await published_versions(session, target)
    result.history = plan_history(entries, existing, without_secrets)
    if not needs_draft and all(step.action == "exists" for step in result.history):
        raise Conflict(
            f"the connector '{result.slug}' has every version of the file already "
            f"(up to {last.version}); there is nothing to import"
        )
    head = ConnectorVersion(
        id=new_id(),
        connector_id=target.id if target is not None else "",
        document=conceal_defaults(document if needs_draft else last.document)[0],
        files=files if needs_draft else last.files,
    )
    if existing:
        result.diff = compare_versions(existing[-1], head)
    if result.dry_run:
        return result
    new = [
        entry
        for entry, step in zip(entries, result.history, strict=True)
        if step.action == "create"
    ]
    rows: list[ConnectorVersion] = []
    if target is None:
        first = new.pop(0)
        target, row = await create_connector(
            session, principal, first.spec, first.document, first.files, first.changelog, box=box
        )
        _freeze(row, first, principal)
        await session.flush()
        rows.append(row)
        result.connector = target
    follows = [existing[-1].id] if existing else []
    for entry in new:
        row = ConnectorVersion(
            id=new_id(), connector_id=target.id, files=entry.files, changelog=entry.changelog
        )
        row.document = await store_sensitive_defaults(
            session, box, row.id, entry.document, follows[-1:]
        )
        _freeze(row, entry, principal)
        session.add(row)
        rows.append(row)
        follows.append(row.id)
    if rows:
        target.latest_version = last.version
        apply_metadata(target, last.spec)
    described: ConnectorVersion | None = rows[-1] if rows else None
    if needs_draft:
        draft = ConnectorVersion(
            id=head.id,
            connector_id=target.id,
            files=files,
            changelog=file.changelog,
            created_by=principal.user_id,
        )
        draft.document = await store_sensitive_defaults(
            session, box, draft.id, document, follows[-1:]
        )
        session.add(draft)
        result.draft = described = draft
    if file.openapi is not None and described is not None:
        await session.flush()
        await store_description(session, described.id, *file.openapi)
    await commit_or_conflict(session)
    return result


def _freeze(row: ConnectorVersion, entry: HistoryEntry, principal: Principal) -> None:
    """Make *row* the published version *entry*, with the file's publish time."""
    row.version = entry.version
    row.major, row.minor, row.patch = entry.parts
    row.is_draft = False
    row.changelog = entry.changelog
    row.created_by = row.created_by or principal.user_id
    row.published_by = principal.user_id
    row.published_at = entry.published_at or utcnow()
