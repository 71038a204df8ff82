"""The call log's recorder interface: every call a connection makes becomes one entry.

Whatever a connection does (an operation call, a connection test, a collection method, a hook
or method run, a token refresh, a poll, a webhook intake or delivery) is recorded with **one
call** through the connection's :class:`ConnectionCalls`::

    calls = client.calls                                   # a ConnectorClient's, or
    calls = ConnectionCalls(telemetry, connection_id, redactor=redactor)

    with calls.track("token_refresh", "oauth2") as call:   # times it, records errors
        ...                                                # upstream requests inside are
                                                           # counted as its attempts
    calls.record("webhook_intake", "order.created", status_code=202, duration=0.004)

A tracked call measures its own duration, takes the class and message of an exception that
leaves the block (redacted, and re-raised), becomes a span when tracing is on, counts in the
metrics, and hands one :class:`CallEntry` to the recorder. Requests the runtime sends inside
the block add their attempts, the status of the last reply and the request/response excerpts
(redacted and capped) to the innermost tracked call (see :func:`current_call`). Nested tracks
(a token refresh during an operation call) are entries of their own, linked by ``parent_id``.

Recording never slows or fails the call: a recorder only appends to a bounded buffer (see
:mod:`connectory.observability.buffer`), and nothing here raises into the caller.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

from connectory.http.redaction import Redactor

if TYPE_CHECKING:
    from connectory.observability.metrics import Metrics
    from connectory.observability.tracing import SpanTracing

logger = logging.getLogger("connectory.calls")

#: What a call log entry can record. Other layers add their kind here when they start emitting.
CallKind = Literal[
    "operation",  # POST /connections/{id}/operations/{name}
    "stream",  # the same with all_pages: every page of one read
    "test",  # a connection test
    "collection",  # a collection method (operation = "<collection>.<method>")
    "hook",  # a JavaScript pre-request or post-response hook
    "method",  # a JavaScript method
    "token_refresh",  # a token request (OAuth2, custom login)
    "poll",  # one poll of an event source
    "webhook_intake",  # a webhook received for the connection
    "webhook_delivery",  # an event delivered to a subscriber
    "mcp",  # a tool call of an AI agent (MCP), the tool's name as operation
]
CALL_KINDS: tuple[str, ...] = get_args(CallKind)

CallStatus = Literal["ok", "error"]

#: Default cap on each excerpt, in bytes of UTF-8.
DEFAULT_EXCERPT_BYTES = 2048
#: Error messages are capped at this many characters.
MAX_ERROR_MESSAGE = 2000
#: Operation names are capped at this many characters (the column's size).
MAX_OPERATION = 200


@dataclass(slots=True)
class CallEntry:
    """One entry of a connection's call log (what the recorder receives and the API shows).

    Attributes:
        id: The call id (32 hex digits), sent as ``X-Connectory-Call-Id``.
        connection_id: The connection the call belongs to.
        kind: One of :data:`CALL_KINDS`.
        operation: The operation, ``collection.method``, hook, event or auth step.
        status: ``ok``, or ``error`` when the call raised or the last reply was 4xx/5xx.
        started_at: When the call started (UTC).
        duration: Seconds the call took.
        status_code: The HTTP status of the last upstream reply, when there was one.
        attempts: Upstream requests made (retries included).
        error_class: The class of the error that ended the call (``UpstreamTimeout``).
        error_message: Its message, redacted and capped.
        request_excerpt: The last request as sent: method, URL, headers, body head; redacted,
            capped to the excerpt size.
        response_excerpt: The last reply: status, headers, body head; redacted, capped.
        trace_id: The trace id (32 hex digits) when tracing is on.
        parent_id: The call this one ran inside (a token refresh during an operation call).
        enterprise_id: The connection's owner.
        connector_id: The connection's connector.
    """

    id: str
    connection_id: str
    kind: str
    operation: str | None
    status: CallStatus
    started_at: datetime
    duration: float
    status_code: int | None = None
    attempts: int = 0
    error_class: str | None = None
    error_message: str | None = None
    request_excerpt: str | None = None
    response_excerpt: str | None = None
    trace_id: str | None = None
    parent_id: str | None = None
    enterprise_id: str | None = None
    connector_id: str | None = None


class CallRecorder(Protocol):
    """Where entries go. ``record`` must return at once and never raise."""

    def record(self, entry: CallEntry) -> None:
        """Take *entry* (buffer it, count it as dropped when full)."""


class MemoryRecorder:
    """Keeps every entry in a list (tests, and tools that want the entries in process)."""

    def __init__(self) -> None:
        self.entries: list[CallEntry] = []

    def record(self, entry: CallEntry) -> None:
        """Append *entry*."""
        self.entries.append(entry)


@dataclass
class Telemetry:
    """What a connection's calls report to: the call log, the metrics, the tracer.

    Attributes:
        recorder: The call log (None: off).
        metrics: Prometheus metrics (None: off).
        tracing: OpenTelemetry tracing (None: off): SDK spans (``Tracing``) or Connectory's
            recorder's (``tracing_from_env``).
        excerpt_bytes: Cap on each request/response excerpt.
        wall_clock: Wall-clock time for ``started_at`` (injectable for tests).
        monotonic: Monotonic seconds for durations (injectable for tests).
    """

    recorder: CallRecorder | None = None
    metrics: Metrics | None = None
    tracing: SpanTracing | None = None
    excerpt_bytes: int = DEFAULT_EXCERPT_BYTES
    # A partial, not a lambda: no Python frame per call (it runs for every call tracked).
    wall_clock: Callable[[], datetime] = field(default=functools.partial(datetime.now, UTC))
    monotonic: Callable[[], float] = time.monotonic

    @property
    def active(self) -> bool:
        """True when anything listens."""
        return self.recorder is not None or self.metrics is not None or self.tracing is not None


@dataclass
class ResponseIds:
    """The ids a server response carries: set by the first call tracked while serving it."""

    request_id: str
    call_id: str | None = None
    trace_id: str | None = None


#: The ids of the server request being served (set by the API's middleware).
_RESPONSE_IDS: ContextVar[ResponseIds | None] = ContextVar("connectory_response_ids", default=None)
#: The innermost call being tracked in this task.
_CURRENT: ContextVar[CallTrack | None] = ContextVar("connectory_current_call", default=None)


def current_call() -> CallTrack | None:
    """The innermost call tracked in this task (the runtime adds its requests to it)."""
    return _CURRENT.get()


def current_response_ids() -> ResponseIds | None:
    """The ids of the server request being served, if any."""
    return _RESPONSE_IDS.get()


@contextmanager
def serving_request(ids: ResponseIds) -> Iterator[ResponseIds]:
    """Within this block, the first tracked call puts its ids into *ids* (for the headers)."""
    token = _RESPONSE_IDS.set(ids)
    try:
        yield ids
    finally:
        _RESPONSE_IDS.reset(token)


#: Call ids drawn from the system's randomness at a time (one read per this many ids).
_IDS_PER_DRAW = 256
#: Ids drawn and not handed out yet. ``popleft`` and ``extend`` are atomic: threads share it.
_SPARE_IDS: deque[str] = deque()


def new_call_id() -> str:
    """A fresh call id: 32 random hex digits.

    Every request needs one (its request id) and every call another: one ``getrandom`` of
    16 bytes each cost more than the rest of an id's life. The randomness is read for
    :data:`_IDS_PER_DRAW` ids at once instead; the ids are as random (and as unguessable,
    unlike a counter, which would tell a caller how busy the server is) as before.
    """
    try:
        return _SPARE_IDS.popleft()
    except IndexError:
        # Two threads may both draw: more spare ids, never a shared one.
        drawn = os.urandom(16 * _IDS_PER_DRAW).hex()
        _SPARE_IDS.extend(drawn[start : start + 32] for start in range(32, len(drawn), 32))
        return drawn[:32]


# A forked child must not hand out the ids its parent holds (they would be written twice).
os.register_at_fork(after_in_child=_SPARE_IDS.clear)


class ConnectionCalls:
    """The call log of one connection: :meth:`track` and :meth:`record` emit entries.

    Args:
        telemetry: Where entries, metrics and spans go; None records nothing.
        connection_id: The connection (for a client without a stored connection, its key).
        redactor: Redacts the connection's secrets from excerpts and error messages.
        enterprise_id: The connection's owner.
        connector_id: The connection's connector (metrics label it by id, never by name).
    """

    def __init__(
        self,
        telemetry: Telemetry | None,
        connection_id: str,
        *,
        redactor: Redactor | None = None,
        enterprise_id: str | None = None,
        connector_id: str | None = None,
    ) -> None:
        self.telemetry = telemetry if telemetry is not None and telemetry.active else None
        self.connection_id = connection_id
        self.redactor = redactor or Redactor()
        self.enterprise_id = enterprise_id
        self.connector_id = connector_id

    @property
    def enabled(self) -> bool:
        """True when calls are recorded, measured or traced."""
        return self.telemetry is not None

    def track(
        self,
        kind: str,
        operation: str | None = None,
        *,
        first_reply_only: bool = False,
        secret_reply: bool = False,
    ) -> CallTrack:
        """A call to time and record: use it as ``with calls.track(kind, operation) as call:``.

        Args:
            kind: One of :data:`CALL_KINDS`.
            operation: What was called.
            first_reply_only: Take the excerpts from the first upstream reply (a read of many
                pages), not the last.
            secret_reply: A successful reply's body is secret as a whole (a token response:
                its tokens are learnt by the redactor only after the call); it is left out
                of the excerpt. Error replies are shown, redacted.
        """
        if self.telemetry is None:
            return _IDLE
        return CallTrack(self, kind, operation, first_reply_only, secret_reply)

    def record(
        self,
        kind: str,
        operation: str | None = None,
        *,
        status: CallStatus | None = None,
        duration: float = 0.0,
        status_code: int | None = None,
        attempts: int = 0,
        error: BaseException | None = None,
        request: str | None = None,
        response: str | None = None,
        started_at: datetime | None = None,
        error_class: str | None = None,
        error_message: str | None = None,
    ) -> str | None:
        """Record a call that was measured elsewhere; return its id (None when not recorded).

        *request* and *response* are excerpts as text (see :meth:`describe_request`); they
        are redacted and capped here. An error known only by its class name and message (a
        failure stored as text) is given as *error_class* and *error_message* instead of
        *error*; the message is redacted too.
        """
        telemetry = self.telemetry
        if telemetry is None:
            return None
        if error is None and error_class is not None:
            described: tuple[str | None, str | None] = (
                error_class[:100],
                self.redactor.redact(error_message or "")[:MAX_ERROR_MESSAGE],
            )
            status = status or "error"
        else:
            described = self._describe_error(error)
        error_class, message = described
        entry = CallEntry(
            id=new_call_id(),
            connection_id=self.connection_id,
            kind=kind,
            operation=_cap_operation(operation),
            status=status or _status_of(error, status_code),
            started_at=started_at or telemetry.wall_clock(),
            duration=duration,
            status_code=status_code,
            attempts=attempts,
            error_class=error_class,
            error_message=message,
            request_excerpt=self.text_excerpt(request),
            response_excerpt=self.text_excerpt(response),
            parent_id=_parent_id(),
            enterprise_id=self.enterprise_id,
            connector_id=self.connector_id,
        )
        ids = _RESPONSE_IDS.get()
        if ids is not None and ids.call_id is None:
            ids.call_id = entry.id
        self._emit(entry)
        return entry.id

    def describe_request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> str | None:
        """A request as a call log excerpt: the request line, headers and body head, redacted.

        Sensitive headers and query parameters are replaced by name, the connection's secrets
        by value; the body is redacted field by field (see :meth:`Redactor.excerpt`).
        """
        telemetry = self.telemetry
        if telemetry is None:
            return None
        return _request_text(
            self.redactor, telemetry.excerpt_bytes, method, url, tuple(headers.items()), content
        )

    def text_excerpt(self, text: str | None) -> str | None:
        """*text* redacted and capped to the excerpt size."""
        if text is None or self.telemetry is None:
            return None
        return cap_utf8(self.redactor.redact(text), self.telemetry.excerpt_bytes)

    def _describe_error(self, error: BaseException | None) -> tuple[str | None, str | None]:
        if error is None:
            return None, None
        message = self.redactor.redact(str(error))[:MAX_ERROR_MESSAGE]
        return type(error).__name__, message

    def _emit(self, entry: CallEntry) -> None:
        telemetry = self.telemetry
        assert telemetry is not None
        # Nothing here may fail the call it records: a broken sink is logged, not raised.
        try:
            if telemetry.recorder is not None:
                telemetry.recorder.record(entry)
            if telemetry.metrics is not None:
                telemetry.metrics.observe_call(entry)
        except Exception:
            logger.exception("recording a call of connection %s failed", entry.connection_id)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s %s: %s%s in %.1f ms, %d attempt(s)",
                entry.kind,
                entry.operation or "-",
                entry.status,
                f" {entry.status_code}" if entry.status_code is not None else "",
                entry.duration * 1000,
                entry.attempts,
                extra={"call_id": entry.id, "connection_id": entry.connection_id},
            )


class CallTrack:
    """One call being tracked (see :meth:`ConnectionCalls.track`).

    Attributes the caller (or the runtime) may set while it runs: ``status_code``,
    ``attempts`` (the runtime adds to it), and ``error`` (an error that was handled, not
    raised, but ended the call).
    """

    __slots__ = (
        "_calls",
        "_done",
        "_excerpt_done",
        "_reply",
        "_request",
        "_span",
        "_started",
        "_token",
        "attempts",
        "error",
        "first_reply_only",
        "id",
        "kind",
        "operation",
        "parent_id",
        "secret_reply",
        "started_at",
        "status_code",
        "trace_id",
    )

    def __init__(
        self,
        calls: ConnectionCalls | None,
        kind: str,
        operation: str | None,
        first_reply_only: bool = False,
        secret_reply: bool = False,
    ) -> None:
        self._calls = calls
        self.secret_reply = secret_reply
        self.kind = kind
        self.operation = operation
        self.first_reply_only = first_reply_only
        self.id = ""
        self.status_code: int | None = None
        self.attempts = 0
        self.error: BaseException | None = None
        self.trace_id: str | None = None
        self.parent_id: str | None = None
        self.started_at: datetime | None = None
        self._started = 0.0
        self._span: Any = None
        self._token: Any = None
        self._request: _Request | None = None
        self._reply: _Reply | None = None
        self._excerpt_done = False
        self._done = False

    @property
    def span(self) -> Any:
        """The call's span: an SDK span or a recorded one (None when tracing is off)."""
        return self._span

    @property
    def tracing(self) -> SpanTracing | None:
        """The tracing the call reports to."""
        calls = self._calls
        return calls.telemetry.tracing if calls is not None and calls.telemetry else None

    def start(self) -> CallTrack:
        """Start the clock (``with`` does this; a stream calls it itself)."""
        calls = self._calls
        if calls is None or calls.telemetry is None:
            return self
        telemetry = calls.telemetry
        self.id = new_call_id()
        self.started_at = telemetry.wall_clock()
        self._started = telemetry.monotonic()
        parent = _CURRENT.get()
        if parent is not None and parent.id:
            self.parent_id = parent.id
        if telemetry.tracing is not None:
            self._span = telemetry.tracing.start_call_span(self, parent)
            self.trace_id = telemetry.tracing.trace_id_of(self._span)
        ids = _RESPONSE_IDS.get()
        if ids is not None and ids.call_id is None:
            ids.call_id = self.id
            ids.trace_id = self.trace_id
        return self

    @contextmanager
    def active(self) -> Iterator[CallTrack]:
        """Within this block, requests the runtime sends count toward this call."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    def finish(self, error: BaseException | None = None) -> None:
        """Stop the clock and record the entry (``with`` does this). Never raises."""
        calls = self._calls
        if calls is None or calls.telemetry is None or not self.id or self._done:
            return
        self._done = True
        telemetry = calls.telemetry
        try:
            error = error or self.error
            status_code = self.status_code
            if error is None:
                error_class = message = None
                status: CallStatus = "ok" if status_code is None or status_code < 400 else "error"
            else:
                error_class, message = calls._describe_error(error)
                if status_code is None:
                    status_code = self.status_code = getattr(error, "status_code", None)
                attempts = getattr(error, "attempts", None)
                if isinstance(attempts, int) and attempts > self.attempts:
                    self.attempts = attempts
                status = "error"
            operation = self.operation
            if operation is not None and len(operation) > MAX_OPERATION:
                operation = operation[:MAX_OPERATION]
            duration = telemetry.monotonic() - self._started
            fields = (
                self.id,
                calls.connection_id,
                self.kind,
                operation,
                status,
                self.started_at or telemetry.wall_clock(),
                duration if duration > 0.0 else 0.0,
                status_code,
                self.attempts,
                error_class,
                message,
            )
            tail = (self.trace_id, self.parent_id, calls.enterprise_id, calls.connector_id)
            request, reply = self._request, self._reply
            limit = telemetry.excerpt_bytes
            # Excerpts only for a call log: metrics and spans never carry them.
            if telemetry.recorder is None or (request is None and reply is None):
                entry = CallEntry(*fields, None, None, *tail)
            elif _small(request, reply, limit):
                # Redacting and cutting the excerpts is most of an entry's cost: it is left to
                # whoever reads them first (the buffer, on the loop's next steps, or the
                # writer's batch), off the request's path. The bodies
                # kept until then are no larger than the excerpts; the redactor only ever
                # learns secrets, so a later redaction hides at least what one now would.
                pending = (calls.redactor, limit, request, reply, self.secret_reply)
                entry = _DeferredEntry(*fields, *tail, pending=pending)
            else:
                entry = CallEntry(
                    *fields,
                    _request_text(calls.redactor, limit, *request) if request else None,
                    _reply_text(calls.redactor, limit, reply, self.secret_reply) if reply else None,
                    *tail,
                )
        except Exception:
            logger.exception("describing a call of connection %s failed", calls.connection_id)
            return
        finally:
            # Never keep a large body past the call (a small one waits in its entry).
            self._request = self._reply = None
        if self._span is not None and telemetry.tracing is not None:
            telemetry.tracing.end_call_span(self._span, entry, error)
        calls._emit(entry)

    def note_request(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> None:
        """The runtime is sending this request (credentials applied: it is redacted later)."""
        if self._calls is None or (self.first_reply_only and self._excerpt_done):
            return
        # The headers' items as they are now: the excerpt may be made after the call.
        self._request = (method, url, tuple(headers.items()), content)

    def note_reply(
        self, status_code: int, headers: Mapping[str, str], content: bytes, attempts: int
    ) -> None:
        """The runtime got this reply after *attempts* attempts."""
        if self._calls is None:
            return
        self.status_code = status_code
        self.attempts += attempts
        if self.first_reply_only and self._excerpt_done:
            return
        if self.first_reply_only:
            self._excerpt_done = True
        # Headers that can hand over a copy of themselves as received (the aiohttp wire's)
        # are read when the excerpt is made: taking their items now costs the call more.
        received = getattr(headers, "received", None)
        kept = received() if received is not None else None
        if kept is not None:
            self._reply = (status_code, kept, content, "")  # its content type read then too
            return
        content_type = headers.get("content-type", "")
        self._reply = (status_code, tuple(headers.items()), content, content_type)

    def note_attempts(self, attempts: int) -> None:
        """The runtime made *attempts* attempts that ended without a reply (an error)."""
        if self._calls is not None:
            self.attempts += attempts

    def __enter__(self) -> CallTrack:
        self.start()
        if self._calls is not None:
            self._token = _CURRENT.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None
        self.finish(exc)


#: The track handed out when nothing listens: every method does nothing.
_IDLE = CallTrack(None, "", None)


def cap_utf8(text: str, limit: int) -> str:
    """*text* cut to at most *limit* bytes of UTF-8 (never inside a character)."""
    if len(text) * 4 <= limit:
        return text
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def _cap_operation(operation: str | None) -> str | None:
    return operation[:MAX_OPERATION] if operation is not None else None


def _status_of(error: BaseException | None, status_code: int | None) -> CallStatus:
    if error is not None or (status_code is not None and status_code >= 400):
        return "error"
    return "ok"


def _parent_id() -> str | None:
    parent = _CURRENT.get()
    return parent.id if parent is not None and parent.id else None


#: A request noted for its excerpt: method, URL, the headers' items, body.
_Request = tuple[str, str, tuple[tuple[str, str], ...], bytes | None]
#: A reply noted for its excerpt: status, the headers' items, body, content type.
#: The headers are their items, or a copy of them as received, read (content type included)
#: when the excerpt is made.
_Reply = tuple[int, tuple[tuple[str, str], ...] | Mapping[str, str], bytes, str]


def _small(request: _Request | None, reply: _Reply | None, limit: int) -> bool:
    """True when the bodies are no larger than an excerpt (cheap to keep until the write)."""
    if request is not None and request[3] is not None and len(request[3]) > limit:
        return False
    return reply is None or len(reply[2]) <= limit


def _request_text(
    redactor: Redactor,
    limit: int,
    method: str,
    url: str,
    headers: tuple[tuple[str, str], ...],
    content: bytes | None,
) -> str:
    """The request excerpt (see :meth:`ConnectionCalls.describe_request`)."""
    text = f"{method} {redactor.redact_url(url)}" + redactor.header_lines(headers)
    if content:
        content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
        text += "\n\n" + redactor.excerpt(content, content_type, limit)
    return cap_utf8(text, limit)


def _reply_text(
    redactor: Redactor,
    limit: int,
    reply: _Reply,
    secret_reply: bool,
) -> str:
    """The response excerpt: status, headers and body head, redacted and capped."""
    status, noted, content, content_type = reply
    if isinstance(noted, tuple):
        headers = noted
    else:
        # Headers kept as received (see CallTrack.note_reply): read them now.
        content_type = noted.get("content-type", "")
        headers = tuple(noted.items())
    text = str(status) + redactor.header_lines(headers, remember_set=False)
    if content and secret_reply and status < 400:
        text += "\n\n(body left out: it holds secrets)"
    elif content:
        text += "\n\n" + redactor.excerpt(content, content_type, limit)
    return cap_utf8(text, limit)


#: What a deferred entry's excerpts are made from: the redactor, the excerpt size, the
#: request and the reply noted, and whether a successful reply's body is secret.
_Pending = tuple[Redactor, int, _Request | None, _Reply | None, bool]


def excerpts_pending(entry: CallEntry) -> bool:
    """True when *entry*'s excerpts are still to be made (see :func:`make_excerpts`)."""
    return type(entry) is _DeferredEntry and entry._pending is not None


def make_excerpts(entries: Iterable[CallEntry]) -> None:
    """Make the deferred excerpts of *entries* now (the writer, before building its rows)."""
    for entry in entries:
        if type(entry) is _DeferredEntry and entry._pending is not None:
            entry._resolve()


#: CallEntry's fields, in order (a deferred entry's copy is made of them).
_ENTRY_FIELDS = tuple(f.name for f in dataclass_fields(CallEntry))
#: The excerpts' slots, which a deferred entry leaves empty until they are read.
_EXCERPT_SLOTS: dict[str, Any] = {
    name: CallEntry.__dict__[name] for name in ("request_excerpt", "response_excerpt")
}
_REQUEST_SLOT: Any = _EXCERPT_SLOTS["request_excerpt"]
_RESPONSE_SLOT: Any = _EXCERPT_SLOTS["response_excerpt"]
#: The fields a deferred entry is made with, in this order: all but the excerpts.
_DEFERRED_FIELDS = (
    "id",
    "connection_id",
    "kind",
    "operation",
    "status",
    "started_at",
    "duration",
    "status_code",
    "attempts",
    "error_class",
    "error_message",
    "trace_id",
    "parent_id",
    "enterprise_id",
    "connector_id",
)
if tuple(name for name in _ENTRY_FIELDS if name not in _EXCERPT_SLOTS) != _DEFERRED_FIELDS:
    raise ImportError("_DeferredEntry.__init__ does not set CallEntry's fields")


class _DeferredEntry(CallEntry):
    """A :class:`CallEntry` whose excerpts are made when first read (by the writer's batch).

    Reading ``request_excerpt`` or ``response_excerpt`` redacts and caps both, exactly as
    an eager entry does, and lets go of the bodies. Until then their slots are empty: the
    first read falls through to ``__getattr__``, later ones read the slots (no property in
    the way, and none to run while the entry is built on the request's path).
    """

    __slots__ = ("_pending",)

    def __init__(self, *fields: Any, pending: _Pending | None = None, **named: Any) -> None:
        self._pending: _Pending | None = pending
        if pending is None:
            # Every field, excerpts made: what ``dataclasses.replace`` and copies pass.
            CallEntry.__init__(self, *fields, **named)
            return
        # The fields of _DEFERRED_FIELDS, in its order (checked against CallEntry's above).
        (
            self.id,
            self.connection_id,
            self.kind,
            self.operation,
            self.status,
            self.started_at,
            self.duration,
            self.status_code,
            self.attempts,
            self.error_class,
            self.error_message,
            self.trace_id,
            self.parent_id,
            self.enterprise_id,
            self.connector_id,
        ) = fields

    def __getattr__(self, name: str) -> Any:
        # Reached only for an empty slot: an excerpt not made yet.
        slot = _EXCERPT_SLOTS.get(name)
        if slot is None:
            raise AttributeError(name)
        # Pending or not: another thread may have filled the slot since this read missed it
        # (it fills the slots before it clears the pending work).
        if self._pending is not None:
            self._resolve()
        return slot.__get__(self)

    def __reduce__(self) -> tuple[type[_DeferredEntry], tuple[Any, ...]]:
        # Copies and pickles have the excerpts made (equal to this entry, which makes its own
        # on the way): the bodies and the redactor are never copied along.
        return _DeferredEntry, tuple(getattr(self, name) for name in _ENTRY_FIELDS)

    def _resolve(self) -> None:
        pending = self._pending
        if pending is None:
            return
        redactor, limit, noted_request, noted_reply, secret_reply = pending
        request = response = None
        try:
            if noted_request is not None:
                request = _request_text(redactor, limit, *noted_request)
            if noted_reply is not None:
                response = _reply_text(redactor, limit, noted_reply, secret_reply)
        except Exception:
            # An entry without excerpts rather than none: the call itself is on record.
            logger.exception("describing a call of connection %s failed", self.connection_id)
            request = response = None
        # The slots before the pending work is let go: a reader in another thread meanwhile
        # makes the same excerpts again, never finds neither.
        _REQUEST_SLOT.__set__(self, request)
        _RESPONSE_SLOT.__set__(self, response)
        self._pending = None
