"""Schemathesis over the live API: no server errors, every answer as documented, schemas as strict
as the server.

The app runs in uvicorn on loopback (with ``connectory serve``'s HTTP options) and the
``schemathesis run`` command line tests every operation of its ``/openapi.json``, as a
platform admin and as an enterprise admin: explicit examples, the coverage phase (boundary
values, every undeclared method, missing and malformed parameters) and property-based fuzzing,
positive and negative, failures collected over all operations (``--continue-on-failure``).
Checks, and why each of the few per-operation exceptions exists, are in docs/testing.md.

The run is bounded and repeatable: deterministic generation, a fixed number of examples per
operation, one worker. A real published connector and connection, on the test API, are
offered to the generator as path parameters next to its own values, so runs and tests reach
the runtime rather than stopping at 404. The server resolves no host name but loopback ones
(generated import URLs would otherwise be looked up in public DNS).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.api import create_app
from connectory.api.limits import server_options
from connectory.settings import Settings
from connectory.spec.loader import read_connector_data
from connectory.testing import create_test_api, serve

from .support import World, insert_published_connector

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "negative_data_rejection",
    "positive_data_acceptance",
]
EXAMPLES_PER_OPERATION = 25
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"
API_KEY = "test-api-key"

#: Schemathesis' defaults for negative_data_rejection, plus the API's own refusals of
#: requests too large to read (413 body, 414 URL): both are rejections, as documented.
NEGATIVE_STATUSES = [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422, 428, 429]

#: Operations that call an upstream answer 502/503/504 for the upstream's failures (documented
#: on each): those are not Connectory's server errors.
UPSTREAM_OPERATIONS = (
    r"^/connections/\{connection_id\}/operations/\{operation\}$",
    r"^/connections/\{connection_id\}/collections/",
    r"^/connectors/\{connector_id\}/draft/run$",
    r"^/connectors/\{connector_id\}/draft/collections/run$",
    r"^/connectors/import-openapi$",
    r"^/connectors/\{connector_id\}/reimport-openapi$",
    r"^/connectors/\{connector_id\}/draft/test-cases$",
    r"^/connections/\{connection_id\}/contract-test$",
)

#: Operations whose body is a connector or an OpenAPI document: the body's JSON Schema can say
#: it is an object (or a file), but only the connector's own rules (templates, paths against
#: parameters, references) say whether it is a valid connector. A schema-valid document the
#: rules refuse is a documented 422 with every problem located, not a broken promise.
DOCUMENT_OPERATIONS = (
    r"^/connectors$",
    r"^/connectors/upload$",
    r"^/connectors/import$",
    r"^/connectors/import-openapi$",
    r"^/connectors/\{connector_id\}/draft$",
    r"^/connectors/\{connector_id\}/reimport-openapi$",
    r"^/connections/\{connection_id\}/contract-test$",
)

#: Operations whose other rules depend on the caller or on stored state that JSON Schema cannot
#: see: whether a new user needs an enterprise depends on who creates it; a user's role cannot
#: move between platform and enterprise roles, and SDK access depends on the stored role;
#: credentials, connector parameters, operation parameters and a collection's fields, filters
#: and record ids are checked against the connector's own definition; a tool policy's write
#: tools and a test case's operation or collection against the connector's tools; a test case
#: is recorded into the connector's draft, which must exist. Each refusal is a
#: documented 422 naming the field, or 400 ``not_supported`` for a method, filter or match
#: field the collection does not declare.
STATEFUL_RULE_OPERATIONS = (
    r"^/oauth/authorize$",
    r"^/connectors/\{connector_id\}/oauth-app$",
    r"^/users$",
    r"^/users/\{user_id\}$",
    r"^/connections$",
    r"^/connections/\{connection_id\}$",
    r"^/connections/\{connection_id\}/operations/\{operation\}$",
    r"^/connectors/\{connector_id\}/parameters$",
    r"^/connectors/\{connector_id\}/draft/run$",
    r"^/connections/\{connection_id\}/collections/",
    r"^/connectors/\{connector_id\}/draft/collections/run$",
    r"^/connectors/\{connector_id\}/draft/test-cases$",
    r"^/connections/\{connection_id\}/mcp-policy$",
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The test server's settings; loopback is open to connectors (the test API lives there)."""
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        max_body_bytes=2 * 1024 * 1024,
        max_page_size=50,
        default_page_size=20,
        egress_allow="127.0.0.1",
    )


@pytest.fixture
def loopback_only_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every host name lookup in this process but loopback names."""
    real = socket.getaddrinfo

    def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("localhost", "127.0.0.1", "::1"):
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: not resolved in tests")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=30)) as url:
        yield url


def _toml(value: Any) -> str:
    return json.dumps(value)  # JSON strings, numbers and arrays are TOML too


def _config(path: Path, ids: dict[str, list[str]]) -> Path:
    lines = [
        "[checks.negative_data_rejection]",
        f"expected-statuses = {_toml([str(status) for status in NEGATIVE_STATUSES])}",
        "",
        "[dictionaries]",
    ]
    for name, values in ids.items():
        lines.append(f"{name} = {{ values = {_toml(values)} }}")
    # Real ids are offered next to generated ones. DELETE always gets the spares (ids seen in
    # earlier responses would be reused otherwise), so the other objects last the whole run.
    bindings = {f"path.{name}": (name, 0.5) for name in ids if not name.startswith("spare_")}
    bindings["body.operation"] = ("operation", 1.0)  # a draft run names it in the body
    deletions = dict(bindings)
    for name in ids:
        if name.startswith("spare_"):
            deletions[f"path.{name.removeprefix('spare_')}"] = (name, 1.0)
    for method, chosen in (("exclude-method", bindings), ("include-method", deletions)):
        lines += ["", "[[operations]]", f'{method} = "DELETE"']
        lines += [
            f'parameters."{key}" = {{ dictionary = "{name}", probability = {chance} }}'
            for key, (name, chance) in chosen.items()
        ]
    for pattern in UPSTREAM_OPERATIONS:
        lines += [
            "",
            "[[operations]]",
            f"include-path-regex = {_toml(pattern)}",
            'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502", "503",'
            ' "504"]',
        ]
    for pattern in DOCUMENT_OPERATIONS + STATEFUL_RULE_OPERATIONS:
        refusals = ["400", "422"] if "collections" in pattern else ["422"]
        accepted = ["2xx", "3xx", "401", "403", "404", "409", *refusals, "429", "5xx"]
        lines += [
            "",
            "[[operations]]",
            f"include-path-regex = {_toml(pattern)}",
            f"checks.positive_data_acceptance.expected-statuses = {_toml(accepted)}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


OPERATIONS = ["list_offset_items", "get_item", "echo_query", "echo_headers", "create_echo_json"]


async def _seed(
    api: httpx.AsyncClient, settings: Settings, world: World, upstream: str
) -> dict[str, list[str]]:
    """Connectors on the test API and a connection, for generated requests to find.

    Enterprise A has a published connector and a connection to it; the catalogue has one
    without auth, whose draft runs need no credentials (platform admins have no connections).
    """
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    document.update(base_url=upstream, slug="testapi", test_operation="list_offset_items")
    private = await insert_published_connector(
        settings.database_url, document, enterprise_id=world.enterprises["a"]
    )
    document.update(slug="testapi-open", auth={"auth_type": "none"})
    catalogue = await insert_published_connector(settings.database_url, document)
    # Deleting is tested on spares, so the objects above last the whole run.
    document.update(slug="testapi-spare")
    spare = await insert_published_connector(settings.database_url, document)
    connections = []
    for name in ("seed", "spare"):
        created = await api.post(
            "/connections",
            json={"connector_id": private, "name": name, "credentials": {"api_key": API_KEY}},
            headers=world.auth("a_admin"),
        )
        assert created.status_code == 201, created.text
        connections.append(created.json()["id"])
    return {
        "connector_id": [private, catalogue],
        "connection_id": [connections[0]],
        "spare_connector_id": [spare],
        "spare_connection_id": [connections[1]],
        "operation": OPERATIONS,
        "user_id": [world.users["a_viewer"]],
        "enterprise_id": [world.enterprises["a"]],
        "version": ["1.0.0", "latest"],
        "key": ["contacts"],
    }


def _run(url: str, token: str, config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {token}",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--generation-deterministic",
        "--continue-on-failure",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--output-truncate",
        "false",
    ]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": ""}
    return subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, env=environment, timeout=900, check=False
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("user", ["platform", "a_admin"])
@pytest.mark.usefixtures("loopback_only_dns")
async def test_schemathesis_finds_nothing(
    api: httpx.AsyncClient,
    settings: Settings,
    world: World,
    user: str,
    upstream: str,
    tmp_path: Path,
) -> None:
    ids = await _seed(api, settings, world, upstream)
    config = _config(tmp_path / "schemathesis.toml", ids)
    async with httpx.AsyncClient() as client:
        await client.post(f"{upstream}/_stats/reset")
        # Event long-polls and streams answer at once here instead of waiting for events.
        settings = settings.model_copy(update={"event_wait_seconds": 0.0})
        with serve(create_app(settings), options=server_options(settings)) as url:
            finished = await asyncio.to_thread(_run, url, world.tokens[user], config, tmp_path)
        reached = (await client.get(f"{upstream}/_stats")).json()["by_path"]
    report = finished.stdout + finished.stderr
    summary = re.search(r"(\d+) generated, ", report)
    assert summary is not None, report[-3000:]
    assert int(summary.group(1)) >= 1000, report[-3000:]  # every operation was exercised
    assert finished.returncode == 0, report[-20000:]
    # Generated requests went through the runtime to the upstream, not only to 404s.
    assert sum(reached.values()) > 0
