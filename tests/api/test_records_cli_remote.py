"""``connectory records ... --connection ID`` against a real server on a loopback port.

The server (uvicorn in a thread) holds the connection's credentials; the CLI reaches it with
an API token, as a user would: JSON Lines out, progress on stderr, roles applied by the
server, and every mistake a message and an exit code, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner, Result

from connectory.api import create_app
from connectory.cli.app import app as cli
from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.testing import create_test_api, serve

from .support import World, insert_published_connector

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"
API_KEY = "test-api-key"


@dataclass
class Running:
    url: str
    tokens: dict[str, str]
    connection: str
    upstream: Starlette

    def env(self, user: str) -> dict[str, str]:
        return {"CONNECTORY_URL": self.url, "CONNECTORY_TOKEN": self.tokens[user]}

    def run(
        self, command: str, *args: str, key: str = "contacts", user: str = "a_viewer"
    ) -> Result:
        """``connectory records COMMAND KEY ARGS... --connection ID`` as *user*."""
        line = ["records", command, key, *args, "--connection", self.connection]
        return CliRunner().invoke(cli, line, env=self.env(user))

    def posts(self) -> int:
        return int(self.upstream.state.test_api.stats.by_path.get("/crm/contacts", 0))


@pytest.fixture(scope="module")
def upstream_app() -> Starlette:
    return create_test_api(records=1)


@pytest.fixture(scope="module")
def upstream(upstream_app: Starlette) -> Iterator[str]:
    with serve(upstream_app) as url:
        yield url


@pytest.fixture
async def running(settings: Settings, world: World, upstream: str, upstream_app: Starlette) -> Any:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document["base_url"] = upstream
    connector_id = await insert_published_connector(settings.database_url, document)
    with serve(create_app(settings), lifespan="on") as url:
        headers = {"Authorization": f"Bearer {world.tokens['a_admin']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
            created = http.post(
                "/connections",
                json={
                    "connector_id": connector_id,
                    "name": "CRM",
                    "credentials": {"api_key": API_KEY},
                },
            )
            assert created.status_code == 201, created.text
            yield Running(url, world.tokens, created.json()["id"], upstream_app)


def lines_of(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def test_reading_records(running: Running) -> None:
    every = lines_of(running.run("list", "--filter", "status=active"))
    assert len(every) >= 12 and {r["fields"]["status"] for r in every} == {"active"}
    assert len({r["id"] for r in every}) == len(every)

    page = orjson.loads(running.run("list", "--one-page", "--page-size", "3").stdout)
    assert [r["id"] for r in page["records"]] == ["1", "2", "3"] and page["cursor"]
    following = orjson.loads(
        running.run("list", "--one-page", "--page-size", "3", "--cursor", page["cursor"]).stdout
    )
    assert [r["id"] for r in following["records"]] == ["4", "5", "6"]
    # Every record from a cursor on (same page size: a cursor is bound to its listing).
    rest = lines_of(running.run("list", "--page-size", "3", "--cursor", page["cursor"]))
    assert rest[0]["id"] == "4" and len(rest) == len(lines_of(running.run("list"))) - 3

    (one,) = lines_of(running.run("get", "3"))
    assert one["name"] == "Grace Hopper" and one["fields"]["email"] == "contact3@acme.example"
    assert API_KEY not in running.run("get", "3").stdout
    (matched,) = lines_of(running.run("match", "-f", "email=contact5@acme.example"))
    assert matched["id"] == "5"
    found = lines_of(running.run("search", "knuth"))
    assert found and all("Knuth" in (r["name"] or "") for r in found)


def test_writing_records_needs_an_admin(running: Running) -> None:
    before = running.posts()
    denied = running.run("create", "-f", "email=viewer@x.example")
    assert denied.exit_code != 0
    assert "contacts.create changes records upstream, which needs the enterprise admin role" in (
        denied.stderr
    )
    assert running.posts() == before  # nothing reached the API

    (created,) = lines_of(
        running.run("create", "-f", "email=cli@x.example", "-f", "score=7", user="a_admin")
    )
    assert created["fields"]["score"] == 7
    (updated,) = lines_of(running.run("update", created["id"], "-f", "score=8", user="a_admin"))
    assert updated["fields"]["score"] == 8 and updated["fields"]["email"] == "cli@x.example"
    deleted = running.run("delete", created["id"], user="a_admin")
    assert deleted.exit_code == 0, deleted.output
    gone = running.run("get", created["id"])
    assert gone.exit_code != 0 and f"no record with id '{created['id']}'" in gone.stderr


def test_mistakes_are_messages_not_tracebacks(running: Running) -> None:
    cases = [
        (("create", "-f", "id=3", "-f", "email=a@b.example"), "read-only", "a_admin"),
        (("create", "-f", "first_name=x"), "required", "a_admin"),
        (("list", "--filter", "score=1"), "cannot filter by 'score'", "a_viewer"),
        (("list", "--one-page", "--cursor", "garbage"), "cursor", "a_viewer"),
        (("match", "-f", "status=active"), "cannot match by 'status'", "a_viewer"),
        (("get", "4242"), "no record with id '4242'", "a_viewer"),
        (("update", "4242", "-f", "score=1"), "no record with id '4242'", "a_admin"),
    ]
    for args, message, user in cases:
        result = running.run(*args, user=user)
        assert result.exit_code != 0, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    unknown = running.run("list", key="deals")
    assert unknown.exit_code != 0 and "no collection 'deals'" in unknown.stderr
    wrong = CliRunner().invoke(
        cli,
        ["records", "list", "contacts", "--connection", running.connection],
        env={"CONNECTORY_URL": running.url, "CONNECTORY_TOKEN": "not-a-token"},
    )
    assert wrong.exit_code != 0 and "Traceback" not in wrong.output
    assert "the API token is missing, unknown, revoked or expired" in wrong.stderr


def test_the_installed_command_streams_json_lines_with_progress_on_stderr(
    running: Running,
) -> None:
    # The real program in its own process: stdout is data only, progress goes to stderr.
    env = {**os.environ, **running.env("a_viewer")}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "connectory.cli", "records", "list", "contacts"),
            *("--connection", running.connection, "--page-size", "7"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    records = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert len(records) >= 24 and all(set(r) >= {"id", "name", "fields"} for r in records)
    assert "record(s)" in done.stderr
