"""The events worker's metrics: queue depth per kind of work, task latency, dead letters.

A worker's context as ``connectory worker`` builds it (its own metrics), on SQLite and on a
fresh PostgreSQL database, with a fixed clock so latencies are exact; procrastinate's
in-memory queue (the store's kind does not change what the tasks do). The series are read
from the text exposition, as a scrape of ``/metrics`` gets them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import procrastinate
from events_support import Receiver, publish
from procrastinate.testing import InMemoryConnector
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, select

from connectory.services.events.context import EventsContext
from connectory.services.events.endpoints import ENDPOINT_SECRETS_OWNER
from connectory.services.secret_store import write_secrets
from connectory.settings import Settings
from connectory.store import (
    Connection,
    ConnectorVersion,
    Delivery,
    Enterprise,
    Event,
    EventSubscription,
    IntakeRequest,
    WebhookEndpoint,
    new_id,
)
from connectory.store.models import utcnow
from connectory.worker import build_context
from connectory.worker.engine import TaskEngine
from connectory.worker.reconcile import due_counts

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(context: EventsContext) -> Samples:
    """Every sample of the worker's metrics, by name and sorted labels."""
    assert context.metrics is not None
    found: Samples = {}
    for family in text_string_to_metric_families(context.metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def settings_for(database_url: str, tmp_path: Path, **changes: object) -> Settings:
    return Settings(
        database_url=database_url, data_dir=tmp_path, egress_allow="127.0.0.1", **changes
    )


def engine_for(context: EventsContext) -> TaskEngine:
    """The worker's tasks on an in-memory queue; wall-clock schedules switched off."""
    app = procrastinate.App(connector=InMemoryConnector(), periodic_defaults={"max_delay": -1})
    engine = TaskEngine(app, context)
    context.wake = engine.wake
    return engine


class World:
    """An enterprise with one connection of one connector and one webhook endpoint."""

    def __init__(self, context: EventsContext, now: datetime) -> None:
        self.context = context
        self.now = now
        self.enterprise = self.connector = self.connection = self.endpoint = ""

    async def build(self, database_url: str, endpoint_url: str) -> World:
        connector_id = await publish(database_url, {"slug": "metrics-api", "name": "Metrics API"})
        async with self.context.sessions() as session:
            enterprise = Enterprise(name="Metrics Inc")
            session.add(enterprise)
            await session.flush()
            version_id = await session.scalar(
                select(ConnectorVersion.id).where(ConnectorVersion.connector_id == connector_id)
            )
            assert version_id is not None
            connection = Connection(
                enterprise_id=enterprise.id,
                connector_id=connector_id,
                version_id=version_id,
                name="metrics",
            )
            endpoint = WebhookEndpoint(enterprise_id=enterprise.id, url=endpoint_url)
            session.add_all([connection, endpoint])
            await session.flush()
            await write_secrets(
                session,
                self.context.box,
                ENDPOINT_SECRETS_OWNER,
                endpoint.id,
                {"secret": "whsec_" + "c2VjcmV0LW9mLXRoZS1lbmRwb2ludA=="},
            )
            await session.commit()
            self.enterprise, self.connector = enterprise.id, connector_id
            self.connection, self.endpoint = connection.id, endpoint.id
        return self

    async def delivery(self, status: str = "pending", **times: datetime) -> str:
        """An event of the connection and its delivery (due *times* late by default)."""
        async with self.context.sessions() as session:
            event = Event(
                enterprise_id=self.enterprise,
                connection_id=self.connection,
                type="item.updated",
                dedup_key=new_id(),
                payload={"id": 1},
            )
            session.add(event)
            await session.flush()
            delivery_id = new_id()
            await session.execute(
                insert(Delivery).values(
                    id=delivery_id,
                    enterprise_id=self.enterprise,
                    endpoint_id=self.endpoint,
                    event_seq=event.seq,
                    event_id=event.id,
                    order_key=new_id(),  # a queue of its own: every one of them is a head
                    status=status,
                    next_run_at=times.get("next_run_at", self.now - timedelta(seconds=5)),
                    lease_until=times.get("lease_until"),
                )
            )
            await session.commit()
        return delivery_id

    async def intake(self, due: datetime, status: str = "pending") -> None:
        async with self.context.sessions() as session:
            session.add(
                IntakeRequest(
                    route=new_id(),
                    connector_id=self.connector,
                    body=b"{}",
                    status=status,
                    next_run_at=due,
                )
            )
            await session.commit()

    async def subscription(self, due: datetime | None) -> None:
        async with self.context.sessions() as session:
            session.add(
                EventSubscription(
                    enterprise_id=self.enterprise,
                    connection_id=self.connection,
                    connector_id=self.connector,
                    event_key="item_changed",
                    kind="poll",
                    intake_token=new_id(),
                    status="active",
                    next_run_at=due,
                )
            )
            await session.commit()


async def test_a_tick_sets_the_depth_of_each_queue_to_its_due_rows(
    database_url: str, tmp_path: Path
) -> None:
    now = utcnow().replace(microsecond=0)
    past, later = now - timedelta(seconds=5), now + timedelta(hours=1)
    async with build_context(settings_for(database_url, tmp_path)) as context:
        context.now = lambda: now
        world = await World(context, now).build(database_url, "http://127.0.0.1:9/hook")
        for _ in range(3):
            await world.delivery()  # due
        await world.delivery("in_flight", lease_until=past)  # its claim expired: due again
        await world.delivery("in_flight", lease_until=later)  # being sent
        await world.delivery(next_run_at=later)  # a retry later on
        await world.delivery("succeeded")
        for due, status in ((past, "pending"), (past, "pending"), (later, "pending")):
            await world.intake(due, status)
        await world.intake(past, "done")
        await world.subscription(past)
        await world.subscription(None)  # paused

        engine = engine_for(context)
        async with engine.app.open_async():
            # The periodic tick as procrastinate runs it: scheduled for two seconds ago.
            await engine.app.tasks["connectory.tick"](timestamp=int(now.timestamp()) - 2)
            queued = {job["task_name"] for job in engine.app.connector.jobs.values()}  # type: ignore[attr-defined]
        engine.cancel_pending_wakes()
        found = scrape(context)
        # With metrics off the same query only asks whether any row is due (EXISTS).
        anything_due = await due_counts(context, exact=False)
        # Under a backlog a count stops at its cap (the gauge then reads "at least").
        capped = await due_counts(context, cap=3)

    assert anything_due == {"deliveries": 1, "intake": 1, "subscriptions": 1}
    assert capped == {"deliveries": 3, "intake": 2, "subscriptions": 1}
    depth = "connectory_event_queue_depth"
    assert found[(depth, (("queue", "deliveries"),))] == 4
    assert found[(depth, (("queue", "intake"),))] == 2
    assert found[(depth, (("queue", "subscriptions"),))] == 1
    assert queued == {"connectory.deliveries", "connectory.intake", "connectory.subscriptions"}
    tick = (("task", "tick"),)
    assert found[("connectory_task_latency_seconds_count", tick)] == 1
    assert found[("connectory_task_latency_seconds_sum", tick)] == 2


async def test_a_delivery_refused_on_its_last_attempt_is_a_dead_letter_of_its_connector(
    database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    now = utcnow().replace(microsecond=0)
    settings = settings_for(database_url, tmp_path, delivery_max_attempts=1)
    async with build_context(settings) as context:
        context.now = lambda: now
        world = await World(context, now).build(database_url, receiver.url)
        delivery_id = await world.delivery()  # five seconds late
        engine = engine_for(context)
        async with engine.app.open_async():
            await engine.app.configure_task("connectory.tick").defer_async(
                timestamp=int(now.timestamp())
            )
            # A real worker: runs the tick, which wakes deliveries, then runs those.
            await engine.app.run_worker_async(wait=False, install_signal_handlers=False)
        engine.cancel_pending_wakes()
        async with context.sessions() as session:
            status = await session.scalar(select(Delivery.status).where(Delivery.id == delivery_id))
        found = scrape(context)

    assert status == "dead" and len(receiver.requests) == 1
    assert found[("connectory_dead_letters_total", (("connector", world.connector),))] == 1
    assert found[("connectory_event_queue_depth", (("queue", "deliveries"),))] == 1  # at the tick
    task = (("task", "deliveries"),)
    assert found[("connectory_task_latency_seconds_count", task)] == 1
    assert found[("connectory_task_latency_seconds_sum", task)] == 5
    # The refused try is also a call of the connection's connector.
    calls = (
        ("connector", world.connector),
        ("kind", "webhook_delivery"),
        ("operation", "item.updated"),
        ("outcome", "http_5xx"),
    )
    assert found[("connectory_calls_total", calls)] == 1
