"""Two Connectory server processes on one PostgreSQL refresh one connection's grant at once.

Both processes hold a warm client with the same access token. The API then refuses that token,
holding its 401s until a request from each process has arrived, so both meet it before either
can refresh. oidc-provider rotates refresh tokens and revokes the grant when a rotated one is
reused: a second refresh would kill the connection. Exactly one refresh request must reach the
provider, and both processes keep working (the other one adopts the stored grant).

Run with the refresh lock in the database (a row lock) and in Redis.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis
import yaml
from flow_support import CLIENT, SPEC, drive_provider
from oauth_support import OidcProvider, ResourceServer

from connectory.services.tokens import issue_token
from connectory.store import Enterprise, User, create_engine, create_sessionmaker, migrate
from connectory.testing.instances import free_port
from testkit.processes import stop_process
from testkit.skips import missing

pytestmark = [pytest.mark.integration, pytest.mark.peers]

POSTGRES = os.environ.get(
    "CONNECTORY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("CONNECTORY_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, migrated, with an enterprise admin and a platform admin."""
    name = f"connectory_oauth_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as error:
        missing(f"PostgreSQL is not reachable at {POSTGRES}: {error}")
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["database-lock", "redis-lock"])
def redis_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "database-lock":
        yield {}
        return
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        missing(f"Redis is not reachable at {REDIS_URL}: {error}")
    prefix = f"test-oauth-{uuid.uuid4().hex[:8]}:"
    try:
        yield {"CONNECTORY_REDIS_URL": REDIS_URL, "CONNECTORY_REDIS_PREFIX": prefix}
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


async def _populate(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        await migrate(engine)
        async with create_sessionmaker(engine)() as session:
            enterprise = Enterprise(name="Acme")
            session.add(enterprise)
            await session.flush()
            admin = User(
                email="admin@acme.test", role="enterprise_admin", enterprise_id=enterprise.id
            )
            platform = User(email="platform@acme.test", role="platform_admin")
            session.add_all([admin, platform])
            await session.flush()
            tokens = {
                "admin": (await issue_token(session, admin)).secret,
                "platform": (await issue_token(session, platform)).secret,
            }
            await session.commit()
            return tokens
    finally:
        await engine.dispose()


class Process:
    """One ``connectory serve`` process."""

    def __init__(self, tmp: Path, name: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{name}.log"
        environment = {
            **os.environ,
            **env,
            "CONNECTORY_PUBLIC_URL": self.url,
            "CONNECTORY_DATA_DIR": str(tmp / name),
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "connectory.cli", "serve", "--port", str(self.port),
                 "--log-level", "warning"],
                env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"{name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{name} did not start: {self.log.read_text()}"
            time.sleep(0.1)

    def stop(self) -> None:
        stop_process(self.process, timeout=10)


def counts(oidc: OidcProvider) -> dict[str, int]:
    answer: dict[str, int] = httpx.get(f"{oidc.issuer}/__test/counts").json()
    return answer


def test_two_processes_refresh_once_and_both_keep_working(
    tmp_path: Path,
    database: str,
    redis_env: dict[str, str],
    oidc: OidcProvider,
    oidc_api: tuple[ResourceServer, str],
) -> None:
    api_server, api_url = oidc_api
    tokens = asyncio.run(_populate(database.replace("postgresql://", "postgresql+asyncpg://")))
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    env = {
        "CONNECTORY_DATABASE_URL": database,
        "CONNECTORY_ENCRYPTION_KEYS": f"1:{key}",
        "CONNECTORY_EGRESS_ALLOW": "127.0.0.1",
        **redis_env,
    }
    first = Process(tmp_path, "first", env)
    try:
        second = Process(tmp_path, "second", env)
        try:
            run(first, second, tokens, oidc, api_server, api_url)
        finally:
            second.stop()
    finally:
        first.stop()


def run(
    first: Process,
    second: Process,
    tokens: dict[str, str],
    oidc: OidcProvider,
    api_server: ResourceServer,
    api_url: str,
) -> None:
    platform = {"Authorization": f"Bearer {tokens['platform']}"}
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    document = yaml.safe_load(SPEC.read_text()) | {"base_url": api_url}
    with httpx.Client(base_url=first.url, timeout=60) as api:
        connector_id = api.post("/connectors", json=document, headers=platform).json()["id"]
        assert api.post(f"/connectors/{connector_id}/publish", json={}, headers=platform).is_success
        values = {"issuer": oidc.issuer, "client_id": CLIENT[0], "client_secret": CLIENT[1]}
        put = api.put(
            f"/connectors/{connector_id}/parameters", json={"values": values}, headers=platform
        )
        assert put.status_code == 200, put.text
        # A person authorizes through the first process.
        started = api.post("/oauth/authorize", json={"connector_id": connector_id}, headers=admin)
        assert started.status_code == 200, started.text
        landed = drive_provider(api, started.json()["authorize_url"], f"{first.url}/oauth/callback")
        assert landed.status_code == 200 and "Connected" in landed.text, landed.text
        (connection,) = api.get("/connections", headers=admin).json()["items"]
    path = f"/connections/{connection['id']}/operations/whoami"

    def call(process: Process) -> int:
        with httpx.Client(base_url=process.url, timeout=60) as client:
            answer = client.post(path, headers=admin)
            assert answer.status_code == 200, (process.url, answer.text)
            return answer.status_code

    # Both processes hold a client with the same access token.
    assert call(first) == call(second) == 200
    (access_token,) = api_server.tokens
    before = counts(oidc)
    api_server.reject_token(access_token, together=2)
    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(call, [first, second])) == [200, 200]
    after = counts(oidc)
    refreshes = {k: v - before.get(k, 0) for k, v in after.items() if "refresh_token" in k}
    assert {k: v for k, v in refreshes.items() if v} == {"connectory refresh_token 200": 1}
    assert api_server.forced == 2  # each process met the 401 before anyone refreshed
    # Both keep working, on the one new grant, without another refresh.
    for _ in range(3):
        assert call(first) == call(second) == 200
    assert counts(oidc) == after
    assert len(api_server.tokens) == 2
