"""The due queue heads a claim may take, read on PostgreSQL without ranking the backlog.

A claim (see :mod:`connectory.services.events.deliveries`) takes, for each endpoint with room
(its ``max_in_flight`` less its queues in flight), that endpoint's earliest due queue heads
(by ``next_run_at``, then ``event_seq``), up to the room; then ranks them within their
enterprise. Ranking every due head in one query costs the whole backlog per claim (50 ms at
20,000 due deliveries), so the heads are found in two steps whose cost follows the batch:

1. **By time**: per endpoint, the first ``window`` live due deliveries in ``next_run_at``
   order (the live deliveries' index; ``LIMIT`` stops the scan), keeping the heads among
   them. When that window holds enough heads, or everything due, these are the endpoint's
   earliest heads.
2. **By queue**, for an endpoint whose window was full of deliveries waiting behind their
   queue's head (one subscription thousands deep after an outage; or a subscription per
   customer, each with a failed head backing off and newer events waiting): its live queues
   are walked one index look-up each (a skip scan of the live queue index), their heads
   read and the due ones added to the window's, then the earliest kept. A walk visits at
   most four times the room plus 64 queues, from where the previous walk of that endpoint
   ended (:class:`WalkCursors`): a claim costs the same few look-ups however many queues
   the endpoint has, and successive claims go round them. Among an endpoint's heads beyond
   its window, the order is then round the queues rather than strictly by time.

The endpoints looked at are those with live deliveries (a skip scan of the live index, not
every endpoint ever registered), a slice per claim, round from where the last claim stopped.
A slice with nothing due (its endpoints backing off, or full) does not mean nothing is due in
the next: while a dispatch has not yet gone once round the endpoints, a claim that stopped
short of the last endpoint says so (:attr:`DueHeads.unfinished`) and the dispatch claims
again; once round, it stops at an empty claim (:class:`_Round`).

Every in-flight or due delivery has ``next_run_at <= now`` (a claim takes only due ones and
leaves the column as it was), which bounds the time scan. The look-ups for an earlier or a
later live delivery of a queue are scalar subqueries in the live queue index's order, not
EXISTS: the planner cannot make them a join that reads the index once per row, whatever the
statistics say (a table not analyzed since a burst of deliveries made that plan read the
whole index per candidate; this machine kind runs PostgreSQL with autovacuum off). Nor can
they be served from the live time index: its condition includes ``next_run_at IS NOT NULL``,
which only the time scan's ``next_run_at <= now`` implies (migration 0013: without
statistics, and with real queue keys making the queue index the deeper tree, the planner
preferred the time index and filtered the order key, reading every live delivery of the
endpoint per look-up).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

#: A delivery still to be sent: the partial indexes' predicate (migration 0011).
_LIVE = "status IN ('pending', 'in_flight')"

#: Whether a live delivery follows *alias*'s in its queue.
_FOLLOWED = f"""coalesce((
    SELECT true FROM deliveries n
    WHERE n.endpoint_id = {{alias}}.endpoint_id AND n.order_key = {{alias}}.order_key
      AND n.event_seq > {{alias}}.event_seq AND n.{_LIVE}
    ORDER BY n.endpoint_id, n.order_key, n.event_seq LIMIT 1
), false)"""

#: Step 1: per endpoint with room (its queues in flight counted from the in-flight index of
#: migration 0012, never from the deliveries sent before), its scan window's rows in time
#: order (``place``), whether each is its queue's head, the heads' running count
#: (``head_rank``) and the window's size (``scanned``). Only the heads within the room come
#: back, plus each endpoint's first row (whatever it is: it carries ``scanned``), or an empty
#: row for an endpoint with nothing due.
_BY_TIME = (
    text(
        f"""
    WITH live_endpoints(id) AS (
        SELECT unnest(CAST(:endpoints AS varchar[]))
    ), open_endpoints AS (
        SELECT w.id, w.max_in_flight AS cap, busy.queues AS busy
        FROM live_endpoints l JOIN webhook_endpoints w ON w.id = l.id
        CROSS JOIN LATERAL (
            SELECT count(*) AS queues FROM (
                SELECT DISTINCT f.order_key FROM deliveries f
                WHERE f.endpoint_id = w.id AND f.status = 'in_flight' AND f.lease_until >= :now
            ) AS in_flight
        ) AS busy
        WHERE w.max_in_flight > busy.queues
    )
    SELECT e.id AS endpoint_id, e.cap, e.busy, scan.id, scan.enterprise_id, scan.order_key,
           scan.next_run_at, scan.event_seq, scan.head AND scan.head_rank <= e.cap - e.busy
           AS taken, coalesce(scan.scanned, 0) AS scanned,
           CASE WHEN scan.head THEN {_FOLLOWED.format(alias="scan")} ELSE false END AS queued
    FROM open_endpoints e LEFT JOIN LATERAL (
        SELECT window_rows.*,
               count(*) OVER () AS scanned,
               row_number() OVER in_time AS place,
               count(*) FILTER (WHERE window_rows.head) OVER in_time AS head_rank
        FROM (
            SELECT d.id, d.enterprise_id, d.endpoint_id, d.order_key, d.next_run_at,
                   d.event_seq,
                   NOT coalesce((
                       SELECT true FROM deliveries p
                       WHERE p.endpoint_id = d.endpoint_id AND p.order_key = d.order_key
                         AND p.event_seq < d.event_seq AND p.{_LIVE}
                       ORDER BY p.endpoint_id, p.order_key, p.event_seq LIMIT 1
                   ), false) AS head
            FROM deliveries d
            WHERE d.endpoint_id = e.id AND d.{_LIVE} AND d.next_run_at <= :now
              AND (d.status = 'pending' OR d.lease_until < :now)
            ORDER BY d.next_run_at, d.event_seq
            LIMIT (e.cap - e.busy) * 2 + :slack
        ) AS window_rows
        WINDOW in_time AS (
            ORDER BY window_rows.next_run_at, window_rows.event_seq ROWS UNBOUNDED PRECEDING
        )
    ) AS scan ON true
    WHERE scan.id IS NULL OR scan.place = 1 OR (scan.head AND scan.head_rank <= e.cap - e.busy)
    """
    )
    .bindparams(bindparam("now", type_=DateTime(timezone=True)), bindparam("slack", type_=Integer))
    .columns(
        endpoint_id=String,
        cap=Integer,
        busy=Integer,
        id=String,
        enterprise_id=String,
        order_key=String,
        next_run_at=DateTime(timezone=True),
        event_seq=Integer,
        taken=Boolean,
        scanned=Integer,
        queued=Boolean,
    )
)

#: Up to :most endpoints with live deliveries, after :after in id order (a recursive skip
#: scan of the live index: one look-up per endpoint, never every endpoint registered).
_LIVE_ENDPOINTS = (
    text(
        f"""
    WITH RECURSIVE live_endpoints(id, step) AS (
        (SELECT d.endpoint_id, 1 FROM deliveries d
         WHERE d.endpoint_id > :after AND d.{_LIVE} ORDER BY d.endpoint_id LIMIT 1)
        UNION ALL
        SELECT (
            SELECT d.endpoint_id FROM deliveries d
            WHERE d.endpoint_id > l.id AND d.{_LIVE} ORDER BY d.endpoint_id LIMIT 1
        ), l.step + 1
        FROM live_endpoints l WHERE l.id IS NOT NULL AND l.step < :most
    )
    SELECT id FROM live_endpoints WHERE id IS NOT NULL
    """
    )
    .bindparams(bindparam("after", type_=String), bindparam("most", type_=Integer))
    .columns(id=String)
)

#: Step 2: the due heads among up to :walk live queues of each given endpoint, from the queue
#: after its cursor on (a recursive skip scan of the live queue index: one look-up per queue,
#: whatever its depth); ``last`` is the walk's last queue (NULL: it reached the end).
_BY_QUEUE = (
    text(
        f"""
    WITH RECURSIVE queues(endpoint_id, order_key, step) AS (
        SELECT e.id, (
            SELECT d.order_key FROM deliveries d
            WHERE d.endpoint_id = e.id AND d.order_key > e.after AND d.{_LIVE}
            ORDER BY d.endpoint_id, d.order_key, d.event_seq LIMIT 1
        ), 1
        FROM unnest(CAST(:endpoints AS varchar[]), CAST(:cursors AS varchar[]))
             AS e(id, after)
        UNION ALL
        SELECT q.endpoint_id, (
            SELECT d.order_key FROM deliveries d
            WHERE d.endpoint_id = q.endpoint_id AND d.order_key > q.order_key AND d.{_LIVE}
            ORDER BY d.endpoint_id, d.order_key, d.event_seq LIMIT 1
        ), q.step + 1
        FROM queues q WHERE q.order_key IS NOT NULL AND q.step < :walk
    ), ends AS (
        SELECT DISTINCT ON (endpoint_id) endpoint_id, order_key AS last FROM queues
        ORDER BY endpoint_id, step DESC
    )
    SELECT ends.endpoint_id AS walked, ends.last, h.id, h.enterprise_id, h.endpoint_id,
           h.order_key, h.next_run_at, h.event_seq,
           CASE WHEN h.id IS NULL THEN false ELSE {_FOLLOWED.format(alias="h")} END AS queued
    FROM ends LEFT JOIN (
        queues q CROSS JOIN LATERAL (
            SELECT d.id, d.enterprise_id, d.endpoint_id, d.order_key, d.status,
                   d.next_run_at, d.lease_until, d.event_seq
            FROM deliveries d
            WHERE d.endpoint_id = q.endpoint_id AND d.order_key = q.order_key AND d.{_LIVE}
            ORDER BY d.endpoint_id, d.order_key, d.event_seq LIMIT 1
        ) AS h
    ) ON h.endpoint_id = ends.endpoint_id AND q.order_key IS NOT NULL
         AND h.next_run_at <= :now AND (h.status = 'pending' OR h.lease_until < :now)
    """
    )
    .bindparams(
        bindparam("now", type_=DateTime(timezone=True)),
        bindparam("endpoints", type_=ARRAY(String)),
        bindparam("cursors", type_=ARRAY(String)),
        bindparam("walk", type_=Integer),
    )
    .columns(
        walked=String,
        last=String,
        id=String,
        enterprise_id=String,
        endpoint_id=String,
        order_key=String,
        next_run_at=DateTime(timezone=True),
        event_seq=Integer,
        queued=Boolean,
    )
)

#: Queues a walk visits per endpoint and claim, at most, beyond four times its room.
WALK_SLACK = 64


class WalkCursors:
    """Where each endpoint's next queue walk starts (the last queue walked), per process.

    A walk visits a bounded number of queues, so an endpoint with thousands of queues whose
    windows hold only waiting deliveries (a subscription per customer, the endpoint down)
    costs each claim the same few look-ups; successive claims go on round the queues. Any
    starting point is correct (every queue is reached within a round); a process restarting
    starts again from the first queue.
    """

    #: Endpoints remembered at most (the oldest forgotten first: it starts from the first).
    LIMIT = 10_000

    def __init__(self) -> None:
        self._after: dict[str, str] = {}
        #: Where the next claim's look at endpoints starts (the last endpoint looked at).
        self.endpoints_after = ""
        #: Times the look at endpoints went past the last one (and on from the first): with
        #: :attr:`endpoints_after`, a position round the endpoints that only goes forward.
        self.endpoint_laps = 0

    def endpoint_position(self) -> tuple[int, str]:
        """Where the look at endpoints stands: (laps, the last endpoint looked at)."""
        return self.endpoint_laps, self.endpoints_after

    def after(self, endpoint_id: str) -> str:
        """The queue the next walk of *endpoint_id* starts after ("": the first)."""
        return self._after.get(endpoint_id, "")

    def walked(self, endpoint_id: str, last: str | None) -> None:
        """Remember where a walk ended (None: at the last queue; the next starts over)."""
        self._after.pop(endpoint_id, None)
        if last is not None:
            if len(self._after) >= self.LIMIT:
                del self._after[next(iter(self._after))]
            self._after[endpoint_id] = last


#: This process's walk cursors.
CURSORS = WalkCursors()


#: Rows the time scan reads per endpoint beyond twice its room.
WINDOW_SLACK = 16
#: Endpoints a claim looks at, at least (at most its batch size when that is larger).
MIN_ENDPOINTS = 64


@dataclass(frozen=True, slots=True)
class DueHeads:
    """What :func:`due_heads` found: the heads, and whether it looked short of everything."""

    heads: list[Candidate]
    #: A due head may lie further round, so an empty claim does not mean nothing is due (the
    #: dispatch claims again instead of stopping): a walk of an endpoint's queues stopped at
    #: its bound with room left on the endpoint, or the slice of endpoints looked at stopped
    #: short of the last and the dispatch has not yet been once round them.
    unfinished: bool = False


@dataclass(frozen=True, slots=True)
class _Round:
    """Where a dispatch's first claim started looking at endpoints (on *cursors*).

    Kept on the dispatch's session (a lane holds one session from its first claim to its
    last; see :func:`connectory.services.events.records.held_session`), not in the process:
    each dispatch goes round the endpoints at most once on empty claims, whatever other
    dispatches do. Lanes share the cursor, so each lane's own claims see part of the round;
    a lane stops once the cursor, moved by any of them, has come back to its start.
    """

    cursors: WalkCursors
    start: tuple[int, str]

    @classmethod
    def of(cls, session: AsyncSession, cursors: WalkCursors) -> _Round:
        """The round of *session*'s claims; started here when this is the first."""
        found = session.info.get(_ROUND)
        if not isinstance(found, _Round) or found.cursors is not cursors:
            found = session.info[_ROUND] = cls(cursors, cursors.endpoint_position())
        return found

    def went_round(self) -> bool:
        """Whether the cursor has come back to (or past) where the round started."""
        laps, after = self.start
        return self.cursors.endpoint_position() >= (laps + 1, after)


#: The key of a session's :class:`_Round` in its ``info``.
_ROUND = "connectory.claim_heads.round"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A due queue head the claim may take."""

    id: str
    enterprise_id: str
    endpoint_id: str
    order_key: str
    next_run_at: datetime
    event_seq: int
    #: The endpoint's ``max_in_flight``, and its queues in flight when read.
    cap: int
    busy: int
    #: A live delivery waits behind this one in its queue.
    queued: bool

    @classmethod
    def of(cls, row: Any, cap: int, busy: int) -> Candidate:
        """The candidate a row of either step reads, on an endpoint of *cap* and *busy*."""
        return cls(
            row.id,
            row.enterprise_id,
            row.endpoint_id,
            row.order_key,
            row.next_run_at,
            row.event_seq,
            cap,
            busy,
            row.queued,
        )


async def due_heads(
    session: AsyncSession, now: datetime, limit: int, cursors: WalkCursors | None = None
) -> DueHeads:
    """Up to *limit* due queue heads in fair order, within their endpoints' room.

    Fair order: each enterprise's heads ranked by time, then the ranks taken in turn (an
    enterprise's first head, every other enterprise's first, then the seconds...), as the
    one-query form on SQLite orders them.
    """
    cursors = cursors if cursors is not None else CURSORS
    found: list[Candidate] = []
    short: dict[str, tuple[int, int]] = {}
    round_ = _Round.of(session, cursors)
    most = max(limit, MIN_ENDPOINTS)
    endpoints = await _endpoints_to_look_at(session, most, cursors)
    if not endpoints:
        return DueHeads([])
    # A full slice: live endpoints may lie beyond it (reached within the dispatch's round).
    unfinished = len(endpoints) == most and not round_.went_round()
    rows = await session.execute(
        _BY_TIME, {"now": now, "slack": WINDOW_SLACK, "endpoints": endpoints}
    )
    for row in rows:
        room = row.cap - row.busy
        if row.taken:
            found.append(Candidate.of(row, row.cap, row.busy))
        if row.scanned == room * 2 + WINDOW_SLACK:  # a full window: there may be more heads
            short[row.endpoint_id] = (row.cap, row.busy)
    taken_per_endpoint: dict[str, int] = defaultdict(int)
    for candidate in found:
        taken_per_endpoint[candidate.endpoint_id] += 1
    walk = sorted(
        endpoint
        for endpoint, (cap, busy) in short.items()
        if taken_per_endpoint[endpoint] < cap - busy
    )
    if walk:
        # The window's heads stay candidates; the walk adds those of the queues it visits.
        walked, part_way = await _walk_queues(session, now, {e: short[e] for e in walk}, cursors)
        per_endpoint: dict[str, dict[str, Candidate]] = defaultdict(dict)
        for candidate in found:
            if candidate.endpoint_id in short:
                per_endpoint[candidate.endpoint_id][candidate.id] = candidate
        for candidate in walked:
            per_endpoint[candidate.endpoint_id].setdefault(candidate.id, candidate)
        found = [c for c in found if c.endpoint_id not in per_endpoint]
        for endpoint, by_id in per_endpoint.items():
            cap, busy = short[endpoint]
            found += sorted(by_id.values(), key=lambda c: (c.next_run_at, c.event_seq))[
                : cap - busy
            ]
        unfinished = unfinished or any(
            len(per_endpoint.get(endpoint, ())) < cap - busy
            for endpoint, (cap, busy) in short.items()
            if endpoint in part_way
        )
    return DueHeads(in_fair_order(found)[:limit], unfinished)


async def _walk_queues(
    session: AsyncSession,
    now: datetime,
    endpoints: dict[str, tuple[int, int]],
    cursors: WalkCursors,
) -> tuple[list[Candidate], set[str]]:
    """Step 2 for *endpoints* (id: cap, queues in flight).

    Returns the due heads of the queues walked, and the endpoints whose walk stopped at its
    bound before their last queue.
    """
    walked = sorted(endpoints)
    walk = max(4 * (cap - busy) for cap, busy in endpoints.values()) + WALK_SLACK
    rows = await session.execute(
        _BY_QUEUE,
        {
            "now": now,
            "endpoints": walked,
            "cursors": [cursors.after(endpoint) for endpoint in walked],
            "walk": walk,
        },
    )
    found: list[Candidate] = []
    part_way: set[str] = set()
    for row in rows:
        cursors.walked(row.walked, row.last)
        if row.last is not None:  # stopped at its bound, not at the last queue
            part_way.add(row.walked)
        if row.id is None:  # no due head on this endpoint's walk
            continue
        cap, busy = endpoints[row.endpoint_id]
        found.append(Candidate.of(row, cap, busy))
    return found, part_way


async def _endpoints_to_look_at(
    session: AsyncSession, most: int, cursors: WalkCursors
) -> list[str]:
    """Up to *most* endpoints with live deliveries, round from where the last claim stopped.

    A claim looks at a bounded number of endpoints (a thousand tenants' endpoints each with
    work due would otherwise cost every claim a window each); successive claims go round.
    """
    after = cursors.endpoints_after
    found = list((await session.execute(_LIVE_ENDPOINTS, {"after": after, "most": most})).scalars())
    if len(found) < most:  # reached the last
        cursors.endpoint_laps += 1
    if len(found) < most and after:  # go on from the first
        again = (await session.execute(_LIVE_ENDPOINTS, {"after": "", "most": most})).scalars()
        found += [endpoint for endpoint in again if endpoint <= after][: most - len(found)]
    # A full slice: the next claim goes on after its last endpoint; else it looked at every
    # live endpoint and the next starts from the first.
    cursors.endpoints_after = found[-1] if len(found) == most else ""
    return found


def in_fair_order(candidates: list[Candidate]) -> list[Candidate]:
    """Each enterprise's candidates ranked by time, then taken rank by rank."""
    ranks: dict[str, int] = defaultdict(int)
    ranked: list[tuple[int, datetime, int, Candidate]] = []
    for candidate in sorted(candidates, key=lambda c: (c.next_run_at, c.event_seq)):
        ranks[candidate.enterprise_id] += 1
        ranked.append(
            (ranks[candidate.enterprise_id], candidate.next_run_at, candidate.event_seq, candidate)
        )
    ranked.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in ranked]


__all__ = [
    "CURSORS",
    "MIN_ENDPOINTS",
    "WALK_SLACK",
    "WINDOW_SLACK",
    "Candidate",
    "DueHeads",
    "WalkCursors",
    "due_heads",
    "in_fair_order",
]
