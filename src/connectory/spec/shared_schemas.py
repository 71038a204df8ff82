"""Shared schemas: named JSON Schemas in the top-level ``schemas`` section, used with ``$ref``.

Large APIs share hundreds of component schemas between their operations; copying them into
each operation would multiply the connector's size. A connector names each schema once::

    schemas:
      Contact:
        type: object
        properties:
          id: {type: string, readOnly: true}
          address: {$ref: "#/schemas/Address"}
      Address:
        type: object

and refers to it from any schema the connector holds (an operation's ``response_schema``,
``request_body.schema``, a parameter's ``items``, a collection's ``fields_schema``, another
shared schema) with ``$ref: "#/schemas/<Name>"``. A reference may add a JSON Pointer into the
schema: ``#/schemas/Contact/properties/address``.

Rules (checked when the connector loads, each reported at its file and line):

* the name after ``#/schemas/`` must be a schema of the section;
* a reference may not lead back to itself through references alone
  (``A: {$ref: B}``, ``B: {$ref: A}``): such a schema describes nothing. Recursion through
  structure (``Node.children.items: {$ref: "#/schemas/Node"}``) is ordinary JSON Schema and
  allowed;
* references must stay inside the connector: ``#`` fragments only, never a URL (a schema
  that pointed at a URL would make Connectory fetch it).

At run time the section is compiled once per connector (see
:mod:`connectory.runtime.schema_registry`), not once per operation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from connectory.spec.findings import Finding
from connectory.spec.source import FieldPath
from connectory.spec.suggest import did_you_mean

#: How a reference to a shared schema starts.
REF_PREFIX = "#/schemas/"

#: Names a shared schema may have: the characters OpenAPI allows for component names.
SCHEMA_NAME = re.compile(r"^[A-Za-z0-9._\-]+$")

# A shared schema's reference walk stops here; deeper nesting is not a schema anyone writes.
_MAX_DEPTH = 64


def iter_refs(schema: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, str]]:
    """Yield ``(path, reference)`` for every ``$ref`` string in *schema*, depth first.

    Args:
        schema: A JSON Schema (any JSON value; only mappings and lists are walked).
        path: The schema's own path, prefixed to each reference's path.
    """
    stack: list[tuple[FieldPath, Any, int]] = [(path, schema, 0)]
    while stack:
        at, value, depth = stack.pop()
        if depth > _MAX_DEPTH:
            continue
        if isinstance(value, Mapping):
            ref = value.get("$ref")
            if isinstance(ref, str):
                yield (*at, "$ref"), ref
            for key, item in reversed(list(value.items())):
                if isinstance(item, Mapping | list):
                    stack.append(((*at, str(key)), item, depth + 1))
        elif isinstance(value, list):
            for index in reversed(range(len(value))):
                item = value[index]
                if isinstance(item, Mapping | list):
                    stack.append(((*at, index), item, depth + 1))


def has_shared_refs(schema: Any) -> bool:
    """True when *schema* refers to a shared schema anywhere."""
    return any(ref.startswith(REF_PREFIX) for _, ref in iter_refs(schema))


def split_ref(ref: str) -> tuple[str, tuple[str, ...]]:
    """Return ``(schema name, pointer steps)`` of a ``#/schemas/...`` reference.

    ``#/schemas/Contact/properties/id`` -> ``("Contact", ("properties", "id"))``; JSON Pointer
    escapes (``~0``, ``~1``) and percent-encoding are decoded.
    """
    from urllib.parse import unquote

    steps = [
        unquote(step).replace("~1", "/").replace("~0", "~")
        for step in ref[len(REF_PREFIX) :].split("/")
    ]
    return steps[0], tuple(steps[1:])


def check_refs(
    path: FieldPath, schema: Any, names: set[str] | None, label: str
) -> Iterator[Finding]:
    """Check every ``$ref`` in *schema*: known shared schemas, no URLs.

    Args:
        path: Where *schema* is in the connector.
        schema: The schema.
        names: The names of the shared schemas; None when the section is invalid (then
            shared references are not checked, to avoid a flood of follow-on errors).
        label: How to name the schema in messages, e.g. ``response_schema``.
    """
    for at, ref in iter_refs(schema, path):
        if ref.startswith(REF_PREFIX):
            name, _ = split_ref(ref)
            if names is None or name in names:
                continue
            known = ", ".join(sorted(names)[:10]) if names else "none defined yet"
            yield Finding(
                at,
                f"{label} refers to schema '{name}', which the schemas section does not "
                f"define{did_you_mean(name, sorted(names))}; add it under schemas: or fix the "
                f"reference (defined: {known})",
            )
        elif not ref.startswith("#"):
            shown = ref if len(ref) <= 60 else ref[:57] + "..."
            yield Finding(
                at,
                f"{label} refers to '{shown}' outside the connector; references must stay "
                "inside it: put the schema under schemas: and write $ref: '#/schemas/<Name>'",
            )


def check_schemas_section(schemas: Mapping[str, Any]) -> Iterator[Finding]:
    """Check the ``schemas`` section: names, references between them, alias cycles."""
    names = set(schemas)
    for name, schema in schemas.items():
        if not SCHEMA_NAME.match(name):
            yield Finding(
                ("schemas", name),
                f"schema name '{name[:40]}' has characters a reference cannot carry; use "
                "letters, digits, '.', '_' and '-'",
                at_key=True,
            )
        yield from check_refs(("schemas", name), schema, names, f"schema '{name}'")
    yield from _alias_cycles(schemas)


def _alias_target(schema: Any) -> str | None:
    """The shared schema *schema* is nothing but a reference to, else None."""
    if not isinstance(schema, Mapping):
        return None
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith(REF_PREFIX):
        return None
    name, pointer = split_ref(ref)
    # A pointer into another schema resolves to part of it: structure, not an alias.
    return name if not pointer else None


def _alias_cycles(schemas: Mapping[str, Any]) -> Iterator[Finding]:
    reported: set[str] = set()
    for start in schemas:
        chain: list[str] = []
        current: str | None = start
        while current is not None and current in schemas and current not in chain:
            chain.append(current)
            current = _alias_target(schemas[current])
        if current is None or current not in chain or current in reported:
            continue
        loop = chain[chain.index(current) :]
        reported.update(loop)
        shown = " -> ".join([*loop, loop[0]])
        yield Finding(
            ("schemas", loop[0], "$ref"),
            f"schema references go round in a circle ({shown}) and never reach a schema; "
            "make one of them a schema (type:, properties: ...) instead of a reference",
        )


def resolve_shared(schema: Any, schemas: Mapping[str, Any]) -> Any:
    """Follow *schema*'s top-level ``$ref`` chain to the schema it names (at most 64 steps).

    Returns *schema* itself when it is not a shared reference, and None when a reference
    cannot be resolved (the loader has reported it already).
    """
    seen = 0
    while isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
        ref = schema["$ref"]
        if not ref.startswith(REF_PREFIX) or seen > _MAX_DEPTH:
            return schema
        seen += 1
        name, pointer = split_ref(ref)
        target: Any = schemas.get(name)
        for step in pointer:
            if isinstance(target, Mapping):
                target = target.get(step)
            elif isinstance(target, list) and step.isdigit() and int(step) < len(target):
                target = target[int(step)]
            else:
                return None
        if target is None:
            return None
        schema = target
    return schema


def bundle_schema(schema: Any, schemas: Mapping[str, Any]) -> Any:
    """Return *schema* made self-contained: the shared schemas it uses under ``$defs``.

    ``#/schemas/Name`` becomes ``#/$defs/Name`` (a standard JSON Schema any tool reads). Used to
    hand a collection's fields schema to a form or to another program; validation at run time
    uses the shared registry instead.
    """
    used: dict[str, Any] = {}
    pending = [ref for _, ref in iter_refs(schema) if ref.startswith(REF_PREFIX)]
    while pending:
        name, _ = split_ref(pending.pop())
        if name in used or name not in schemas:
            continue
        used[name] = schemas[name]
        pending += [ref for _, ref in iter_refs(schemas[name]) if ref.startswith(REF_PREFIX)]
    if not used:
        return schema
    rewritten = rewrite_refs(schema, "#/$defs/")
    if not isinstance(rewritten, dict):
        return rewritten
    defs = dict(rewritten.get("$defs", {}))
    defs.update({name: rewrite_refs(value, "#/$defs/") for name, value in used.items()})
    return {**rewritten, "$defs": defs}


def rewrite_refs(schema: Any, prefix: str, *, pointer_sep: str = "/") -> Any:
    """Return a copy of *schema* with ``#/schemas/Name/...`` references rewritten.

    The reference becomes ``<prefix>Name<pointer_sep>...``: ``#/$defs/Name/properties/id``
    with the defaults, ``urn:x:Name#/properties/id`` with ``pointer_sep="#/"``.
    """
    if isinstance(schema, Mapping):
        copy = {
            key: rewrite_refs(value, prefix, pointer_sep=pointer_sep)
            for key, value in schema.items()
        }
        ref = copy.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            name, _, pointer = ref[len(REF_PREFIX) :].partition("/")
            copy["$ref"] = prefix + name + (pointer_sep + pointer if pointer else "")
        return copy
    if isinstance(schema, list):
        return [rewrite_refs(item, prefix, pointer_sep=pointer_sep) for item in schema]
    return schema
