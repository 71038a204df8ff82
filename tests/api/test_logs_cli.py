"""``connectory logs --connection ID [--follow]`` against a server on a loopback port."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner, Result

from connectory.api import create_app
from connectory.cli.app import app as cli
from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.testing import create_test_api, serve

from .support import World, insert_published_connector

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"
#: How long to wait for a followed line before giving up: a safety net, not a timing.
LINE_WAIT = 60.0


@dataclass
class Running:
    url: str
    token: str
    connection: str
    http: httpx.Client

    def run(self, *args: str) -> Result:
        env = {"CONNECTORY_URL": self.url, "CONNECTORY_TOKEN": self.token}
        return CliRunner().invoke(cli, list(args), env=env)

    def call(self, item: int) -> str:
        response = self.http.post(
            f"/connections/{self.connection}/operations/get_item", json={"params": {"id": item}}
        )
        assert response.status_code == 200, response.text
        return response.headers["X-Connectory-Call-Id"]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=10)) as url:
        yield url


@pytest.fixture
async def running(settings: Settings, world: World, upstream: str) -> Any:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document["base_url"] = upstream
    connector_id = await insert_published_connector(settings.database_url, document)
    application = create_app(settings)
    token = world.tokens["a_admin"]
    with serve(application, lifespan="on") as url:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            created = http.post(
                "/connections",
                json={
                    "connector_id": connector_id,
                    "name": "Logged",
                    "credentials": {"api_key": "test-api-key"},
                },
            )
            assert created.status_code == 201, created.text
            yield Running(url, token, created.json()["id"], http)


def test_the_latest_calls_oldest_first(running: Running) -> None:
    first, second = running.call(1), running.call(2)
    result = running.run("logs", "--connection", running.connection)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith(first) and lines[1].endswith(second)
    assert "  operation  get_item  ok 200  " in lines[0] and "1 attempt  " in lines[0]
    result = running.run(
        "logs", "--connection", running.connection, "--json", "--excerpts", "-n", "1"
    )
    (entry,) = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert entry["id"] == second and entry["request_excerpt"].startswith("GET ")
    assert "test-api-key" not in result.stdout


def test_bad_input_is_a_message_not_a_traceback(running: Running) -> None:
    result = running.run("logs", "--connection", "0" * 32)
    assert result.exit_code != 0 and "not found" in result.stderr
    result = running.run("logs", "--connection", running.connection, "--status", "fine")
    assert result.exit_code != 0 and "--status must be ok or error" in result.stderr
    result = running.run("logs", "--connection", running.connection, "--kind", "nonsense")
    assert result.exit_code != 0 and "query.kind: Input should be" in result.stderr
    assert "Traceback" not in result.output


def test_follow_prints_new_calls_as_they_are_recorded(running: Running) -> None:
    earlier = running.call(3)
    command = [
        str(Path(sys.executable).parent / "connectory"),
        "logs", "--connection", running.connection, "--follow", "--json", "--interval", "0.2",
    ]  # fmt: skip
    env = {**os.environ, "CONNECTORY_URL": running.url, "CONNECTORY_TOKEN": running.token}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        assert orjson.loads(lines.get(timeout=LINE_WAIT))["id"] == earlier
        later = [running.call(4), running.call(5)]
        followed = [orjson.loads(lines.get(timeout=LINE_WAIT))["id"] for _ in later]
        assert followed == later
    finally:
        process.terminate()
        process.wait(timeout=30)
