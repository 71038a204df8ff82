"""Importing OpenAPI and Swagger documents: the one use case behind the CLI, the API and the UI.

:func:`import_document` reads a document (a file, uploaded bytes, or a URL fetched with a size
cap and a timeout, through the egress guard on the server) and runs the pure transform
:func:`connectory.openapi.import_openapi`. :func:`create_draft` stores the result as a new
connector's draft; :func:`reimport` compares it with an existing connector (its draft, or its
latest version) and replaces the draft only when asked.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.addresses import ambiguous_host_problem
from connectory.errors import (
    EgressDenied,
    FieldIssue,
    InvalidRequest,
    InvalidURL,
    NotFound,
    Problem,
    TransportError,
    UpstreamTimeout,
)
from connectory.http.redirects import refuse_ambiguous_redirects
from connectory.openapi import (
    MAX_DOCUMENT_BYTES,
    ImportResult,
    OpenAPIError,
    OpenAPIWarning,
    accept_pagination,
    import_openapi,
    plan_reimport,
    size_problem,
)
from connectory.openapi.collections import accept_collections
from connectory.openapi.drift import describe_drift
from connectory.services import connectors
from connectory.services.access import check_may_build_connectors
from connectory.services.connector_documents import ConnectorSource, check_document
from connectory.services.connector_versions import SavedDraft, label_of, save_draft, spec_of
from connectory.services.openapi_descriptions import load_description, store_description
from connectory.services.principal import Principal
from connectory.services.secret_store import SecretBox
from connectory.services.versioning import BumpSuggestion, VersionDiff, diff_versions, suggest_bump
from connectory.store.models import Connector, ConnectorVersion

#: Seconds a document URL has to answer in full.
FETCH_TIMEOUT = 30.0
_MAX_REDIRECTS = 5
_ACCEPT = "application/json, application/yaml;q=0.9, text/yaml;q=0.9, */*;q=0.5"

TransportFactory = Callable[[], httpx.AsyncBaseTransport]


@dataclass(frozen=True)
class ImportOptions:
    """What to import from a document, and how.

    Attributes:
        tags: Only operations with one of these tags (with *operation_ids*: either matches).
        operation_ids: Only these operations (``operationId`` or connector name).
        auth_scheme: The security scheme the auth block comes from (default: most used).
        accept_pagination: Apply every pagination suggestion (True), those of the named
            operations (a list), or none (False).
        accept_collections: Add every suggested collection (True), those of the named keys
            (a list), or none (False).
    """

    tags: list[str] | None = None
    operation_ids: list[str] | None = None
    auth_scheme: str | None = None
    accept_pagination: bool | list[str] = False
    accept_collections: bool | list[str] = False

    def accepts_collection(self, key: str) -> bool:
        """True when the suggested collection *key* is to be added."""
        accepted = self.accept_collections
        return accepted if isinstance(accepted, bool) else key in accepted

    def accepts_pagination_for(self, operation: str) -> bool:
        """True when *operation*'s pagination suggestion is to be applied."""
        accepted = self.accept_pagination
        return accepted if isinstance(accepted, bool) else operation in accepted


def pagination_acceptance(every: bool, named: Sequence[str] | None) -> bool | list[str]:
    """Return :attr:`ImportOptions.accept_pagination` from the API's and the CLI's two switches.

    Args:
        every: Accept every suggestion (wins over *named*).
        named: Accept the suggestions of these operations.
    """
    if every:
        return True
    return list(named) if named else False


@dataclass(frozen=True)
class DocumentSource:
    """Where a document comes from: exactly one of *path*, *content* or *url*.

    Attributes:
        path: A local file (the CLI).
        content: The document's bytes (an upload).
        url: An http(s) URL to fetch.
        name: How messages name the document.
    """

    path: Path | None = None
    content: bytes | None = None
    url: str | None = None
    name: str | None = None


async def import_document(
    source: DocumentSource,
    options: ImportOptions | None = None,
    *,
    transport_factory: TransportFactory | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Read the document and import it (the transform runs in a worker thread).

    Args:
        source: The file, bytes or URL.
        options: Filters, auth scheme and accepted pagination.
        transport_factory: Transports for fetching URLs (the server passes the egress guard's;
            default: a plain transport, for the CLI on the user's own machine).
        max_bytes: Largest document accepted.
        on_progress: Called with (operations done, operations to do).

    Raises:
        OpenAPIError: the document cannot be read or imported (a 422, every problem listed).
        InvalidRequest: the source is unusable (a URL that is not http(s), an error status).
        EgressDenied: the URL's address is internal and not allowlisted.
        TransportError: the URL could not be fetched in time.
    """
    options = options or ImportOptions()
    url: str | None = None
    if source.url is not None:
        url = source.url
        raw = await fetch_document(url, transport_factory=transport_factory, max_bytes=max_bytes)
    elif source.path is not None:
        raw = await anyio.to_thread.run_sync(read_document_file, source.path, max_bytes)
    elif source.content is not None:
        raw = source.content
    else:
        raise InvalidRequest("send an OpenAPI document or a URL to read it from")
    name = source.name or url or (source.path.name if source.path is not None else None)

    def transform() -> ImportResult:
        result = import_openapi(
            raw,
            tags=options.tags,
            operation_ids=options.operation_ids,
            auth_scheme=options.auth_scheme,
            source_url=url,
            source_name=name,
            max_bytes=max_bytes,
            on_progress=on_progress,
        )
        result = _accepted(result, options.accept_pagination)
        result.source_bytes = raw
        result.source_name = name
        return _accepted_collections(result, options.accept_collections)

    return await anyio.to_thread.run_sync(transform)


def _accepted(result: ImportResult, accept: bool | list[str]) -> ImportResult:
    if accept is False or not result.suggestions:
        return result
    names = None if accept is True else list(accept)
    unknown = sorted(set(names or []) - {s.operation for s in result.suggestions})
    if unknown:
        raise InvalidRequest(
            f"no pagination is suggested for {', '.join(unknown[:10])}; suggested for: "
            f"{', '.join(s.operation for s in result.suggestions[:10])}",
            [FieldIssue(("query", "accept_pagination_for"), "not a suggested operation")],
        )
    result.connector = accept_pagination(result.connector, result.suggestions, names)
    return result


def _accepted_collections(result: ImportResult, accept: bool | list[str]) -> ImportResult:
    if accept is False:
        return result
    keys = None if accept is True else list(accept)
    unknown = sorted(set(keys or []) - {s.key for s in result.collection_suggestions})
    if unknown:
        raise InvalidRequest(
            f"no collection is suggested as {', '.join(unknown[:10])}; suggested: "
            f"{', '.join(s.key for s in result.collection_suggestions[:10]) or 'none'}",
            [FieldIssue(("query", "accept_collection"), "not a suggested collection")],
        )
    result.connector = accept_collections(result.connector, result.collection_suggestions, keys)
    return result


def read_document_file(path: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """Return a document file's bytes; a file over *max_bytes* is refused without reading it.

    Raises:
        OpenAPIError: the file is missing, not a regular file, or too large.
    """

    def fail(message: str) -> OpenAPIError:
        return OpenAPIError([Problem(message, file=path.name)])

    try:
        info = path.stat()
    except FileNotFoundError:
        raise fail("file not found") from None
    except OSError as error:
        raise fail(f"cannot read the file: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise fail("not a regular file")
    if info.st_size > max_bytes:
        raise fail(size_problem(info.st_size, max_bytes))
    try:
        with path.open("rb") as stream:
            raw = stream.read(max_bytes + 1)  # the file may grow after stat
    except OSError as error:
        raise fail(f"cannot read the file: {error.strerror}") from None
    if len(raw) > max_bytes:
        raise fail(size_problem(len(raw), max_bytes))
    return raw


async def fetch_document(
    url: str,
    *,
    transport_factory: TransportFactory | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    timeout: float = FETCH_TIMEOUT,
) -> bytes:
    """Fetch a document, reading at most *max_bytes* + 1 bytes within *timeout* seconds.

    Raises:
        InvalidRequest: not an http(s) URL, or the server answered an error status.
        OpenAPIError: the document is larger than *max_bytes*.
        EgressDenied: the address is internal and not allowlisted.
        TransportError: the server could not be reached or did not answer in time.
    """
    _check_url(url)
    transport = transport_factory() if transport_factory is not None else None
    try:
        with anyio.fail_after(timeout):
            async with httpx.AsyncClient(
                transport=transport,
                follow_redirects=True,
                max_redirects=_MAX_REDIRECTS,
                event_hooks={"response": [refuse_ambiguous_redirects]},
                timeout=timeout,
                headers={"Accept": _ACCEPT, "User-Agent": "connectory-openapi-import"},
            ) as client:
                return await _read_capped(client, url, max_bytes)
    except TimeoutError:
        message = f"the document at {_shown(url)} did not arrive within {timeout:g} s"
        raise UpstreamTimeout(message) from None
    except EgressDenied:
        raise
    except httpx.TooManyRedirects:
        raise InvalidRequest(f"{_shown(url)} redirects more than {_MAX_REDIRECTS} times") from None
    except InvalidURL as error:
        raise InvalidRequest(str(error), [FieldIssue(("body", "url"), str(error))]) from None
    except httpx.InvalidURL as error:
        raise InvalidRequest(
            f"the URL is not valid: {error}", [FieldIssue(("body", "url"), str(error))]
        ) from None
    except httpx.HTTPError as error:
        raise TransportError(f"cannot fetch {_shown(url)}: {type(error).__name__}") from None


async def _read_capped(client: httpx.AsyncClient, url: str, max_bytes: int) -> bytes:
    async with client.stream("GET", url) as response:
        if response.status_code >= 400:
            raise InvalidRequest(
                f"{_shown(url)} answered {response.status_code}; check the URL",
                [FieldIssue(("body", "url"), f"HTTP {response.status_code}")],
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise OpenAPIError([Problem(size_problem(int(declared), max_bytes), file=url)])
        chunks = bytearray()
        async for chunk in response.aiter_bytes():
            chunks += chunk
            if len(chunks) > max_bytes:
                raise OpenAPIError([Problem(size_problem(len(chunks), max_bytes), file=url)])
        return bytes(chunks)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(
            "the URL must be an absolute http(s) URL",
            [FieldIssue(("body", "url"), "expected http:// or https://")],
        )
    if parts.username or parts.password:
        raise InvalidRequest(
            "the URL must not carry credentials",
            [FieldIssue(("body", "url"), "remove user:password@")],
        )
    problem = ambiguous_host_problem(parts.hostname) if ":" not in parts.hostname else None
    if problem is not None:
        raise InvalidRequest(problem, [FieldIssue(("body", "url"), problem)])


def _shown(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."


# --- storing -------------------------------------------------------------------------------


@dataclass
class CreatedDraft:
    """A connector created from an import."""

    connector: Connector
    draft: ConnectorVersion
    problems: list[Problem] = field(default_factory=list)


def check_imported(result: ImportResult) -> ConnectorSource:
    """Validate the imported connector as the platform stores connectors."""
    return check_document(result.connector)


async def create_draft(
    session: AsyncSession, principal: Principal, result: ImportResult, *, box: SecretBox
) -> CreatedDraft:
    """Create a connector whose draft is the imported document (committed).

    Raises:
        PermissionDenied: the caller may not build connectors.
        SpecError: the connector does not pass the platform's checks (e.g. too large).
        Conflict: the slug is taken.
    """
    check_may_build_connectors(principal)
    source = await anyio.to_thread.run_sync(check_imported, result)
    spec, document = source.valid()
    connector, draft = await connectors.create_connector(
        session,
        principal,
        spec,
        document,
        {},
        changelog="Imported from an OpenAPI document",
        box=box,
    )
    if result.source_bytes is not None:
        await session.flush()
        await store_description(session, draft.id, result.source_bytes, result.source_name)
    await connectors.commit_or_conflict(session)
    return CreatedDraft(connector, draft, source.problems)


@dataclass
class ReimportOutcome:
    """What re-importing a document into a connector changes (or changed).

    Attributes:
        connector: The connector.
        base: The version compared against (the draft, else the latest published version).
        document: The connector document after the re-import.
        diff: The changes, with operations added, removed and changed.
        suggestion: The version bump the change calls for (published connectors only).
        notes: Differences kept as they were (base URL, auth).
        problems: Warnings of the platform's checks on the new document.
        drift: How the description changed since the one kept with the compared version
            (empty when none was kept).
        saved: The draft written (None in a dry run).
    """

    connector: Connector
    base: ConnectorVersion
    document: dict[str, Any]
    diff: VersionDiff
    suggestion: BumpSuggestion | None
    notes: list[OpenAPIWarning]
    problems: list[Problem]
    saved: SavedDraft | None = None
    drift: list[str] = field(default_factory=list)


async def reimport(
    session: AsyncSession,
    principal: Principal,
    connector_id: str,
    result: ImportResult,
    *,
    dry_run: bool,
    box: SecretBox,
) -> ReimportOutcome:
    """Compare an import with a connector and, unless *dry_run*, make it the connector's draft.

    Raises:
        NotFound: no such connector, or the caller cannot see it or its versions.
        PermissionDenied: the caller may not change it.
        SpecError: the merged connector does not pass the platform's checks.
    """
    connector = await connectors.find_editable_connector(session, principal, connector_id)
    base = await connectors.draft_of(session, connector) or await connectors.published_version(
        session, connector, connector.latest_version
    )
    if base is None:
        raise NotFound(f"the connector '{connector.slug}' has no draft or version to compare with")
    plan = plan_reimport(base.document, result.connector)
    source = await anyio.to_thread.run_sync(check_document, plan.document)
    spec, document = source.valid()
    diff = diff_versions(base.document, document, labels=(label_of(base), "import"))
    suggestion = None
    if connector.latest_version is not None:
        old = spec_of(base)
        suggestion = suggest_bump(old, spec) if old is not None else None
    outcome = ReimportOutcome(
        connector, base, document, diff, suggestion, plan.notes, source.problems
    )
    kept = await load_description(session, base.id)
    if kept is not None and result.source_bytes is not None:
        outcome.drift = await anyio.to_thread.run_sync(
            description_drift, kept.content, result.source_bytes
        )
    if not dry_run:
        outcome.saved = await save_draft(session, principal, connector.id, source, box=box)
        if result.source_bytes is not None:
            await store_description(
                session, outcome.saved.draft.id, result.source_bytes, result.source_name
            )
            await session.commit()
    return outcome


def description_drift(old: bytes, new: bytes) -> list[str]:
    """How the description *new* drifted from *old* (one line per kind of change).

    A note instead when the kept one cannot be read any more.
    """
    from connectory.openapi.reading import read_document

    try:
        before = read_document(old).data
        after = read_document(new).data
    except OpenAPIError:
        return ["the description kept before cannot be read; no drift shown"]
    return describe_drift(before, after)
