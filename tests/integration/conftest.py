"""Servers the runtime's integration tests talk to, all on 127.0.0.1.

* ``test_api``: the project's own test API (:mod:`connectory.testing`), one per session.
* ``json_server_017`` / ``json_server_1``: json-server 0.17.4 and 1.0.0-beta.15 from the npm
  registry (tests/peers), each on a free port with a fresh copy of the seed database.

Without node or the peers these tests skip with the reason, except under ``CI=true``, where a
missing peer is a failure: CI must not pass by testing nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from connectory.spec import ConnectorSpec
from connectory.testing import create_test_api, serve
from connectory.testing.instances import free_port
from testkit.processes import stop_process
from testkit.skips import missing

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = ROOT / "examples"
PEERS = ROOT / "tests" / "peers"

#: Records in the test API's dataset: 2.5 pages of 100, so the last page is a short one.
TEST_API_RECORDS = 250


@pytest.fixture(scope="session", name="test_api")
def _test_api() -> Iterator[str]:
    """Base URL of the project's test API (250 records), running for the whole session."""
    with serve(create_test_api(records=TEST_API_RECORDS)) as base_url:
        yield base_url


class TestApiStats:
    """Reads and resets the test API's request counters (``GET /_stats``)."""

    __test__ = False

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def reset(self) -> None:
        """Zero the counters."""
        self.http.post("/_stats/reset").raise_for_status()

    def get(self) -> dict[str, Any]:
        """Return all counters."""
        response = self.http.get("/_stats")
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats

    def requests(self, path: str) -> int:
        """Return how many requests reached *path*."""
        count: int = self.get()["by_path"].get(path, 0)
        return count

    def revoke_tokens(self) -> None:
        """Invalidate every OAuth2 and login token the API has issued."""
        self.http.post("/_admin/revoke-tokens").raise_for_status()


@pytest.fixture(scope="session", name="test_api_http")
def _test_api_http(test_api: str) -> Iterator[httpx.Client]:
    """A plain HTTP client for the test API (one per session: creating clients is slow)."""
    with httpx.Client(base_url=test_api, timeout=10) as client:
        yield client


@pytest.fixture(name="test_api_stats")
def _test_api_stats(test_api_http: httpx.Client) -> TestApiStats:
    """The test API's counters, zeroed for this test."""
    stats = TestApiStats(test_api_http)
    stats.reset()
    return stats


def load_spec_file(
    path: Path, change: Callable[[dict[str, Any]], None] | None = None
) -> ConnectorSpec:
    """Load a connector file, after letting *change* edit the raw document."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if change is not None:
        change(document)
    return ConnectorSpec.model_validate(document)


@pytest.fixture(name="test_api_connector")
def _test_api_connector() -> Callable[..., ConnectorSpec]:
    """Factory: the example connector for the test API (examples/testapi/connector.yaml)."""

    def load(change: Callable[[dict[str, Any]], None] | None = None) -> ConnectorSpec:
        return load_spec_file(EXAMPLES / "testapi" / "connector.yaml", change)

    return load


@pytest.fixture(name="test_api_auth_connector")
def _test_api_auth_connector() -> Callable[..., ConnectorSpec]:
    """Factory: one of the single-auth connectors in examples/testapi-auth/ by file stem."""

    def load(name: str, change: Callable[[dict[str, Any]], None] | None = None) -> ConnectorSpec:
        return load_spec_file(EXAMPLES / "testapi-auth" / f"{name}.yaml", change)

    return load


# --- json-server ---------------------------------------------------------------------------


def _start_json_server(
    bin_relative: str, argv: Callable[[int, Path], list[str]], workdir: Path
) -> Iterator[str]:
    node = shutil.which("node")
    if node is None:
        missing("node is not on PATH (install Node 20 or later), so json-server cannot run")
    entry = PEERS / "node_modules" / bin_relative
    if not entry.is_file():
        missing(f"{entry.relative_to(ROOT)} is missing; run `make peers`")
    # json-server rewrites its database file: give it a copy, never the seed.
    database = workdir / "db.json"
    shutil.copyfile(DATA / "json-server-db.json", database)
    port = free_port()
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(node), str(entry), *argv(port, database)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(f"{base_url}/items", process, log_path)
        yield base_url
    finally:
        stop_process(process)


def _wait_for_http(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")[-2000:]
            pytest.fail(f"json-server exited with {process.returncode} while starting:\n{log}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"json-server did not answer {url} within 20 s")


@pytest.fixture(scope="session", name="json_server_017")
def _json_server_017(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of json-server 0.17.4 serving the seed database (``/items``, 57 records)."""
    yield from _start_json_server(
        "json-server-017/lib/cli/bin.js",
        lambda port, db: ["--host", "127.0.0.1", "--port", str(port), "--quiet", str(db)],
        tmp_path_factory.mktemp("json-server-017"),
    )


@pytest.fixture(scope="session", name="json_server_1")
def _json_server_1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of json-server 1.0.0-beta.15 serving the seed database (``/items``, 57 records)."""
    yield from _start_json_server(
        "json-server-1/lib/bin.js",
        lambda port, db: ["-h", "127.0.0.1", "-p", str(port), str(db)],
        tmp_path_factory.mktemp("json-server-1"),
    )


_JSON_SERVERS: dict[str, tuple[str, Callable[[int, Path], list[str]]]] = {
    "017": (
        "json-server-017/lib/cli/bin.js",
        lambda port, db: ["--host", "127.0.0.1", "--port", str(port), "--quiet", str(db)],
    ),
    "1": (
        "json-server-1/lib/bin.js",
        lambda port, db: ["-h", "127.0.0.1", "-p", str(port), str(db)],
    ),
}


@pytest.fixture(name="fresh_json_server")
def _fresh_json_server(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start a private json-server (``"017"`` or ``"1"``) on a copy of the seed database.

    For tests that write: the session's shared instances must keep their 57 records.
    """
    running: list[Iterator[str]] = []

    def start(version: str) -> str:
        entry, argv = _JSON_SERVERS[version]
        workdir = tmp_path / f"json-server-{version}-{len(running)}"
        workdir.mkdir()
        started = _start_json_server(entry, argv, workdir)
        running.append(started)
        return next(started)

    yield start
    for started in running:
        started.close()  # runs the generator's finally: the server is stopped
