"""Reading what the user passes to commands: ``-p name=value`` pairs, credential files, a token."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypedDict

import orjson
import yaml

from connectory.errors import CredentialsError, InputError

#: Credential and config files are small; a larger one is a mistake (a wrong path).
MAX_VALUES_FILE_BYTES = 1024 * 1024


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    """Turn ``["q=London", "units=metric"]`` into a dict; values stay strings (coerced later).

    Raises:
        InputError: a pair has no ``=``.
    """
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"-p expects name=value, got {pair!r}")
        values[name.strip()] = value
    return values


class LocalValues(TypedDict):
    """A local connection's values files, read (``ConnectorClient``'s keyword arguments)."""

    credentials: dict[str, Any] | None
    connector_parameters: dict[str, Any] | None
    config: dict[str, Any] | None


def require_token(token: str | None) -> str:
    """*token*, which ``--connection`` needs (a server's connection is reached through its API).

    Raises:
        InputError: there is none.
    """
    if not token:
        raise InputError("--connection needs an API token: set CONNECTORY_TOKEN or --token")
    return token


def read_local_values(
    credentials: Path | None = None,
    connector_parameters: Path | None = None,
    config: Path | None = None,
) -> LocalValues:
    """The values files of a local connection, read: ``ConnectorClient``'s keyword arguments.

    Each is None when its option was not given.

    Raises:
        CredentialsError: a file is missing or unreadable (see :func:`read_values_file`).
    """

    def read(path: Path | None, what: str) -> dict[str, Any] | None:
        return read_values_file(path, what) if path is not None else None

    return LocalValues(
        credentials=read(credentials, "credentials"),
        connector_parameters=read(connector_parameters, "connector parameters"),
        config=read(config, "config"),
    )


def read_values_file(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML or JSON mapping of values (credentials, connector parameters, config).

    Raises:
        CredentialsError: the file is missing, too large, not YAML/JSON, or not a mapping. The
            message never quotes the file's content.
    """
    try:
        size = path.stat().st_size
    except OSError:
        raise CredentialsError(f"the {what} file {path} does not exist or cannot be read") from None
    if size > MAX_VALUES_FILE_BYTES:
        raise CredentialsError(
            f"the {what} file {path} is larger than 1 MiB; is it the right file?"
        )
    try:
        raw = path.read_bytes()
        data = orjson.loads(raw) if path.suffix == ".json" else yaml.safe_load(raw)
    except (OSError, orjson.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError):
        # Deliberately no parser detail: it would quote the (secret) content.
        raise CredentialsError(
            f"the {what} file {path} is not valid YAML or JSON; write name: value lines"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise CredentialsError(f"the {what} file {path} must be a mapping of name: value")
    return data
