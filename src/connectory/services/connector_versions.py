"""Drafts and version history of connectors (publishing is in :mod:`.publishing`).

A connector has at most one draft (``is_draft``) and any number of published versions. Edits
only ever touch the draft, and every write to a version row is conditional on ``is_draft``: a
request that loaded the draft just before another published it changes nothing (409), so a
published version is never altered, whatever runs concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import Conflict, InvalidRequest, NotFound, Problem
from connectory.services.access import may_see_drafts, visible_connectors
from connectory.services.connector_documents import ConnectorSource, with_kept_files
from connectory.services.connectors import (
    apply_metadata,
    check_slug_free,
    commit_or_conflict,
    draft_of,
    find_connector,
    find_editable_connector,
    is_id,
    published_version,
)
from connectory.services.principal import Principal
from connectory.services.secret_store import PLACEHOLDER, SecretBox
from connectory.services.sensitive_defaults import (
    changed_sensitive_defaults,
    delete_sensitive_defaults,
    store_sensitive_defaults,
)
from connectory.services.versioning import (
    BumpSuggestion,
    Change,
    VersionDiff,
    diff_versions,
    is_version,
    suggest_bump,
)
from connectory.spec import ConnectorSpec, check_connector_data
from connectory.store.models import Connection, Connector, ConnectorVersion, new_id, utcnow


def spec_of(version: ConnectorVersion) -> ConnectorSpec | None:
    """The spec of a stored version, its code files attached; None if it no longer loads."""
    spec = check_connector_data(version.document).spec
    return spec.with_code_files(version.files) if spec is not None else None


def label_of(version: ConnectorVersion) -> str:
    """``1.2.0`` or ``draft``."""
    return version.version or "draft"


async def get_draft(
    session: AsyncSession, principal: Principal, connector_id: str
) -> tuple[Connector, ConnectorVersion]:
    """Return the connector and its draft.

    Raises:
        NotFound: the connector is not visible, or has no draft the caller may see.
    """
    connector = await find_connector(session, principal, connector_id)
    draft = await draft_of(session, connector) if may_see_drafts(principal, connector) else None
    if draft is None:
        raise NotFound(f"the connector '{connector.slug}' has no draft")
    return connector, draft


@dataclass
class SavedDraft:
    """The outcome of saving a draft."""

    connector: Connector
    draft: ConnectorVersion
    created: bool
    warnings: list[Problem] = field(default_factory=list)


async def save_draft(
    session: AsyncSession,
    principal: Principal,
    connector_id: str,
    source: ConnectorSource,
    *,
    box: SecretBox,
) -> SavedDraft:
    """Replace the draft's content, starting a draft from the latest version if there is none.

    Sensitive defaults are sealed with *box*; one sent as the placeholder keeps the value the
    draft (else the latest version) has.

    Raises:
        SpecError: the connector is invalid.
        InvalidRequest: the slug changes after the first publish; a sensitive default is the
            placeholder but no value is stored for it.
        Conflict: the new slug is taken.
    """
    connector = await find_editable_connector(session, principal, connector_id)
    spec, document = source.valid()
    await check_new_slug(session, connector, spec)
    draft = await draft_of(session, connector)
    created = draft is None
    latest = await published_version(session, connector, connector.latest_version)
    follows = (latest.id,) if latest is not None else ()
    # Files carry over from the draft, or the version it starts from, unless new ones came.
    kept = dict(draft.files) if draft is not None else dict(latest.files) if latest else {}
    if source.files is None and spec.has_code:
        # The document's references to code must fit the files it keeps (V8 compiles: off
        # the event loop).
        source = await asyncio.to_thread(with_kept_files, source, kept)
    if draft is None:
        draft_id = new_id()
        document = await store_sensitive_defaults(session, box, draft_id, document, follows)
        draft = ConnectorVersion(
            id=draft_id,
            connector_id=connector.id,
            document=document,
            files=kept if source.files is None else source.files,
            changelog="",
            created_by=principal.user_id,
        )
        session.add(draft)
    else:
        document = await store_sensitive_defaults(
            session, box, draft.id, document, (draft.id, *follows)
        )
        values: dict[str, Any] = {"document": document, "updated_at": utcnow()}
        if source.files is not None:
            values["files"] = source.files
        await update_draft(session, draft, values)
    if connector.latest_version is None:
        apply_metadata(connector, spec)  # the index shows the draft until the first publish
    await commit_or_conflict(session)
    return SavedDraft(connector, draft, created, source.problems)


async def check_new_slug(session: AsyncSession, connector: Connector, spec: ConnectorSpec) -> None:
    """Refuse a slug change after the first publish, or a slug another connector has."""
    if spec.slug == connector.slug:
        return
    if connector.latest_version is not None:
        raise InvalidRequest(
            f"the slug cannot change after the first publish: it is '{connector.slug}', the "
            f"connector says '{spec.slug}'; write slug: {connector.slug}",
            problems=[
                Problem(
                    f"the slug is '{connector.slug}' since the first publish; it cannot change",
                    "slug",
                )
            ],
        )
    await check_slug_free(session, connector.owner_key, spec.slug, except_id=connector.id)


async def discard_draft(session: AsyncSession, principal: Principal, connector_id: str) -> None:
    """Delete the draft; the published versions stay as they are.

    Raises:
        NotFound: there is no draft.
        Conflict: the connector was never published (the draft is all it has), or a
            connection uses the draft.
    """
    connector = await find_editable_connector(session, principal, connector_id)
    draft = await draft_of(session, connector)
    if draft is None:
        raise NotFound(f"the connector '{connector.slug}' has no draft")
    if connector.latest_version is None:
        raise Conflict(
            f"the connector '{connector.slug}' was never published, so its draft is all it has; "
            "delete the connector instead"
        )
    users = await session.scalar(
        select(func.count()).select_from(Connection).where(Connection.version_id == draft.id)
    )
    if users:
        raise Conflict(f"{users} connection(s) use the draft; move them to a published version")
    result = await session.execute(
        delete(ConnectorVersion).where(
            ConnectorVersion.id == draft.id, ConnectorVersion.is_draft.is_(True)
        )
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        raise await _changed_meanwhile(session)
    await delete_sensitive_defaults(session, draft.id)
    await commit_or_conflict(session)


async def list_versions(
    session: AsyncSession, principal: Principal, connector_id: str, limit: int, offset: int
) -> tuple[Connector, list[ConnectorVersion], int]:
    """Return the published versions, newest first, one page of them, and how many in all."""
    connector = await find_connector(session, principal, connector_id)
    published = (ConnectorVersion.connector_id == connector.id) & ConnectorVersion.is_draft.is_(
        False
    )
    total = await session.scalar(
        select(func.count()).select_from(ConnectorVersion).where(published)
    )
    rows = await session.scalars(
        select(ConnectorVersion)
        .where(published)
        .order_by(
            ConnectorVersion.major.desc(),
            ConnectorVersion.minor.desc(),
            ConnectorVersion.patch.desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    return connector, list(rows), int(total or 0)


async def get_version(
    session: AsyncSession, principal: Principal, connector_id: str, ref: str
) -> tuple[Connector, ConnectorVersion]:
    """Return one version: ``1.2.0``, ``latest`` or ``draft``.

    Raises:
        NotFound: no such version, or not one the caller may see.
    """
    connector = await find_connector(session, principal, connector_id)
    return connector, await resolve_version(session, principal, connector, ref, "version")


async def resolve_version(
    session: AsyncSession,
    principal: Principal,
    connector: Connector,
    ref: str,
    name: str,
    *,
    other_connectors: bool = False,
) -> ConnectorVersion:
    """Find the version *ref* names: ``draft``, ``latest``, ``1.2.0`` or a version id.

    With *other_connectors*, a version id may name a version of another connector the caller
    can see (to compare a copy with its original). Ids of versions the caller cannot see are
    not found, like any other.
    """
    row: ConnectorVersion | None = None
    if ref == "draft":
        row = await draft_of(session, connector) if may_see_drafts(principal, connector) else None
    elif ref == "latest":
        row = await published_version(session, connector, connector.latest_version)
    elif is_version(ref):
        row = await published_version(session, connector, ref)
    elif is_id(ref):
        found = (
            await session.execute(
                select(ConnectorVersion, Connector)
                .join(Connector, Connector.id == ConnectorVersion.connector_id)
                .where(ConnectorVersion.id == ref, visible_connectors(principal))
            )
        ).first()
        if (
            found is not None
            and (other_connectors or found[1].id == connector.id)
            and (not found[0].is_draft or may_see_drafts(principal, found[1]))
        ):
            row = found[0]
    if row is None:
        raise NotFound(
            f"{name}: no version {ref[:64]!r} of the connector '{connector.slug}' "
            "(use a published version such as 1.0.0, latest, draft, or a version id)"
        )
    return row


@dataclass
class DiffResult:
    """Two versions and what changed from the first to the second."""

    old: ConnectorVersion
    new: ConnectorVersion
    diff: VersionDiff
    suggestion: BumpSuggestion | None


async def diff_connector_versions(
    session: AsyncSession,
    principal: Principal,
    connector_id: str,
    old_ref: str | None,
    new_ref: str | None,
    *,
    box: SecretBox,
) -> DiffResult:
    """Compare two versions (default: the latest published one with the draft).

    A sensitive default whose value changed is listed (its values shown as the placeholder).
    """
    connector = await find_connector(session, principal, connector_id)
    old = await resolve_version(
        session, principal, connector, old_ref or "latest", "from", other_connectors=True
    )
    new = await resolve_version(
        session, principal, connector, new_ref or "draft", "to", other_connectors=True
    )
    sealed = await changed_sensitive_defaults(session, box, old.id, new.id)
    return compare_versions(old, new, sealed)


def compare_versions(
    old: ConnectorVersion, new: ConnectorVersion, sealed_changes: Sequence[str] = ()
) -> DiffResult:
    """Compare two versions (of one connector, or of a copy and its original).

    Args:
        old: The version before.
        new: The version after.
        sealed_changes: Paths of sensitive defaults whose (sealed) values differ; both
            documents show the placeholder there, so the caller works them out (see
            :func:`~connectory.services.sensitive_defaults.changed_sensitive_defaults`).
    """
    diff = diff_versions(
        old.document, new.document, old.files, new.files, labels=(label_of(old), label_of(new))
    )
    diff.changes += [Change(path, "changed", PLACEHOLDER, PLACEHOLDER) for path in sealed_changes]
    old_spec, new_spec = spec_of(old), spec_of(new)
    suggestion = (
        suggest_bump(old_spec, new_spec) if old_spec is not None and new_spec is not None else None
    )
    return DiffResult(old, new, diff, suggestion)


async def update_draft(
    session: AsyncSession, draft: ConnectorVersion, values: dict[str, Any]
) -> None:
    """Write *values* to the draft row, only while it is still a draft.

    Raises:
        Conflict: another request published or discarded the draft meanwhile.
    """
    result = await session.execute(
        update(ConnectorVersion)
        .where(ConnectorVersion.id == draft.id, ConnectorVersion.is_draft.is_(True))
        .values(**values)
        # Keep the loaded object in step, so the answer shows what was written.
        .execution_options(synchronize_session="fetch")
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        raise await _changed_meanwhile(session)


async def _changed_meanwhile(session: AsyncSession) -> Conflict:
    await session.rollback()
    return Conflict(
        "the draft was published or discarded by another request meanwhile; reload the "
        "connector and try again"
    )
