"""``connectory tap`` into a real Singer target; ``connectory airbyte`` checked by Airbyte's models.

The Singer target (target-jsonl from PyPI) lives in a virtualenv of its own,
tests/pipelines/.venv, made by ``make singer-target`` from its hashed lock; without it the pipe
test skips, except under CI=true, where it fails. Airbyte messages are validated with Airbyte's
own protocol models (``airbyte-protocol-models-pdv2``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from airbyte_protocol.models import AirbyteMessage, ConfiguredAirbyteCatalog, Type
from starlette.applications import Starlette

from connectory.testing import create_test_api, serve
from testkit.skips import missing

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONNECTOR = str(ROOT / "examples" / "testapi" / "connector.yaml")
TARGET = ROOT / "tests" / "pipelines" / ".venv" / "bin" / "target-jsonl"
API_KEY = "test-api-key"


@pytest.fixture(scope="module")
def upstream_app() -> Starlette:
    return create_test_api(records=230)


@pytest.fixture(scope="module")
def upstream(upstream_app: Starlette) -> Iterator[str]:
    with serve(upstream_app) as url:
        yield url


@pytest.fixture
def config(tmp_path: Path, upstream: str) -> Path:
    path = tmp_path / "config.json"
    data = {
        "connector": CONNECTOR,
        "credentials": {"api_key": API_KEY},
        "base_url": upstream,
        "start_date": "2024-01-01T00:00:00Z",
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def connectory(*args: str) -> list[str]:
    return [sys.executable, "-m", "connectory.cli", *args]


def run(*args: str) -> list[dict[str, Any]]:
    done = subprocess.run(connectory(*args), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def select(tmp_path: Path, config: Path, streams: set[str]) -> Path:
    done = subprocess.run(
        connectory("tap", "--config", str(config), "--discover"),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    catalog = json.loads(done.stdout)
    for entry in catalog["streams"]:
        entry["metadata"][0]["metadata"]["selected"] = entry["stream"] in streams
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog), encoding="utf-8")
    return path


def pipe_into_target(
    tap_args: list[str], target_config: Path, cwd: Path
) -> subprocess.CompletedProcess[bytes]:
    """``connectory tap ... | target-jsonl --config ...`` through a real OS pipe."""
    tap = subprocess.Popen(connectory(*tap_args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert tap.stdout is not None
    target = subprocess.run(
        [str(TARGET), "--config", str(target_config)],
        stdin=tap.stdout, capture_output=True, timeout=120, cwd=cwd,
    )  # fmt: skip
    tap.stdout.close()
    assert tap.wait(timeout=60) == 0, tap.stderr.read() if tap.stderr else ""
    assert target.returncode == 0, target.stderr.decode()
    return target


def test_tap_into_a_real_singer_target_then_incrementally(
    tmp_path: Path, config: Path, upstream: str
) -> None:
    if not TARGET.exists():
        missing("the Singer target is not installed: run `make singer-target`")
    out = tmp_path / "out"
    target_config = tmp_path / "target.json"
    target_config.write_text(
        json.dumps({"destination_path": str(out), "do_timestamp_file": False}), encoding="utf-8"
    )
    catalog = select(tmp_path, config, {"contacts", "list_cursor_items"})
    first = pipe_into_target(["tap", "--config", str(config), "--catalog", str(catalog)],
                             target_config, tmp_path)  # fmt: skip
    contacts = [json.loads(line) for line in (out / "contacts.jsonl").read_text().splitlines()]
    items = [
        json.loads(line) for line in (out / "list_cursor_items.jsonl").read_text().splitlines()
    ]
    assert len(contacts) == 24 and {c["id"] for c in contacts} == {str(i) for i in range(1, 25)}
    assert contacts[0]["fields"]["email"] and contacts[0]["updated_at"].endswith("Z")
    assert [item["id"] for item in items] == list(range(1, 231))
    # The target hands back the last state it saw: the bookmark of each stream.
    state = json.loads(first.stdout.decode().strip().splitlines()[-1])
    assert state["bookmarks"]["contacts"]["updated_at"] == max(c["updated_at"] for c in contacts)
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state), encoding="utf-8")

    # One contact changes upstream; the next run reads only what changed since the bookmark.
    changed = httpx.patch(
        f"{upstream}/crm/contacts/5", json={"score": 99}, headers={"X-API-Key": f"Token {API_KEY}"}
    )
    assert changed.status_code == 200, changed.text
    (out / "contacts.jsonl").unlink()
    only_contacts = select(tmp_path, config, {"contacts"})
    pipe_into_target(
        ["tap", "--config", str(config), "--catalog", str(only_contacts), "--state",
         str(state_file)], target_config, tmp_path,
    )  # fmt: skip
    again = [json.loads(line) for line in (out / "contacts.jsonl").read_text().splitlines()]
    by_id = {c["id"]: c for c in again}
    assert by_id["5"]["fields"]["score"] == 99
    # The API's updated_since includes its bound: the record at the bookmark comes again
    # (at least once; the target keys records by id), nothing older does.
    bookmark = state["bookmarks"]["contacts"]["updated_at"]
    assert all(c["updated_at"] == bookmark for key, c in by_id.items() if key != "5")
    assert len(again) <= 2


def test_a_stopped_read_resumes_at_the_page_it_stopped_on(tmp_path: Path, config: Path) -> None:
    catalog = select(tmp_path, config, {"list_cursor_items"})
    messages = run("tap", "--config", str(config), "--catalog", str(catalog))
    assert Counter(m["type"] for m in messages) == {"SCHEMA": 1, "RECORD": 230, "STATE": 3}
    # Stop after the first page: keep the state written after it, and run again from there.
    first_state = next(m for m in messages if m["type"] == "STATE")
    assert first_state["value"]["currently_syncing"] == "list_cursor_items"
    read_before = [m["record"]["id"] for m in messages[: messages.index(first_state)]
                   if m["type"] == "RECORD"]  # fmt: skip
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(first_state["value"]), encoding="utf-8")
    rest = run(
        "tap", "--config", str(config), "--catalog", str(catalog), "--state", str(state_file)
    )
    read_after = [m["record"]["id"] for m in rest if m["type"] == "RECORD"]
    assert read_before + read_after == list(range(1, 231))
    assert "currently_syncing" not in rest[-1]["value"]


def test_airbyte_messages_are_valid_protocol_messages(tmp_path: Path, config: Path) -> None:
    spec = [
        AirbyteMessage.model_validate(m) for m in run("airbyte", "spec", "--connector", CONNECTOR)
    ]
    assert spec[0].type == Type.SPEC
    secret = spec[0].spec.connectionSpecification["properties"]["credentials"]["properties"]
    assert secret["api_key"]["airbyte_secret"] is True
    check = [
        AirbyteMessage.model_validate(m) for m in run("airbyte", "check", "--config", str(config))
    ]
    assert check[0].connectionStatus.status.value == "SUCCEEDED"
    (catalog_message,) = run("airbyte", "discover", "--config", str(config))
    catalog = AirbyteMessage.model_validate(catalog_message).catalog
    contacts = next(s for s in catalog.streams if s.name == "contacts")
    assert contacts.default_cursor_field == ["updated_at"]
    configured = ConfiguredAirbyteCatalog.model_validate(
        {
            "streams": [
                {
                    "stream": catalog_message["catalog"]["streams"][0],
                    "sync_mode": "incremental",
                    "cursor_field": ["updated_at"],
                    "destination_sync_mode": "append",
                },
                {
                    "stream": next(
                        s for s in catalog_message["catalog"]["streams"]
                        if s["name"] == "list_page_items"
                    ),
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "overwrite",
                },
            ]
        }
    )  # fmt: skip
    catalog_file = tmp_path / "configured.json"
    catalog_file.write_text(configured.model_dump_json(exclude_none=True), encoding="utf-8")
    messages = [
        AirbyteMessage.model_validate(m)
        for m in run("airbyte", "read", "--config", str(config), "--catalog", str(catalog_file))
    ]
    records = Counter(m.record.stream for m in messages if m.type == Type.RECORD)
    assert records == {"contacts": 24, "list_page_items": 230}
    states = [m.state for m in messages if m.type == Type.STATE]
    last_contacts = [s for s in states if s.stream.stream_descriptor.name == "contacts"][-1]
    newest = max(
        m.record.data["updated_at"]
        for m in messages
        if m.type == Type.RECORD and m.record.stream == "contacts"
    )
    assert last_contacts.stream.stream_state.model_dump()["updated_at"] == newest
    # Passing the states back reads nothing new.
    state_file = tmp_path / "state.json"
    state_file.write_text(
        json.dumps([{"type": "STREAM", "stream": last_contacts.stream.model_dump(mode="json")}]),
        encoding="utf-8",
    )
    only_contacts = {"streams": [configured.streams[0].model_dump(mode="json", exclude_none=True)]}
    catalog_file.write_text(json.dumps(only_contacts), encoding="utf-8")
    again = run("airbyte", "read", "--config", str(config), "--catalog", str(catalog_file),
                "--state", str(state_file))  # fmt: skip
    # Only the record at the bookmark comes again (the API's updated_since includes its bound).
    again_records = [m["record"]["data"] for m in again if m["type"] == "RECORD"]
    assert all(record["updated_at"] == newest for record in again_records)
    assert len(again_records) <= 1


def test_airbyte_reports_configuration_mistakes_as_trace_messages(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"credentials": {"api_key": API_KEY}, "nonsense": 1}), "utf-8")
    done = subprocess.run(
        connectory("airbyte", "check", "--config", str(bad), "--connector", CONNECTOR),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    trace = AirbyteMessage.model_validate_json(done.stdout.splitlines()[-1])
    assert trace.type == Type.TRACE and trace.trace.error.failure_type.value == "config_error"
    assert "nonsense" in trace.trace.error.message and API_KEY not in done.stdout + done.stderr
