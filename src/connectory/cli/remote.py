"""A small client of the management API for commands that talk to a running server.

The token goes in the ``Authorization`` header and nowhere else: it is never printed, and
error messages name the server, not the credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from connectory.cli.remote_call import DEFAULT_SERVER
from connectory.errors import ConnectoryError, InvalidRequest, NotAuthenticated, TransportError
from connectory.remote import error_from_response

__all__ = ["DEFAULT_SERVER", "RemoteApi"]


class RemoteApi:
    """The management API of one server, reached with one token.

    Args:
        server: Base URL, e.g. ``http://127.0.0.1:8000``.
        token: An API token (``cty_...``).
        timeout: Seconds to wait for an answer.
        transport: An httpx transport (tests may pass one).

    Raises:
        InvalidRequest: the server URL is not an http(s) URL.
        NotAuthenticated: no token was given.
    """

    def __init__(
        self,
        server: str,
        token: str | None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidRequest(
                f"--server must be an http(s) URL such as {DEFAULT_SERVER}, not {server[:80]!r}"
            )
        if not token:
            raise NotAuthenticated(
                "no API token: set CONNECTORY_TOKEN (or pass --token) to a token of the server"
            )
        self.server = server.rstrip("/")
        self._client = httpx.Client(
            base_url=self.server,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "connectory-cli"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> RemoteApi:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection to the server."""
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request; return the response when it succeeded.

        Raises:
            ConnectoryError: the server's error as its class (NotFound, Conflict, SpecError
                with every problem of a connector...).
            TransportError: the server could not be reached.
        """
        try:
            response = self._client.request(
                method, path, params=params, json=json, content=content, headers=headers
            )
        except httpx.TimeoutException:
            raise TransportError(f"the server at {self.server} did not answer in time") from None
        except httpx.HTTPError as error:
            raise TransportError(
                f"cannot reach the server at {self.server} ({type(error).__name__}); is it "
                "running, and is --server (CONNECTORY_URL) right?"
            ) from None
        if response.is_success:
            return response
        raise _error(response, self.server)

    def get_json(self, path: str, **params: Any) -> Any:
        """GET *path* and return its JSON body."""
        return self.request("GET", path, params=params or None).json()


def _error(response: httpx.Response, server: str) -> ConnectoryError:
    if response.status_code == 401:
        return NotAuthenticated(
            f"the server at {server} refused the token (unknown, revoked or expired); "
            "check CONNECTORY_TOKEN or --token"
        )
    return error_from_response(response)
