"""What every auth handler offers the runtime, and the context it is built with."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectory.auth.secret_locations import SecretKeys, reads_secret
from connectory.http.redaction import Redactor
from connectory.http.reply import Reply
from connectory.http.request import PreparedRequest
from connectory.templating import compile_template

#: Sends a request as-is (no auth applied) through the resilience pipeline; used for token
#: and login requests. The flag says whether resending it after it may have arrived is safe.
Sender = Callable[[PreparedRequest, bool], Awaitable[Reply]]


@dataclass
class AuthContext:
    """What an auth handler needs from its connection.

    Attributes:
        variables: Template variables: ``credentials``, ``connector_parameters``, ``config``.
        base_url: The connector's rendered base URL (relative token/login URLs are joined to it).
        redactor: Learns every secret the handler renders or fetches.
        send: Sends token and login requests.
        clock: Monotonic seconds, injectable for tests.
        on_tokens: Called with new token values (e.g. a rotated refresh token) so the owner of
            the connection can store them; optional.
        secret_keys: The sensitive keys of each template root; a header, query parameter or
            body field whose template reads one is registered as a secret location.
    """

    variables: Mapping[str, Any]
    base_url: str
    redactor: Redactor
    send: Sender
    clock: Callable[[], float]
    on_tokens: Callable[[dict[str, str]], Awaitable[None]] | None = None
    secret_keys: SecretKeys = field(default_factory=dict)

    def reads_secret(self, template: str) -> bool:
        """True when *template* reads a sensitive credential or connector parameter."""
        return reads_secret(template, self.secret_keys)

    def render(self, template: str) -> str:
        """Render a spec template against the connection's variables."""
        return compile_template(template).render(self.variables)

    def render_secret(self, template: str) -> str:
        """Render a template whose result is secret, and remember it for redaction."""
        value = self.render(template)
        self.redactor.add(value)
        return value


class Authenticator(ABC):
    """Adds credentials to requests, and recovers from a 401 where the auth type can."""

    @abstractmethod
    async def apply(self, request: PreparedRequest) -> str | None:
        """Add credentials to *request*; return the token used, if any (see handle_unauthorized)."""

    async def handle_unauthorized(self, token: str | None) -> bool:
        """React to a 401 for a request sent with *token*; True means "send it again once"."""
        return False

    @property
    def refreshable(self) -> bool:
        """True when a 401 may be cured by fetching a new token."""
        return False
