"""The readers under test: hand-written httpx loops (the baseline) and Connectory.

Each reader makes exactly the same requests against bench/server.py and consumes every record,
so the server's request counter and the record count prove they did the same work. The raw
loops use orjson, the JSON library Connectory uses, so the comparison is of the framework,
not of the JSON parser.

Run one reader in a fresh process (``python -m bench.readers '<json>'``): it prints one JSON
line with its records, wall seconds, CPU seconds and peak RSS, so every run starts cold and
its memory is its own.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.server import API_KEY

CONNECTOR = Path(__file__).with_name("connector.yaml")
HEADERS = {"X-Api-Key": API_KEY, "Accept": "application/json"}
#: The pool Connectory's client uses; the raw concurrent loop gets the same, so the two differ
#: only in the framework, not in how many connections they keep.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100)


# --- paginated reads -------------------------------------------------------------------------


def raw_read(base_url: str, paging: str, size: int) -> int:
    """Read every record with a sync httpx loop; returns the record count."""
    count = 0
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=30) as client:
        if paging == "pages":
            page = 1
            while True:
                reply = client.get("/items", params={"page": page, "per_page": size})
                reply.raise_for_status()
                body = orjson.loads(reply.content)
                records = body["data"]
                for _record in records:
                    count += 1
                if not records or count >= body["meta"]["total"]:
                    return count
                page += 1
        params: dict[str, Any] = {"limit": size}
        while True:
            reply = client.get("/cursor/items", params=params)
            reply.raise_for_status()
            body = orjson.loads(reply.content)
            for _record in body["data"]:
                count += 1
            cursor = body["next_cursor"]
            if not cursor or not body["data"]:
                return count
            params = {"cursor": cursor, "limit": size}


async def raw_read_async(base_url: str, paging: str, size: int) -> int:
    """The same loop on httpx's async client (for reference: Connectory is async)."""
    count = 0
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS, timeout=30) as client:
        if paging == "pages":
            page = 1
            while True:
                reply = await client.get("/items", params={"page": page, "per_page": size})
                reply.raise_for_status()
                body = orjson.loads(reply.content)
                records = body["data"]
                for _record in records:
                    count += 1
                if not records or count >= body["meta"]["total"]:
                    return count
                page += 1
        params: dict[str, Any] = {"limit": size}
        while True:
            reply = await client.get("/cursor/items", params=params)
            reply.raise_for_status()
            body = orjson.loads(reply.content)
            for _record in body["data"]:
                count += 1
            cursor = body["next_cursor"]
            if not cursor or not body["data"]:
                return count
            params = {"cursor": cursor, "limit": size}


async def connectory_read(base_url: str, paging: str, size: int, spec: Any) -> int:
    """Read every record through ConnectorClient.iter_records."""
    from connectory import ConnectorClient

    count = 0
    async with ConnectorClient(spec, credentials={"api_key": API_KEY}, base_url=base_url) as client:
        async for _record in client.iter_records(f"{paging}_{size}"):
            count += 1
    return count


async def collection_read(base_url: str, paging: str, size: int, spec: Any) -> int:
    """Read every record through a collection's list() over the same operation."""
    from connectory import ConnectorClient

    count = 0
    async with ConnectorClient(spec, credentials={"api_key": API_KEY}, base_url=base_url) as client:
        async for _record in client.collection(f"{paging}_{size}").list():
            count += 1
    return count


async def collection_read_unchecked(base_url: str, paging: str, size: int, spec: Any) -> int:
    """collection_read without the per-page fields check (``response_validation="off"``)."""
    from connectory import ConnectorClient

    count = 0
    async with ConnectorClient(
        spec, credentials={"api_key": API_KEY}, base_url=base_url, response_validation="off"
    ) as client:
        async for _record in client.collection(f"{paging}_{size}").list():
            count += 1
    return count


# --- single-operation calls ------------------------------------------------------------------


def raw_calls(base_url: str, calls: int, records: int) -> int:
    """*calls* sequential GET /items/{id} with a sync httpx client; returns the calls made."""
    done = 0
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=30) as client:
        for n in range(calls):
            reply = client.get(f"/items/{n % records + 1}")
            reply.raise_for_status()
            orjson.loads(reply.content)
            done += 1
    return done


async def connectory_calls(base_url: str, calls: int, records: int, spec: Any) -> int:
    """*calls* sequential ConnectorClient.call with auth, schema check and resilience."""
    from connectory import ConnectorClient

    done = 0
    async with ConnectorClient(spec, credentials={"api_key": API_KEY}, base_url=base_url) as client:
        for n in range(calls):
            result = await client.call("get_item", {"id": n % records + 1})
            if result.schema_mismatches:
                raise AssertionError(f"schema mismatch: {result.schema_mismatches}")
            done += 1
    return done


async def raw_concurrent(base_url: str, calls: int, records: int, callers: int) -> int:
    """*calls* GET /items/{id} from *callers* tasks sharing one httpx.AsyncClient."""
    done = 0
    numbers = iter(range(calls))

    async with httpx.AsyncClient(
        base_url=base_url, headers=HEADERS, timeout=30, limits=LIMITS
    ) as client:

        async def caller() -> None:
            nonlocal done
            for n in numbers:
                reply = await client.get(f"/items/{n % records + 1}")
                reply.raise_for_status()
                orjson.loads(reply.content)
                done += 1

        await asyncio.gather(*(caller() for _ in range(callers)))
    return done


async def raw_concurrent_aiohttp(base_url: str, calls: int, records: int, callers: int) -> int:
    """*calls* GET /items/{id} from *callers* tasks sharing one aiohttp session.

    The strongest plain baseline for concurrent calls: aiohttp is the wire Connectory's pooled
    transport runs on, without httpx's request and response objects around it. Same pool size
    as the other readers (100 connections), same checks (status, JSON body).
    """
    import aiohttp

    done = 0
    numbers = iter(range(calls))
    connector = aiohttp.TCPConnector(limit=LIMITS.max_connections or 100)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        base_url=base_url, headers=HEADERS, connector=connector, timeout=timeout
    ) as session:

        async def caller() -> None:
            nonlocal done
            for n in numbers:
                async with session.get(f"/items/{n % records + 1}") as reply:
                    reply.raise_for_status()
                    orjson.loads(await reply.read())
                done += 1

        await asyncio.gather(*(caller() for _ in range(callers)))
    return done


async def connectory_concurrent(
    base_url: str, calls: int, records: int, callers: int, spec: Any
) -> int:
    """*calls* ConnectorClient.call from *callers* tasks sharing one client (one connection)."""
    from connectory import ConnectorClient

    done = 0
    numbers = iter(range(calls))
    async with ConnectorClient(spec, credentials={"api_key": API_KEY}, base_url=base_url) as client:

        async def caller() -> None:
            nonlocal done
            for n in numbers:
                result = await client.call("get_item", {"id": n % records + 1})
                if result.schema_mismatches:
                    raise AssertionError(f"schema mismatch: {result.schema_mismatches}")
                done += 1

        await asyncio.gather(*(caller() for _ in range(callers)))
    return done


# --- JavaScript: a trivial pre-request hook, and a method making the call ----------------------

#: The cheapest useful hook: one header. What it costs is the engine's per-call overhead.
TRIVIAL_HOOK = "export default function (ctx) {\n  ctx.request.headers['X-Hooked'] = '1';\n}\n"
#: A method making the same request as get_item, through ctx.apiClient (the runtime).
GET_ITEM_METHOD = (
    "export default async function (ctx) {\n"
    "  return await ctx.apiClient.get(`/items/${ctx.parameters.id}`);\n"
    "}\n"
)


def javascript_spec(spec: Any, hook: bool) -> Any:
    """*spec* with the trivial hook (when *hook*) and a get_item_js method operation."""
    from connectory.spec import ConnectorSpec

    data = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if hook:
        data["hooks"] = {"pre_request": ["hooks/trivial.js"]}
    get_item = next(op for op in data["operations"] if op["name"] == "get_item")
    data["operations"].append(
        {
            "name": "get_item_js",
            "implementation": "javascript",
            "code": "methods/get_item.js",
            "parameters": [{"name": "id", "type": "integer", "required": True}],
            "response_schema": get_item["response_schema"],
        }
    )
    files = {"hooks/trivial.js": TRIVIAL_HOOK, "methods/get_item.js": GET_ITEM_METHOD}
    return ConnectorSpec.model_validate(data).with_code_files(files)


async def warm_engine(spec: Any, isolation: str) -> Any:
    """An engine with the connector's instance loaded, as a running service has it."""
    from connectory.http.redaction import Redactor
    from connectory.js import JsEngine, RunRequest, build_bundle
    from connectory.spec.code import CodeRefSpec

    engine = JsEngine(isolation=isolation)  # type: ignore[arg-type]
    request = {"method": "GET", "url": "/", "path": "/", "query": {}, "headers": {}, "body": None}
    await engine.run(
        build_bundle(spec),
        RunRequest(CodeRefSpec(file="hooks/trivial.js"), "pre", {"request": request}),
        settings=spec.javascript,
        tenant="local",
        redactor=Redactor(),
    )
    return engine


async def connectory_javascript_calls(
    base_url: str, calls: int, records: int, spec: Any, engine: Any, operation: str
) -> int:
    """*calls* sequential calls of *operation* on a client whose connector has code."""
    from connectory import ConnectorClient

    done = 0
    async with ConnectorClient(
        spec, credentials={"api_key": API_KEY}, base_url=base_url, js_engine=engine
    ) as client:
        for n in range(calls):
            result = await client.call(operation, {"id": n % records + 1})
            if result.schema_mismatches:
                raise AssertionError(f"schema mismatch: {result.schema_mismatches}")
            done += 1
    return done


async def prepare_javascript(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Before the clock: the connector with code, and a warm engine (instance loaded)."""
    kwargs = dict(kwargs)
    spec = javascript_spec(kwargs["spec"], hook=kwargs.pop("hook"))
    engine = await warm_engine(spec, kwargs.pop("isolation"))
    return {**kwargs, "spec": spec, "engine": engine}


# --- one run in this process -----------------------------------------------------------------

READERS: dict[str, Callable[..., Any]] = {
    "raw_read": raw_read,
    "raw_read_async": raw_read_async,
    "connectory_read": connectory_read,
    "raw_calls": raw_calls,
    "connectory_calls": connectory_calls,
    "collection_read": collection_read,
    "collection_read_unchecked": collection_read_unchecked,
    "raw_concurrent": raw_concurrent,
    "raw_concurrent_aiohttp": raw_concurrent_aiohttp,
    "connectory_concurrent": connectory_concurrent,
    "connectory_javascript_calls": connectory_javascript_calls,
}
#: Work done before the clock starts (in the reader's event loop), by reader.
PREPARE: dict[str, Callable[[dict[str, Any]], Any]] = {
    "connectory_javascript_calls": prepare_javascript,
}


def run_reader(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run reader *name* once and measure it (wall and CPU seconds, peak RSS of this process).

    Connectory is imported and the connector loaded before the clock starts, as a service
    would have done long before a sync: start-up is measured on its own (through the CLI).
    That includes the pooled wire (aiohttp): a service loads it with its first busy client
    and every later client uses it from its first request (see connectory/http/transport.py);
    the CLI readers show the cold path. The client is created inside the timed part, like the
    raw loop's httpx client.
    """
    function = READERS[name]
    if name == "raw_concurrent_aiohttp":
        import aiohttp  # noqa: F401 - imported before the clock, as Connectory's wire is
    if name.startswith(("connectory", "collection")):
        import connectory.collections
        import connectory.http.aiohttp_transport  # noqa: F401 - loaded as in a running service
        from connectory import load_connector

        kwargs = {**kwargs, "spec": load_connector(CONNECTOR)}
    if asyncio.iscoroutinefunction(function):
        count, seconds, cpu = asyncio.run(_timed(name, function, kwargs))
    else:
        cpu_before = time.process_time()
        started = time.perf_counter()
        count = function(**kwargs)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
    return {
        "count": count,
        "seconds": seconds,
        "cpu": cpu,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def _timed(
    name: str, function: Callable[..., Any], kwargs: dict[str, Any]
) -> tuple[int, float, float]:
    prepare = PREPARE.get(name)
    if prepare is not None:
        kwargs = await prepare(kwargs)
    cpu_before = time.process_time()
    started = time.perf_counter()
    count = await function(**kwargs)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    engine = kwargs.get("engine")
    if engine is not None:
        await engine.aclose()
    return count, seconds, cpu


def main() -> None:
    request = orjson.loads(sys.argv[1])
    profile = request.pop("profile", None)
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
        result = run_reader(request["reader"], request["kwargs"])
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    else:
        result = run_reader(request["reader"], request["kwargs"])
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
