"""Recordings of a case's HTTP traffic, scrubbed of every known secret before they are written.

A recording (one JSON file per case) holds the moment it was made and each request with its
response, in order. Secrets never reach it:

- credentials and connector parameters marked sensitive become placeholders
  (``<credentials.api_key>``), wherever they appear: URL, query, headers, bodies, in plain,
  URL-encoded and Base64 forms;
- values a response hands out as tokens (``access_token``, ``refresh_token``, ``id_token``,
  ``token``, ``session``..., as token endpoints and login calls answer) become
  ``<token.access_token>`` in that response and in every request that carries them later;
- headers that carry credentials whole (``Authorization``, cookies, the connector's API-key
  header) are replaced by ``<redacted>``.

Replay gives the client the same placeholders as credentials, so the requests it sends are the
recorded ones, placeholders included, and match.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import orjson

from connectory.errors import InputError

REDACTED = "<redacted>"
FORMAT_VERSION = 1

#: Response fields whose values are secrets handed out by the API (tokens, sessions).
_TOKEN_KEY = re.compile(
    r"^(access_token|refresh_token|id_token|token|auth_token|session|session_id|sessionid|"
    r"session_token|api_key|apikey|secret|client_secret|password|jwt)$",
    re.IGNORECASE,
)
#: Headers that carry credentials whole.
_SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
#: Values shorter than this are scrubbed only where they are a whole string (a one-letter
#: "secret" would otherwise eat every letter of the recording).
_MIN_SUBSTRING = 6


class Scrubber:
    """Replaces secrets with placeholders in everything a recording holds.

    Args:
        secrets: Secret values and their placeholders.
        sensitive_header: Extra header names (lowercase test) to replace whole.
    """

    def __init__(
        self,
        secrets: Mapping[str, str] | None = None,
        sensitive_header: Callable[[str], bool] | None = None,
    ) -> None:
        self._secrets: dict[str, str] = {}
        self._sensitive_header = sensitive_header or (lambda _name: False)
        for value, placeholder in (secrets or {}).items():
            self.add(value, placeholder)

    @property
    def secrets(self) -> dict[str, str]:
        """Every secret value known, with its placeholder."""
        return dict(self._secrets)

    def add(self, value: str, placeholder: str) -> None:
        """Scrub *value* (and its encoded forms) as *placeholder* from now on."""
        if not isinstance(value, str) or not value or value in self._secrets:
            return
        if value.startswith("<") and value.endswith(">"):
            return  # already a placeholder (a recording replayed, then recorded)
        self._secrets[value] = placeholder
        for variant in (quote(value, safe=""), quote_plus(value)):
            if variant != value:
                self._secrets.setdefault(variant, quote(placeholder, safe=""))
        encoded = base64.b64encode(value.encode()).decode()
        if len(value) >= _MIN_SUBSTRING:
            self._secrets.setdefault(encoded, placeholder)

    def learn_tokens(self, data: Any) -> None:
        """Treat the token-like fields of a response body as secrets from now on."""
        for key, value in _token_fields(data):
            if isinstance(value, str) and value and value not in self._secrets:
                taken = set(self._secrets.values())
                name, number = f"<token.{key}>", 2
                while name in taken:
                    name, number = f"<token.{key}.{number}>", number + 1
                self.add(value, name)

    def text(self, text: str) -> str:
        """*text* with every secret replaced (longest first, so no secret leaves a part)."""
        if not text:
            return text
        if text in self._secrets:
            return self._secrets[text]
        for value in sorted(self._secrets, key=len, reverse=True):
            if len(value) >= _MIN_SUBSTRING and value in text:
                text = text.replace(value, self._secrets[value])
        return text

    def data(self, data: Any) -> Any:
        """Decoded JSON with secrets replaced in every string, keys included."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, list):
            return [self.data(item) for item in data]
        if isinstance(data, dict):
            return {self.text(str(key)): self.data(value) for key, value in data.items()}
        return data

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Headers with credential-carrying ones replaced whole and secrets scrubbed."""
        scrubbed: dict[str, str] = {}
        for name, value in headers:
            lower = name.lower()
            if lower in _SENSITIVE_HEADERS or self._sensitive_header(lower):
                scrubbed[lower] = REDACTED
            else:
                scrubbed[lower] = self.text(value)
        return scrubbed


def _token_fields(data: Any, depth: int = 0) -> Iterable[tuple[str, Any]]:
    if depth > 5:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and _TOKEN_KEY.match(key):
                yield key.lower(), value
            else:
                yield from _token_fields(value, depth + 1)
    elif isinstance(data, list):
        for item in data[:100]:
            yield from _token_fields(item, depth + 1)


@dataclass
class Interaction:
    """One request and its response, as recorded (scrubbed)."""

    method: str
    path: str
    query: list[tuple[str, str]]
    request_headers: dict[str, str]
    request_body: str | None
    status: int
    response_headers: dict[str, str]
    response_body: str
    response_base64: bool = False

    def to_json(self) -> dict[str, Any]:
        """The interaction as the recording stores it."""
        return {
            "request": {
                "method": self.method,
                "path": self.path,
                "query": [list(pair) for pair in self.query],
                "headers": self.request_headers,
                "body": self.request_body,
            },
            "response": {
                "status": self.status,
                "headers": self.response_headers,
                "body": self.response_body,
                "base64": self.response_base64,
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Interaction:
        """Read an interaction of a recording."""
        request, response = data["request"], data["response"]
        return cls(
            method=str(request["method"]),
            path=str(request["path"]),
            query=[(str(k), str(v)) for k, v in request.get("query", [])],
            request_headers=dict(request.get("headers", {})),
            request_body=request.get("body"),
            status=int(response["status"]),
            response_headers=dict(response.get("headers", {})),
            response_body=str(response.get("body", "")),
            response_base64=bool(response.get("base64", False)),
        )

    def response_content(self) -> bytes:
        """The recorded response body as bytes."""
        if self.response_base64:
            return base64.b64decode(self.response_body)
        return self.response_body.encode()


@dataclass
class Cassette:
    """A case's recording.

    Attributes:
        case: The case's name.
        recorded_at: When it was recorded (RFC 3339 UTC); replay's frozen clock starts there.
        credentials: The non-secret credential values it was recorded with (a token URL,
            a client id); secret ones are placeholders.
        interactions: The requests and responses, in order.
    """

    case: str
    recorded_at: str
    credentials: dict[str, Any] = field(default_factory=dict)
    connector_parameters: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    interactions: list[Interaction] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        """The recording's file content (stable, indented JSON)."""
        data = {
            "format": FORMAT_VERSION,
            "case": self.case,
            "recorded_at": self.recorded_at,
            "base_url": self.base_url,
            "credentials": self.credentials,
            "connector_parameters": self.connector_parameters,
            "interactions": [interaction.to_json() for interaction in self.interactions],
        }
        return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_bytes(cls, content: bytes, source: str) -> Cassette:
        """Read a recording.

        Raises:
            InputError: not a recording this version reads.
        """
        try:
            data = orjson.loads(content)
            if data.get("format") != FORMAT_VERSION:
                raise ValueError("format")
            return cls(
                case=str(data["case"]),
                recorded_at=str(data["recorded_at"]),
                base_url=data.get("base_url"),
                credentials=dict(data.get("credentials") or {}),
                connector_parameters=dict(data.get("connector_parameters") or {}),
                interactions=[Interaction.from_json(item) for item in data["interactions"]],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise InputError(
                f"{source} is not a recording this version of Connectory reads; record the "
                "case again with connectory test --record"
            ) from None

    @classmethod
    def load(cls, path: Path) -> Cassette:
        """Read the recording at *path*.

        Raises:
            InputError: missing or unreadable.
        """
        try:
            content = path.read_bytes()
        except OSError:
            raise InputError(
                f"no recording at {path}; record it with connectory test --record"
            ) from None
        return cls.from_bytes(content, str(path))
