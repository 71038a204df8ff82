"""Sensitive defaults: the ``default`` of a credential field or connector parameter that is secret.

A field marked ``sensitive: true`` (or ``type: password``) may carry a ``default:``; that value
is a secret like any other. The stored document shows :data:`PLACEHOLDER` where it was (so every
reader learns that a default is set, never what it is); the value itself is encrypted in
``secret_values``, bound to the version row and the field (owner ``connector_version``, field
``credential:<name>`` or ``parameter:<name>``), and put back only into the spec a runtime
client is built from.

Saving a document whose sensitive default is the placeholder keeps the stored value: the one of
the draft itself, else of the version the draft follows. Publishing turns the draft row into
the version, so its sealed defaults need no copy; a published version's values never change.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from connectory.errors import InvalidRequest, Problem
from connectory.services.secret_store import (
    PLACEHOLDER,
    SecretBox,
    delete_secrets,
    read_secrets,
    write_secrets,
)
from connectory.spec.connector import ConnectorSpec
from connectory.spec.fields import InputFieldSpec

#: Owner type of a connector version's sealed defaults (owner id: the version's id).
SENSITIVE_DEFAULTS_OWNER = "connector_version"

#: The longest field key ``secret_values.field`` holds.
_MAX_FIELD_KEY = 200

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: (key in secret_values, path of the field in the document, name in problems)
_Field = tuple[str, tuple[str, ...], str]


def _fields(document: Mapping[str, Any]) -> Iterator[tuple[_Field, dict[str, Any]]]:
    """Every credential field and connector parameter of a document, with its spec."""
    parameters = document.get("parameters")
    if isinstance(parameters, dict):
        for name, spec in parameters.items():
            if isinstance(spec, dict):
                yield (f"parameter:{name}", ("parameters", name), f"parameter '{name}'"), spec
    auth = document.get("auth")
    schema = auth.get("credential_schema") if isinstance(auth, dict) else None
    if isinstance(schema, dict):
        for name, spec in schema.items():
            if isinstance(spec, dict):
                where = ("auth", "credential_schema", name)
                yield (f"credential:{name}", where, f"credential field '{name}'"), spec


def _is_sensitive(spec: Mapping[str, Any]) -> bool:
    # Canonical documents carry ``sensitive``; password fields always are.
    return bool(spec.get("sensitive")) or spec.get("type") == "password"


def default_path(where: tuple[str, ...]) -> str:
    """``auth.credential_schema.pin.default``, as diffs and problems name fields."""
    path = ""
    for part in (*where, "default"):
        shown = part if _IDENTIFIER.fullmatch(part) else f'["{part}"]'
        path = shown if not path else (path + shown if shown.startswith("[") else f"{path}.{shown}")
    return path


def conceal_defaults(document: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split *document* into what may be shown and stored, and the secret defaults.

    Returns:
        The document with every sensitive default replaced by :data:`PLACEHOLDER` (the input
        is not changed), and ``{field key: value}`` of the defaults that were not the
        placeholder already.
    """
    concealed = copy.deepcopy(dict(document))
    secrets: dict[str, Any] = {}
    for (key, _, _), spec in _fields(concealed):
        if _is_sensitive(spec) and spec.get("default") is not None:
            if spec["default"] != PLACEHOLDER:
                secrets[key] = spec["default"]
            spec["default"] = PLACEHOLDER
    return concealed, secrets


def has_sensitive_defaults(document: Mapping[str, Any]) -> bool:
    """True when a sensitive field of *document* has a default (placeholder or value)."""
    return any(
        _is_sensitive(spec) and spec.get("default") is not None for _, spec in _fields(document)
    )


async def store_sensitive_defaults(
    session: AsyncSession,
    box: SecretBox,
    version_id: str,
    document: Mapping[str, Any],
    keep_from: Sequence[str] = (),
) -> dict[str, Any]:
    """Seal the sensitive defaults of *document* for version *version_id* (not committed).

    Args:
        session: The caller's session.
        box: The key ring.
        version_id: The version row the document is stored in (known before its insert).
        document: The canonical document, with values or placeholders as defaults.
        keep_from: Versions whose stored value a placeholder keeps, first match wins (the
            draft itself, then the version it follows).

    Returns:
        The document to store: every sensitive default is the placeholder.

    Raises:
        InvalidRequest: a placeholder with no stored value to keep, a field that stopped
            being sensitive while showing the placeholder, or a field name too long to store.
    """
    concealed, given = conceal_defaults(document)
    stored: dict[str, dict[str, str]] = {}
    for owner in dict.fromkeys(keep_from):
        stored[owner] = await read_secrets(session, box, SENSITIVE_DEFAULTS_OWNER, owner)
    own = stored.get(version_id, {})
    changes: dict[str, str | None] = {}
    problems: list[Problem] = []
    wanted: set[str] = set()
    for (key, where, label), spec in _fields(document):
        default = spec.get("default")
        if default is None:
            continue
        path = default_path(where)
        if not _is_sensitive(spec):
            if default == PLACEHOLDER and any(key in values for values in stored.values()):
                problems.append(
                    Problem(
                        f"the {label} is no longer sensitive, so its default would be shown: "
                        f"write the default's value instead of {PLACEHOLDER}",
                        path,
                    )
                )
            continue
        if len(key) > _MAX_FIELD_KEY:
            problems.append(
                Problem(
                    "a field name this long cannot keep a sensitive default; use a name of at "
                    f"most {_MAX_FIELD_KEY - len('credential:')} characters",
                    path,
                )
            )
            continue
        wanted.add(key)
        if key in given:
            changes[key] = orjson.dumps(given[key]).decode()
            continue
        kept = next((values[key] for values in stored.values() if key in values), None)
        if kept is None:
            problems.append(
                Problem(
                    f"the default of the {label} is {PLACEHOLDER}, but no value is stored for "
                    "it; write the default's value",
                    path,
                )
            )
        elif key not in own:
            changes[key] = kept  # copied from the version the draft follows, sealed anew
    if problems:
        raise InvalidRequest(
            "; ".join(problem.message for problem in problems[:3]), problems=problems
        )
    for key in own:
        if key not in wanted:
            changes[key] = None
    await write_secrets(session, box, SENSITIVE_DEFAULTS_OWNER, version_id, changes)
    return concealed


async def delete_sensitive_defaults(session: AsyncSession, version_id: str) -> None:
    """Destroy a version's sealed defaults (its draft was discarded)."""
    await delete_secrets(session, SENSITIVE_DEFAULTS_OWNER, version_id)


async def read_sensitive_defaults(
    session: AsyncSession, box: SecretBox, version_id: str
) -> dict[str, Any]:
    """The sealed defaults of a version, decrypted, by field key (for the runtime only)."""
    sealed = await read_secrets(session, box, SENSITIVE_DEFAULTS_OWNER, version_id)
    return {key: orjson.loads(value) for key, value in sealed.items()}


async def runtime_spec(
    session: AsyncSession, box: SecretBox, version_id: str, spec: ConnectorSpec
) -> ConnectorSpec:
    """*spec* as a runtime client needs it: with the real values of its sensitive defaults.

    Never hand the result to anything that shows a spec: it holds secrets.
    """
    if not _placeholder_fields(spec):
        return spec
    return with_sensitive_defaults(spec, await read_sensitive_defaults(session, box, version_id))


def with_sensitive_defaults(spec: ConnectorSpec, values: Mapping[str, Any]) -> ConnectorSpec:
    """Return *spec* with each placeholder default replaced by its value from *values*.

    A placeholder without a value loses its default, so the field is then simply required
    (never sent as ``********``).
    """

    def fill(fields: dict[str, InputFieldSpec], kind: str) -> dict[str, InputFieldSpec]:
        return {
            name: field.model_copy(update={"default": values.get(f"{kind}:{name}")})
            if field.is_sensitive and field.default == PLACEHOLDER
            else field
            for name, field in fields.items()
        }

    auth = spec.auth.model_copy(
        update={"credential_schema": fill(spec.auth.credential_schema, "credential")}
    )
    return spec.model_copy(update={"auth": auth, "parameters": fill(spec.parameters, "parameter")})


def _placeholder_fields(spec: ConnectorSpec) -> bool:
    fields = [*spec.auth.credential_schema.values(), *spec.parameters.values()]
    return any(field.is_sensitive and field.default == PLACEHOLDER for field in fields)


async def changed_sensitive_defaults(
    session: AsyncSession, box: SecretBox, old_id: str, new_id: str
) -> list[str]:
    """Paths of the sensitive defaults both versions have whose values differ.

    Their documents both show the placeholder, so a diff of documents cannot see this.
    """
    old = await read_secrets(session, box, SENSITIVE_DEFAULTS_OWNER, old_id)
    new = await read_secrets(session, box, SENSITIVE_DEFAULTS_OWNER, new_id)
    changed = []
    for key in sorted(set(old) & set(new)):
        if orjson.loads(old[key]) != orjson.loads(new[key]):
            kind, _, name = key.partition(":")
            where = (
                ("parameters", name) if kind == "parameter" else ("auth", "credential_schema", name)
            )
            changed.append(default_path(where))
    return changed
