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


# --- one run in this process -----------------------------------------------------------------

READERS: dict[str, Callable[..., Any]] = {
    "raw_read": raw_read,
    "raw_read_async": raw_read_async,
    "connectory_read": connectory_read,
    "raw_calls": raw_calls,
    "connectory_calls": connectory_calls,
    "collection_read": collection_read,
    "raw_concurrent": raw_concurrent,
    "connectory_concurrent": connectory_concurrent,
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
    if name.startswith(("connectory", "collection")):
        import connectory.collections
        import connectory.http.aiohttp_transport  # noqa: F401 - loaded as in a running service
        from connectory import load_connector

        kwargs = {**kwargs, "spec": load_connector(CONNECTOR)}
    cpu_before = time.process_time()
    started = time.perf_counter()
    if asyncio.iscoroutinefunction(function):
        count = asyncio.run(function(**kwargs))
    else:
        count = function(**kwargs)
    seconds = time.perf_counter() - started
    return {
        "count": count,
        "seconds": seconds,
        "cpu": time.process_time() - cpu_before,
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


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
