"""Idle connections' OAuth2 grants refreshed by the background engine, with no user call.

The connection is authorized against oidc-provider (PKCE, a real consent), then nobody calls
it. A worker (its own context and runtimes, as ``connectory worker`` has) runs the engine's
periodic ``connectory.oauth_refresh`` task. The test drives the engine's clock itself: two
workers' periodic deferrers defer the task at chosen timestamps on one shared queue, and the
worker runs what was queued; the context's clock says how close the refresh token is to expiry.
No wall-clock sleeps, and the server does not run a worker of its own (its schedule would fire
at wall-clock times in the middle of the test).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import procrastinate
import pytest
import yaml
from flow_support import SPEC, Deployment, deployment, drive_provider, publish_configured, start
from oauth_support import OidcProvider, ResourceServer
from procrastinate.periodic import PeriodicDeferrer
from procrastinate.testing import InMemoryConnector

from connectory.services.oauth_grants import GRANT_OWNER
from connectory.services.secret_store import read_secrets
from connectory.store import create_engine, create_sessionmaker
from connectory.store.models import utcnow
from connectory.worker import build_context
from connectory.worker.engine import TaskEngine

pytestmark = [pytest.mark.integration, pytest.mark.peers]

#: A five-minute boundary (the task's cron), plus a little: what "now" is for the deferrers.
BOUNDARY = 1_780_000_200
TASK = "connectory.oauth_refresh"


def counts(oidc: OidcProvider) -> dict[str, int]:
    answer: dict[str, int] = httpx.get(f"{oidc.issuer}/__test/counts").json()
    return answer


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


async def stored_tokens(live: Deployment, connection_id: str) -> dict[str, str]:
    engine = create_engine(f"sqlite+aiosqlite:///{live.database}")
    try:
        async with create_sessionmaker(engine)() as session:
            box = live.app.state.secret_box
            return await read_secrets(session, box, GRANT_OWNER, connection_id)
    finally:
        await engine.dispose()


def oauth_jobs(queue: InMemoryConnector) -> list[dict[str, Any]]:
    return [job for job in queue.jobs.values() if job["task_name"] == TASK]


async def run_worker(live: Deployment, oidc: OidcProvider, connection_id: str) -> None:
    # The worker refreshes refresh tokens expiring within 30 minutes; the grant's lives 1 hour.
    settings = live.app.state.settings.model_copy(update={"oauth_refresh_horizon_hours": 0.5})
    queue = InMemoryConnector()
    async with build_context(settings) as context:
        # Two workers on one queue. Their own wall-clock deferrers are switched off (a
        # negative max_delay ignores every past timestamp): only the test's ticks defer.
        engines = [
            TaskEngine(
                procrastinate.App(connector=queue, periodic_defaults={"max_delay": -1}), context
            )
            for _ in range(2)
        ]
        began = utcnow()

        async def tick(at: float) -> None:
            for engine in engines:
                deferrer = PeriodicDeferrer(engine.app.periodic_registry)
                await deferrer.defer_jobs(deferrer.get_previous_tasks(at=at))

        async def work() -> None:
            async with engines[0].app.open_async():
                await engines[0].app.run_worker_async(
                    wait=False, install_signal_handlers=False, listen_notify=False
                )

        old = await stored_tokens(live, connection_id)
        before = counts(oidc)

        # An hour left: not within the horizon, nothing is sent to the provider.
        context.now = lambda: began
        await tick(BOUNDARY + 1)
        assert len(oauth_jobs(queue)) == 1  # two workers, one job for the interval
        await work()
        assert [job["status"] for job in oauth_jobs(queue)] == ["succeeded"]
        assert counts(oidc) == before

        # The same interval seen again (a worker restarting in it): not deferred twice.
        await tick(BOUNDARY + 120)
        assert len(oauth_jobs(queue)) == 1

        # 45 minutes later the refresh token expires within the horizon: the next interval's
        # run refreshes it, once, although both workers deferred it.
        context.now = lambda: began + timedelta(minutes=45)
        await tick(BOUNDARY + 301)
        assert len(oauth_jobs(queue)) == 2
        await work()
        assert [job["status"] for job in oauth_jobs(queue)] == ["succeeded", "succeeded"]
        assert delta(before, counts(oidc)) == {"connectory refresh_token 200": 1}
        new = await stored_tokens(live, connection_id)
        assert new["refresh_token"] != old["refresh_token"]
        assert new["access_token"] != old["access_token"]


def test_the_engine_refreshes_an_idle_grant_close_to_expiry(
    tmp_path: Path, oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> None:
    auth: dict[str, Any] = yaml.safe_load(SPEC.read_text())["auth"]
    with deployment(tmp_path, oidc.issuer, oidc_api[1], run_worker=False) as live:
        # The provider does not say when refresh tokens expire; the connector does (1 hour).
        auth |= {"refresh_token_lifetime": 3600}
        live.connector_id = publish_configured(
            live, oidc_api[1], oidc.issuer, {"slug": "notes-idle", "auth": auth}
        )
        with live.browser() as browser:
            started = start(live, browser)
            landed = drive_provider(browser, started["authorize_url"], f"{live.url}/oauth/callback")
            assert landed.status_code == 200, landed.text
        with live.api("a_admin") as api:
            (connection,) = api.get("/connections").json()["items"]
            path = f"/connections/{connection['id']}"
            granted = api.get(path).json()["oauth"]
            assert granted["refreshed_at"] is None

        asyncio.run(run_worker(live, oidc, connection["id"]))

        with live.api("a_admin") as api:
            refreshed = api.get(path).json()["oauth"]
            assert refreshed["refreshed_at"] is not None
            assert refreshed["refresh_expires_at"] > granted["refresh_expires_at"]
            # The server's client takes the stored grant: it works without refreshing again.
            after = counts(oidc)
            assert api.post(f"{path}/operations/whoami").status_code == 200
            assert counts(oidc) == after
