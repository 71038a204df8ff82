"""``connectory call --all-pages``: write every record as JSON Lines, with progress on stderr.

The read is paced by the runtime (:mod:`connectory.runtime.pacing`); this module only shows
it: the progress line says ``waiting 58.2 s (rate limit)`` while the read waits for a slot.
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any

import orjson

from connectory.cli.output import ProgressLine

#: One JSON Lines line: the record and its newline.
_LINE = orjson.OPT_APPEND_NEWLINE

if TYPE_CHECKING:
    from connectory.resilience import ResilienceEvent
    from connectory.runtime import ConnectorClient


async def write_records(
    client: ConnectorClient,
    operation: str,
    params: dict[str, Any],
    max_pages: int | None,
    *,
    out: IO[bytes] | None = None,
    progress: ProgressLine | None = None,
) -> None:
    """Read *operation* page by page and write its records to *out* (stdout) as JSON Lines.

    Args:
        client: The connection; it is closed when the read ends.
        operation: The operation's name.
        params: Its parameters.
        max_pages: Stop after this many pages.
        out: Where the records go; stdout's buffer by default.
        progress: Where progress and pauses are shown; stderr by default.
    """
    from connectory.resilience import Waiting

    progress = progress or ProgressLine()
    out = out or sys.stdout.buffer
    pages = records = 0

    def show_pauses(event: ResilienceEvent) -> None:
        if isinstance(event, Waiting):
            progress.waiting(event.seconds, event.cause)

    async with client:
        read = client.iter_pages(operation, params, max_pages=max_pages, observer=show_pauses)
        async for page in read:
            pages = page.number
            records = page.records_so_far
            if page.records:
                # One write per page: encoding record by record but writing in bulk keeps the
                # CLI close to the speed of the runtime itself. orjson ends each line itself,
                # so the page's bytes are joined once and not copied again for the last newline.
                out.write(b"".join([orjson.dumps(r, option=_LINE) for r in page.records]))
            progress.update(pages, records)
            del page  # not held while the next page is fetched
    out.flush()
    progress.finish(pages, records)
