"""The Test tab's read: Send previews the first page as a read sends it; each page's exchange."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from connectory.spec.loader import read_connector_data
from connectory.testing import TestApiCredentials, create_test_api, serve

from .connector_support import EXAMPLES, create, example_files, example_yaml
from .support import World

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "testapi" / "connector.yaml"
CANARY = "CANARY-test-read-7d3a91"


async def test_send_previews_the_first_page_and_pages_show_their_exchanges(
    api: httpx.AsyncClient, world: World
) -> None:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    with serve(create_test_api(records=25, credentials=TestApiCredentials(api_key=CANARY))) as url:
        document["base_url"] = url
        listing = next(
            op for op in document["operations"] if op["operation"] == "list_offset_items"
        )
        listing["pagination"]["page_size"] = 10
        document["operations"].append(
            {
                "operation": "list_protected",
                "path": "/auth/api-key-header/items",
                "record_selector": "data",
                "pagination": {"type": "page_number", "page_param": "page",
                               "size_param": "per_page", "page_size": 5},
            }
        )  # fmt: skip
        connector = await create(api, world, "a_admin", document)
        run_url = f"/connectors/{connector['id']}/draft/run"
        body = {"operation": "list_offset_items", "credentials": {"api_key": CANARY}}
        sent = await api.post(run_url, json=body, headers=world.auth("a_admin"))
        assert sent.status_code == 200, sent.text
        result = sent.json()
        # The first page exactly as the read sends it: the paginator's parameters included.
        assert "offset=0" in result["request"]["url"] and "limit=10" in result["request"]["url"]
        assert result["pages"] is None and result["status_code"] == 200
        assert result["records"] and result["records"] == result["body"]["data"]
        assert len(result["records"]) == 10
        assert CANARY not in sent.text

        every = await api.post(
            run_url, json={**body, "all_pages": True, "max_pages": 5}, headers=world.auth("a_admin")
        )
        assert every.status_code == 200, every.text
        pages = every.json()["pages"]
        assert len(pages) >= 2
        offsets = [page["request"]["url"] for page in pages]
        assert "offset=0" in offsets[0] and "offset=0" not in offsets[1]
        assert pages[1]["response"]["status_code"] == 200
        assert '"data"' in pages[1]["response"]["body"]
        assert CANARY not in every.text

        # A refused first page is an answer, as for a single call: 401 with its request.
        refused = await api.post(
            run_url,
            json={"operation": "list_protected", "credentials": {"api_key": "wrong"}},
            headers=world.auth("a_admin"),
        )
        assert refused.status_code == 200, refused.text
        assert (
            refused.json()["status_code"] == 401
            and "page=1&per_page=5" in refused.json()["request"]["url"]
        )


async def test_a_single_call_shows_the_records_it_extracted(
    api: httpx.AsyncClient, world: World
) -> None:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    with serve(create_test_api(records=5, credentials=TestApiCredentials(api_key=CANARY))) as url:
        document["base_url"] = url
        operation = next(op for op in document["operations"] if op["operation"] == "get_item")
        connector = await create(api, world, "a_admin", document)
        got = await api.post(
            f"/connectors/{connector['id']}/draft/run",
            json={"operation": "get_item", "params": {"id": 2}, "credentials": {"api_key": CANARY}},
            headers=world.auth("a_admin"),
        )
        assert got.status_code == 200, got.text
        records = got.json()["records"]
        assert operation.get("record_selector") or records == [got.json()["body"]]
        assert records and len(records) == 1


JS_EXAMPLE = EXAMPLES / "testapi-javascript"


async def test_a_paginated_operation_with_hooks_sends_one_call_with_its_trace(
    api: httpx.AsyncClient, world: World
) -> None:
    with serve(create_test_api(records=12)) as url:
        body = {"yaml": example_yaml(JS_EXAMPLE, url), "files": example_files(JS_EXAMPLE)}
        created = await api.post("/connectors", json=body, headers=world.auth("a_admin"))
        assert created.status_code == 201, created.text
        run_url = f"/connectors/{created.json()['id']}/draft/run"
        run = {
            "operation": "list_items",
            "params": {"limit": 5},
            "credentials": {"signing_secret": "test-signing-secret"},
        }
        sent = await api.post(run_url, json=run, headers=world.auth("a_admin"))
        assert sent.status_code == 200, sent.text
        result = sent.json()
        # The hooks' work is shown (a single call), and the answer says how it differs.
        assert result["request_before_hooks"] is not None
        assert "Read every page reads the pages exactly" in result["note"]
        assert len(result["records"]) == 5  # extracted after the post-response hook unwrapped
        every = await api.post(
            run_url, json={**run, "all_pages": True}, headers=world.auth("a_admin")
        )
        pages = every.json()["pages"]
        assert [page["record_count"] for page in pages] == [5, 5, 2]
        assert every.json()["note"] is None
        assert all(page["request"]["url"].startswith(f"{url}/envelope/items") for page in pages)
        assert "test-signing-secret" not in every.text


async def test_a_collection_list_reads_its_first_page_with_the_exchanges(
    api: httpx.AsyncClient, world: World
) -> None:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    with serve(create_test_api(records=5, credentials=TestApiCredentials(api_key=CANARY))) as url:
        document["base_url"] = url
        connector = await create(api, world, "a_admin", document)
        read_url = f"/connectors/{connector['id']}/draft/collection-read"
        body = {"collection": "contacts", "page_size": 3, "credentials": {"api_key": CANARY}}
        read = await api.post(read_url, json=body, headers=world.auth("a_admin"))
        assert read.status_code == 200, read.text
        out = read.json()
        assert len(out["records"]) == 3 and out["error"] is None
        assert out["schema_mismatches"] == []  # the example's records fit its fields schema
        assert {"id", "fields"} <= set(out["records"][0])
        assert out["exchanges"] and out["exchanges"][-1]["status_code"] == 200
        assert CANARY not in read.text
        # A refused key is an answer with the exchange that shows it.
        refused = await api.post(
            read_url, json={**body, "credentials": {"api_key": "wrong"}},
            headers=world.auth("a_admin"),
        )  # fmt: skip
        assert refused.status_code == 200, refused.text
        assert refused.json()["error"] and refused.json()["exchanges"][-1]["status_code"] == 401
        missing = await api.post(
            read_url, json={**body, "collection": "nope"}, headers=world.auth("a_admin")
        )
        assert missing.status_code == 404
        viewer = await api.post(read_url, json=body, headers=world.auth("a_viewer"))
        assert viewer.status_code in (403, 404)
        # Records that do not fit the fields schema are shown, with where they do not fit.
        document["schemas"]["Contact"]["properties"]["score"] = {"type": "string"}
        strict = await create(api, world, "a_admin", {**document, "slug": "strict-contacts"})
        misfit = await api.post(
            f"/connectors/{strict['id']}/draft/collection-read", json=body,
            headers=world.auth("a_admin"),
        )  # fmt: skip
        assert misfit.status_code == 200, misfit.text
        shown = misfit.json()
        assert len(shown["records"]) == 3 and shown["error"] is None
        assert shown["schema_mismatches"][0]["path"] == "page 1, record 1 (id 1), field 'score'"
        assert "is not of type 'string'" in shown["schema_mismatches"][0]["message"]


async def test_an_echoed_secret_is_redacted_in_every_page_shown(
    api: httpx.AsyncClient, world: World
) -> None:
    document: dict[str, Any] = read_connector_data(EXAMPLE)
    with serve(create_test_api(records=5, credentials=TestApiCredentials(api_key=CANARY))) as url:
        document["base_url"] = url
        document["operations"].append(
            {"operation": "echo_paged", "path": "/echo/paged",
             "pagination": {"type": "offset", "page_size": 5}}
        )  # fmt: skip
        connector = await create(api, world, "a_admin", document)
        run_url = f"/connectors/{connector['id']}/draft/run"
        body = {"operation": "echo_paged", "credentials": {"api_key": CANARY}, "all_pages": True}
        echoed = await api.post(run_url, json=body, headers=world.auth("a_admin"))
        assert echoed.status_code == 200, echoed.text
        page = echoed.json()["pages"][0]
        # The upstream echoed the key back in its body: what the page shows has it redacted.
        assert "x-api-key" in page["response"]["body"].lower()
        assert "offset=0" in page["request"]["url"]
        assert CANARY not in echoed.text
