"""Generation bumps: announced on commit only, in order, in payloads PostgreSQL accepts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.services.generations import (
    MAX_PAYLOAD_BYTES,
    GenerationNotifier,
    attach_notifier,
    bump_connection,
    bump_connector_connections,
)
from connectory.store import (
    Connection,
    Connector,
    ConnectorVersion,
    Enterprise,
    create_engine,
    create_sessionmaker,
    migrate,
    utcnow,
)


class Recorder:
    def __init__(self, notifier: GenerationNotifier) -> None:
        self.heard: list[tuple[str, int]] = []
        self.gaps = 0
        notifier.subscribe(lambda cid, gen: self.heard.append((cid, gen)), self._gap)

    def _gap(self) -> None:
        self.gaps += 1


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    await migrate(engine)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _connections(
    sessions: async_sessionmaker[AsyncSession], count: int, deleted: int = 0
) -> tuple[str, list[str]]:
    async with sessions() as session:
        enterprise = Enterprise(name="e")
        session.add(enterprise)
        await session.flush()
        connector = Connector(
            slug="s", scope="catalogue", owner_key="catalogue", name="n", type="General"
        )
        session.add(connector)
        await session.flush()
        version = ConnectorVersion(connector_id=connector.id, document={})
        session.add(version)
        await session.flush()
        rows = [
            Connection(
                enterprise_id=enterprise.id,
                connector_id=connector.id,
                version_id=version.id,
                name=str(n),
                deleted_at=utcnow() if n < deleted else None,
            )
            for n in range(count)
        ]
        session.add_all(rows)
        await session.commit()
        return connector.id, [row.id for row in rows]


async def test_bumps_are_announced_on_commit_and_forgotten_on_rollback(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    notifier = GenerationNotifier()
    attach_notifier(sessions, notifier)
    heard = Recorder(notifier)
    _, (first, second) = await _connections(sessions, 2)
    async with sessions() as session:
        assert await bump_connection(session, first) == 2
        assert heard.heard == []  # not before the commit
        await session.rollback()
    async with sessions() as session:
        assert await bump_connection(session, first) == 2
        assert await bump_connection(session, second) == 2
        assert await bump_connection(session, first) == 3
        await session.commit()
        assert heard.heard == [(first, 3), (second, 2)]
        # The session lives on: a later transaction announces its own bumps only.
        assert await bump_connection(session, second) == 3
        await session.commit()
    assert heard.heard == [(first, 3), (second, 2), (second, 3)]
    async with sessions() as session:
        assert await bump_connection(session, "no-such-connection") == 0
        await session.commit()
    assert len(heard.heard) == 3


async def test_a_connector_bump_reaches_its_live_connections(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    notifier = GenerationNotifier()
    attach_notifier(sessions, notifier)
    heard = Recorder(notifier)
    connector_id, ids = await _connections(sessions, 3, deleted=1)
    async with sessions() as session:
        bumped = await bump_connector_connections(session, connector_id)
        await session.commit()
    assert bumped == {ids[1]: 2, ids[2]: 2}
    assert sorted(heard.heard) == sorted(bumped.items())


async def test_a_session_without_a_notifier_still_bumps(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    _, (only,) = await _connections(sessions, 1)
    async with sessions() as session:
        assert await bump_connection(session, only) == 2
        await session.commit()


def test_payloads_stay_under_the_postgresql_limit_and_round_trip() -> None:
    sender, receiver = GenerationNotifier(), GenerationNotifier()
    heard = Recorder(receiver)
    changes = {f"{n:032x}": n for n in range(1000)}
    payloads = sender.encode(changes)
    assert len(payloads) > 1
    assert all(len(payload.encode()) < MAX_PAYLOAD_BYTES for payload in payloads)
    for payload in payloads:
        receiver.receive(payload)
        sender.receive(payload)  # a process ignores its own announcements
    assert dict(heard.heard) == changes


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"changes": 5}', b'{"changes": [["a"]]}', b'{"changes": [["a", "x"]]}'],
)
def test_a_malformed_announcement_is_ignored(payload: bytes) -> None:
    notifier = GenerationNotifier()
    heard = Recorder(notifier)
    notifier.receive(payload)
    notifier.receive(orjson.dumps({"from": "other", "changes": [["ok", 2]]}))
    assert heard.heard == [("ok", 2)]


def test_a_failing_listener_does_not_stop_the_others() -> None:
    notifier = GenerationNotifier()

    def broken(_cid: str, _gen: int) -> None:
        raise RuntimeError("listener bug")

    notifier.subscribe(broken)
    heard = Recorder(notifier)
    unsubscribe = notifier.subscribe(lambda cid, gen: heard.heard.append(("again", gen)))
    notifier.deliver({"c": 2})
    unsubscribe()
    notifier.deliver({"c": 3})
    notifier.deliver_gap()
    assert heard.heard == [("c", 2), ("again", 2), ("c", 3)]
    assert heard.gaps == 1
