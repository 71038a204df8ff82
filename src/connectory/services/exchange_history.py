"""Version history in export files: every published version, frozen, beside the exported one.

An export made with ``history`` carries a ``history`` list, oldest first::

    "history": [
      {"version": "1.0.0", "published_at": "2026-01-01T00:00:00Z", "changelog": "...",
       "document": {...}, "files": {...}},
      ...
    ]

Each entry's document is stripped of secrets like the exported one. An import with history
recreates the entries as published versions, in order, with their publish times, then the
file's own document as the draft when it is not simply the last entry. Into an existing
connector, an entry whose version is published there already must be the same (it is skipped);
a different one, or one that would go before the latest version, is refused, so a history is
never rewritten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import Conflict, FieldIssue, InvalidRequest, Problem, SpecError
from connectory.services.connector_documents import (
    check_changelog,
    check_document,
    check_files,
    read_files,
)
from connectory.services.versioning import has_changes, parse_version
from connectory.spec import ConnectorSpec
from connectory.store.models import Connector, ConnectorVersion

#: The most versions one export file may carry.
MAX_HISTORY = 500
_ENTRY_KEYS = frozenset({"version", "published_at", "changelog", "document", "files"})


def _stamp(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite gives naive datetimes back; they are UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def published_versions(session: AsyncSession, connector: Connector) -> list[ConnectorVersion]:
    """Every published version of *connector*, oldest (lowest semver) first."""
    rows = await session.scalars(
        select(ConnectorVersion)
        .where(ConnectorVersion.connector_id == connector.id, ConnectorVersion.is_draft.is_(False))
        .order_by(ConnectorVersion.major, ConnectorVersion.minor, ConnectorVersion.patch)
    )
    return list(rows)


def history_entry(version: ConnectorVersion, document: dict[str, Any]) -> dict[str, Any]:
    """One ``history`` entry: *document* is the version's document, secrets already stripped."""
    return {
        "changelog": version.changelog,
        "document": document,
        "files": dict(version.files),
        "published_at": _stamp(version.published_at),
        "version": version.version,
    }


@dataclass
class HistoryEntry:
    """One published version read from an export file, checked."""

    version: str
    published_at: datetime | None
    changelog: str
    document: dict[str, Any]
    files: dict[str, str]
    spec: ConnectorSpec

    @property
    def parts(self) -> tuple[int, int, int]:
        """``(major, minor, patch)``."""
        return parse_version(self.version)


def read_history(value: Any) -> list[HistoryEntry]:
    """Check an export file's ``history``: valid connectors, versions strictly increasing.

    Raises:
        InvalidRequest: the list or an entry's shape is wrong, or the versions are out of order.
        SpecError: an entry's connector is invalid (problems prefixed with ``history[i]``).
    """
    if not isinstance(value, list):
        raise InvalidRequest(
            "history must be a list of published versions",
            [FieldIssue(("body", "history"), "expected a list")],
        )
    if len(value) > MAX_HISTORY:
        raise InvalidRequest(
            f"history holds more than {MAX_HISTORY} versions",
            [FieldIssue(("body", "history"), f"at most {MAX_HISTORY} entries")],
        )
    entries: list[HistoryEntry] = []
    for index, item in enumerate(value):
        entry = _read_entry(index, item)
        if entries and entry.parts <= entries[-1].parts:
            raise InvalidRequest(
                f"history[{index}] is version {entry.version}, not after "
                f"{entries[-1].version}: versions must be listed oldest first, once each",
                [FieldIssue(("body", "history", str(index), "version"), "out of order")],
            )
        entries.append(entry)
    return entries


def _read_entry(index: int, item: Any) -> HistoryEntry:
    where: tuple[str, ...] = ("body", "history", str(index))
    if not isinstance(item, dict):
        raise InvalidRequest(
            f"history[{index}] must be an object", [FieldIssue(where, "expected an object")]
        )
    unknown = sorted(str(key)[:80] for key in set(item) - _ENTRY_KEYS)
    if unknown:
        raise InvalidRequest(
            f"unknown field(s) in history[{index}]: {', '.join(unknown[:5])}",
            [FieldIssue((*where, key), "unknown field") for key in unknown[:20]],
        )
    raw_version = item.get("version")
    # The column holds 32 characters; a longer run of digits is no real version.
    version = raw_version if isinstance(raw_version, str) and len(raw_version) <= 32 else ""
    try:
        parse_version(version)
    except ValueError:
        raise InvalidRequest(
            f"history[{index}].version must be a version such as 1.2.0",
            [FieldIssue((*where, "version"), "expected MAJOR.MINOR.PATCH")],
        ) from None
    published_at = _read_time(item.get("published_at"), (*where, "published_at"))
    changelog = item.get("changelog", "")
    if not isinstance(changelog, str):
        raise InvalidRequest(
            f"history[{index}].changelog must be text",
            [FieldIssue((*where, "changelog"), "expected text")],
        )
    if not isinstance(item.get("document"), dict):
        raise InvalidRequest(
            f"history[{index}] has no document",
            [FieldIssue((*where, "document"), "expected an object")],
        )
    files = read_files(item.get("files", {}))
    source = check_document(
        {**item["document"], "version": version}, filename=f"history[{index}]", files=files
    )
    problems = [*source.problems, *check_files(files)]
    errors = [p for p in problems if p.severity == "error"]
    if errors or source.report.spec is None:
        raise SpecError(
            [
                replace(p, message=f"history[{index}] (version {version}): {p.message}")
                for p in errors
            ]
            or [Problem(f"history[{index}] (version {version}) is not a valid connector")]
        )
    spec, document = source.valid()
    return HistoryEntry(
        version=version,
        published_at=published_at,
        changelog=check_changelog(changelog, (*where, "changelog")),
        document=document,
        files=files,
        spec=spec,
    )


def _read_time(value: Any, where: tuple[str, ...]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).replace(tzinfo=None)
    raise InvalidRequest(
        f"{'.'.join(where[1:])} must be a time such as 2026-01-01T00:00:00Z",
        [FieldIssue(where, "expected an ISO 8601 time")],
    )


@dataclass(frozen=True)
class HistoryStep:
    """What an import does with one version of the file's history."""

    version: str
    action: Literal["create", "exists"]


def plan_history(
    entries: list[HistoryEntry],
    existing: list[ConnectorVersion],
    strip: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[HistoryStep]:
    """Match the file's history against the versions a connector has.

    Args:
        entries: The file's history, checked.
        existing: The connector's published versions, oldest first.
        strip: Removes the sensitive defaults of a document, so that a stored one (with
            placeholders) and the file's (without them) compare.

    Raises:
        Conflict: a version exists with other content, or a new one would go before the
            connector's latest version.
    """
    by_version = {row.version: row for row in existing}
    latest = existing[-1] if existing else None
    steps: list[HistoryStep] = []
    for entry in entries:
        row = by_version.get(entry.version)
        if row is not None:
            if has_changes(strip(row.document), strip(entry.document), row.files, entry.files):
                raise Conflict(
                    f"the connector has a version {entry.version} already, with other content "
                    "than the file's; a published version never changes. Import without "
                    "history (as the next draft), or into another connector"
                )
            steps.append(HistoryStep(entry.version, "exists"))
            continue
        if latest is not None and entry.parts < (latest.major, latest.minor, latest.patch):
            raise Conflict(
                f"the file's version {entry.version} would go before the connector's latest "
                f"version {latest.version}; versions are published in order. Import without "
                "history (as the next draft), or into another connector"
            )
        steps.append(HistoryStep(entry.version, "create"))
    return steps
