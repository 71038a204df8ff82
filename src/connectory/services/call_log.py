"""The call log in the store: batched writes, retention, and reading it back with filters.

Entries arrive in batches from :class:`~connectory.observability.buffer.BufferedRecorder`
(one INSERT of many rows, never one write per call). Retention keeps, per connection, the
entries of the last ``max_age`` and at most ``max_entries`` of them: pruning runs after a
write at most every ``prune_interval`` seconds, by age for every connection and by count for
the connections written since the last pruning.
"""

from __future__ import annotations

import logging
import operator
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.errors import InvalidRequest, NotFound
from connectory.observability.calls import CALL_KINDS, CallEntry, make_excerpts
from connectory.store.call_log_models import CallLogEntry, HealthEvent
from connectory.store.models import utcnow

logger = logging.getLogger("connectory.calls")

#: Health changes kept per connection.
MAX_HEALTH_EVENTS = 1000


class CallLogStore:
    """Writes batches of entries and applies retention.

    Args:
        sessions: The server's sessions.
        max_age: Entries older than this are deleted.
        max_entries: Entries kept per connection, newest first.
        prune_interval: Seconds between prunings (0: after every write).
        clock: The wall clock (UTC), injectable for tests.
        monotonic: Monotonic seconds, for the pruning interval.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_age: timedelta,
        max_entries: int,
        prune_interval: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self.max_age = max_age
        self.max_entries = max(1, max_entries)
        self._prune_interval = prune_interval
        self._clock = clock
        self._monotonic = monotonic
        self._touched: set[str] = set()
        self._last_prune: float | None = None
        self._insert: _CompiledInsert | None = None

    async def write(self, batch: Sequence[CallEntry]) -> None:
        """Store *batch* in one statement, then prune when it is time."""
        if not batch:
            return
        make_excerpts(batch)
        async with self._sessions() as session:
            connection = await session.connection()
            compiled = self._insert
            if compiled is None or compiled.dialect is not connection.dialect:
                compiled = self._insert = _CompiledInsert(connection.dialect)
            # One executemany of the statement compiled once, its values already in the
            # driver's form: no compilation, ORM or per-row parameter processing per batch.
            await connection.exec_driver_sql(*compiled.statement(batch))
            await session.commit()
        self._touched.update(entry.connection_id for entry in batch)
        now = self._monotonic()
        if self._last_prune is None or now - self._last_prune >= self._prune_interval:
            self._last_prune = now
            await self.prune()

    async def prune(self) -> int:
        """Apply retention now; return how many entries were deleted."""
        touched, self._touched = self._touched, set()
        deleted = 0
        async with self._sessions() as session:
            cutoff = self._clock() - self.max_age
            result = await session.execute(
                delete(CallLogEntry)
                .where(CallLogEntry.started_at < cutoff)
                .execution_options(synchronize_session=False)
            )
            deleted += _rowcount(result)
            for connection_id in sorted(touched):
                oldest_kept = await session.scalar(
                    select(CallLogEntry.seq)
                    .where(CallLogEntry.connection_id == connection_id)
                    .order_by(CallLogEntry.seq.desc())
                    .offset(self.max_entries - 1)
                    .limit(1)
                )
                if oldest_kept is None:
                    continue
                result = await session.execute(
                    delete(CallLogEntry)
                    .where(
                        CallLogEntry.connection_id == connection_id,
                        CallLogEntry.seq < oldest_kept,
                    )
                    .execution_options(synchronize_session=False)
                )
                deleted += _rowcount(result)
            await session.commit()
        return deleted


@dataclass
class CallQuery:
    """Filters of a call log listing (all optional)."""

    kind: str | None = None
    status: str | None = None
    operation: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_calls(
    session: AsyncSession,
    connection_id: str,
    query: CallQuery,
    *,
    limit: int,
    cursor: str | None = None,
    after: str | None = None,
) -> tuple[list[CallLogEntry], str | None]:
    """A page of a connection's calls and the cursor of the next (older) page.

    Newest first from *cursor*; with *after* (a ``seq``), the entries newer than it, oldest
    first (what ``--follow`` asks for). The caller has checked the connection is visible.

    Raises:
        InvalidRequest: an unknown kind or status, a malformed cursor.
    """
    if query.kind is not None and query.kind not in CALL_KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(CALL_KINDS)}")
    if query.status is not None and query.status not in ("ok", "error"):
        raise InvalidRequest("status must be ok or error")
    statement = select(CallLogEntry).where(CallLogEntry.connection_id == connection_id)
    if query.kind is not None:
        statement = statement.where(CallLogEntry.kind == query.kind)
    if query.status is not None:
        statement = statement.where(CallLogEntry.status == query.status)
    if query.operation is not None:
        statement = statement.where(CallLogEntry.operation == query.operation)
    if query.since is not None:
        statement = statement.where(CallLogEntry.started_at >= query.since)
    if query.until is not None:
        statement = statement.where(CallLogEntry.started_at < query.until)
    if after is not None:
        statement = statement.where(CallLogEntry.seq > _seq(after, "after"))
        rows = list(await session.scalars(statement.order_by(CallLogEntry.seq).limit(limit)))
        # Following: the cursor to ask with next is the newest seen (or the same one).
        return rows, str(rows[-1].seq) if rows else after
    if cursor is not None:
        statement = statement.where(CallLogEntry.seq < _seq(cursor, "cursor"))
    rows = list(await session.scalars(statement.order_by(CallLogEntry.seq.desc()).limit(limit)))
    following = str(rows[-1].seq) if len(rows) == limit else None
    return rows, following


async def get_call(session: AsyncSession, connection_id: str, call_id: str) -> CallLogEntry:
    """One entry of a connection's call log by its call id.

    Raises:
        NotFound: no such entry for this connection (or it was pruned).
    """
    found = await session.scalar(
        select(CallLogEntry).where(
            CallLogEntry.connection_id == connection_id, CallLogEntry.id == call_id[:32]
        )
    )
    if found is None:
        raise NotFound(
            f"call {call_id[:40]!r} not found in this connection's call log (unknown, or "
            "older than the log keeps)"
        )
    return found


async def record_health_event(
    session: AsyncSession,
    connection_id: str,
    enterprise_id: str | None,
    previous: str,
    health: str,
    detail: str,
    at: datetime,
) -> None:
    """Add a health change to the history (in the caller's transaction), keeping the newest."""
    session.add(
        HealthEvent(
            connection_id=connection_id,
            enterprise_id=enterprise_id,
            health=health,
            previous=previous,
            detail=detail,
            at=at,
        )
    )
    await session.flush()
    oldest_kept = await session.scalar(
        select(HealthEvent.seq)
        .where(HealthEvent.connection_id == connection_id)
        .order_by(HealthEvent.seq.desc())
        .offset(MAX_HEALTH_EVENTS - 1)
        .limit(1)
    )
    if oldest_kept is not None:
        await session.execute(
            delete(HealthEvent)
            .where(HealthEvent.connection_id == connection_id, HealthEvent.seq < oldest_kept)
            .execution_options(synchronize_session=False)
        )


async def list_health_events(
    session: AsyncSession, connection_id: str, *, limit: int, cursor: str | None = None
) -> tuple[list[HealthEvent], str | None]:
    """A page of a connection's health changes, newest first, and the next page's cursor."""
    statement = select(HealthEvent).where(HealthEvent.connection_id == connection_id)
    if cursor is not None:
        statement = statement.where(HealthEvent.seq < _seq(cursor, "cursor"))
    rows = list(await session.scalars(statement.order_by(HealthEvent.seq.desc()).limit(limit)))
    return rows, str(rows[-1].seq) if len(rows) == limit else None


#: The columns an entry fills, in the order of :func:`_values` (``seq`` is the database's).
_COLUMNS = (
    "id",
    "connection_id",
    "enterprise_id",
    "connector_id",
    "kind",
    "operation",
    "status",
    "status_code",
    "started_at",
    "duration_ms",
    "attempts",
    "error_class",
    "error_message",
    "request_excerpt",
    "response_excerpt",
    "trace_id",
    "parent_id",
)


def _values(entry: CallEntry) -> tuple[object, ...]:
    """An entry's column values, in the order of :data:`_COLUMNS`."""
    error_class = entry.error_class
    return (
        entry.id,
        entry.connection_id,
        entry.enterprise_id,
        entry.connector_id,
        entry.kind[:32],
        entry.operation,
        entry.status,
        entry.status_code,
        entry.started_at,
        round(entry.duration * 1000, 3),
        entry.attempts,
        error_class[:100] if error_class else None,
        entry.error_message,
        entry.request_excerpt,
        entry.response_excerpt,
        entry.trace_id,
        entry.parent_id,
    )


class _CompiledInsert:
    """The call log's INSERT compiled for a dialect, and its rows in the driver's form.

    What ``session.execute(insert(table), dicts)`` does for every batch (compile or look up
    the statement, then convert each row's values through the column types' bind processors)
    is done here once per set of columns, and per row only the processors that exist (on
    SQLite, the datetime's) run. The statement is executed with ``exec_driver_sql``: the
    driver's own executemany.

    A nullable column that is NULL in every row of a batch (most are, for calls that went
    well: no error, no trace, no parent) is left out of that batch's INSERT: it is NULL all
    the same (no column has a server default), and the driver binds fewer values, each NULL
    costing sqlite3 an adaptation look-up.
    """

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        table = cast(Table, CallLogEntry.__table__)
        self._table = table
        processors = []
        for position, name in enumerate(_COLUMNS):
            impl = table.c[name].type.dialect_impl(dialect)
            process: Callable[[Any], Any] | None = impl.bind_processor(dialect)
            if process is not None and _stores_sqlite_datetime_text(impl):
                process = _sqlite_datetime(process)
            if process is not None:
                processors.append((position, process))
        self._processors = tuple(processors)
        self._nullable = tuple(
            position
            for position, name in enumerate(_COLUMNS)
            if table.c[name].nullable and table.c[name].server_default is None
        )
        self._statements: dict[tuple[int, ...], _Statement] = {}

    def statement(self, batch: Sequence[CallEntry]) -> tuple[str, list[Any]]:
        """The INSERT for *batch* and its rows as the driver's parameters."""
        processors = self._processors
        rows: list[Any] = []
        for entry in batch:
            row = _values(entry)
            if processors:
                values = list(row)
                for slot, process in processors:
                    if values[slot] is not None:
                        values[slot] = process(values[slot])
                row = tuple(values)
            rows.append(row)
        columns = list(zip(*rows, strict=True))
        left_out = tuple(
            position for position in self._nullable if columns[position].count(None) == len(rows)
        )
        found = self._statements.get(left_out)
        if found is None:
            found = self._statements[left_out] = _Statement(self._table, self.dialect, left_out)
        return found.sql, found.parameters(rows)


class _Statement:
    """The INSERT of every column but *left_out* (positions in :data:`_COLUMNS`), compiled."""

    def __init__(self, table: Table, dialect: Dialect, left_out: tuple[int, ...]) -> None:
        kept = [name for position, name in enumerate(_COLUMNS) if position not in left_out]
        compiled = insert(table).compile(dialect=dialect, column_keys=kept)
        self.sql = compiled.string
        # The bind names are the column keys; a positional driver wants them in its order.
        order = list(compiled.positiontup or []) if compiled.positional else kept
        index = {name: position for position, name in enumerate(_COLUMNS)}
        self._names = None if compiled.positional else tuple(order)
        # A getter of the row's values in the driver's order (C, not a comprehension per row).
        self._pick = operator.itemgetter(*(index[name] for name in order))

    def parameters(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """*rows* (every column's value) as the driver's parameters: tuples, or dicts."""
        pick = self._pick
        names = self._names
        if names is None:
            return [pick(row) for row in rows]
        return [dict(zip(names, pick(row), strict=True)) for row in rows]


def _stores_sqlite_datetime_text(impl: object) -> bool:
    """True for SQLite's DATETIME with its default text form (``2026-12-06 03:43:27.000123``)."""
    return isinstance(impl, SQLITE_DATETIME) and (
        impl._storage_format == SQLITE_DATETIME._storage_format
    )


def _sqlite_datetime(general: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLite's DATETIME bind processor, without its formatting dict for a plain datetime.

    The same text (``isoformat`` pads the year to four digits and, with ``microseconds``,
    always writes six; the offset it adds to an aware time is cut off, as SQLAlchemy leaves
    it out) for a fraction of the cost: it runs for every entry written.
    """

    def process(value: Any) -> Any:
        if type(value) is datetime:
            return value.isoformat(" ", "microseconds")[:26]
        return general(value)

    return process


def _seq(value: str, name: str) -> int:
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise InvalidRequest(f"{name} must be a cursor this API returned (a whole number)")
    return int(value)


def _rowcount(result: object) -> int:
    count = getattr(result, "rowcount", 0)
    return count if isinstance(count, int) and count > 0 else 0
