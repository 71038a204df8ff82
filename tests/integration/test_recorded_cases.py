"""Recorded tests: record against the test API, replay with it stopped, and no secret recorded.

Every auth type of the test API is recorded with canary credentials; the canary sweep then
looks for each canary (and each token the API handed out) in every recording, in plain,
URL-encoded and Base64 forms.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
import yaml

from connectory.cases import CaseRunner, load_cases
from connectory.spec import load_connector
from connectory.testing import TestApiCredentials, create_test_api, serve

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AUTH = ROOT / "examples" / "testapi-auth"
CANARY = TestApiCredentials(
    api_key="CANARY-api-key-7f3a9c0e",
    username="canary-user",
    password="CANARY-pass-2b8e41d7",
    bearer_token="CANARY-bearer-c4e1aa02",
    client_secret="CANARY-secret-91d05b3f",
)
CREDENTIALS = {
    "api-key-query.yaml": {"api_key": CANARY.api_key},
    "basic.yaml": {"username": CANARY.username, "password": CANARY.password},
    "bearer.yaml": {"token": CANARY.bearer_token},
    "custom.yaml": {"username": CANARY.username, "password": CANARY.password},
    "oauth2.yaml": {"client_secret": CANARY.client_secret},
}


class Spy(httpx.AsyncBaseTransport):
    """The real network, keeping every response body (to find the tokens the API issued)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.bodies: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.bodies.append(content)
        return httpx.Response(response.status_code, headers=response.headers, content=content)


def forms(secret: str) -> set[str]:
    found = {secret, quote(secret, safe=""), quote_plus(secret)}
    found.add(base64.b64encode(secret.encode()).decode())
    found.add(base64.b64encode(f"{CANARY.username}:{secret}".encode()).decode())
    found.add(base64.b64encode(f"connectory-client:{secret}".encode()).decode())
    return found


def issued_tokens(bodies: list[bytes]) -> set[str]:
    tokens: set[str] = set()
    for body in bodies:
        try:
            data = json.loads(body)
        except ValueError:
            continue
        if isinstance(data, dict):
            for key in ("access_token", "refresh_token", "token"):
                if isinstance(data.get(key), str):
                    tokens.add(data[key])
    return tokens


def write_cases(folder: Path, cases: list[dict[str, Any]]) -> Path:
    path = folder / "cases.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"cases": cases}), encoding="utf-8")
    return path


@pytest.mark.parametrize("example", sorted(CREDENTIALS))
async def test_record_then_replay_with_the_api_stopped_and_no_secret_recorded(
    tmp_path: Path, example: str
) -> None:
    spec = load_connector(AUTH / example)
    cases = load_cases(
        write_cases(
            tmp_path,
            [
                {"name": "first page", "operation": "list_items", "expect": {"status": 200}},
                {
                    "name": "every page",
                    "operation": "list_items",
                    "all_pages": True,
                    "expect": {"count": 250},
                },
            ],
        )
    )
    spy = Spy()
    with serve(create_test_api(records=250, credentials=CANARY)) as url:
        credentials = dict(CREDENTIALS[example])
        if example == "oauth2.yaml":
            credentials["token_url"] = f"{url}/oauth/token"
        recorder = CaseRunner(
            spec,
            cases,
            tmp_path / "recordings",
            record=True,
            credentials=credentials,
            base_url=url,
            transport=spy,
        )
        recorded = await recorder.run()
    assert [r.outcome for r in recorded] == ["passed", "passed"], [r.problems for r in recorded]

    # The canary sweep: no credential and no issued token, in any encoding, in any recording.
    secrets = set().union(*(forms(value) for value in CREDENTIALS[example].values()))
    secrets |= set().union(*(forms(token) for token in issued_tokens(spy.bodies)))
    secrets.discard(CANARY.username)  # not a secret (the connector says so)
    recordings = list((tmp_path / "recordings").glob("*.json"))
    assert len(recordings) == 2
    for recording in recordings:
        text = recording.read_text(encoding="utf-8")
        leaked = sorted(secret for secret in secrets if secret in text)
        assert not leaked, f"{recording.name} holds {leaked}"

    # The API is stopped: replay answers from the recordings alone.
    replayed = await CaseRunner(spec, cases, tmp_path / "recordings").run()
    assert [r.outcome for r in replayed] == ["passed", "passed"], [r.problems for r in replayed]
    assert replayed[1].requests == recorded[1].requests


async def test_a_changed_request_is_a_clear_mismatch(tmp_path: Path) -> None:
    spec = load_connector(ROOT / "examples" / "testapi" / "connector.yaml")
    path = write_cases(
        tmp_path,
        [
            {
                "name": "item",
                "operation": "get_item",
                "params": {"id": 7},
                "expect": {"status": 200},
            }
        ],
    )
    with serve(create_test_api(records=10)) as url:
        await CaseRunner(
            spec, load_cases(path), tmp_path / "recordings", record=True,
            credentials={"api_key": "test-api-key"}, base_url=url,
        ).run()  # fmt: skip
    changed = write_cases(
        tmp_path,
        [
            {
                "name": "item",
                "operation": "get_item",
                "params": {"id": 8},
                "expect": {"status": 200},
            }
        ],
    )
    (result,) = await CaseRunner(spec, load_cases(changed), tmp_path / "recordings").run()
    assert result.outcome == "failed"
    assert "GET /items/8" in result.problems[0] and "--record" in result.problems[0]


def test_the_shipped_example_replays_offline() -> None:
    """examples/testapi/tests: recorded once, replayed by the CLI with no API running."""
    done = subprocess.run(
        [sys.executable, "-m", "connectory.cli", "test", str(ROOT / "examples" / "testapi")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "11 passed, 0 failed" in done.stderr
    for recording in (ROOT / "examples" / "testapi" / "tests" / "recordings").glob("*.json"):
        assert "test-api-key" not in recording.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("example", "recordings", "shown"),
    [
        (
            "testapi-webhooks.yaml",
            "testapi-webhooks.tests/recordings",
            [
                "passed  a change notified by webhook  (0 request(s))",
                "passed  changes polled since the cursor  (1 request(s))",
            ],
        ),
        (
            "testapi-javascript-events",
            "testapi-javascript-events/tests/recordings",
            [
                "passed  the handle method turns a notification into events  (0 request(s))",
                "passed  the custom pull reports what changed since its cursor  (1 request(s))",
            ],
        ),
    ],
)
def test_the_shipped_event_cases_replay_offline(
    example: str, recordings: str, shown: list[str]
) -> None:
    """Event cases of the examples: handle on sample requests (declarative and JavaScript),
    recorded polls and custom pulls, replayed by the CLI with no API running."""
    events = ROOT / "examples" / "events"
    done = subprocess.run(
        [sys.executable, "-m", "connectory.cli", "test", str(events / example)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed, 0 failed" in done.stderr
    for line in shown:
        assert line in done.stdout
    for recording in (events / recordings).glob("*.json"):
        text = recording.read_text(encoding="utf-8")
        assert "test-api-key" not in text and "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in text


async def test_an_event_pull_is_recorded_then_replayed_with_the_api_stopped(
    tmp_path: Path,
) -> None:
    """A collection event's pull: recorded with a canary key, replayed offline, scrubbed."""
    spec = load_connector(ROOT / "examples" / "testapi" / "connector.yaml")
    case = {
        "name": "changed contacts",
        "event": "contact_changed",
        "state": {"cursor": "2024-03-23T12:00:00Z"},
        "expect": {
            "events": [
                {"type": "contacts.updated", "payload": {"id": "23"}},
                {"type": "contacts.created", "payload": {"id": "24"}},
            ],
            "cursor": "2024-03-24T23:00:00Z",
        },
    }
    path = write_cases(tmp_path, [case])
    with serve(create_test_api(records=10, credentials=CANARY)) as url:
        (recorded,) = await CaseRunner(
            spec, load_cases(path), tmp_path / "recordings", record=True,
            credentials={"api_key": CANARY.api_key}, base_url=url,
        ).run()  # fmt: skip
    assert recorded.outcome == "passed", recorded.problems
    (recording,) = (tmp_path / "recordings").glob("*.json")
    text = recording.read_text(encoding="utf-8")
    assert not [form for form in forms(CANARY.api_key) if form in text]
    assert "updated_since" in text  # the pull's request, with the cursor minus the overlap

    (replayed,) = await CaseRunner(spec, load_cases(path), tmp_path / "recordings").run()
    assert replayed.outcome == "passed", replayed.problems
    assert replayed.requests == recorded.requests
    assert [e["id"] for e in replayed.data["events"]] == [
        "23@2024-03-23T22:00:00Z",
        "24@2024-03-24T23:00:00Z",
    ]
    # Another cursor asks for other changes: the recording does not have them.
    moved = write_cases(tmp_path, [{**case, "state": {"cursor": "2024-03-24T00:00:00Z"}}])
    (result,) = await CaseRunner(spec, load_cases(moved), tmp_path / "recordings").run()
    assert result.outcome == "failed"
    assert "updated_since" in result.problems[0] and "--record" in result.problems[0]
