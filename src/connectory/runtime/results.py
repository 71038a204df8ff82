"""What the runtime hands back: the result of a call, and the pages of a paginated read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectory.runtime.pagination.base import PagePosition

from connectory.errors import LogLine


@dataclass(slots=True)
class SentRequest:
    """The request as it went out, with secrets redacted (for display and debugging)."""

    method: str
    url: str
    headers: dict[str, str]
    body: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {"method": self.method, "url": self.url, "headers": self.headers, "body": self.body}


@dataclass(slots=True)
class OperationResult:
    """The outcome of one operation call.

    Attributes:
        operation: The operation's name.
        status_code: HTTP status of the final response.
        headers: Response headers, sensitive ones redacted.
        body: The decoded body: JSON data, text, or None when empty.
        elapsed: Seconds from the first attempt to the last byte.
        schema_mismatches: ``(json_path, message)`` where the body does not match the response
            schema (empty when it matches or there is no schema).
        request: The request as sent, redacted.
        request_before_hooks: The request as built, before pre-request hooks changed it
            (only when the operation has pre-request hooks).
        logs: What the connector's JavaScript logged during the call.
        api_calls: Requests a JavaScript method sent through ctx.apiClient, redacted.
    """

    operation: str
    status_code: int
    headers: dict[str, str]
    body: Any
    elapsed: float
    schema_mismatches: list[tuple[str, str]] = field(default_factory=list)
    request: SentRequest | None = None
    request_before_hooks: SentRequest | None = None
    logs: list[LogLine] = field(default_factory=list)
    api_calls: list[SentRequest] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status_code < 300

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (the API and the CLI's --verbose output use it).

        What connector JavaScript did (``request_before_hooks``, ``logs``, ``api_calls``) is
        included when it did something.
        """
        data = {
            "operation": self.operation,
            "status_code": self.status_code,
            "headers": self.headers,
            "body": self.body,
            "elapsed": round(self.elapsed, 6),
            "schema_mismatches": [
                {"path": path, "message": message} for path, message in self.schema_mismatches
            ],
            "request": None if self.request is None else self.request.to_dict(),
        }
        if self.request_before_hooks is not None:
            data["request_before_hooks"] = self.request_before_hooks.to_dict()
        if self.logs:
            data["logs"] = [line.to_dict() for line in self.logs]
        if self.api_calls:
            data["api_calls"] = [call.to_dict() for call in self.api_calls]
        return data


@dataclass(slots=True)
class Page:
    """One page of a paginated read.

    Attributes:
        number: 1-based page number within the read.
        records: The records on this page.
        status_code: HTTP status of the page response.
        url: The page URL, redacted.
        elapsed: Seconds this page took.
        records_so_far: Records read so far, this page included.
        schema_mismatches: Mismatches against the response schema (checked on the first page,
            or on every page in strict mode).
        next: Where the read goes on after this page (pass it as ``resume`` to continue in
            another call); None on the last page.
    """

    number: int
    records: list[Any]
    status_code: int
    url: str
    elapsed: float
    records_so_far: int
    schema_mismatches: list[tuple[str, str]] = field(default_factory=list)
    next: PagePosition | None = None
