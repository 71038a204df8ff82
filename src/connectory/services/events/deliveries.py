"""Sending events to endpoints: at least once, in order, fairly, with backoff, then dead letters.

One claim picks due deliveries for a batch:

* only the head of each (endpoint, subscription) queue is due: a delivery waits until every
  earlier one of its queue has succeeded or been dead-lettered (order per subscription);
* enterprises take turns: candidates are ranked within their enterprise and the batch is
  filled by rank, so one enterprise's backlog cannot fill a batch while another waits;
* an endpoint gets at most ``max_in_flight`` deliveries at once;
* a claim is a lease: a worker killed mid-send leaves a lease that expires, and the delivery
  is due again (at least once). Claims are made by one claimer at a time (a transaction
  advisory lock on PostgreSQL; SQLite serialises writers).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Container, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import aiohttp
import orjson
from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    Table,
    Update,
    any_,
    bindparam,
    case,
    false,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from connectory.errors import ConnectoryError, EgressDenied, InvalidURL, UpstreamError
from connectory.events.signing import keyed_signature_header, signing_keys
from connectory.http.egress_aiohttp import check_destination
from connectory.observability.calls import ConnectionCalls
from connectory.services.events.call_logs import BackgroundCalls
from connectory.services.events.claim_heads import Candidate, due_heads
from connectory.services.events.context import EventsContext
from connectory.services.events.endpoints import ENDPOINT_SECRETS_OWNER, endpoint_secrets
from connectory.services.events.records import (
    as_utc,
    dialect_of,
    envelope,
    held_session,
    hold_write_lock,
)
from connectory.settings import Settings
from connectory.store.event_models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

if TYPE_CHECKING:
    from connectory.observability.metrics import Metrics

logger = logging.getLogger("connectory.events.deliveries")

#: The tables, not the mapped classes: Core statements, without the ORM's work per execution.
_DELIVERIES = cast(Table, Delivery.__table__)
_ATTEMPTS = cast(Table, DeliveryAttempt.__table__)
_EVENTS = cast(Table, Event.__table__)
_ENDPOINTS = cast(Table, WebhookEndpoint.__table__)

#: How long a claimed delivery is ours before another worker may take it over.
LEASE_SECONDS = 120
#: The log of a delivery prepared without one: records nothing.
_UNRECORDED = ConnectionCalls(None, "")
#: Any number, the same in every process: the key of the claim's advisory lock.
_CLAIM_LOCK = 0x636F6E6E  # "conn"

#: The heads of due queues that the claim may take, in fair order, up to :scan: each ranked
#: within its endpoint (an endpoint's queues in flight plus its place among the candidates
#: stay within its ``max_in_flight``), then, among those within their cap, within its
#: enterprise (turns: ranked after the cap, so an enterprise's heads waiting on a saturated
#: endpoint do not push its head on another endpoint behind everyone else's); ``queued``:
#: whether anything waits behind the head in its queue (no look for followers when nothing
#: does). This form ranks every due head (its cost grows with the backlog): SQLite's, where
#: one process claims and backlogs are small; PostgreSQL's claim reads
#: :func:`connectory.services.events.claim_heads.due_heads`.
_CANDIDATES_SCAN = (
    text(
        """
    WITH busy AS (
        SELECT endpoint_id, count(DISTINCT order_key) AS queues FROM deliveries
        WHERE status = 'in_flight' AND lease_until >= :now
        GROUP BY endpoint_id
    )
    SELECT ranked.id, ranked.enterprise_id, ranked.endpoint_id, ranked.order_key, ranked.cap,
           ranked.busy,
           EXISTS (
               SELECT 1 FROM deliveries n
               WHERE n.endpoint_id = ranked.endpoint_id AND n.order_key = ranked.order_key
                 AND n.event_seq > ranked.event_seq AND n.status IN ('pending', 'in_flight')
           ) AS queued
    FROM (
        SELECT capped.id, capped.enterprise_id, capped.endpoint_id, capped.order_key,
               capped.cap, capped.busy, capped.next_run_at, capped.event_seq,
               row_number() OVER (
                   PARTITION BY capped.enterprise_id ORDER BY capped.next_run_at, capped.event_seq
               ) AS tenant_rank
        FROM (
            SELECT heads.id, heads.enterprise_id, heads.endpoint_id, heads.order_key, heads.cap,
                   heads.next_run_at, heads.event_seq,
                   coalesce(busy.queues, 0) AS busy,
                   row_number() OVER (
                       PARTITION BY heads.endpoint_id ORDER BY heads.next_run_at, heads.event_seq
                   ) AS endpoint_rank
            FROM (
                SELECT d.id, d.enterprise_id, d.endpoint_id, d.order_key, d.next_run_at,
                       d.event_seq, coalesce(w.max_in_flight, 1) AS cap
                FROM deliveries d LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id
                WHERE ((d.status = 'pending' AND d.next_run_at <= :now)
                       OR (d.status = 'in_flight' AND d.lease_until < :now))
                  AND NOT EXISTS (
                      SELECT 1 FROM deliveries p
                      WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key
                        AND p.event_seq < d.event_seq AND p.status IN ('pending', 'in_flight')
                  )
            ) AS heads LEFT JOIN busy ON busy.endpoint_id = heads.endpoint_id
        ) AS capped
        WHERE capped.busy + capped.endpoint_rank <= capped.cap
    ) AS ranked
    ORDER BY ranked.tenant_rank, ranked.next_run_at, ranked.event_seq
    LIMIT :scan
    """
    )
    .bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("scan", type_=Integer))
    .columns(
        id=String,
        enterprise_id=String,
        endpoint_id=String,
        order_key=String,
        cap=Integer,
        busy=Integer,
        queued=Boolean,
    )
)


#: The event's columns a delivery's body and call log entry need.
_EVENT_COLUMNS = (
    _EVENTS.c.id,
    _EVENTS.c.seq,
    _EVENTS.c.type,
    _EVENTS.c.enterprise_id,
    _EVENTS.c.connection_id,
    _EVENTS.c.subscription_id,
    _EVENTS.c.occurred_at,
    _EVENTS.c.received_at,
    _EVENTS.c.payload,
)


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after *attempts* failed tries: exponential, capped, with 10% jitter."""
    delay: float = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return delay * random.uniform(0.9, 1.1)


#: A follower's columns, as both forms of the followers' query return them (in this order).
_FOLLOWER_COLUMNS = (
    _DELIVERIES.c.id,
    _DELIVERIES.c.endpoint_id,
    _DELIVERIES.c.order_key,
    _DELIVERIES.c.status,
    _DELIVERIES.c.next_run_at,
    _DELIVERIES.c.lease_until,
)


def _follower_list(alias: str) -> str:
    """The follower's columns of table *alias*, as a select list (`d.id, d.endpoint_id...`)."""
    return ", ".join(f"{alias}.{column.name}" for column in _FOLLOWER_COLUMNS)


#: The deliveries that follow each claimed head in its queue, in order, up to :depth each.
_FOLLOWERS = (
    text(
        f"""
    SELECT {_follower_list("queued")} FROM (
        SELECT {_follower_list("d")}, d.event_seq,
               row_number() OVER (
                   PARTITION BY d.endpoint_id, d.order_key ORDER BY d.event_seq
               ) AS place
        FROM deliveries d
        WHERE d.id NOT IN :heads AND d.order_key IN :keys AND d.endpoint_id IN :endpoints
          AND d.status IN ('pending', 'in_flight')
    ) AS queued
    WHERE place < :depth
    ORDER BY endpoint_id, order_key, event_seq
    """
    )
    .bindparams(
        bindparam("heads", expanding=True),
        bindparam("keys", expanding=True),
        bindparam("endpoints", expanding=True),
        bindparam("depth", type_=Integer),
    )
    .columns(*_FOLLOWER_COLUMNS)
)


#: The same followers as :data:`_FOLLOWERS`, read per wanted queue (PostgreSQL): each queue's
#: first ``:depth - 1`` live deliveries after its head, from the live queue index (a queue
#: thousands deep costs its run, not its depth).
_FOLLOWERS_LATERAL = (
    text(
        f"""
    SELECT {_follower_list("f")}
    FROM unnest(CAST(:endpoints AS varchar[]), CAST(:keys AS varchar[]))
         AS q(endpoint_id, order_key)
    CROSS JOIN LATERAL (
        SELECT {_follower_list("d")}, d.event_seq
        FROM deliveries d
        WHERE d.endpoint_id = q.endpoint_id AND d.order_key = q.order_key
          AND d.status IN ('pending', 'in_flight') AND d.id <> ALL(CAST(:heads AS varchar[]))
        ORDER BY d.event_seq
        LIMIT :depth - 1
    ) AS f
    ORDER BY f.endpoint_id, f.order_key, f.event_seq
    """
    )
    .bindparams(
        bindparam("heads", type_=ARRAY(String)),
        bindparam("keys", type_=ARRAY(String)),
        bindparam("endpoints", type_=ARRAY(String)),
        bindparam("depth", type_=Integer),
    )
    .columns(*_FOLLOWER_COLUMNS)
)


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """What a claim took: the claimed deliveries' ids, and whether it looked everywhere."""

    ids: list[str]
    #: PostgreSQL's claim looked short of everything (a walk of an endpoint's queues stopped
    #: part-way with room left on it, or its slice of endpoints stopped short of the last
    #: before the dispatch went once round them: :class:`connectory.services.events.
    #: claim_heads.DueHeads`): a due head may lie further round, so an empty claim does not
    #: mean nothing is due.
    unfinished: bool = False
    #: The claimed deliveries with their events and endpoints, in queue order, as
    #: :func:`prepare_deliveries` loads them by id (its columns): PostgreSQL's take leases and
    #: loads in the same statement, and :func:`prepare_claimed` reads nothing more. None: not
    #: loaded (SQLite), :func:`prepare_claimed` loads them. Not part of a result's equality
    #: (it is what :attr:`ids` are, read once).
    loaded: list[Row[Any]] | None = field(default=None, compare=False, repr=False)


async def claim_deliveries(
    session: AsyncSession,
    now: datetime,
    limit: int,
    lease_seconds: float = LEASE_SECONDS,
    depth: int = 1,
) -> ClaimResult:
    """Claim due deliveries (see the module docstring); the caller commits.

    Up to *limit* queues are claimed, each by its head; with *depth* > 1, also up to
    ``depth - 1`` deliveries following the head in its queue, claimable now, without a gap
    (the caller sends a queue's run in order, one at a time, so the endpoint still gets at
    most one request per queue at once). ``max_in_flight`` counts queues in flight.

    On PostgreSQL, the claimed deliveries come back loaded (:attr:`ClaimResult.loaded`):
    each take returns its leased rows joined with their events and endpoints.
    """
    dialect = dialect_of(session)
    if dialect == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
    rows: Sequence[Candidate | Row[Any]]
    unfinished = False
    if dialect == "postgresql":
        due = await due_heads(session, now, limit)
        rows, unfinished = due.heads, due.unfinished
    else:  # one query, no walks: nothing is left part-way
        rows = (await session.execute(_CANDIDATES_SCAN, {"now": now, "scan": limit})).all()
    # PostgreSQL's take loads what it leases; elsewhere the caller loads by id.
    loads = dialect == "postgresql"
    ids, loaded = await _claim_rows(session, now, rows, limit, lease_seconds, depth, loads)
    return ClaimResult(ids, unfinished, loaded)


async def _claim_rows(
    session: AsyncSession,
    now: datetime,
    rows: Sequence[Candidate | Row[Any]],
    limit: int,
    lease_seconds: float,
    depth: int,
    loads: bool,
) -> tuple[list[str], list[Row[Any]] | None]:
    """Lease the candidate heads *rows* (in fair order) within their caps, and their runs.

    Returns the ids leased (the heads, then the runs behind them) and, when the takes load
    (*loads*: PostgreSQL), their loaded rows in queue order (else None).
    """
    if not rows:
        return [], [] if loads else None
    # Queues in flight per endpoint (read with the candidates): each sends one request at a
    # time, whatever its run. The query already keeps within the caps; counted again here so
    # the cap holds whatever the query returns.
    in_flight: dict[str, int] = {row.endpoint_id: row.busy for row in rows}
    chosen: list[str] = []
    queues: dict[str, tuple[str, str]] = {}
    queued: set[str] = set()
    for row in rows:  # already in fair order
        taken = in_flight.get(row.endpoint_id, 0)
        if taken >= row.cap:  # the endpoint's max_in_flight (read with the candidates)
            continue
        in_flight[row.endpoint_id] = taken + 1
        chosen.append(row.id)
        queues[row.id] = (row.endpoint_id, row.order_key)
        if row.queued:
            queued.add(row.id)
        if len(chosen) >= limit:
            break
    if not chosen:
        return [], [] if loads else None
    heads = await _take(session, now, chosen, lease_seconds, loads)
    head_ids = [row.delivery_id for row in heads]
    # Nothing was queued behind the heads when the candidates were read: no followers to look
    # for (one queued since waits for the next claim, behind its head as always).
    if depth <= 1 or not queued.intersection(head_ids):
        return head_ids, _in_queue_order(heads) if loads else None
    # Followers are looked for behind the heads now held only: a head read before another
    # worker recorded its failure is not claimed, and neither is anything behind it.
    runs = await _followers(
        session, now, head_ids, {queues[i] for i in head_ids if i in queued}, depth
    )
    followers = await _take(session, now, [i for run in runs for i in run], lease_seconds, loads)
    held = {row.delivery_id for row in followers}
    kept: list[str] = []
    gaps: list[str] = []
    for run in runs:
        # Only a run without a gap is sent: what follows a delivery not taken goes back.
        place = next((n for n, delivery_id in enumerate(run) if delivery_id not in held), None)
        kept += run if place is None else run[:place]
        gaps += [] if place is None else [i for i in run[place:] if i in held]
    await _release(session, gaps)
    return head_ids + kept, _in_queue_order(heads, followers, set(kept)) if loads else None


def _in_queue_order(
    heads: list[Row[Any]],
    followers: Sequence[Row[Any]] = (),
    kept: Container[str] = (),
) -> list[Row[Any]]:
    """The loaded rows of a claim's takes in queue order (as the load by id orders them).

    Each take's rows come in queue order, one head per queue, and a queue's run follows its
    head: each head, then the *kept* followers of its queue (the gaps were released). A
    delivery whose event is gone is leased but not loaded (the load by id's inner join).
    """
    runs: dict[tuple[str, str], list[Row[Any]]] = {}
    for row in followers:
        if row.delivery_id in kept:
            runs.setdefault((row.endpoint_id, row.order_key), []).append(row)
    ordered: list[Row[Any]] = []
    for head in heads:
        ordered.append(head)
        ordered += runs.get((head.endpoint_id, head.order_key), ())
    return [row for row in ordered if row.id is not None]


async def _take(
    session: AsyncSession,
    now: datetime,
    delivery_ids: list[str],
    lease_seconds: float,
    loads: bool,
) -> list[Row[Any]]:
    """Lease those of *delivery_ids* that are still claimable; their rows.

    With *loads* (PostgreSQL), the rows are loaded (:data:`_TAKE_AND_LOAD`: the load's
    columns, in queue order); else their ``delivery_id`` only.
    """
    if not delivery_ids:
        return []
    take = _TAKE_AND_LOAD if loads else _TAKE_BY_LIST
    claimed = await session.execute(
        take,
        {"ids": delivery_ids, "now": now, "lease": now + timedelta(seconds=lease_seconds)},
    )
    return list(claimed.all())


def _take_statement(by_id: ColumnElement[bool]) -> Update:
    """The lease of the claimable deliveries among those *by_id* selects (nothing returned).

    Built once: a statement per batch would be built and its cache key worked out every time.
    """
    now = bindparam("now", type_=DateTime(timezone=True))
    # Only due deliveries are leased, and a lease leaves next_run_at as it was: every row in
    # flight has next_run_at <= its claim's now, which claim_heads' time scan relies on (an
    # expired lease is looked for in that range only).
    # The claimable test as one CASE: not a condition an index can serve, so the rows are
    # found by their ids (the primary key) whatever the statistics say; as separate status
    # conditions, a table never analyzed since a burst was read whole to find a batch.
    claimable = case(
        (_DELIVERIES.c.status == "pending", _DELIVERIES.c.next_run_at <= now),
        (_DELIVERIES.c.status == "in_flight", _DELIVERIES.c.lease_until < now),
        else_=false(),
    )
    return (
        update(_DELIVERIES)
        .where(by_id, claimable)
        .values(
            status="in_flight",
            lease_until=bindparam("lease", type_=DateTime(timezone=True)),
            attempts=_DELIVERIES.c.attempts + 1,
        )
    )


#: The portable take: the ids leased (an expanding list).
_TAKE_BY_LIST = _take_statement(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True))).returning(
    _DELIVERIES.c.id.label("delivery_id")
)


async def _followers(
    session: AsyncSession,
    now: datetime,
    heads: list[str],
    wanted: set[tuple[str, str]],
    depth: int,
) -> list[list[str]]:
    """The claimable deliveries right behind the heads, per wanted queue in order, to a gap."""
    if dialect_of(session) == "postgresql":
        queues = sorted(wanted)
        rows = await session.execute(
            _FOLLOWERS_LATERAL,
            {
                "heads": heads,
                "endpoints": [endpoint for endpoint, _ in queues],
                "keys": [key for _, key in queues],
                "depth": depth,
            },
        )
    else:
        rows = await session.execute(
            _FOLLOWERS,
            {
                "heads": heads,
                "keys": sorted({key for _, key in wanted}),
                "endpoints": sorted({endpoint for endpoint, _ in wanted}),
                "depth": depth,
            },
        )
    followers: dict[tuple[str, str], list[str]] = {}
    stopped: set[tuple[str, str]] = set()
    for row in rows:
        queue = (row.endpoint_id, row.order_key)
        if queue not in wanted or queue in stopped:
            continue
        due = (row.status == "pending" and as_utc(row.next_run_at) <= now) or (
            row.status == "in_flight"
            and row.lease_until is not None
            and as_utc(row.lease_until) < now
        )
        if due:
            followers.setdefault(queue, []).append(row.id)
        else:  # nothing may overtake a delivery that is not claimable now
            stopped.add(queue)
    return list(followers.values())


@dataclass
class Outcome:
    """What one try of a delivery gave."""

    delivery_id: str
    ok: bool
    status_code: int | None
    error: str
    duration_ms: int
    #: The event's connection's connector (the dead letter metric's label); None: unknown.
    connector_id: str | None = None


class _Unchecked:
    """A URL the egress guard has not looked at yet."""


_UNCHECKED = _Unchecked()


#: Why a URL is not sent to: the egress guard refuses it, or it cannot be parsed.
Refusal = EgressDenied | InvalidURL


def _refusal_of(context: EventsContext, url: str) -> Refusal | None:
    """Why *url* is not sent to (a refused IP literal, an unparseable URL), or None.

    An unparseable URL (a port out of range, stored before the API checked ports) is a
    failed try like any other (retried, then dead-lettered), never an error of the batch.
    """
    try:
        check_destination(context.egress, url)
    except EgressDenied as error:
        return error
    except ValueError as error:  # yarl's (aiohttp's InvalidURL is one too)
        return InvalidURL(f"the endpoint URL is not valid: {error}")
    return None


@dataclass
class Prepared:
    """A claimed delivery ready to send: where, what, signed with which secrets."""

    delivery_id: str
    url: str | None
    message_id: str
    body: bytes
    secrets: list[str]
    #: The call log of the event's connection (the endpoint's secrets redacted).
    calls: ConnectionCalls | None = None
    #: The event's type (the entry's operation).
    event_type: str = ""
    #: The event's connection's connector (known when anything listens: metrics, call log).
    connector_id: str | None = None
    #: The delivery's queue (endpoint id, order key): a queue's run is sent in order.
    queue: tuple[str, str] = ("", "")
    #: The egress guard's verdict on the URL (see :func:`_refusal_of`; None: allowed), taken
    #: once per distinct URL per batch; unset (the default), it is taken at the send.
    refusal: Refusal | _Unchecked | None = _UNCHECKED
    #: The HMAC keys of :attr:`secrets` (decoded once per endpoint per batch); None: at the send.
    keys: list[bytes] | None = None


async def dispatch_due(
    context: EventsContext, batch: int = 100, rounds: int = 100, lanes: int = 2, depth: int = 20
) -> int:
    """Claim and send due deliveries until none is due; return how many were sent.

    *lanes* loops run side by side, so one batch's database work (record, claim, load)
    overlaps another's sends; each lane holds one connection throughout. Per batch, on that
    connection: one transaction records the previous batch's outcomes (committed first:
    they were sent, and nothing that fails later may undo them); the next claims up to
    *batch* queues, each with a run of up to *depth* deliveries (its head and those right
    behind it), holding the claim lock for the claim only; the claimed deliveries are
    loaded with their events and endpoints by the claim's takes on PostgreSQL (the lease and
    the load in one statement), in one query after the claim elsewhere (each endpoint's
    secrets are read once per dispatch).
    The queues are sent concurrently outside any transaction, each queue's run in order,
    one delivery at a time. A run stops at its first failure: the deliveries behind it were
    not tried and are released as they were. Each lane stops when nothing is due or after
    *rounds* batches. A lane's error cancels the other lanes (no held connection outlives
    the dispatch) and is raised; a lane cancelled mid-batch first records the tries it
    made and gives back the deliveries it had not started (a try cut off keeps its lease).

    *batch* is a ceiling: a shallow backlog gives small batches anyway. A batch's database
    work costs about the same whatever its size, so a deep backlog is sent in large ones
    (one endpoint capped at 64, as in bench/events.py: 100 rather than 50 took a tenth less
    worker CPU and a third less PostgreSQL CPU per delivery, at a higher rate, even though
    the second lane then finds the endpoint full and stops; docs/benchmarks.md).
    """
    secrets: dict[str, list[str]] = {}
    connectors: dict[str, str | None] = {}
    return await _run_lanes(
        [_dispatch_lane(context, batch, rounds, depth, secrets, connectors) for _ in range(lanes)]
    )


async def _run_lanes(lanes: list[Coroutine[Any, Any, int]]) -> int:
    """Run *lanes* side by side; their sum. The first error cancels the others, then is raised.

    Not a TaskGroup: the caller sees the lane's own exception, not an ExceptionGroup.
    """
    tasks = [asyncio.create_task(lane) for lane in lanes]
    try:
        finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:  # a lane failed, or the dispatch was cancelled: no lane outlives it
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if task in finished and not task.cancelled() and task.exception() is not None:
            raise cast(BaseException, task.exception())
    return sum(task.result() for task in tasks)


async def _dispatch_lane(
    context: EventsContext,
    batch: int,
    rounds: int,
    depth: int,
    secrets: dict[str, list[str]],
    connectors: dict[str, str | None],
) -> int:
    sent = 0
    lease_seconds = context.settings.work_lease_seconds
    #: The previous batch's tries, recorded before the next batch is claimed.
    done: _Tried | None = None
    # One connection for the lane's life: a checkout per batch would ping the server each time.
    async with held_session(context.sessions) as session:
        for _ in range(rounds):
            now, claim = await _record_then_claim(session, context, done, batch, depth)
            done = None
            if not claim.ids:
                if claim.unfinished:  # more queues or endpoints round: claim again
                    continue
                break
            # On PostgreSQL the claim loaded the batch: no query, unless an endpoint or a
            # connection is new to the dispatch (its secrets, its connector).
            prepared = await prepare_claimed(session, context, claim, secrets, connectors)
            # Ends the read, if any (no transaction stays open while sending); with none, the
            # connection has no transaction to end (no round trip).
            await session.commit()
            runs: dict[tuple[str, str], list[Prepared]] = {}
            for item in prepared:  # in queue order
                runs.setdefault(item.queue, []).append(item)
            # No send of a run starts once half the lease has passed: with a try bounded by
            # delivery_timeout_seconds, the sends end well before the lease expires, so no other
            # lane or worker re-claims (and sends again) what is in flight. The outcomes are
            # recorded in the lane's next round, or after its last; if that fails (the store
            # unreachable), the leases expire and the deliveries are sent again (at least once).
            stop_at = now + timedelta(seconds=lease_seconds / 2)
            # The lease the claim set (as _take computed it): only rows still held by it move.
            lease_until = now + timedelta(seconds=lease_seconds)
            progress = _Progress()
            sends = [
                asyncio.ensure_future(_send_run(context, run, stop_at, progress))
                for run in runs.values()
            ]
            try:
                results = await asyncio.gather(*sends)
            except BaseException:
                # Another lane failed, the dispatch was stopped, or a run raised: no send of
                # this batch outlives the lane (gather leaves the others running when one
                # raises); what was sent is recorded (else it would be sent again once the
                # lease expires); what never started is given back; a try cut off mid-send
                # keeps its lease (at least once).
                for send in sends:
                    send.cancel()
                await asyncio.gather(*sends, return_exceptions=True)
                untried = [i.delivery_id for i in prepared if i.delivery_id not in progress.started]
                await _record_when_cancelled(
                    session, context, _Tried(progress.outcomes, untried, lease_until)
                )
                raise
            done = _Tried(
                [outcome for tried, _ in results for outcome in tried],
                [delivery_id for _, left in results for delivery_id in left],
                lease_until,
            )
            sent += len(done.outcomes)
        if done is not None:  # the last round's tries, when the rounds ran out
            await _record(session, context, done)
    return sent


async def _record(session: AsyncSession, context: EventsContext, done: _Tried) -> None:
    """Record a batch's tries and commit them, in a transaction of their own on *session*."""
    dead = await write_outcomes(session, context.settings, context.now(), done)
    await session.commit()
    _count_dead(context.metrics, dead)


#: How long a cancelled lane may take to record what it sent before it gives up.
_CANCELLED_RECORD_SECONDS = 10.0


async def _record_when_cancelled(
    session: AsyncSession, context: EventsContext, tried: _Tried
) -> None:
    """Record a cancelled lane's tries on its held *session*, within a bound; never raises.

    The session is idle (no transaction is open while sending). With the store unreachable,
    the leases expire and the deliveries are sent again (at least once).
    """
    if not tried.outcomes and not tried.untried:
        return
    try:
        async with asyncio.timeout(_CANCELLED_RECORD_SECONDS):
            await _record(session, context, tried)
    except (Exception, asyncio.CancelledError) as error:  # cancelled again: stop trying
        logger.warning(
            "a cancelled delivery lane could not record %d tries (%s); they are sent again "
            "when their lease expires",
            len(tried.outcomes),
            type(error).__name__,
        )


async def _record_then_claim(
    session: AsyncSession, context: EventsContext, done: _Tried | None, batch: int, depth: int
) -> tuple[datetime, ClaimResult]:
    """Commit the previous batch's tries (*done*), then claim the next batch; its time and claim.

    Two transactions on the held connection: a claim that fails (a deadlock, a timeout, a
    dropped connection) cannot roll back outcomes of deliveries already sent, and the claim
    lock is taken first in the claim's transaction and held only for the claim (never while
    rows of the previous batch are locked: no lock-order deadlock between lanes).
    """
    if done is not None:
        await _record(session, context, done)
    # SQLite: the claim reads then writes; a writer from the start waits for the lock instead
    # of failing when another lane commits between the read and the write.
    await hold_write_lock(session)
    now = context.now()
    claimed = await claim_deliveries(
        session, now, batch, context.settings.work_lease_seconds, depth
    )
    await session.commit()
    return now, claimed


class _Progress:
    """How far a batch's sends got: the deliveries started and the tries that ended."""

    __slots__ = ("outcomes", "started")

    def __init__(self) -> None:
        self.started: set[str] = set()
        self.outcomes: list[Outcome] = []


async def _send_run(
    context: EventsContext,
    run: list[Prepared],
    stop_at: datetime | None = None,
    progress: _Progress | None = None,
) -> tuple[list[Outcome], list[str]]:
    """Send one queue's claimed run in order; stop at the first failure, or at *stop_at*.

    The head is always tried; a later delivery is not started at or after *stop_at* (on
    the context's clock). Returns the outcomes of the tries and the ids of the deliveries
    left untried; *progress*, when given, follows the sends as they go (read if the sends
    are cancelled).
    """
    outcomes: list[Outcome] = []
    for place, item in enumerate(run):
        if place and stop_at is not None and context.now() >= stop_at:
            return outcomes, [left.delivery_id for left in run[place:]]
        if progress is not None:
            progress.started.add(item.delivery_id)
        outcome = await send_prepared(context, item)
        outcomes.append(outcome)
        if progress is not None:
            progress.outcomes.append(outcome)
        if not outcome.ok:
            return outcomes, [left.delivery_id for left in run[place + 1 :]]
    return outcomes, []


#: A claimed delivery's own columns it is loaded with (after its id, as ``delivery_id``).
_DELIVERY_LOADED = (
    _DELIVERIES.c.endpoint_id,
    _DELIVERIES.c.order_key,
    _DELIVERIES.c.next_run_at,
)
#: Its endpoint's columns it is loaded with.
_ENDPOINT_LOADED = (_ENDPOINTS.c.url, _ENDPOINTS.c.enabled, _ENDPOINTS.c.deleted_at)
#: The columns a claimed delivery is loaded with (after its id, as ``delivery_id``).
_LOADED_COLUMNS = (*_DELIVERY_LOADED, *_EVENT_COLUMNS, *_ENDPOINT_LOADED)
#: Claimed deliveries with their events and endpoints, in queue order (built once: a
#: statement per batch would be built and its cache key worked out every time).
_LOAD_CLAIMED = (
    select(_DELIVERIES.c.id.label("delivery_id"), *_LOADED_COLUMNS)
    .join(_EVENTS, _EVENTS.c.id == _DELIVERIES.c.event_id)
    .outerjoin(_ENDPOINTS, _ENDPOINTS.c.id == _DELIVERIES.c.endpoint_id)
    .where(_DELIVERIES.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_DELIVERIES.c.endpoint_id, _DELIVERIES.c.order_key, _DELIVERIES.c.event_seq)
)


#: A claimed delivery's own columns the look-ups by key read: those loaded, and the keys.
_CLAIMED_COLUMNS = (
    _DELIVERIES.c.id,
    _DELIVERIES.c.endpoint_id,
    _DELIVERIES.c.order_key,
    _DELIVERIES.c.next_run_at,
    _DELIVERIES.c.event_id,
    _DELIVERIES.c.event_seq,
)
#: ``LIMIT 1`` written in the statement, not bound: the planner sees the constant.
_ONE = literal_column("1", Integer)


def _loaded_by_key(claimed: FromClause, source: FromClause, *, event_required: bool) -> Select[Any]:
    """The rows of :data:`_LOAD_CLAIMED` on PostgreSQL, each looked up by its key.

    *claimed* (``d``, in the FROM clause *source*) gives each claimed delivery's
    :data:`_CLAIMED_COLUMNS`; its event (``e``) and endpoint (``w``) are lateral look-ups
    with ``LIMIT 1``: index probes whatever the statistics say. As a join of tables never
    analyzed, the planner hashed the whole events table per batch (a sequential scan of
    every event kept: 8 ms of a 64-delivery batch at 20,000 events). Without
    *event_required*, a delivery whose event is gone comes back too (``id`` NULL).
    """
    event = (
        select(*_EVENT_COLUMNS).where(_EVENTS.c.id == claimed.c.event_id).limit(_ONE).lateral("e")
    )
    endpoint = (
        select(*_ENDPOINT_LOADED)
        .where(_ENDPOINTS.c.id == claimed.c.endpoint_id)
        .limit(_ONE)
        .lateral("w")
    )
    with_event = source.join(event, true()) if event_required else source.outerjoin(event, true())
    return (
        select(
            claimed.c.id.label("delivery_id"),
            *(claimed.c[column.name] for column in _DELIVERY_LOADED),
            *event.c,
            *endpoint.c,
        )
        .select_from(with_event.outerjoin(endpoint, true()))
        .order_by(claimed.c.endpoint_id, claimed.c.order_key, claimed.c.event_seq)
    )


def _load_claimed_by_key() -> Select[Any]:
    """Claimed deliveries by id, loaded (PostgreSQL): each id looked up in turn (``d``)."""
    ids = (
        func.unnest(bindparam("ids", type_=ARRAY(String)))
        .table_valued("id")
        .render_derived(name="claimed")
    )
    claimed = select(*_CLAIMED_COLUMNS).where(_DELIVERIES.c.id == ids.c.id).limit(_ONE)
    lateral = claimed.lateral("d")
    return _loaded_by_key(lateral, ids.join(lateral, true()), event_required=True)


def _take_and_load() -> Select[Any]:
    """The take (:func:`_take_statement`) and the load of what it leased, in one statement.

    The lease is a data-modifying CTE (``d``): its rows come back joined with their events
    and endpoints (a delivery whose event is gone as well, unloaded: it was leased), in
    queue order. PostgreSQL runs the update whole whatever the select reads. The load is
    now read under the claim lock: index probes, a few per delivery, and the payloads
    travel with the take's result instead of a query's of their own after the commit.
    """
    taken = (
        _take_statement(_DELIVERIES.c.id == any_(bindparam("ids", type_=ARRAY(String))))
        .returning(*_CLAIMED_COLUMNS)
        .cte("d")
    )
    return _loaded_by_key(taken, taken, event_required=False)


#: The load by id (PostgreSQL; built once, as every statement here).
_LOAD_CLAIMED_BY_KEY = _load_claimed_by_key()
#: The take that loads (PostgreSQL): one statement, one round trip, for the lease and the load.
_TAKE_AND_LOAD = _take_and_load()


async def prepare_deliveries(
    session: AsyncSession,
    context: EventsContext,
    delivery_ids: list[str],
    secrets: dict[str, list[str]],
    known_connectors: dict[str, str | None] | None = None,
) -> list[Prepared]:
    """Load claimed deliveries with their events and endpoints, in queue order, in one query.

    Columns, not ORM objects (no identity map work per row); an endpoint object is read
    only for its secrets, once per endpoint per dispatch.
    """
    load = _LOAD_CLAIMED_BY_KEY if dialect_of(session) == "postgresql" else _LOAD_CLAIMED
    rows = (await session.execute(load, {"ids": delivery_ids})).all()
    return await _prepare_loaded(session, context, rows, secrets, known_connectors)


async def prepare_claimed(
    session: AsyncSession,
    context: EventsContext,
    claim: ClaimResult,
    secrets: dict[str, list[str]],
    known_connectors: dict[str, str | None] | None = None,
) -> list[Prepared]:
    """Prepare a claim's deliveries, as :func:`prepare_deliveries` does for their ids.

    The rows the claim loaded are used as they are (PostgreSQL: no query; only an endpoint
    or a connection not seen before in the dispatch is read); a claim that did not load
    them (SQLite) has them loaded by id.
    """
    if claim.loaded is None:
        return await prepare_deliveries(session, context, claim.ids, secrets, known_connectors)
    return await _prepare_loaded(session, context, claim.loaded, secrets, known_connectors)


async def _prepare_loaded(
    session: AsyncSession,
    context: EventsContext,
    rows: Sequence[Row[Any]],
    secrets: dict[str, list[str]],
    known_connectors: dict[str, str | None] | None,
) -> list[Prepared]:
    """The deliveries of loaded *rows* (see :func:`prepare_deliveries`), in their order."""
    logs = BackgroundCalls(context)
    # Each connection's connector, looked up once per dispatch (a session and a query less
    # per batch); a cache given by the caller is shared by its lanes. A connection not found
    # (deleted) is remembered as unknown too, not looked up again every batch.
    connectors = known_connectors if known_connectors is not None else {}
    unseen = {row.connection_id for row in rows if row.connection_id not in connectors}
    if unseen:
        found = await logs.connectors_of(unseen, session)
        connectors.update((connection_id, found.get(connection_id)) for connection_id in unseen)
    calls: dict[tuple[str, str], ConnectionCalls] = {}
    refusals: dict[str, Refusal | None] = {}
    #: Each endpoint's signing keys, for this batch only (never kept past the dispatch).
    keys: dict[str, list[bytes]] = {}
    prepared: list[Prepared] = []
    started = context.now()
    for event in rows:
        delivery_id, endpoint_id = event.delivery_id, event.endpoint_id
        context.task_started("deliveries", event.next_run_at, started)
        queue = (endpoint_id, event.order_key)
        connector_id = connectors.get(event.connection_id)
        # No endpoint row (outer join): url is None.
        if event.url is None or event.deleted_at is not None or not event.enabled:
            prepared.append(
                Prepared(
                    delivery_id, None, event.id, b"", [], connector_id=connector_id, queue=queue
                )
            )
            continue
        if endpoint_id not in secrets:
            endpoint = await session.get(WebhookEndpoint, endpoint_id)
            secrets[endpoint_id] = (
                await endpoint_secrets(session, context, endpoint) if endpoint else []
            )
        if endpoint_id not in keys:
            keys[endpoint_id] = signing_keys(secrets[endpoint_id])
        body = orjson.dumps(envelope(event))
        key = (event.connection_id, endpoint_id)
        if key not in calls:
            calls[key] = logs.for_endpoint(
                event.connection_id,
                event.enterprise_id,
                connector_id,
                secrets[endpoint_id],
            )
        prepared.append(
            Prepared(
                delivery_id,
                event.url,
                event.id,
                body,
                secrets[endpoint_id],
                calls[key],
                event.type,
                connector_id,
                queue,
                refusals[event.url]
                if event.url in refusals
                else refusals.setdefault(event.url, _refusal_of(context, event.url)),
                keys[endpoint_id],
            )
        )
    return prepared


async def send_prepared(context: EventsContext, item: Prepared) -> Outcome:
    """One try of one delivery: a signed POST; any 2xx is a success."""
    if item.url is None:
        return Outcome(
            item.delivery_id,
            False,
            None,
            "the endpoint is disabled or deleted",
            0,
            item.connector_id,
        )
    headers = keyed_signature_header(
        signing_keys(item.secrets) if item.keys is None else item.keys,
        item.message_id,
        int(context.now().timestamp()),
        item.body,
    )
    headers["content-type"] = "application/json"
    headers["user-agent"] = "Connectory-Webhooks/1"
    # One call log entry per try (kind "webhook_delivery") in the event's connection's log.
    calls = item.calls or _UNRECORDED
    with calls.track("webhook_delivery", item.event_type) as call:
        call.note_request("POST", item.url, headers, item.body)
        started = time.perf_counter()
        timeout = _timeout(context.settings.delivery_timeout_seconds)
        try:
            refusal = item.refusal
            if isinstance(refusal, _Unchecked):
                refusal = _refusal_of(context, item.url)
            if refusal is not None:  # a new error each try (the verdict is shared by a batch)
                raise type(refusal)(str(refusal))
            async with context.http.post(
                item.url, data=item.body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                status = response.status
                # Read whole: it frees the connection; only the call log's excerpt keeps a head.
                content = await response.read()
                call.note_reply(status, response.headers, content, 1)
        # ValueError: a URL yarl refuses while sending; a failed try, not the lane's error.
        except (aiohttp.ClientError, ConnectoryError, OSError, TimeoutError, ValueError) as error:
            elapsed = int((time.perf_counter() - started) * 1000)
            call.note_attempts(1)
            call.error = error
            return Outcome(
                item.delivery_id, False, None, _describe(error), elapsed, item.connector_id
            )
        elapsed = int((time.perf_counter() - started) * 1000)
        ok = 200 <= status < 300
        problem = "" if ok else f"the endpoint answered {status}"
        if not ok:
            call.error = UpstreamError(problem, status)
        return Outcome(item.delivery_id, ok, status, problem, elapsed, item.connector_id)


@functools.lru_cache(maxsize=8)
def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    """The per-request timeout (immutable: one object per setting, not one per try)."""
    return aiohttp.ClientTimeout(total=seconds)


def _describe(error: Exception) -> str:
    text_ = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text_}"[:500]


@dataclass
class _Tried:
    """A batch's tries to record: the outcomes, the deliveries left untried, the claim's lease."""

    outcomes: list[Outcome]
    untried: list[str]
    lease_until: datetime | None


async def record_outcomes(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    outcomes: list[Outcome],
    untried: list[str] | None = None,
    *,
    lease_until: datetime | None = None,
    metrics: Metrics | None = None,
) -> None:
    """Record a batch's tries in a transaction of their own (see :func:`write_outcomes`).

    Dead letters are counted in *metrics* once committed.
    """
    if not outcomes and not untried:
        return
    async with sessions() as session:
        dead = await write_outcomes(
            session, settings, now, _Tried(outcomes, untried or [], lease_until)
        )
        await session.commit()
    _count_dead(metrics, dead)


async def write_outcomes(
    session: AsyncSession, settings: Settings, now: datetime, tried: _Tried
) -> list[Outcome]:
    """Store each try and move each delivery on: succeeded, retried later, or dead.

    Returns the outcomes that dead-lettered their delivery; the caller commits (and counts
    them only then: a rolled-back batch is tried again).

    Core statements, not ORM objects. On PostgreSQL, one statement stores every attempt and
    moves every delivery (one server execution over arrays, not one per row); failures first
    read their try counts (one query, only when something failed). SQLite keeps the
    portable form: one insert of every attempt, one update per status code of the
    successes, one update per failure. Untried deliveries (behind a failed one in their
    queue's run) are released as they were before their claim.

    With a lease (the one the claim set), only deliveries still held by that claim move: one
    whose lease expired and was claimed again belongs to the new claim, and a late outcome
    of the old one must not overwrite the new one's result.
    """
    outcomes = tried.outcomes
    failed = [o for o in outcomes if not o.ok]
    attempts = (
        dict(
            (
                await session.execute(
                    select(_DELIVERIES.c.id, _DELIVERIES.c.attempts).where(
                        _DELIVERIES.c.id.in_([o.delivery_id for o in failed]),
                        *_held_by(tried.lease_until),
                    )
                )
            ).all()
        )
        if failed
        else {}
    )
    moves: list[_Move] = []
    dead: list[Outcome] = []
    for outcome in outcomes:
        if outcome.ok:
            moves.append(_Move(outcome, "succeeded", None))
            continue
        tries = attempts.get(outcome.delivery_id)
        if tries is None:  # no longer held by this claim: left as it is
            continue
        if tries >= settings.delivery_max_attempts:
            moves.append(_Move(outcome, "dead", None))
            dead.append(outcome)
        else:
            delay = retry_delay(
                tries, settings.delivery_backoff_seconds, settings.delivery_backoff_max_seconds
            )
            moves.append(_Move(outcome, "pending", now + timedelta(seconds=delay)))
    if dialect_of(session) == "postgresql":
        await _write_postgresql(session, now, outcomes, moves, tried.lease_until)
    else:
        await _write_portable(session, now, outcomes, moves, _held_by(tried.lease_until))
    await _release(session, tried.untried, tried.lease_until)
    return dead


@dataclass(frozen=True, slots=True)
class _Move:
    """Where one try moves its delivery: ``succeeded``, ``dead``, or ``pending`` again."""

    outcome: Outcome
    status: str
    #: When a retried delivery is due again (None: not retried).
    next_run_at: datetime | None


#: A batch's tries in one statement (arrays, one element per try or move): every try is
#: stored (in the order given) and every delivery they move moves: succeeded and dead ones
#: finish now, retried ones are due at their own time, all let go of their lease. Only rows
#: still in flight (and, with ``{lease}``, still held by the claim that set it) move.
_RECORD_TRIES = """
    WITH tried AS (
        INSERT INTO delivery_attempts
            (delivery_id, attempted_at, status_code, error, duration_ms)
        SELECT a.delivery_id, :now, a.status_code, a.error, a.duration_ms
        FROM unnest(CAST(:tried_ids AS varchar[]), CAST(:tried_codes AS integer[]),
                    CAST(:tried_errors AS text[]), CAST(:tried_durations AS integer[]))
             WITH ORDINALITY AS a(delivery_id, status_code, error, duration_ms, place)
        ORDER BY a.place
    )
    UPDATE deliveries AS d
    SET status = t.status, last_status_code = t.status_code, last_error = t.error,
        lease_until = NULL,
        finished_at = CASE WHEN t.status = 'pending' THEN d.finished_at ELSE :now END,
        next_run_at = coalesce(t.next_run_at, d.next_run_at)
    FROM unnest(CAST(:ids AS varchar[]), CAST(:statuses AS varchar[]),
                CAST(:codes AS integer[]), CAST(:errors AS text[]),
                CAST(:next_runs AS timestamptz[]))
         AS t(id, status, status_code, error, next_run_at)
    WHERE d.id = t.id AND d.status = 'in_flight'{lease}
    """
_RECORD_HELD = text(_RECORD_TRIES.format(lease=" AND d.lease_until = :lease")).bindparams(
    bindparam("now", type_=DateTime(timezone=True)),
    bindparam("lease", type_=DateTime(timezone=True)),
)
_RECORD_ANY = text(_RECORD_TRIES.format(lease="")).bindparams(
    bindparam("now", type_=DateTime(timezone=True))
)


async def _write_postgresql(
    session: AsyncSession,
    now: datetime,
    outcomes: list[Outcome],
    moves: list[_Move],
    lease_until: datetime | None,
) -> None:
    """The attempts and moves of a batch in one statement (see :func:`write_outcomes`)."""
    if not outcomes:  # nothing tried: nothing moves either
        return
    values: dict[str, Any] = {
        "now": now,
        "tried_ids": [o.delivery_id for o in outcomes],
        "tried_codes": [o.status_code for o in outcomes],
        "tried_errors": [o.error for o in outcomes],
        "tried_durations": [o.duration_ms for o in outcomes],
        "ids": [m.outcome.delivery_id for m in moves],
        "statuses": [m.status for m in moves],
        "codes": [m.outcome.status_code for m in moves],
        # A success clears the last error, whatever its outcome says.
        "errors": ["" if m.status == "succeeded" else m.outcome.error for m in moves],
        "next_runs": [m.next_run_at for m in moves],
    }
    if lease_until is None:
        await session.execute(_RECORD_ANY, values)
    else:
        await session.execute(_RECORD_HELD, {**values, "lease": lease_until})


async def _write_portable(
    session: AsyncSession,
    now: datetime,
    outcomes: list[Outcome],
    moves: list[_Move],
    held: list[ColumnElement[bool]],
) -> None:
    """The attempts and moves of a batch in statements any database runs (SQLite)."""
    if outcomes:
        await session.execute(
            insert(_ATTEMPTS),
            [
                {
                    "delivery_id": o.delivery_id,
                    "attempted_at": now,
                    "status_code": o.status_code,
                    "error": o.error,
                    "duration_ms": o.duration_ms,
                }
                for o in outcomes
            ],
        )
    by_status: dict[int | None, list[str]] = {}
    for move in moves:
        if move.status == "succeeded":
            by_status.setdefault(move.outcome.status_code, []).append(move.outcome.delivery_id)
    for status_code, succeeded in by_status.items():
        await session.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id.in_(succeeded), *held)
            .values(
                status="succeeded",
                finished_at=now,
                lease_until=None,
                last_error="",
                last_status_code=status_code,
            )
        )
    for move in moves:
        if move.status == "succeeded":
            continue
        values: dict[str, Any] = {
            "status": move.status,
            "last_status_code": move.outcome.status_code,
            "last_error": move.outcome.error,
            "lease_until": None,
        }
        if move.next_run_at is None:
            values["finished_at"] = now
        else:
            values["next_run_at"] = move.next_run_at
        await session.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id == move.outcome.delivery_id, *held)
            .values(**values)
        )


def _count_dead(metrics: Metrics | None, dead: list[Outcome]) -> None:
    """Count committed dead letters by their connector."""
    if metrics is not None:
        for outcome in dead:
            metrics.count_dead_letter(outcome.connector_id or "")


def _held_by(lease_until: datetime | None) -> list[ColumnElement[bool]]:
    """Conditions that a delivery is still held by the claim that set *lease_until*."""
    held: list[ColumnElement[bool]] = [_DELIVERIES.c.status == "in_flight"]
    if lease_until is not None:
        held.append(_DELIVERIES.c.lease_until == lease_until)
    return held


async def _release(
    session: AsyncSession, untried: list[str], lease_until: datetime | None = None
) -> None:
    """Give claimed deliveries that were not tried back: pending, their claim's try undone.

    With *lease_until*, only those still held by the claim that set it.
    """
    if not untried:
        return
    await session.execute(
        update(_DELIVERIES)
        .where(_DELIVERIES.c.id.in_(untried), *_held_by(lease_until))
        .values(status="pending", lease_until=None, attempts=_DELIVERIES.c.attempts - 1)
    )


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    """A delivery as the API shows it."""
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_id": delivery.event_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_run_at": as_utc(delivery.next_run_at) if delivery.status == "pending" else None,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": as_utc(delivery.created_at),
        "finished_at": as_utc(delivery.finished_at) if delivery.finished_at else None,
    }


__all__ = [
    "ENDPOINT_SECRETS_OWNER",
    "ClaimResult",
    "Outcome",
    "claim_deliveries",
    "delivery_view",
    "dispatch_due",
    "prepare_claimed",
    "prepare_deliveries",
    "record_outcomes",
    "retry_delay",
    "send_prepared",
    "write_outcomes",
]
