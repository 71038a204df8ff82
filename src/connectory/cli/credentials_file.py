"""The local credentials file of an OAuth2 connection: tokens in, refreshed tokens out.

``connectory connect PATH --oauth`` writes the grant it obtained into the credentials file
(``access_token``, ``refresh_token``, ``expires_at``, ``refresh_expires_at``, ``scope``) next to
whatever credentials were already there; ``connectory call --credentials FILE`` reads them back
and, when the runtime refreshes or rotates them, writes the new ones back before the command
ends, so the next call never presents a refresh token the provider has rotated away.

Writes are atomic (a temporary file in the same folder, renamed over the old one) and
owner-only (0600). Refreshes by concurrent commands on one file are serialised with an
advisory lock on ``FILE.lock`` (POSIX), inside which the file is read again: a command that
finds a grant refreshed by another one adopts it instead of refreshing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import yaml

from connectory.auth.grants import TokenSet
from connectory.cli.values import read_values_file
from connectory.errors import CredentialsError
from connectory.spec.connector import ConnectorSpec

try:  # POSIX only; elsewhere concurrent refreshes of one file are not serialised.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Fields of a credentials file that hold the grant, not what a person typed.
GRANT_FIELDS = ("access_token", "refresh_token", "expires_at", "refresh_expires_at", "scope")


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and value != "" else None


def split_grant(
    spec: ConnectorSpec, values: dict[str, Any]
) -> tuple[dict[str, Any], TokenSet | None]:
    """Separate the grant from the credentials of an OAuth2 connector's file.

    Fields the connector declares in ``credential_schema`` stay credentials too (an imported
    connector may declare ``access_token``); the others are the grant's only.
    """
    if spec.auth.auth_type != "oauth2":
        return values, None
    schema = spec.auth.credential_schema
    credentials = {k: v for k, v in values.items() if k not in GRANT_FIELDS or k in schema}
    if not any(values.get(name) for name in GRANT_FIELDS):
        return credentials, None
    grant = TokenSet(
        access_token=_text(values.get("access_token")),
        refresh_token=_text(values.get("refresh_token")),
        expires_at=_number(values.get("expires_at")),
        refresh_expires_at=_number(values.get("refresh_expires_at")),
        scope=_text(values.get("scope")),
    )
    return credentials, grant


def grant_fields(grant: TokenSet) -> dict[str, Any]:
    """The grant as credentials file fields (empty ones left out)."""
    fields: dict[str, Any] = {
        "access_token": grant.access_token,
        "refresh_token": grant.refresh_token,
        "expires_at": round(grant.expires_at) if grant.expires_at is not None else None,
        "refresh_expires_at": round(grant.refresh_expires_at)
        if grant.refresh_expires_at is not None
        else None,
        "scope": grant.scope,
    }
    return {k: v for k, v in fields.items() if v is not None}


def write_values_file(path: Path, values: dict[str, Any]) -> None:
    """Write *values* to *path* atomically, owner-only (JSON for ``.json``, else YAML).

    Raises:
        CredentialsError: the folder cannot be written.
    """
    if path.suffix == ".json":
        data = orjson.dumps(values, option=orjson.OPT_INDENT_2) + b"\n"
    else:
        data = yaml.safe_dump(values, sort_keys=False, allow_unicode=True).encode()
    folder = path.resolve().parent
    try:
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError:
        raise CredentialsError(
            f"cannot write the credentials file {path}: {folder} is not writable"
        ) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise CredentialsError(f"cannot write the credentials file {path}") from None


def store_grant(path: Path, grant: TokenSet) -> None:
    """Merge *grant* into the credentials file at *path* (created if missing)."""
    current = read_values_file(path, "credentials") if path.exists() else {}
    kept = {k: v for k, v in current.items() if k not in GRANT_FIELDS}
    write_values_file(path, {**kept, **grant_fields(grant)})


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    lock_path = path.with_name(path.name + ".lock")
    descriptor = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


class FileTokenKeeper:
    """The :class:`~connectory.auth.grants.TokenKeeper` of a local credentials file."""

    def __init__(self, path: Path, spec: ConnectorSpec) -> None:
        self._path = path
        self._spec = spec

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[TokenSet | None]:
        """Lock the file against other commands; yield the grant it holds now."""
        lock = _file_lock(self._path)
        # flock blocks: wait for it off the event loop.
        await asyncio.to_thread(lock.__enter__)
        try:
            values = read_values_file(self._path, "credentials")
            yield split_grant(self._spec, values)[1]
        finally:
            lock.__exit__(None, None, None)

    async def save(self, tokens: TokenSet) -> None:
        """Write the refreshed grant back (atomically, 0600)."""
        store_grant(self._path, tokens)

    async def reject(self, reason: str) -> None:
        """The provider revoked the grant: nothing to mark locally (the error says so)."""
