"""A real :class:`EventsContext` for tests that drive the events services without a server.

Built the way the worker builds its own (:func:`connectory.worker.runner.build_context`):
a secret box, the server's connection runtimes, an egress-guarded HTTP session; only the key
ring is a fresh random one instead of the server's key file.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.http.egress import EgressPolicy
from connectory.http.egress_aiohttp import guarded_session
from connectory.services.events.context import EventsContext
from connectory.services.secret_store import SecretBox
from connectory.services.server_runtime import create_runtimes
from connectory.settings import Settings
from connectory.store import create_engine, create_sessionmaker
from connectory.store.models import utcnow
from connectory.vault.keyring import KEY_BYTES, KeyRing


@asynccontextmanager
async def events_context(
    sessions: async_sessionmaker[AsyncSession] | None = None,
    *,
    settings: Settings | None = None,
    now: Callable[[], datetime] = utcnow,
    http: aiohttp.ClientSession | None = None,
    egress: EgressPolicy | None = None,
) -> AsyncIterator[EventsContext]:
    """An events context on *sessions*, closed (runtimes, intake, HTTP session) on exit.

    Args:
        sessions: The database; None: an empty in-memory SQLite one, for code that is not
            meant to reach the database (nothing is migrated).
        settings: Server settings; default ``Settings()``.
        now: The clock.
        http: The session deliveries go out with (the caller's, left open); None: a new
            session guarded by *egress*.
        egress: The egress policy; None: the default guard (internal destinations refused).
    """
    settings = settings or Settings()
    egress = egress or EgressPolicy()
    async with AsyncExitStack() as stack:
        if sessions is None:
            engine = create_engine("sqlite+aiosqlite://")
            stack.push_async_callback(engine.dispose)
            sessions = create_sessionmaker(engine)
        if http is None:
            http = guarded_session(egress)
            stack.push_async_callback(http.close)
        ring = KeyRing({1: os.urandom(KEY_BYTES)})
        box = SecretBox(lambda: ring)
        runtimes = create_runtimes(settings, sessions, box)
        stack.push_async_callback(runtimes.aclose)
        context = EventsContext(
            settings=settings,
            sessions=sessions,
            box=box,
            runtimes=runtimes,
            http=http,
            egress=egress,
            now=now,
        )
        stack.push_async_callback(context.intake_routes.aclose)
        stack.push_async_callback(context.intake.aclose)
        yield context
