"""The builder saves a test run as a recorded case: stored with the draft, no secret in it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from connectory.cases import CaseRunner, load_cases
from connectory.spec import load_connector_text
from connectory.spec.loader import read_connector_data
from connectory.testing import TestApiCredentials, create_test_api, serve

from .connector_support import create
from .support import World

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"
CANARY = "CANARY-builder-key-5e1f0c"


async def test_a_saved_run_is_recorded_into_the_draft_and_replays_offline(
    api: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    with serve(create_test_api(records=30, credentials=TestApiCredentials(api_key=CANARY))) as url:
        document["base_url"] = url
        connector = await create(api, world, "a_admin", document)
        url_of = f"/connectors/{connector['id']}/draft/test-cases"
        body = {
            "case": {"name": "Item 7", "operation": "get_item", "params": {"id": 7},
                     "expect": {"status": 200, "schema": True}},
            "credentials": {"api_key": CANARY},
        }  # fmt: skip
        saved = await api.post(url_of, json=body, headers=world.auth("a_admin"))
        assert saved.status_code == 200, saved.text
        assert saved.json()["outcome"] == "passed" and saved.json()["requests"] == 1
        second = {
            "case": {"name": "contacts", "collection": "contacts", "method": "list",
                     "input": {"page_size": 3}, "expect": {"count": 3}},
            "credentials": {"api_key": CANARY},
        }  # fmt: skip
        assert (
            await api.post(url_of, json=second, headers=world.auth("a_admin"))
        ).status_code == 200
        viewer = await api.post(url_of, json=body, headers=world.auth("a_viewer"))
        assert viewer.status_code in (403, 404)
    draft = await api.get(f"/connectors/{connector['id']}/draft", headers=world.auth("a_admin"))
    files: dict[str, str] = draft.json()["files"]
    assert set(files) == {
        "tests/cases.yaml",
        "tests/recordings/item-7.json",
        "tests/recordings/contacts.json",
    }
    assert CANARY not in "".join(files.values()) and CANARY not in saved.text
    cases = yaml.safe_load(files["tests/cases.yaml"])["cases"]
    assert [case["name"] for case in cases] == ["Item 7", "contacts"]

    # The test API is stopped: the stored case replays from the stored recording.
    folder = tmp_path / "connector"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    spec = load_connector_text(yaml.safe_dump(draft.json()["document"]))
    replayed = await CaseRunner(
        spec, load_cases(folder / "tests" / "cases.yaml"), folder / "tests" / "recordings"
    ).run()
    assert [r.outcome for r in replayed] == ["passed", "passed"], [r.problems for r in replayed]

    # The export carries them too: `connectory test` runs them from the export file.
    exported = await api.get(
        f"/connectors/{connector['id']}/export?version=draft", headers=world.auth("a_admin")
    )
    assert exported.status_code == 200, exported.text
    export_file = tmp_path / "export.json"
    export_file.write_bytes(exported.content)
    done = subprocess.run(
        [sys.executable, "-m", "connectory.cli", "test", str(export_file)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed, 0 failed" in done.stderr


async def test_a_bad_case_is_refused_before_anything_is_sent(
    api: httpx.AsyncClient, world: World
) -> None:
    connector = await create(api, world, "a_admin", read_connector_data(EXAMPLE))
    url_of = f"/connectors/{connector['id']}/draft/test-cases"
    two_kinds = {"case": {"name": "x", "operation": "get_item", "collection": "contacts"}}
    refused = await api.post(url_of, json=two_kinds, headers=world.auth("a_admin"))
    assert refused.status_code == 422
