"""Keeping secrets out of logs, errors and responses.

A :class:`Redactor` redacts the secrets of one connection in two ways:

* **By location.** The names of the headers, query parameters and body fields that secrets are
  sent in (the auth section's header or query parameter, a header or login field whose template
  reads a sensitive value) are registered with :meth:`Redactor.add_sensitive_name`; whatever
  such a field holds is replaced whole, however short. Header and query names that
  conventionally carry secrets (``Authorization``, ``api_key``...) are treated so too.
* **By value.** Every secret value (sensitive credentials, connector parameters and defaults,
  tokens fetched at run time, values a hook computes) is registered with :meth:`Redactor.add`.
  Values of :data:`MIN_SECRET_LENGTH` characters or more are replaced wherever they appear,
  also URL-encoded and base64-encoded. Shorter ones (a PIN) are replaced where a whole value
  equals them: a header or query value, a path segment, a JSON string, a form field. Replacing
  every "42" inside free text would destroy messages while protecting nothing; location
  catches such a value where it is sent, and in what an upstream echoes back.

A redactor is shared by threads (the event loop registers tokens as they are fetched; the call
log's writer thread redacts what it writes). Reads take no lock: the secrets and names are
replaced, never changed in place, so a reader never iterates a set being changed; and what is
worked out from them (name verdicts, redacted header sets, the needles of the cheap pre-check)
lives in one :class:`_Derived` that each change replaces whole. A reader takes the current one
*before* working anything out and stores its result there: a result worked out from the state
before a change lands in the replaced object, never where later reads look. Writers (rare) take
a lock, so two changes at once never lose one another's secret.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import orjson

REDACTED = "[REDACTED]"

#: Values at least this long are redacted wherever they appear in text; shorter values only
#: where a whole value equals them (see the module docstring).
MIN_SECRET_LENGTH = 4

#: Bodies up to this size are parsed (JSON, forms) so fields are redacted by name and value;
#: larger ones are redacted as text.
MAX_STRUCTURED_BODY = 1024 * 1024

#: Bytes read past an excerpt's limit so a secret crossing the limit is redacted whole.
_EXCERPT_WINDOW = 64 * 1024

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

#: Names whose verdict a redactor remembers (headers and query parameters of one connector).
_MAX_VERDICTS = 256

#: Request header sets whose redacted copy a redactor remembers (a connection sends the same
#: few on every call); past this many it starts again.
_MAX_HEADER_SETS = 64

#: Redacted header lines a redactor remembers one by one (a reply's ``date`` is new every
#: second); past this many it starts again.
_MAX_HEADER_LINES = 512

_SENSITIVE_NAME = re.compile(
    r"(?i)(^|[_\-.])(api[_\-]?key|apikey|key|token|access[_\-]?token|refresh[_\-]?token|"
    r"secret|client[_\-]?secret|password|passwd|pwd|signature|sig|auth|session)($|[_\-.])"
)


def is_sensitive_name(name: str) -> bool:
    """Return True for names like ``api_key``, ``X-Auth-Token`` or ``client_secret``."""
    return name.lower() in SENSITIVE_HEADERS or bool(_SENSITIVE_NAME.search(name))


class Redactor:
    """Replaces a connection's secrets with ``[REDACTED]``, by value and by location.

    Args:
        secrets: Secret values (any length; see the module docstring for short ones).
        sensitive_names: Names of headers, query parameters and body fields that carry secrets.
    """

    def __init__(self, secrets: Iterable[str] = (), sensitive_names: Iterable[str] = ()) -> None:
        # Replaced (never changed in place) under the lock: see the module docstring.
        self._secrets: frozenset[str] = frozenset()  # forms long enough to search for in text
        self._exact: frozenset[str] = frozenset()  # every form of every secret (whole values)
        self._names: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._derived = _Derived()
        self._changing = threading.Lock()
        self.add(*secrets)
        for name in sensitive_names:
            self.add_sensitive_name(name)

    def add(self, *secrets: str) -> None:
        """Remember more secret values (a token fetched at run time, a value a hook computed)."""
        forms = {
            form
            for secret in secrets
            if isinstance(secret, str) and secret
            for form in _encoded_forms(secret)
        }
        if forms <= self._exact:
            return
        with self._changing:
            exact = self._exact | forms
            searched = self._secrets | {form for form in forms if len(form) >= MIN_SECRET_LENGTH}
            # Longest first, so a secret that contains another is replaced whole.
            ordered = sorted(searched, key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None
            # The pattern before the whole values: a reader seeing either already redacts
            # the new secret where it is searched for.
            self._pattern = pattern
            self._secrets = searched
            self._exact = exact
            self._derived = _Derived()  # last: see the module docstring

    def add_sensitive_name(self, name: str) -> None:
        """Treat the header, query parameter or body field *name* as secret, whatever it holds."""
        if not name or name.lower() in self._names:
            return
        with self._changing:
            self._names = self._names | {name.lower()}
            self._derived = _Derived()  # last: see the module docstring

    def is_sensitive(self, name: str) -> bool:
        """True when a header or query parameter called *name* must be redacted.

        That is a registered name, or one that conventionally carries secrets.
        """
        # Taken before the verdict is worked out (see the module docstring).
        verdicts = self._derived.verdicts
        verdict = verdicts.get(name)
        if verdict is None:
            verdict = name.lower() in self._names or is_sensitive_name(name)
            if len(verdicts) < _MAX_VERDICTS:
                verdicts[name] = verdict
        return verdict

    def is_sensitive_field(self, name: str) -> bool:
        """True when a body field (or a key in decoded data) called *name* must be redacted.

        Only registered names count here: records often have fields called ``key`` or
        ``token`` that are data, not this connection's secrets.
        """
        return name.lower() in self._names

    def is_secret(self, value: str) -> bool:
        """True when *value* is, as a whole, one of the secrets (in any of its encoded forms)."""
        return value in self._exact

    def holds_secret(self, text: str) -> bool:
        """True when *text* is a secret or contains one long enough to be searched for."""
        if text in self._exact:
            return True
        return self._pattern is not None and self._pattern.search(text) is not None

    def redact(self, text: str) -> str:
        """Return *text* with every known secret replaced (a short one only as the whole text)."""
        if not text:
            return text
        if text in self._exact:
            return REDACTED
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text

    def contains_secret(self, text: str | bytes) -> bool:
        """True when *text* holds any known secret long enough to be searched for in text."""
        if self._pattern is None:
            return False
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return self._pattern.search(text) is not None

    def needs_redaction(self, json_text: bytes) -> bool:
        """Cheap pre-check for serialized JSON: could :meth:`redact_data` change its data?

        True when the text holds a secret (also as a whole JSON string, or JSON-escaped) or a
        key that is a sensitive field name. False positives only cost the walk. Plain
        substring searches (memmem speed) on the lower-cased text: one regex alternation of
        quoted needles would be tried at every quote of the JSON, twenty times slower.
        """
        return _holds_needle(json_text, self._current_needles())

    def redact_data(self, data: Any) -> Any:
        """Return *data* (decoded JSON) with secrets replaced in every string, keys included.

        The value of a key that is a sensitive field name (``x-api-key`` in an echo of the
        request's headers) is replaced whole. Upstreams echo what they receive (an echo
        endpoint, a login response, an error that quotes the request): what the server hands
        on must not carry the connection's secrets.
        """
        if self._pattern is None and not self._exact and not self._names:
            return data
        return self._redact_data(data)

    def _redact_data(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, list):
            return [self._redact_data(item) for item in data]
        if isinstance(data, dict):
            return {
                self.redact(str(key)): _blank(value)
                if self.is_sensitive_field(str(key))
                else self._redact_data(value)
                for key, value in data.items()
            }
        return data

    def redact_url(self, url: str) -> str:
        """Return *url* with secrets, sensitive query parameters and secret segments replaced."""
        base, sep, query = url.partition("?")
        scheme, slashes, rest = base.partition("://")
        if slashes:
            host, slash, path = rest.partition("/")
            if slash:
                exact = self._exact
                segments = [
                    REDACTED
                    # unquote() only changes a segment with a "%" in it.
                    if segment in exact or ("%" in segment and unquote(segment) in exact)
                    else segment
                    for segment in path.split("/")
                ]
                base = f"{scheme}://{host}/" + "/".join(segments)
        if sep:
            base = base + "?" + self._redact_pairs(query, self.is_sensitive)
        return self._sub(base)

    def redact_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Return a copy of *headers* with sensitive headers and secret values replaced."""
        items = headers.items()
        if self._holds_no_long_secret(items):
            # No value holds a secret long enough to be searched for (one search over all of
            # them; a hit, even one spanning two values, takes the value-by-value way below):
            # only whole-value secrets and sensitive names are left to replace.
            exact = self._exact
            return {
                name: REDACTED if self.is_sensitive(name) or value in exact else value
                for name, value in items
            }
        return {
            name: REDACTED if self.is_sensitive(name) else self.redact(value)
            for name, value in items
        }

    def _holds_no_long_secret(self, items: Iterable[tuple[str, str]]) -> bool:
        """True when every value of *items* is text without a secret :meth:`redact` searches for."""
        try:
            joined = "\n".join(value for _, value in items)
        except TypeError:  # a value that is not text: the value-by-value way decides
            return False
        return self._pattern is None or self._pattern.search(joined) is None

    def redact_request_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """:meth:`redact_headers` for the headers a connection sends, remembered.

        A connection sends the same few headers on every call: their redacted copy is worked
        out once (until a secret or a sensitive name is added) and copied for each caller.
        """
        key = tuple(headers.items())
        # The dict of this moment: a secret added meanwhile (another thread) replaces it, so
        # a copy redacted without that secret is never stored where later calls would read it.
        sets = self._derived.header_sets
        redacted = sets.get(key)
        if redacted is None:
            redacted = self.redact_headers(headers)
            if len(sets) >= _MAX_HEADER_SETS:
                sets.clear()
            sets[key] = redacted
        return dict(redacted)

    def header_lines(
        self, headers: tuple[tuple[str, str], ...], *, remember_set: bool = True
    ) -> str:
        """*headers* as ``name: value`` lines (each after a newline), redacted as redact_headers.

        For the call log's excerpts, remembered (until a secret or a sensitive name is
        added): a connection sends the same headers on every call, so lines are kept by
        header set and, for a set not seen, by header. A reply's headers differ from the last
        one's in a value or two (``date``, ``content-length``): pass *remember_set* False for
        them, so that sets never seen again do not fill the memory of every connection (their
        lines are still remembered one by one). Of a repeated name the last value counts, at
        the name's first place (as ``redact_headers(dict(headers))``).
        """
        derived = self._derived  # taken first (see the module docstring)
        sets = derived.line_sets
        found = sets.get(headers) if remember_set else None
        if found is not None:
            return found
        lines = derived.lines
        parts = []
        for item in dict(headers).items():
            line = lines.get(item)
            if line is None:
                name, value = item
                # What redact_headers gives each header, whatever the others hold.
                shown = REDACTED if self.is_sensitive(name) else self.redact(value)
                line = f"\n{name}: {shown}"
                if len(lines) >= _MAX_HEADER_LINES:
                    lines.clear()
                lines[item] = line
            parts.append(line)
        found = "".join(parts)
        if remember_set:
            if len(sets) >= _MAX_HEADER_SETS:
                sets.clear()
            sets[headers] = found
        return found

    def redact_body(self, content: bytes, content_type: str, limit: int) -> str:
        """The first *limit* characters of a request or response body, redacted.

        JSON and form bodies (up to :data:`MAX_STRUCTURED_BODY`) are redacted field by field,
        so a short secret in a field is caught; anything else as text, redacted before being
        cut (cutting first could leave the head of a secret that straddles the limit).
        """
        media = content_type.split(";", 1)[0].strip().lower()
        if content and len(content) <= MAX_STRUCTURED_BODY:
            if media == "application/json" or media.endswith("+json"):
                try:
                    data = orjson.loads(content)
                except orjson.JSONDecodeError:
                    pass
                else:
                    redacted = self.redact_data(data)
                    if redacted != data:
                        return orjson.dumps(redacted).decode()[:limit]
            elif media == "application/x-www-form-urlencoded":
                text = content.decode("utf-8", "replace")
                return self._sub(self._redact_pairs(text, self.is_sensitive))[:limit]
        text = content[: _EXCERPT_WINDOW + limit].decode("utf-8", "replace")
        return self.redact(text)[:limit]

    def excerpt(self, content: bytes, content_type: str, limit: int) -> str:
        """The head of a body for a log: at most *limit* characters, redacted; cheap when clean.

        A JSON body whose head holds no secret, no sensitive field name and no escape (one
        substring scan of ``limit`` bytes plus the longest needle) is cut as it is; anything
        else goes through :meth:`redact_body`. A call log must not cost a parse of every response.
        """
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            # One set for the window and the scan. A needle that starts inside the head ends
            # inside the window (the longest needle's length): checking it finds every
            # secret the excerpt could show.
            needles, window = self._needles_and_window()
            head = content[: limit + window]
            # An escape (``\/``, ``\u0073``) can spell a secret in bytes no needle matches
            # (PHP's json_encode writes "/" as "\/"): such a head is parsed, not scanned.
            if b"\\" not in head and not _holds_needle(head, needles):
                return head[:limit].decode("utf-8", "ignore")
        return self.redact_body(content, content_type, limit)

    def _redact_pairs(self, query: str, sensitive: Callable[[str], bool]) -> str:
        parts = []
        for pair in query.split("&"):
            name, eq, value = pair.partition("=")
            hidden = eq and (
                sensitive(unquote_plus(name))
                or self.is_secret(value)
                or self.is_secret(unquote_plus(value))
            )
            parts.append(f"{name}={REDACTED}" if hidden else pair)
        return "&".join(parts)

    def _sub(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text

    def _current_needles(self) -> tuple[bytes, ...]:
        return self._needles_and_window()[0]

    def _needles_and_window(self) -> tuple[tuple[bytes, ...], int]:
        """The needles of the pre-checks and the longest one's length."""
        derived = self._derived  # taken first (see the module docstring)
        needles = derived.needles
        if needles is None:
            needles = self._build_needles()
            # The window first: a reader that sees the needles sees their window.
            derived.window = len(needles[-1]) if needles else 0  # sorted by length
            derived.needles = needles
        return needles, derived.window

    def _build_needles(self) -> tuple[bytes, ...]:
        needles: set[bytes] = set()
        for form in self._secrets:
            needles.add(form.encode())
            needles.add(orjson.dumps(form)[1:-1])  # as it appears inside a JSON string
        # A short secret as a whole JSON string; a sensitive name as a key.
        needles.update(orjson.dumps(form) for form in self._exact)
        needles.update(orjson.dumps(name) for name in self._names)
        return tuple(sorted({needle.lower() for needle in needles}, key=len))


class _Derived:
    """What a redactor works out from its secrets and names, replaced whole on every change."""

    __slots__ = ("header_sets", "line_sets", "lines", "needles", "verdicts", "window")

    def __init__(self) -> None:
        #: is_sensitive's verdicts: the same few header names come back on every request.
        self.verdicts: dict[str, bool] = {}
        #: redact_request_headers' answers, by the headers' items.
        self.header_sets: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}
        #: needs_redaction's substrings (lower-cased), built on first use.
        self.needles: tuple[bytes, ...] | None = None
        #: The longest needle's length (with the needles).
        self.window = 0
        #: header_lines' answers, by the headers' items.
        self.line_sets: dict[tuple[tuple[str, str], ...], str] = {}
        #: header_lines' line of one header, by its name and value.
        self.lines: dict[tuple[str, str], str] = {}


def _holds_needle(json_text: bytes, needles: tuple[bytes, ...]) -> bool:
    if not needles:
        return False
    lowered = json_text.lower()
    # A loop, not any() over a generator (twice the cost): it runs for every excerpt.
    for needle in needles:  # noqa: SIM110
        if needle in lowered:
            return True
    return False


def _blank(value: Any) -> Any:
    """The redacted form of a sensitive field's value: the shape stays, the content goes."""
    if value is None:
        return None
    if isinstance(value, list):
        return [REDACTED for _ in value]
    return REDACTED


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
    token = start_redacting_logs(redactor)
    try:
        yield
    finally:
        stop_redacting_logs(token)


def start_redacting_logs(redactor: Redactor) -> Token[Redactor | None]:
    """:func:`redacting_logs` without a context manager, for a hot path: from here on.

    Pass the token to :func:`stop_redacting_logs` in a ``finally``.
    """
    return _SENDING_FOR.set(redactor)


def stop_redacting_logs(token: Token[Redactor | None]) -> None:
    """End what :func:`start_redacting_logs` started."""
    _SENDING_FOR.reset(token)


def _encoded_forms(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret)}
    raw = secret.encode()
    forms.add(base64.b64encode(raw).decode().rstrip("="))
    forms.add(base64.urlsafe_b64encode(raw).decode().rstrip("="))
    forms.discard("")
    return forms
