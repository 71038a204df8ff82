"""The raw loop as a command-line program: the fair counterpart of ``connectory call``.

``python -m bench.raw_script BASE_URL PAGING SIZE`` reads every record with the same sync
httpx loop as ``bench.readers.raw_read`` and writes them as JSON Lines to stdout, one write per
page, as the CLI does; its last stderr line has the CLI's progress format so the runner counts
its records the same way. Timed like the CLI, from spawn to exit: Python's start-up, imports
and the output are part of both.
"""

from __future__ import annotations

import sys
from typing import Any

import httpx
import orjson

from bench.server import API_KEY

HEADERS = {"X-Api-Key": API_KEY, "Accept": "application/json"}


def main(base_url: str, paging: str, size: int) -> None:
    out = sys.stdout.buffer
    count = pages = 0
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=30) as client:
        path = "/items" if paging == "pages" else "/cursor/items"
        params: dict[str, Any] = (
            {"page": 1, "per_page": size} if paging == "pages" else {"limit": size}
        )
        while True:
            reply = client.get(path, params=params)
            reply.raise_for_status()
            body = orjson.loads(reply.content)
            records = body["data"]
            pages += 1
            count += len(records)
            if records:
                out.write(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
            if paging == "pages":
                if not records or count >= body["meta"]["total"]:
                    break
                params = {"page": params["page"] + 1, "per_page": size}
            else:
                cursor = body["next_cursor"]
                if not cursor or not records:
                    break
                params = {"cursor": cursor, "limit": size}
    out.flush()
    sys.stderr.write(f"{pages:,} page(s), {count:,} record(s)\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
