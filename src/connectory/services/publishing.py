"""Publishing a connector's draft: the checklist, the version number, the freeze.

Publishing validates the draft (every problem, and at least one operation), refuses a draft
identical to the latest version, assigns the next version (1.0.0 first, then the bump the
publisher chose or the suggested one) and turns the draft row into that version with one
conditional write, so two concurrent publishes cannot both succeed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import Conflict, PermissionDenied, Problem, SpecError
from connectory.services.access import check_may_edit_connector
from connectory.services.connector_documents import check_document, check_files, with_version
from connectory.services.connector_versions import (
    DiffResult,
    compare_versions,
    get_draft,
    update_draft,
)
from connectory.services.connectors import (
    apply_metadata,
    commit_or_conflict,
    find_editable_connector,
    published_version,
)
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox
from connectory.services.sensitive_defaults import changed_sensitive_defaults
from connectory.services.versioning import (
    BUMPS,
    Bump,
    BumpSuggestion,
    has_changes,
    next_version,
    parse_version,
)
from connectory.spec import ConnectorSpec
from connectory.store.models import Connector, ConnectorVersion, utcnow


@dataclass(frozen=True)
class Check:
    """One item of the publish checklist."""

    name: str
    ok: bool
    message: str


@dataclass
class PublishPlan:
    """What publishing the draft would do, and whether it can."""

    connector: Connector
    draft: ConnectorVersion
    latest: ConnectorVersion | None
    checks: list[Check]
    problems: list[Problem]
    next_versions: dict[str, str]
    suggestion: BumpSuggestion | None
    diff: DiffResult | None

    @property
    def ready(self) -> bool:
        """True when every check passes."""
        return all(check.ok for check in self.checks)


async def plan_publish(
    session: AsyncSession, principal: Principal, connector_id: str, *, box: SecretBox
) -> PublishPlan:
    """Work out what publishing the draft would do (nothing is written).

    *box* opens the sealed sensitive defaults: a draft whose only change is the value of one
    is a change (both documents show the placeholder there).
    """
    connector, draft = await get_draft(session, principal, connector_id)
    latest = await published_version(session, connector, connector.latest_version)
    sealed = (
        await changed_sensitive_defaults(session, box, latest.id, draft.id)
        if latest is not None
        else []
    )
    # The code is part of what is published: it must compile and fit the references (V8
    # compiles it: off the event loop).
    source = await asyncio.to_thread(check_document, draft.document, files=dict(draft.files))
    problems = [*source.problems, *check_files(draft.files)]
    spec = source.report.spec
    if spec is not None and not spec.operations and not spec.collections:
        # A connector of collections alone (inline requests, JavaScript methods) does work.
        problems.append(
            Problem(
                "publishing needs at least one operation or collection; add one under "
                "operations: (or collections:)",
                "operations",
            )
        )
    errors = [p for p in problems if p.severity == "error"]
    permission = _permission(principal, connector)
    changed = (
        latest is None
        or bool(sealed)
        or has_changes(latest.document, draft.document, latest.files, draft.files)
    )
    checks = [
        Check("permission", permission is None, permission or "you may publish this connector"),
        Check(
            "valid",
            spec is not None and not errors,
            f"{len(errors)} error(s) to fix" if errors else "the connector is valid",
        ),
        Check(
            "operations",
            bool(spec and spec.operations),
            f"{len(spec.operations)} operation(s)" if spec and spec.operations else "no operation",
        ),
        _changes_check(latest, changed),
    ]
    diff = compare_versions(latest, draft, sealed) if latest is not None else None
    return PublishPlan(
        connector=connector,
        draft=draft,
        latest=latest,
        checks=checks,
        problems=problems,
        next_versions={bump: next_version(connector.latest_version, bump) for bump in BUMPS},
        suggestion=diff.suggestion if diff is not None else None,
        diff=diff,
    )


def _changes_check(latest: ConnectorVersion | None, changed: bool) -> Check:
    if latest is None:
        return Check("changes", True, "first publish: the version will be 1.0.0")
    if changed:
        return Check("changes", True, f"changed since {latest.version}")
    return Check("changes", False, f"nothing changed since {latest.version}")


def _permission(principal: Principal, connector: Connector) -> str | None:
    try:
        check_may_edit_connector(principal, connector)
    except PermissionDenied as error:
        return str(error)
    return None


@dataclass
class Published:
    """The outcome of a publish."""

    connector: Connector
    version: ConnectorVersion
    bump: Bump | None
    suggestion: BumpSuggestion | None


async def publish_draft(
    session: AsyncSession,
    principal: Principal,
    connector_id: str,
    *,
    bump: Bump | None = None,
    changelog: str | None = None,
    scope: str | None = None,
    box: SecretBox,
) -> Published:
    """Publish the draft as the next version and freeze it.

    Raises:
        NotFound: the connector is not visible, or has no draft.
        PermissionDenied: the caller may not publish it, or *scope* is not the connector's.
        SpecError: the draft is invalid or has no operation.
        Conflict: nothing changed since the latest version.
    """
    connector = await find_editable_connector(session, principal, connector_id)
    if scope is not None and scope != connector.scope:
        raise PermissionDenied(_scope_message(principal, connector, scope))
    plan = await plan_publish(session, principal, connector_id, box=box)
    if any(p.severity == "error" for p in plan.problems):
        raise SpecError(plan.problems)
    if plan.latest is not None and not next(c for c in plan.checks if c.name == "changes").ok:
        raise Conflict(
            f"nothing changed since {plan.latest.version}; edit the draft before publishing"
        )
    applied: Bump = bump or (plan.suggestion.bump if plan.suggestion else "major")
    version = next_version(connector.latest_version, applied)
    major, minor, patch = parse_version(version)
    draft = plan.draft
    document = with_version(draft.document, version)
    spec = ConnectorSpec.model_validate(document)
    now = utcnow()
    values = {
        "document": document,
        "version": version,
        "major": major,
        "minor": minor,
        "patch": patch,
        "is_draft": False,
        "published_by": principal.user_id,
        "published_at": now,
        "updated_at": now,
    }
    if changelog is not None:
        values["changelog"] = changelog
    await update_draft(session, draft, values)
    connector.latest_version = version
    apply_metadata(connector, spec)
    await commit_or_conflict(session)
    return Published(connector, draft, applied if plan.latest else None, plan.suggestion)


def _scope_message(principal: Principal, connector: Connector, scope: str) -> str:
    if scope == "catalogue":
        return (
            "only platform admins publish to the catalogue; this connector belongs to your "
            "enterprise, publish it with scope: enterprise (or leave scope out)"
        )
    if principal.is_platform_admin:
        return (
            "platform admins publish to the catalogue; enterprise connectors are published by "
            "their enterprise's admins. Publish with scope: catalogue (or leave scope out)"
        )
    return f"scope must be '{connector.scope}', the connector's scope"
