"""The one exception tree of Connectory.

Every error Connectory raises on purpose derives from :class:`ConnectoryError`. Foreign errors
(httpx, pydantic, PyYAML, jsonschema, Jinja2) are translated into this tree at one boundary per
layer, so callers never need to know which library sits underneath.

Messages are written for the person who has to fix the problem: they say what is wrong and what
to do instead. No message ever contains a secret value; callers that build messages from
upstream data pass them through the redactor first.

Tree::

    ConnectoryError
    ├── SpecError                  the connector definition is invalid (carries every Problem)
    ├── TemplateError              a template cannot be compiled or rendered
    ├── InputError                 operation parameters given by the caller are invalid
    ├── CredentialsError           credentials do not match the connector's credential_schema
    ├── OperationNotFound          the connector has no operation of that name
    ├── CollectionNotFound         the connector has no collection of that key
    ├── NotSupported               the collection cannot do that (method, filter, page size)
    ├── RecordError                a collection read or write failed on a record
    │   ├── RecordInvalid          fields do not match the fields schema (nothing was sent)
    │   ├── RecordNotFound         the upstream has no record with that id
    │   └── AmbiguousMatch         a match found more than one record
    ├── AuthError                  the upstream rejected the credentials, or a token request failed
    ├── TransportError             the upstream could not be reached (DNS, connect, reset)
    │   └── UpstreamTimeout        the deadline passed before the upstream answered
    ├── UpstreamError              the upstream answered with an error status
    ├── ResponseError              the upstream answered, but the body is unusable
    │   ├── ResponseTooLarge       the body is larger than the configured limit
    │   └── ResponseSchemaError    the body does not match the response schema (strict mode)
    ├── PaginationError            pagination cannot go on (loop, foreign host, bad cursor)
    ├── RateLimited                no request slot is free before the deadline
    ├── CircuitOpen                the connection's circuit breaker is open
    ├── NotAuthenticated           no valid API token was presented
    ├── NotFound                   no such object, or not visible to the caller (other tenants)
    ├── PermissionDenied           the caller sees the object but may not do this
    ├── Conflict                   the request clashes with the current state (slug taken, in use)
    ├── InvalidRequest             request data is invalid (field errors)
    ├── PayloadTooLarge            the request body is over the limit
    ├── EgressDenied               the destination address is not allowed (internal networks)
    ├── InvalidURL                 a URL to send to is unusable or names its host ambiguously
    ├── ConfigurationError         the server cannot start as configured (keys, settings)
    ├── DecryptionError            a stored secret cannot be decrypted (tampered, wrong row, key)
    ├── StorageUnavailable         the database failed a read or write; send it again
    ├── InternalError              Connectory's own failure (a bug), logged under an error id
    ├── WebhookUnstorable          the database refuses to store a received webhook's data
    └── ScriptError                connector JavaScript threw, did not load, or misused ctx
        └── ScriptLimitError       it hit a limit: time, memory, output, log, apiClient calls
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any


class ConnectoryError(Exception):
    """Base of every error Connectory raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Problem:
    """One problem found in a connector definition.

    Attributes:
        message: What is wrong and what to write instead.
        path: The field path, e.g. ``operations[2].parameters[0].location``; empty for the document.
        file: The file the problem is in, when known.
        line: 1-based line of the offending value, when known.
        column: 1-based column of the offending value, when known.
        severity: ``error`` (the connector is invalid) or ``warning`` (it loads, but look at it).
    """

    message: str
    path: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    severity: str = "error"

    def location(self) -> str:
        """Return ``file:line:col`` (as much of it as is known)."""
        parts = [self.file or "<connector>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        field_part = f" {self.path}:" if self.path else ""
        return f"{where}:{field_part} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form (used by the CLI's JSON output and the API)."""
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


class SpecError(ConnectoryError):
    """The connector definition is invalid. ``problems`` holds every problem found, not just one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        head = f"the connector has {len(errors)} error(s)"
        super().__init__(head + "".join(f"\n  {p}" for p in errors))


class TemplateError(ConnectoryError):
    """A template could not be compiled or rendered."""


class InputError(ConnectoryError):
    """Parameters passed to an operation are invalid.

    Attributes:
        parameter: The parameter at fault, when there is exactly one.
    """

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class CredentialsError(ConnectoryError):
    """Credentials or connector parameters do not match their schema."""


class OperationNotFound(ConnectoryError):
    """The connector has no operation of the requested name."""


class CollectionNotFound(ConnectoryError):
    """The connector has no collection of the requested key."""


class NotSupported(ConnectoryError):
    """A collection method, filter or option the connector does not declare.

    A method the API cannot do is absent from the collection; asking for it is this error,
    never a client-side emulation (a filter is never applied by scanning every record).
    """


class RecordError(ConnectoryError):
    """A collection read or write failed on a record."""


class RecordInvalid(RecordError):
    """Fields given to create or update do not match the collection's fields schema.

    Nothing was sent upstream.

    Attributes:
        issues: ``(field, message)`` for every problem found, not just the first.
    """

    def __init__(self, message: str, issues: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.issues = issues


class RecordNotFound(RecordError):
    """The upstream has no record with the given id (or it was deleted)."""


class AmbiguousMatch(RecordError):
    """A ``match`` found more than one record where one was expected.

    Attributes:
        ids: The ids of (some of) the records that matched.
    """

    def __init__(self, message: str, ids: list[str]) -> None:
        super().__init__(message)
        self.ids = ids


class AuthError(ConnectoryError):
    """The upstream rejected the credentials, or fetching a token failed.

    Attributes:
        status_code: The HTTP status of the rejecting response, when there was one.
        oauth_error: The RFC 6749 error code a token endpoint answered (``invalid_grant``).
        reauthorize: True when only a person authorizing again can mend the connection (the
            provider revoked the grant); Connectory stops calling the provider with it.
    """

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        *,
        oauth_error: str | None = None,
        reauthorize: bool = False,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.oauth_error = oauth_error
        self.reauthorize = reauthorize


@dataclass
class AttemptInfo:
    """How a logical call went: how many attempts were made and why the last one failed."""

    attempts: int = 1
    last_reason: str | None = None
    waits: list[float] = field(default_factory=list)


class TransportError(ConnectoryError):
    """The upstream could not be reached (DNS failure, refused or reset connection)."""

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


class UpstreamTimeout(TransportError):
    """The deadline passed before the upstream answered."""


class UpstreamError(ConnectoryError):
    """The upstream answered with an error status.

    Attributes:
        status_code: The HTTP status code.
        body: The (redacted, truncated) response body, for diagnosis.
        retry_after: Seconds the upstream asked us to wait, when it said so.
        attempts: How many attempts were made.
    """

    def __init__(
        self,
        message: str,
        status_code: int,
        body: str = "",
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.retry_after = retry_after
        self.attempts = attempts


class ResponseError(ConnectoryError):
    """The upstream answered, but the body cannot be used (not JSON, records not found, ...)."""


class ResponseTooLarge(ResponseError):
    """The response body is larger than the configured limit."""


class ResponseSchemaError(ResponseError):
    """The response does not match the operation's response schema (raised in strict mode).

    Attributes:
        mismatches: ``(json_path, message)`` pairs, e.g. ``("$.main.temp", "not a number")``.
    """

    def __init__(self, message: str, mismatches: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.mismatches = mismatches


class PaginationError(ConnectoryError):
    """Pagination cannot continue: a repeated cursor or URL, a next URL on a foreign host, ..."""


class RateLimited(ConnectoryError):
    """No request slot is free before the deadline.

    Attributes:
        retry_after: Seconds until a slot is expected to be free.
        attempts: Attempts made before the call was held back (0 when none was).
    """

    def __init__(self, message: str, retry_after: float | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.attempts = attempts


class CircuitOpen(ConnectoryError):
    """The connection's circuit breaker is open: the call failed fast, upstream was not called.

    Attributes:
        retry_after: Seconds until the breaker lets a probe through.
        attempts: Attempts made before the breaker refused (0 when it refused the first).
    """

    def __init__(self, message: str, retry_after: float | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.attempts = attempts


class NotAuthenticated(ConnectoryError):
    """No valid API token was presented (missing, unknown, revoked or expired)."""


class NotFound(ConnectoryError):
    """No such object, or the caller may not know it exists.

    Another enterprise's objects raise this too, never :class:`PermissionDenied`, so ids cannot
    be probed across tenants.
    """


class PermissionDenied(ConnectoryError):
    """The caller may see the object but not do this with it (their role does not allow it)."""


class Conflict(ConnectoryError):
    """The request clashes with the current state: a taken slug, a connector still in use."""


@dataclass(frozen=True)
class FieldIssue:
    """One problem with one field of a request: where (``["body", "name"]``) and what."""

    location: tuple[str | int, ...]
    message: str


class InvalidRequest(ConnectoryError):
    """Request data is invalid.

    Attributes:
        issues: Field-level problems; empty when the message says it all.
        problems: Connector problems (file, line, field) when the request carried a connector.
    """

    def __init__(
        self,
        message: str,
        issues: list[FieldIssue] | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        super().__init__(message)
        self.issues = issues or []
        self.problems = problems or []


class PayloadTooLarge(ConnectoryError):
    """The request body is larger than the server accepts."""


class EgressDenied(ConnectoryError):
    """The destination resolves to an address the server may not call.

    Loopback, private networks, link-local and cloud metadata, multicast and the like are
    refused unless an allowlist entry opens them.
    """


class InvalidURL(ConnectoryError):
    """A URL Connectory is about to send to is not usable as written.

    Raised for a base URL, token URL, next-page URL or redirect target that is not a valid
    http(s) URL, or whose host is an IPv4 address in a non-canonical form (``0177.0.0.1``,
    ``0x7f.1``, ``2130706433``) that HTTP clients and address checks would read differently.
    """


class ConfigurationError(ConnectoryError):
    """The server cannot start as configured; the message says what to change."""


class DecryptionError(ConnectoryError):
    """A stored secret cannot be decrypted.

    It was altered, copied from another row or field, or encrypted with a key the key ring does
    not have. The message never holds the secret.
    """


@dataclass(frozen=True)
class LogLine:
    """One line connector JavaScript logged with ``ctx.log`` (or ``console``).

    Attributes:
        level: ``debug``, ``info``, ``warn`` or ``error``.
        message: The text (redacted).
        location: ``file:line:col`` of the call, when known.
    """

    level: str
    message: str
    location: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"level": self.level, "message": self.message, "location": self.location}


class ScriptError(ConnectoryError):
    """Connector JavaScript failed: it threw, did not load, or returned something unusable.

    The message starts with ``file:line:col`` (of the throw, or of the function when the
    engine knows no better place) and says what to change.

    Attributes:
        file: The code file (``hooks/sign.js``), when known.
        line: 1-based line in that file, when known.
        column: 1-based column, when known.
        stack: The JavaScript stack, mapped to the connector's files (no engine frames).
        logs: What the code logged before it failed.
        upstream_status: When the code failed with an ``ApiError`` of ``ctx.apiClient`` it
            did not catch: the API's status (a 404 a collection method reports as a missing
            record, for instance); None otherwise.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        stack: list[str] | None = None,
        logs: list[LogLine] | None = None,
        upstream_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.stack = stack or []
        self.logs = logs or []
        self.upstream_status = upstream_status

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (the API's ``script_error``)."""
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "stack": self.stack,
            "logs": [line.to_dict() for line in self.logs],
        }


class ScriptLimitError(ScriptError):
    """Connector JavaScript hit a limit: time, memory, output size, log volume or apiClient calls.

    Attributes:
        limit: Which one: ``time``, ``memory``, ``output``, ``api_calls``, ``timers``.
    """

    def __init__(self, message: str, *, limit: str, **where: Any) -> None:
        super().__init__(message, **where)
        self.limit = limit


class RecordingMismatch(ConnectoryError):
    """A replayed test case sent a request its recording does not have.

    The connector changed (another path, query or header) since the case was recorded, or the
    recording is missing: record the case again with ``connectory test --record``.
    """


class StorageUnavailable(ConnectoryError):
    """The database is unavailable for a read or write (down, full, connection lost).

    What was being written may not have been stored (a connection lost during COMMIT may have
    committed): send it again; a repeated webhook is recognised by its message id. Raised where
    an answer promises durability (a received webhook is acknowledged only once stored): the
    caller answers "try again" instead of an internal error.

    Attributes:
        retry_after: Seconds after which a retry is worth trying.
    """

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InternalError(ConnectoryError):
    """Connectory failed on its own account (a bug, a database schema out of step), not the caller.

    Sending the request again would fail again, so this is no "try again" answer. The cause is
    logged under :attr:`error_id`, which the message quotes so an operator can find it; the
    message never holds the cause itself (a driver's message may quote a statement's values).

    Attributes:
        error_id: The id the cause was logged under.
    """

    def __init__(self, message: str, error_id: str = "") -> None:
        super().__init__(message)
        self.error_id = error_id


def new_error_id() -> str:
    """A new id to log an unexpected error's cause under (16 hex digits).

    Every :class:`InternalError` and every unexpected error's 500 quotes one made here.
    """
    return secrets.token_hex(8)


class WebhookUnstorable(ConnectoryError):
    """The database refuses to store a received webhook's data (a retry would be refused too).

    Only that webhook fails: the others written with it are stored. Nothing of it is stored.
    """


class WebhookRejected(ConnectoryError):
    """A received webhook fails its signature, timestamp or size check; nothing is stored."""


class EventError(ConnectoryError):
    """A subscription or event cannot be handled as its connector declares (the message: why)."""
