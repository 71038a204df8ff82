"""Several auth handlers applied together (``auth_type: combined``)."""

from __future__ import annotations

from connectory.auth.base import Authenticator
from connectory.http.request import PreparedRequest


class CombinedAuth(Authenticator):
    """Applies each part in order; a 401 is handed to the parts that can fetch a new token.

    Args:
        parts: The handlers of the combined block's schemes.
    """

    def __init__(self, parts: list[Authenticator]) -> None:
        self._parts = parts

    async def apply(self, request: PreparedRequest) -> str | None:
        """Apply every part; return the token of the first part that fetches tokens."""
        token: str | None = None
        for part in self._parts:
            used = await part.apply(request)
            if token is None and part.refreshable:
                token = used
        return token

    async def handle_unauthorized(self, token: str | None) -> bool:
        """Let each refreshable part react; send again when one got a new token."""
        retry = False
        for part in self._parts:
            if part.refreshable and await part.handle_unauthorized(token):
                retry = True
        return retry

    @property
    def refreshable(self) -> bool:
        """True when any part fetches tokens."""
        return any(part.refreshable for part in self._parts)
