"""Keeping secrets out of logs, errors and responses.

A :class:`Redactor` knows the secret values of one connection (sensitive credentials, connector
parameters, tokens fetched at run time) and replaces each occurrence, also in its URL-encoded
and base64 forms, with ``[REDACTED]``. Header and query-parameter names that conventionally
carry secrets are redacted whatever their value.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[REDACTED]"

#: Values shorter than this are not redacted as free text: replacing every "a" in a message
#: would destroy it while protecting nothing. Such values are still dropped from headers.
MIN_SECRET_LENGTH = 4

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-access-token",
    }
)

_SENSITIVE_NAME = re.compile(
    r"(?i)(^|[_\-.])(api[_\-]?key|apikey|key|token|access[_\-]?token|refresh[_\-]?token|"
    r"secret|client[_\-]?secret|password|passwd|pwd|signature|sig|auth|session)($|[_\-.])"
)


def is_sensitive_name(name: str) -> bool:
    """Return True for names like ``api_key``, ``X-Auth-Token`` or ``client_secret``."""
    return name.lower() in SENSITIVE_HEADERS or bool(_SENSITIVE_NAME.search(name))


class Redactor:
    """Replaces known secret values (and values of sensitive names) with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str] = (), sensitive_names: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._names = {name.lower() for name in sensitive_names}
        self._pattern: re.Pattern[str] | None = None
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Remember more secret values (for instance a token fetched at run time)."""
        added = False
        for secret in secrets:
            if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
                continue
            for form in _encoded_forms(secret):
                if form not in self._secrets:
                    self._secrets.add(form)
                    added = True
        if added:
            # Longest first, so a secret that contains another is replaced whole.
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def add_sensitive_name(self, name: str) -> None:
        """Treat header or query parameter *name* as sensitive whatever its value."""
        self._names.add(name.lower())

    def is_sensitive(self, name: str) -> bool:
        """Return True when a header or parameter called *name* must be redacted."""
        return name.lower() in self._names or is_sensitive_name(name)

    def redact(self, text: str) -> str:
        """Return *text* with every known secret replaced."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def contains_secret(self, text: str | bytes) -> bool:
        """True when *text* holds any known secret (one scan; cheap pre-check for large data)."""
        if self._pattern is None:
            return False
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return self._pattern.search(text) is not None

    def redact_data(self, data: Any) -> Any:
        """Return *data* (decoded JSON) with secrets replaced in every string, keys included.

        Upstreams echo what they receive (an echo endpoint, a login response, an error that
        quotes the request): what the server hands on must not carry the connection's secrets.
        """
        if self._pattern is None:
            return data
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, list):
            return [self.redact_data(item) for item in data]
        if isinstance(data, dict):
            return {self.redact(str(k)): self.redact_data(v) for k, v in data.items()}
        return data

    def redact_url(self, url: str) -> str:
        """Return *url* with secret values and sensitive query parameters replaced."""
        base, sep, query = url.partition("?")
        if sep:
            parts = []
            for pair in query.split("&"):
                name, eq, _value = pair.partition("=")
                parts.append(f"{name}={REDACTED}" if eq and self.is_sensitive(name) else pair)
            url = base + "?" + "&".join(parts)
        return self.redact(url)

    def redact_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Return a copy of *headers* with sensitive headers and secret values replaced."""
        return {
            name: REDACTED if self.is_sensitive(name) else self.redact(value)
            for name, value in headers.items()
        }


_URL_IN_TEXT = re.compile(r"https?://[^\s\"'<>]+")


class RedactingLogFilter(logging.Filter):
    """Redacts a connection's secrets from the records of a logger the runtime does not own.

    httpx logs every request's full URL at INFO, so an API key sent in the query string would
    reach any application that logs at INFO. With a *redactor* the filter redacts with it;
    without one it redacts with the redactor of the connection whose request is being sent
    (see :func:`redacting_logs`), so one filter serves every connection of the process: a
    server holding thousands of connections does not stack thousands of filters.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with secrets and sensitive query values replaced."""
        redactor = self._redactor or _SENDING_FOR.get()
        if redactor is None:
            return True
        message = record.getMessage()
        cleaned = redactor.redact(
            _URL_IN_TEXT.sub(lambda match: redactor.redact_url(match.group()), message)
        )
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


#: The redactor of the connection whose request the current task is sending.
_SENDING_FOR: ContextVar[Redactor | None] = ContextVar("connectory_sending_for", default=None)

#: The one filter on the ``httpx`` logger (filters on a logger see only its own records).
_HTTPX_LOG_FILTER = RedactingLogFilter()


def install_httpx_log_redaction() -> None:
    """Put the shared redacting filter on the ``httpx`` logger (once; later calls do nothing)."""
    logging.getLogger("httpx").addFilter(_HTTPX_LOG_FILTER)  # addFilter skips a duplicate


@contextmanager
def redacting_logs(redactor: Redactor) -> Iterator[None]:
    """Within this block (and tasks it starts), log records are redacted with *redactor*."""
    token = _SENDING_FOR.set(redactor)
    try:
        yield
    finally:
        _SENDING_FOR.reset(token)


def _encoded_forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    raw = secret.encode()
    forms.add(base64.b64encode(raw).decode().rstrip("="))
    forms.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}
