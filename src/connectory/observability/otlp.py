"""OTLP/HTTP span export with a direct protobuf encoding of the batch.

The OTLP/HTTP exporter of the OpenTelemetry SDK builds one protobuf message object per span,
attribute and value (``opentelemetry.proto`` on upb) and, to group spans by resource, hashes
each span's resource, which serialises its attributes to JSON every time. Measured on the
bench's spans that is about 36 us per span in the export thread, more than creating the span
costs; a server making two spans per call pays it twice per call, holding the GIL the request
path needs. :func:`encode_spans` writes the same ``ExportTraceServiceRequest`` straight as
protobuf wire bytes (about 9 us per span): the resource and scope are encoded once per batch,
attribute keys and the string attributes that repeat from span to span once per encoder
(:class:`SpanEncoding`, owned by the exporter or the record encoder: no module-level state).

:class:`OtlpSpanExporter` is the SDK's exporter (configuration by the standard ``OTEL_*``
variables, HTTP session, retries, TLS, headers, compression: all the SDK's) with only the
encoding replaced. The tests compare the bytes, decoded, with the SDK's own encoding.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext

    from connectory.observability.spans import SpanRecord

logger = logging.getLogger(__name__)

_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_DOUBLE = struct.Struct("<d").pack
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# OTLP's span kinds (opentelemetry/proto/trace/v1/trace.proto, Span.SpanKind).
_KINDS = MappingProxyType(
    {
        SpanKind.INTERNAL: 1,
        SpanKind.SERVER: 2,
        SpanKind.CLIENT: 3,
        SpanKind.PRODUCER: 4,
        SpanKind.CONSUMER: 5,
    }
)
# Span.flags: bit 8 says whether the parent is remote is known, bit 9 that it is.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

# The attributes whose string values repeat from span to span (a server has a handful of
# each): only their encoded ``KeyValue`` messages are cached. A call id or a URL is unique per
# span: caching it would only fill the cache with values never seen again.
_REPEATED_KEYS = frozenset(
    {
        "connectory.kind",
        "connectory.operation",
        "connectory.connection_id",
        "connectory.connector_id",
        "http.request.method",
        "error.type",
    }
)
# Integer attributes with a few small values (attempts, HTTP statuses): their encoded span
# attribute fields are cached too, for values in [0, _SMALL_INT).
_REPEATED_INT_KEYS = frozenset({"connectory.attempts", "http.response.status_code"})
_SMALL_INT = 1024
# Each of an encoder's caches is emptied when it holds this many entries.
_CACHE_MAX = 4096
# Span.attributes: field 9, length-delimited.
_SPAN_ATTRIBUTE = b"\x4a"
# A span record's fixed-size fields, packed at once: the trace id (field 1, 16 bytes, written
# as two big-endian halves), the span id (2) and, when there is one, the parent's (4); the
# start and end times (fields 7 and 8, fixed64, little-endian).
_HEAD = struct.Struct(">HQQHQ").pack
_HEAD_WITH_PARENT = struct.Struct(">HQQHQHQ").pack
# The head's bytes up to the span id's end (tag, trace id, tag, span id): the trace state
# (field 3) is written there, before the parent's id.
_IDS_SIZE = 2 + 16 + 2 + 8
_TIMES = struct.Struct("<BQBQ").pack
_LOW64 = (1 << 64) - 1
# Span.kind (field 6) of the kinds a record has.
_KIND_FIELDS = MappingProxyType({kind: b"\x30" + bytes((kind,)) for kind in range(1, 6)})
# Span.flags (field 16, fixed32): whether the parent is remote is known; it is, or it is not.
_LOCAL_FLAGS = b"\x85\x01" + struct.pack("<I", _HAS_IS_REMOTE)
_REMOTE_FLAGS = b"\x85\x01" + struct.pack("<I", _HAS_IS_REMOTE | _IS_REMOTE)


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length(size: int) -> bytes:
    """A length prefix (a varint; the common one byte lengths prebuilt)."""
    return _SMALL[size] if size < 0x80 else _varint(size)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: *tag*, the length, *payload*."""
    return tag + _length(len(payload)) + payload


_SMALL = tuple(bytes((size,)) for size in range(0x80))


def _string(tag: bytes, text: str | None) -> bytes:
    # proto3: an empty string is not written (the SDK's encoding leaves it out too).
    return _field(tag, text.encode("utf-8")) if text else b""


def _uint(tag: bytes, value: int | None) -> bytes:
    return tag + _varint(value) if value else b""


def _flags(parent: SpanContext | None) -> bytes:
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)
    return b"\x85\x01" + _FIXED32(flags)


def _any_value_of(value: Any, key_value: Callable[[str, Any], bytes]) -> bytes:
    """An ``AnyValue`` message's fields, the SDK exporter's mapping of Python values."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode("utf-8"))
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"{value} does not fit OTLP's int64")
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        values = b"".join(_field(b"\x0a", _any_value_of(item, key_value)) for item in value)
        return _field(b"\x2a", values)
    if isinstance(value, Mapping):
        pairs = b"".join(_field(b"\x0a", key_value(str(k), v)) for k, v in value.items())
        return _field(b"\x32", pairs)
    raise TypeError(f"invalid type {type(value).__name__} of attribute value {value!r}")


class SpanEncoding:
    """Protobuf encodings of spans, with the caches of one encoder (one thread uses it).

    Cached: attribute keys, span names and the ``KeyValue`` of string attributes named in
    ``_REPEATED_KEYS``, and for span records, the whole attribute field of those and of the
    small integers of ``_REPEATED_INT_KEYS``; each cache is bounded (emptied when full), none
    is shared between encoders.
    """

    __slots__ = ("_keys", "_names", "_pairs", "_shared", "_span_fields")

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        self._names: dict[str, bytes] = {}
        self._pairs: dict[tuple[str, str], bytes] = {}
        self._span_fields: dict[tuple[str, str | int], bytes] = {}
        self._shared: dict[int, tuple[Mapping[str, Any], bytes]] = {}

    def key(self, key: str) -> bytes:
        """A ``KeyValue.key`` field."""
        encoded = self._keys.get(key)
        if encoded is None:
            encoded = _string(b"\x0a", key)
            if len(self._keys) >= _CACHE_MAX:
                self._keys.clear()
            self._keys[key] = encoded
        return encoded

    def key_value(self, key: str, value: Any) -> bytes:
        """A ``KeyValue`` message's fields."""
        if type(value) is str and value:
            if key not in _REPEATED_KEYS:
                return self.key(key) + _field(b"\x12", _field(b"\x0a", value.encode("utf-8")))
            pair = (key, value)
            encoded = self._pairs.get(pair)
            if encoded is None:
                encoded = self.key(key) + _field(b"\x12", _field(b"\x0a", value.encode("utf-8")))
                if len(self._pairs) >= _CACHE_MAX:
                    self._pairs.clear()
                self._pairs[pair] = encoded
            return encoded
        return self.key(key) + _field(b"\x12", _any_value_of(value, self.key_value))

    def attributes(self, tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
        """Repeated ``KeyValue`` fields; a value OTLP cannot carry is logged and left out."""
        if not attributes:
            return b""
        parts = []
        for key, value in attributes.items():
            try:
                parts.append(_field(tag, self.key_value(key, value)))
            except (TypeError, ValueError, UnicodeError) as error:
                # As the SDK's encoder does: one bad attribute does not lose the span.
                logger.warning("cannot encode span attribute %s: %s", key, error)
        return b"".join(parts)

    def span_attributes(self, attributes: Mapping[str, Any]) -> bytes:
        """``Span.attributes`` fields: what :meth:`attributes` writes with tag 9, faster.

        A span record's attributes are a handful, most of them values that repeat from span
        to span (kind, operation, connection, method, status, attempts): their whole fields
        come from a cache; a unique string (a call id, a URL) is written straight, in line
        (the export thread writes thousands a second); anything else takes
        :meth:`attributes`' way.
        """
        cache = self._span_fields
        keys = self._keys
        parts = []
        for item in attributes.items():
            key, value = item
            kind = type(value)
            if (kind is str and key in _REPEATED_KEYS) or (
                kind is int and key in _REPEATED_INT_KEYS and 0 <= value < _SMALL_INT
            ):
                encoded = cache.get(item)
                if encoded is None:
                    encoded = self.attributes(_SPAN_ATTRIBUTE, {key: value})
                    if len(cache) >= _CACHE_MAX:
                        cache.clear()
                    cache[item] = encoded
                parts.append(encoded)
            elif kind is str and value:
                try:
                    data = value.encode("utf-8")
                except UnicodeError:
                    parts.append(self.attributes(_SPAN_ATTRIBUTE, {key: value}))  # logs it
                    continue
                key_field = keys.get(key) or self.key(key)
                # KeyValue{key, value: AnyValue{string_value}}, as a Span.attributes field.
                any_value = _field(b"\x0a", data)
                pair = key_field + b"\x12" + _length(len(any_value))
                head = _SPAN_ATTRIBUTE + _length(len(pair) + len(any_value))
                parts.append(head + pair + any_value)
            else:
                parts.append(self.attributes(_SPAN_ATTRIBUTE, {key: value}))
        return b"".join(parts)

    def name(self, name: str) -> bytes:
        """A ``Span.name`` field (names repeat: an operation's, a method)."""
        encoded = self._names.get(name)
        if encoded is None:
            encoded = _string(b"\x2a", name)
            if len(self._names) >= _CACHE_MAX:
                self._names.clear()
            self._names[name] = encoded
        return encoded

    def scope(self, scope: InstrumentationScope | None) -> bytes:
        """An ``InstrumentationScope`` message's fields."""
        if scope is None:
            return b""
        return (
            _string(b"\x0a", scope.name)
            + _string(b"\x12", scope.version)
            + self.attributes(b"\x1a", scope.attributes)
        )

    def span(self, span: ReadableSpan) -> bytes:
        """One ``Span`` message (the fields in field-number order, as protobuf writes them)."""
        context = span.context
        parent = span.parent
        parts = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        ]
        trace_state = context.trace_state
        if trace_state:
            parts.append(_string(b"\x1a", ",".join(f"{k}={v}" for k, v in trace_state.items())))
        if parent:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        parts.append(self.name(span.name))
        parts.append(_uint(b"\x30", _KINDS[span.kind]))
        if span.start_time:
            parts.append(b"\x39" + _FIXED64(span.start_time))
        if span.end_time:
            parts.append(b"\x41" + _FIXED64(span.end_time))
        parts.append(self.attributes(b"\x4a", span.attributes))
        parts.append(_uint(b"\x50", span.dropped_attributes))
        for event in span.events:
            body = (b"\x09" + _FIXED64(event.timestamp) if event.timestamp else b"") + (
                _string(b"\x12", event.name)
                + self.attributes(b"\x1a", event.attributes)
                + _uint(b"\x20", event.dropped_attributes)
            )
            parts.append(_field(b"\x5a", body))
        parts.append(_uint(b"\x60", span.dropped_events))
        for link in span.links:
            body = (
                b"\x0a\x10"
                + link.context.trace_id.to_bytes(16, "big")
                + b"\x12\x08"
                + link.context.span_id.to_bytes(8, "big")
                + self.attributes(b"\x22", link.attributes)
                + _uint(b"\x28", link.dropped_attributes)
                + b"\x35"
                + _FIXED32(_HAS_IS_REMOTE | (_IS_REMOTE if link.context.is_remote else 0))
            )
            parts.append(_field(b"\x6a", body))
        parts.append(_uint(b"\x70", span.dropped_links))
        status = span.status
        if status is not None:
            parts.append(
                _field(
                    b"\x7a",
                    _string(b"\x12", status.description) + _uint(b"\x18", status.status_code.value),
                )
            )
        parts.append(_flags(parent))
        return b"".join(parts)

    def shared_attributes(self, attributes: Mapping[str, Any]) -> bytes:
        """``Span.attributes`` fields of a dict many spans share, encoded once per dict.

        The dict is looked up by identity (it is kept with its encoding, so its id cannot be
        reused while cached): the tracing that shares it never changes it.
        """
        cached = self._shared.get(id(attributes))
        if cached is not None and cached[0] is attributes:
            return cached[1]
        encoded = self.span_attributes(attributes)
        if len(self._shared) >= _CACHE_MAX:
            self._shared.clear()
        self._shared[id(attributes)] = (attributes, encoded)
        return encoded

    def record(self, span: SpanRecord) -> bytes:
        """One ``Span`` message from a :class:`~connectory.observability.spans.SpanRecord`.

        The same fields, in the same order, as :meth:`span` writes for an SDK span: a record
        has no events, links or dropped counts, so those fields are absent, as they are for an
        SDK span that has none. The message comes with its field tag and length (it is one
        ``ScopeSpans.spans`` field): the export thread writes a few thousand a second while
        holding the GIL, so the fixed-size fields are packed in one call each.
        """
        trace_id = span.trace_id
        parent = span.parent_span_id
        if parent:
            head = _HEAD_WITH_PARENT(
                0x0A10, trace_id >> 64, trace_id & _LOW64, 0x1208, span.span_id, 0x2208, parent
            )
        else:
            head = _HEAD(0x0A10, trace_id >> 64, trace_id & _LOW64, 0x1208, span.span_id)
        if span.trace_state:
            # The state (field 3) goes between the span id and the parent.
            head = head[:_IDS_SIZE] + _string(b"\x1a", span.trace_state) + head[_IDS_SIZE:]
        shared = span.shared_attributes
        attributes = self.span_attributes(span.attributes) if span.attributes else b""
        if shared:
            attributes = self.shared_attributes(shared) + attributes
        status, description = span.status, span.status_description
        if status or description:
            tail = _field(b"\x7a", _string(b"\x12", description) + _uint(b"\x18", status))
        else:
            tail = b"\x7a\x00"
        remote = span.parent_remote and parent
        body = b"".join(
            (
                head,
                self._names.get(span.name) or self.name(span.name),
                _KIND_FIELDS.get(span.kind) or _uint(b"\x30", span.kind),
                _TIMES(0x39, span.start, 0x41, span.end),
                attributes,
                tail,
                _REMOTE_FLAGS if remote else _LOCAL_FLAGS,
            )
        )
        return _field(b"\x12", body)


class _Group:
    """The spans of one resource, by instrumentation scope, in the order first seen."""

    __slots__ = ("resource", "scopes")

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.scopes: list[tuple[InstrumentationScope | None, list[bytes]]] = []


def encode_spans(spans: Sequence[ReadableSpan], encoding: SpanEncoding | None = None) -> bytes:
    """An OTLP ``ExportTraceServiceRequest`` with *spans*, serialised.

    Spans are grouped by resource, then by instrumentation scope, as the SDK's encoder groups
    them (equal resources and scopes together, in the order first seen); the resource and
    scope are encoded once per group. *encoding* carries caches from batch to batch (an
    exporter's own); without it, the caches last for this batch.
    """
    if encoding is None:
        encoding = SpanEncoding()
    groups: list[_Group] = []
    # Spans of one provider share one resource object and one scope object: looking them up
    # by identity avoids hashing a resource per span; equality merges distinct equal ones.
    by_resource: dict[int, _Group] = {}
    by_scope: dict[tuple[int, int], list[bytes]] = {}
    for span in spans:
        resource = span.resource
        group = by_resource.get(id(resource))
        if group is None:
            group = next((g for g in groups if g.resource == resource), None)
            if group is None:
                group = _Group(resource)
                groups.append(group)
            by_resource[id(resource)] = group
        scope = span.instrumentation_scope or None
        scope_key = (id(group), id(scope))
        encoded = by_scope.get(scope_key)
        if encoded is None:
            encoded = next((e for s, e in group.scopes if s == scope), None)
            if encoded is None:
                encoded = []
                group.scopes.append((scope, encoded))
            by_scope[scope_key] = encoded
        encoded.append(_field(b"\x12", encoding.span(span)))
    resource_spans = []
    for group in groups:
        body = [_field(b"\x0a", encoding.attributes(b"\x0a", group.resource.attributes))]
        for scope, encoded_spans in group.scopes:
            scope_spans = (
                _field(b"\x0a", encoding.scope(scope))
                + b"".join(encoded_spans)
                + _string(b"\x1a", scope.schema_url if scope else None)
            )
            body.append(_field(b"\x12", scope_spans))
        body.append(_string(b"\x1a", group.resource.schema_url))
        resource_spans.append(_field(b"\x0a", b"".join(body)))
    return b"".join(resource_spans)


class OtlpSpanExporter(OTLPSpanExporter):
    """The SDK's OTLP/HTTP span exporter, encoding batches with :func:`encode_spans`.

    Everything but the encoding is the SDK's: configuration from the ``OTEL_EXPORTER_OTLP_*``
    variables, the HTTP session, retries with backoff, TLS, headers and compression. Should
    the SDK's exporter no longer expose the HTTP client this relies on (a private attribute,
    checked at construction) or a batch not encode, the SDK's own export runs instead: slower,
    never wrong.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # This exporter's encoding caches. A simple span processor may export from several
        # threads at once: each dict operation is atomic, so at worst a value is encoded twice.
        self._encoding = SpanEncoding()
        client = getattr(self, "_client", None)
        self._send = getattr(client, "export", None)
        #: Whether batches go through :func:`encode_spans` (False: the SDK's encoding).
        self.fast = callable(self._send) and isinstance(getattr(self, "_shutdown", None), bool)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Encode *spans* and send them (the SDK's export for what this path does not do)."""
        if not self.fast or self._shutdown:
            return super().export(spans)
        try:
            data = encode_spans(spans, self._encoding)
        except Exception:
            # Whatever fails here, the SDK's encoder decides what becomes of the batch.
            return super().export(spans)
        limit = getattr(self, "_max_request_size", 0)
        if isinstance(limit, int) and 0 < limit < len(data):
            # The SDK logs and counts the dropped batch.
            return super().export(spans)
        assert self._send is not None
        try:
            result = self._send(data)
            succeeded = bool(result.success)
        except (TypeError, AttributeError):
            # The private client this relies on changed shape (an SDK update): from now on
            # the SDK's own export, which a test of this module notices.
            self.fast = False
            return super().export(spans)
        return SpanExportResult.SUCCESS if succeeded else SpanExportResult.FAILURE

    def send_encoded(self, data: bytes) -> bool:
        """Send an encoded ``ExportTraceServiceRequest`` (Connectory's span recorder's batches).

        Only when :attr:`fast`: the recorder checks that before it chooses this exporter.
        Returns whether the collector took the batch; a batch over the exporter's maximum
        request size is dropped with a warning, as the SDK's export drops it.
        """
        if self._shutdown or self._send is None:
            return False
        limit = getattr(self, "_max_request_size", 0)
        if isinstance(limit, int) and 0 < limit < len(data):
            logger.warning(
                "dropping a span batch of %d bytes: over the exporter's max_request_size %d",
                len(data),
                limit,
            )
            return False
        return bool(self._send(data).success)


class RecordEncoder:
    """Encodes batches of span records of one resource and one instrumentation scope.

    The resource and the scope are encoded once, when the encoder is built; a batch is then
    the spans' encodings between them (the same ``ExportTraceServiceRequest`` as
    :func:`encode_spans` writes for SDK spans of that resource and scope).
    """

    def __init__(self, resource: Resource, scope: InstrumentationScope) -> None:
        self._encoding = SpanEncoding()
        self._resource = _field(b"\x0a", self._encoding.attributes(b"\x0a", resource.attributes))
        self._resource_schema = _string(b"\x1a", resource.schema_url)
        self._scope = _field(b"\x0a", self._encoding.scope(scope))
        self._scope_schema = _string(b"\x1a", scope.schema_url)

    def encode(self, spans: Sequence[SpanRecord]) -> bytes:
        """An ``ExportTraceServiceRequest`` with *spans*, serialised (empty for no spans)."""
        if not spans:
            return b""
        record = self._encoding.record
        scope_spans = self._scope + b"".join([record(span) for span in spans]) + self._scope_schema
        body = self._resource + _field(b"\x12", scope_spans) + self._resource_schema
        return _field(b"\x0a", body)
