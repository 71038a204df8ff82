"""A connection's call log, health history and /metrics through the API (SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectory.api import create_app
from connectory.observability.spans import RecordedTracing
from connectory.settings import Settings
from connectory.testing import create_test_api, serve
from testkit.otlp_sink import OtlpSink
from testkit.spans import MemorySpans

from .crm_support import API_KEY, connect, document_on
from .gated_upstream import GatedUpstream, gated_document
from .support import World, insert_published_connector


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serve(create_test_api(records=300)) as url:
        yield url


async def test_every_call_is_an_entry_its_response_names(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    cid = await connect(api, world, settings, document_on(upstream))
    viewer = world.auth("a_viewer")
    answered = await api.post(
        f"/connections/{cid}/operations/get_item", json={"params": {"id": 7}}, headers=viewer
    )
    assert answered.status_code == 200, answered.text
    call_id = answered.headers["X-Connectory-Call-Id"]
    assert answered.headers["X-Request-Id"]
    entry = (await api.get(f"/connections/{cid}/calls/{call_id}", headers=viewer)).json()
    assert (entry["kind"], entry["operation"], entry["status"], entry["status_code"]) == (
        "operation",
        "get_item",
        "ok",
        200,
    )
    assert entry["attempts"] == 1 and entry["duration_ms"] >= 0
    assert entry["request_excerpt"].startswith(f"GET {upstream}/items/7")
    assert "X-API-Key: [REDACTED]" in entry["request_excerpt"]
    assert entry["response_excerpt"].startswith("200\n")
    assert API_KEY not in entry["request_excerpt"] + entry["response_excerpt"]
    # An id the caller sends is kept as the request id.
    named = await api.post(
        f"/connections/{cid}/operations/get_item",
        json={"params": {"id": 8}},
        headers={**viewer, "X-Request-Id": "trace-me-42"},
    )
    assert named.headers["X-Request-Id"] == "trace-me-42"
    hostile = await api.get("/me", headers={**viewer, "X-Request-Id": "a\tb" * 50})
    assert hostile.headers["X-Request-Id"] != "a\tb" * 50


async def test_tests_streams_errors_and_collection_methods_are_logged(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    cid = await connect(api, world, settings, document_on(upstream))
    admin = world.auth("a_admin")
    base = f"/connections/{cid}"
    tested = await api.post(f"{base}/test", headers=admin)
    failed = await api.post(
        f"{base}/operations/get_status", json={"params": {"code": 500}}, headers=admin
    )
    streamed = await api.post(
        f"{base}/operations/list_page_items?all_pages=true&max_pages=3", headers=admin
    )
    found = await api.get(f"{base}/collections/contacts/records/1", headers=admin)
    missing = await api.get(f"{base}/collections/contacts/records/999999", headers=admin)
    listed = await api.get(f"{base}/collections/contacts/records?all=true", headers=admin)
    responses = (tested, failed, streamed, found, missing, listed)
    ids = [response.headers["X-Connectory-Call-Id"] for response in responses]
    assert len(set(ids)) == 6
    page = (await api.get(f"{base}/calls?limit=50", headers=admin)).json()
    entries = {item["id"]: item for item in page["items"]}
    assert page["dropped"] == 0
    test, error, stream, get, absent, listing = (entries[i] for i in ids)
    assert (test["kind"], test["status"]) == ("test", "ok")
    assert (error["kind"], error["status"], error["status_code"]) == ("operation", "error", 500)
    assert (stream["kind"], stream["operation"], stream["status"]) == (
        "stream",
        "list_page_items",
        "ok",
    )
    assert stream["attempts"] == 3  # one per page
    assert (get["kind"], get["operation"], get["status"]) == (
        "collection",
        "contacts.find_by_id",
        "ok",
    )
    assert (absent["status"], absent["error_class"], absent["status_code"]) == (
        "error",
        "RecordNotFound",
        404,
    )
    assert (listing["kind"], listing["operation"]) == ("collection", "contacts.list")
    assert "request_excerpt" in test and test["request_excerpt"] is None  # only when asked
    errors = (await api.get(f"{base}/calls?status=error", headers=admin)).json()["items"]
    assert {item["id"] for item in errors} == {ids[1], ids[4]}
    only_tests = (await api.get(f"{base}/calls?kind=test", headers=admin)).json()["items"]
    assert [item["id"] for item in only_tests] == [ids[0]]
    with_excerpts = (await api.get(f"{base}/calls?excerpts=true&limit=1", headers=admin)).json()
    assert with_excerpts["items"][0]["response_excerpt"]


async def test_paging_following_and_bad_queries(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    cid = await connect(api, world, settings, document_on(upstream))
    admin = world.auth("a_admin")
    made = []
    for number in range(5):
        response = await api.post(
            f"/connections/{cid}/operations/get_item",
            json={"params": {"id": number + 1}},
            headers=admin,
        )
        made.append(response.headers["X-Connectory-Call-Id"])
    first = (await api.get(f"/connections/{cid}/calls?limit=2", headers=admin)).json()
    second = (
        await api.get(
            f"/connections/{cid}/calls?limit=2&cursor={first['next_cursor']}", headers=admin
        )
    ).json()
    third = (
        await api.get(
            f"/connections/{cid}/calls?limit=2&cursor={second['next_cursor']}", headers=admin
        )
    ).json()
    seen = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert seen == list(reversed(made)) and third["next_cursor"] is None
    oldest_seq = third["items"][-1]["seq"]
    following = (
        await api.get(f"/connections/{cid}/calls?after={oldest_seq}", headers=admin)
    ).json()
    assert [item["id"] for item in following["items"]] == made[1:]
    for query in ("cursor=abc", "after=-3", "kind=everything", "status=fine", "limit=0"):
        bad = await api.get(f"/connections/{cid}/calls?{query}", headers=admin)
        assert bad.status_code == 422, (query, bad.text)
        assert bad.json()["code"] in ("invalid_request", "validation_error"), bad.text
    unknown = await api.get(f"/connections/{cid}/calls/{'0' * 32}", headers=admin)
    assert unknown.status_code == 404


async def test_another_enterprise_cannot_read_the_log(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    cid = await connect(api, world, settings, document_on(upstream))
    response = await api.post(
        f"/connections/{cid}/operations/get_item",
        json={"params": {"id": 1}},
        headers=world.auth("a_admin"),
    )
    call_id = response.headers["X-Connectory-Call-Id"]
    for user in ("b_admin", "b_viewer", "platform"):
        for path in ("calls", f"calls/{call_id}", "health-history"):
            refused = await api.get(f"/connections/{cid}/{path}", headers=world.auth(user))
            assert refused.status_code == 404, (user, path)
    assert (await api.get(f"/connections/{cid}/calls")).status_code == 401


@pytest.fixture
async def gated() -> AsyncIterator[GatedUpstream]:
    async with GatedUpstream() as server:
        yield server


async def test_health_history_keeps_each_change_with_its_reason(
    api: httpx.AsyncClient, world: World, settings: Settings, gated: GatedUpstream
) -> None:
    connector_id = await insert_published_connector(
        settings.database_url, gated_document(gated.url, circuit_breaker_threshold=1)
    )
    created = await api.post(
        "/connections",
        json={"connector_id": connector_id, "name": "g", "credentials": {"api_key": "k"}},
        headers=world.auth("a_admin"),
    )
    cid = created.json()["id"]
    viewer = world.auth("a_viewer")
    await api.post(f"/connections/{cid}/operations/fast", headers=viewer)  # unknown -> healthy
    await api.post(f"/connections/{cid}/operations/fast", headers=viewer)  # no change
    await api.post(f"/connections/{cid}/operations/fail", headers=viewer)  # -> degraded
    history = (await api.get(f"/connections/{cid}/health-history", headers=viewer)).json()
    changes = [(item["previous"], item["health"]) for item in history["items"]]
    assert changes == [("healthy", "degraded"), ("unknown", "healthy")]
    assert "503" in history["items"][0]["detail"] and history["items"][0]["at"]
    paged = (await api.get(f"/connections/{cid}/health-history?limit=1", headers=viewer)).json()
    rest = (
        await api.get(
            f"/connections/{cid}/health-history?limit=1&cursor={paged['next_cursor']}",
            headers=viewer,
        )
    ).json()
    assert [paged["items"][0]["health"], rest["items"][0]["health"]] == ["degraded", "healthy"]


async def test_metrics_need_a_token_off_loopback(
    api: httpx.AsyncClient, world: World, settings: Settings, upstream: str
) -> None:
    # The test transport's server address is "testserver": not loopback, no token configured.
    refused = await api.get("/metrics")
    assert refused.status_code == 403
    assert "CONNECTORY_METRICS_TOKEN" in refused.json()["detail"]


async def serve_app(settings: Settings, **options: Any) -> tuple[Any, list[str]]:
    tokens: list[str] = []
    app = create_app(settings, on_first_admin_token=tokens.append, **options)
    return app, tokens


async def test_metrics_count_calls_by_connector_id(
    world: World, settings: Settings, upstream: str, api: httpx.AsyncClient
) -> None:
    cid = await connect(api, world, settings, document_on(upstream, slug="metered-api"))
    token_settings = settings.model_copy(update={"metrics_token": SecretStr("scrape-me-123")})
    loopback = settings.model_copy(update={"bind_host": "127.0.0.1"})
    for variant, headers, expected in (
        (token_settings, {}, 401),
        (token_settings, {"Authorization": "Bearer wrong"}, 401),
        (token_settings, {"Authorization": "Bearer scrape-me-123"}, 200),
        (loopback, {}, 200),
        (settings.model_copy(update={"metrics": False}), {}, 404),
    ):
        app, _ = await serve_app(variant)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                await client.post(
                    f"/connections/{cid}/operations/get_item",
                    json={"params": {"id": 1}},
                    headers=world.auth("a_viewer"),
                )
                scraped = await client.get("/metrics", headers=headers)
        assert scraped.status_code == expected, (variant.bind_host, headers, scraped.text)
        if expected != 200:
            continue
        text = scraped.text
        connector_id = (await api.get(f"/connections/{cid}", headers=world.auth("a_admin"))).json()[
            "connector"
        ]["id"]
        assert (
            f'connectory_calls_total{{connector="{connector_id}",kind="operation",'
            'operation="get_item",outcome="ok"} 1.0'
        ) in text
        assert "metered-api" not in text and cid not in text  # ids, never names or connections
        assert "connectory_call_duration_seconds_bucket" in text


async def test_traces_one_span_per_call_and_the_trace_id_on_the_response(
    world: World, settings: Settings, upstream: str, api: httpx.AsyncClient
) -> None:
    cid = await connect(api, world, settings, document_on(upstream))
    memory = MemorySpans()
    app, _ = await serve_app(settings, tracer_provider=memory.provider)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                f"/connections/{cid}/operations/echo_headers",
                json={"params": {"X-Request-Id": "r"}},
                headers=world.auth("a_viewer"),
            )
            entry = (
                await client.get(
                    f"/connections/{cid}/calls/{response.headers['X-Connectory-Call-Id']}",
                    headers=world.auth("a_viewer"),
                )
            ).json()
    trace_id = response.headers["X-Connectory-Trace-Id"]
    assert entry["trace_id"] == trace_id
    spans = [s for s in memory.finished() if format(s.context.trace_id, "032x") == trace_id]
    assert sorted(span.name for span in spans) == ["GET", "operation echo_headers"]
    # The connector did not ask for it: the upstream saw no trace context.
    echoed = response.json()["body"]["headers"]
    assert "traceparent" not in {name.lower() for name in echoed}


async def test_the_servers_own_tracing_exports_the_call_under_the_responses_trace_id(
    world: World,
    settings: Settings,
    upstream: str,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    otlp_sink: OtlpSink,
) -> None:
    cid = await connect(api, world, settings, document_on(upstream))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_sink.url)
    for name in ("OTEL_TRACES_SAMPLER", "OTEL_TRACES_EXPORTER"):
        monkeypatch.delenv(name, raising=False)
    app, _ = await serve_app(settings.model_copy(update={"tracing": True}))
    async with app.router.lifespan_context(app):
        # Configured from OTEL_*, no provider passed in: Connectory's span recorder.
        assert isinstance(app.state.telemetry.tracing, RecordedTracing)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                f"/connections/{cid}/operations/get_item",
                json={"params": {"id": 3}},
                headers=world.auth("a_viewer"),
            )
    # The lifespan's end flushed the queue.
    spans = otlp_sink.spans()
    trace_id = response.headers["X-Connectory-Trace-Id"]
    mine = [span for span in spans if span.trace_id.hex() == trace_id]
    by_name = {span.name: span for span in mine}
    assert sorted(by_name) == ["GET", "operation get_item"]
    call, attempt = by_name["operation get_item"], by_name["GET"]
    assert attempt.parent_span_id == call.span_id and not call.parent_span_id
    attributes = {kv.key: kv.value for kv in call.attributes}
    assert attributes["connectory.call_id"].string_value == response.headers["X-Connectory-Call-Id"]
    assert attributes["connectory.connection_id"].string_value == cid
    # The URL in the span is the redacted one: the API key never leaves in a span.
    assert API_KEY not in b"".join(otlp_sink.bodies).decode("utf-8", "replace")
