"""uvicorn's httptools protocol with a request-head limit, like the one h11 has.

The server bounds how much of a request's head (request line and headers) it reads before the
app sees it (``Settings.max_head_bytes``; see :mod:`connectory.api.limits`). h11 enforces it
itself (``h11_max_incomplete_event_size``). httptools (llhttp, in C, several times faster per
request) has no such setting, and httptools buffers a header it has not finished reading, so
without a limit a client could make the server hold an endless header. :class:`HeadLimitedHttpTools`
counts the bytes received while a head is being read and answers as uvicorn's h11 protocol does
when the limit is passed: ``400 Invalid HTTP request received.``, connection closed.

This module imports httptools: import it only when it is installed
(:func:`connectory.api.limits.server_options` checks).
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

#: h11's default, used when the config sets none.
DEFAULT_MAX_HEAD_BYTES = 16 * 1024
#: The longest URL ``httptools.parse_url`` accepts.
PARSE_URL_MAX_BYTES = 65535


class HeadLimitedHttpTools(HttpToolsProtocol):
    """httptools, refusing a request head over ``config.h11_max_incomplete_event_size`` bytes."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limit = config.h11_max_incomplete_event_size
        self.max_head_bytes = limit if limit is not None else DEFAULT_MAX_HEAD_BYTES
        # Between requests and while a head arrives: counting. While a body arrives: not.
        self._reading_head = True
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        """Feed the parser; refuse the request once its unfinished head passes the limit."""
        if self._reading_head:
            # A chunk that ends one request's body and starts the next head is not counted:
            # the count is short by at most one read, far below any limit that matters.
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            self._reading_head
            and self._head_bytes > self.max_head_bytes
            and self.transport is not None
            and not self.transport.is_closing()
        ):
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)

    def on_headers_complete(self) -> None:
        """The head is whole: stop counting until this request's body has been read."""
        self._reading_head = False
        self._head_bytes = 0
        url = self.url
        if len(url) <= PARSE_URL_MAX_BYTES:
            super().on_headers_complete()
            return
        # httptools.parse_url refuses URLs over 64 KiB (its offsets are 16-bit): uvicorn would
        # answer 400 and close, where the app answers a long URL with its clear 414 (h11 has
        # no such limit). Such a URL is split here; the scope is completed before the
        # request's task first runs.
        self.url = b"/"
        try:
            super().on_headers_complete()
        finally:
            self.url = url
        if "path" in self.scope:  # not an upgrade
            raw_path, query = _split_target(url)
            path = raw_path.decode("ascii", "replace")
            if "%" in path:
                path = urllib.parse.unquote(path)
            self.scope["path"] = self.root_path + path
            self.scope["raw_path"] = self.root_path.encode("ascii") + raw_path
            self.scope["query_string"] = query

    def on_message_complete(self) -> None:
        """The request is read: the next bytes are the next request's head."""
        super().on_message_complete()
        self._reading_head = True
        self._head_bytes = 0


def _split_target(target: bytes) -> tuple[bytes, bytes]:
    """Path and query of a request target (origin form, or absolute form's path and query)."""
    if not target.startswith(b"/"):
        scheme_end = target.find(b"://")
        if scheme_end >= 0:
            start = target.find(b"/", scheme_end + 3)
            target = target[start:] if start >= 0 else b"/"
    target = target.split(b"#", 1)[0]
    path, _, query = target.partition(b"?")
    return path, query
