"""OpenAPI and Swagger schemas -> JSON Schema 2020-12, with components as shared schemas.

Every schema the document references (``#/components/schemas/Pet``, or any other place) is
converted once and becomes a shared schema of the connector (its top-level ``schemas``
section); operations refer to it with ``{"$ref": "#/schemas/Pet"}``. A connector therefore
holds each component once, however many operations use it, and stays about the size of its
description. Recursive schemas stay finite (a tree node refers to itself by name).

A component is converted for each direction it is used in (request bodies and parameters, or
responses), because the two differ where ``readOnly``/``writeOnly`` properties or ``oneOf``
are involved (below). When both forms come out the same, which is the common case, the
connector keeps one schema; otherwise the request form is a second schema named
``<Name>.request``, and so is every schema that reaches a differing one through references.

The conversion:

* Swagger 2.0 and OpenAPI 3.0: ``nullable`` / ``x-nullable`` become ``type: [..., "null"]`` (or
  ``anyOf [..., {type: null}]`` around a composition), boolean ``exclusiveMinimum`` /
  ``exclusiveMaximum`` become the numeric form, ``example`` becomes ``examples``, ``type: file``
  a binary string, tuple ``items`` become ``prefixItems``; siblings of ``$ref`` are ignored as
  those versions say (``description`` and ``nullable`` excepted).
* ``allOf`` / ``anyOf`` / ``oneOf`` are kept, with two exceptions where ``oneOf`` becomes
  ``anyOf``: next to a ``discriminator`` (which JSON Schema does not have, and which is what made
  the alternatives exclusive), and in response schemas. Real documents' alternatives overlap:
  GitHub's event payload is ``oneOf`` sixteen events, one of which (PublicEvent) is any object,
  so "exactly one" would reject every member or watch event GitHub sends. A connector checks
  responses to catch an API that changed shape, not to enforce exclusivity; request bodies,
  which the connector builds, keep ``oneOf`` as written.
* Request schemas leave out ``readOnly`` properties; response schemas do not require
  ``writeOnly`` ones.
* ``x-`` extensions, ``xml``, ``externalDocs``, ``discriminator``, ``$id`` and ``$schema`` are
  dropped; patterns Python cannot compile and keyword values that are not valid JSON Schema
  (:mod:`connectory.openapi.keywords`) are dropped with a warning, so the connector's schemas
  are always valid and validating a response can never fail on the schema itself.
* A reference cycle with nothing in between (``A: {allOf: [$ref: A]}``) is an error: a value
  would have to contain itself, and validating one would never end.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from connectory.openapi.context import ImportContext
from connectory.openapi.keywords import Invalid, check_keyword
from connectory.openapi.pointers import Parts, lookup, to_pointer
from connectory.spec.shared_schemas import REF_PREFIX

Direction = Literal["request", "response"]

_DROPPED = frozenset({"xml", "externalDocs", "discriminator", "nullable", "x-nullable"})
_SILENTLY_DROPPED = frozenset({"$schema", "$id", "$comment", "$anchor", "$dynamicAnchor"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_INPLACE_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_SCHEMA_LISTS = _INPLACE_LISTS | {"prefixItems"}
_INPLACE_SINGLE = frozenset({"not", "if", "then", "else"})
_SCHEMA_SINGLE = _INPLACE_SINGLE | {
    "items",
    "additionalItems",
    "additionalProperties",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
}
_COMPOSITION = frozenset({"allOf", "anyOf", "oneOf", "not", "$ref", "if"})
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-]+")
_REQUEST_SUFFIX = ".request"

DefKey = tuple[Parts, Direction]


@dataclass
class _Walk:
    direction: Direction
    refs: set[Parts] = field(default_factory=set)
    inplace_refs: set[Parts] = field(default_factory=set)


class SchemaConverter:
    """Converts schemas of one document; each referenced component once per direction.

    Converted schemas refer to components as ``{"$ref": "#/schemas/<Name>"}``; call
    :meth:`shared_schemas` once every schema is converted, to get the connector's ``schemas``
    section (it also settles which references name a request form).

    Args:
        context: The import's context (document, warnings, errors).
    """

    def __init__(self, context: ImportContext) -> None:
        self._ctx = context
        self._defs: dict[DefKey, dict[str, Any] | bool] = {}
        self._inplace: dict[DefKey, frozenset[Parts]] = {}
        self._names: dict[Parts, str] = {}
        self._request_names: dict[Parts, str] = {}
        self._targets: dict[str, Parts] = {}
        self._pending: list[DefKey] = []
        self._checked: set[DefKey] = set()
        # Every reference written, so the names can be settled in place at the end.
        self._refs: list[tuple[dict[str, Any], Parts, Direction]] = []

    def convert(self, node: Any, at: Parts, direction: Direction) -> dict[str, Any] | bool:
        """Return the JSON Schema of the schema *node* found at *at*.

        References in it point into the connector's shared schemas (``#/schemas/<Name>``).
        """
        walk = _Walk(direction)
        schema = self._root(node, at, walk)
        self._drain()
        for target in walk.inplace_refs:
            self._check_cycles((target, direction))
        return schema

    def convert_body(self, node: Any, at: Parts, direction: Direction) -> dict[str, Any] | bool:
        """Return the JSON Schema of a request or response body's schema *node* at *at*.

        A body defined once in a reusable component (``components/responses``,
        ``components/requestBodies``; Swagger's top-level ``responses`` and ``parameters``)
        is used by every operation that refers to it: its inline schema becomes a shared
        schema (``responses.SeatMap``) instead of a copy per operation. Amadeus's seat map
        response, a 176 KB schema with its example, was held twice.
        """
        if isinstance(node, dict) and "$ref" not in node and _in_reusable_component(at):
            return self.convert({"$ref": "#" + to_pointer(at)}, at, direction)
        return self.convert(node, at, direction)

    def definition(self, schema: Any, direction: Direction) -> Any:
        """Return the converted definition a ``{"$ref": "#/schemas/Name"}`` schema points to."""
        if not isinstance(schema, dict) or not isinstance(schema.get("$ref"), str):
            return schema
        target = self._targets.get(schema["$ref"].removeprefix(REF_PREFIX))
        return {} if target is None else self._defs.get((target, direction), {})

    def shared_schemas(self) -> dict[str, dict[str, Any]]:
        """Return the connector's ``schemas`` section: every component converted so far.

        A component used in both directions whose two forms are the same (references
        included, under the names settled here) is kept once. Every reference handed out by
        :meth:`convert` is updated in place to the name it ends up with.
        """
        merged = {
            target
            for target, direction in self._defs
            if direction == "request" and (target, "response") in self._defs
        }
        while True:
            self._name_refs(merged)
            differing = {
                target
                for target in merged
                if self._defs[(target, "request")] != self._defs[(target, "response")]
            }
            if not differing:
                break
            merged -= differing
        shared: dict[str, dict[str, Any]] = {}
        for (target, direction), schema in self._defs.items():
            if direction == "request" and target in merged:
                continue
            shared[self._final_name(target, direction, merged)] = _as_object(schema)
        self._point_into_components(shared, merged)
        return dict(sorted(shared.items()))

    def _point_into_components(self, shared: dict[str, Any], merged: set[Parts]) -> None:
        """Refer to parts of components by pointer instead of holding them twice.

        ``$ref: '#/components/schemas/Gateway/properties/ip'`` became a schema of its own,
        a copy of what ``Gateway`` holds already (Azure's descriptions do this hundreds of
        times). Where the part converted on its own is exactly what the converted component
        holds at that pointer, references become ``#/schemas/Gateway/properties/ip`` and the
        copy goes; where conversion changed the structure (a property left out of a request,
        a nullable wrapper), the copy stays.
        """
        aliases: dict[str, str] = {}
        for target, direction in self._defs:
            if len(target) <= 3 or target[:2] != ("components", "schemas"):
                continue
            root = target[:3]
            if (root, direction) not in self._defs:
                continue
            name = self._final_name(target, direction, merged)
            if name in aliases or name not in shared:
                continue
            root_name = self._final_name(root, direction, merged)
            node: Any = shared.get(root_name)
            for step in target[3:]:
                if isinstance(node, dict):
                    node = node.get(str(step))
                elif isinstance(node, list) and isinstance(step, int) and step < len(node):
                    node = node[step]
                else:
                    node = None
                    break
            if isinstance(node, dict) and node == shared[name]:
                pointer = "/".join(
                    str(step).replace("~", "~0").replace("/", "~1") for step in target[3:]
                )
                aliases[name] = f"{root_name}/{pointer}"
        if not aliases:
            return
        for ref, _, _ in self._refs:
            name = ref["$ref"].removeprefix(REF_PREFIX)
            if name in aliases:
                ref["$ref"] = REF_PREFIX + aliases[name]
        for name in aliases:
            del shared[name]

    def _name_refs(self, merged: set[Parts]) -> None:
        for ref, target, direction in self._refs:
            ref["$ref"] = REF_PREFIX + self._final_name(target, direction, merged)

    def _final_name(self, target: Parts, direction: Direction, merged: set[Parts]) -> str:
        if direction == "response" or target in merged or (target, "response") not in self._defs:
            return self._names[target]
        name = self._request_names.get(target)
        if name is None:
            name = self._request_names[target] = self._unique(
                self._names[target] + _REQUEST_SUFFIX, target
            )
        return name

    # --- conversion ---------------------------------------------------------------------

    def _root(self, node: Any, at: Parts, walk: _Walk) -> dict[str, Any] | bool:
        schema = self._convert(node, at, walk, inplace=True)
        return schema if isinstance(schema, dict | bool) else {}

    def _drain(self) -> None:
        while self._pending:
            key = self._pending.pop()
            target, direction = key
            walk = _Walk(direction)
            node = lookup(self._ctx.data, target)
            self._defs[key] = self._root(node, target, walk)
            self._inplace[key] = frozenset(walk.inplace_refs)

    def _convert(self, node: Any, at: Parts, walk: _Walk, *, inplace: bool) -> Any:
        if isinstance(node, bool):
            return node
        if not isinstance(node, dict):
            self._ctx.warn(at, "a schema must be an object; it is read as 'any value'")
            return {}
        if "$ref" in node:
            return self._convert_ref(node, at, walk, inplace=inplace)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not isinstance(key, str) or key.startswith("x-") or key in _DROPPED:
                continue
            if key in _SILENTLY_DROPPED:
                continue
            self._convert_keyword(key, value, node, at, walk, inplace, out)
        if walk.direction == "request":
            _drop_read_only(out)
        else:
            _relax_write_only(out)
        relaxed = walk.direction == "response" or isinstance(node.get("discriminator"), dict)
        if relaxed and isinstance(out.get("oneOf"), list) and "anyOf" not in out:
            out["anyOf"] = out.pop("oneOf")
        if node.get("nullable") is True or node.get("x-nullable") is True:
            out = _nullable(out)
        return out

    def _convert_keyword(
        self,
        key: str,
        value: Any,
        node: dict[str, Any],
        at: Parts,
        walk: _Walk,
        inplace: bool,
        out: dict[str, Any],
    ) -> None:
        here = (*at, key)
        if key in _SCHEMA_MAPS:
            if not isinstance(value, dict):
                self._invalid(here, key, "expected a mapping of schemas")
                return
            out[key] = {
                name: self._convert(child, (*here, name), walk, inplace=False)
                for name, child in value.items()
                if key != "patternProperties" or self._pattern_ok(name, here)
            }
        elif key == "items" and isinstance(value, list):  # draft 4 tuple form
            if value:
                out["prefixItems"] = [
                    self._convert(child, (*here, index), walk, inplace=False)
                    for index, child in enumerate(value)
                ]
        elif key in _SCHEMA_LISTS:
            if not isinstance(value, list) or not value:
                self._invalid(here, key, "expected a non-empty list of schemas")
                return
            nested = inplace and key in _INPLACE_LISTS
            out[key] = [
                self._convert(child, (*here, index), walk, inplace=nested)
                for index, child in enumerate(value)
            ]
        elif key == "additionalItems":
            if isinstance(node.get("items"), list):
                out["items"] = self._convert(value, here, walk, inplace=False)
        elif key in _SCHEMA_SINGLE:
            nested = inplace and key in _INPLACE_SINGLE
            out[key] = self._convert(value, here, walk, inplace=nested)
        elif key == "dependencies" and isinstance(value, dict):
            # Draft 7's keyword, split in two by 2020-12.
            for name, dependency in value.items():
                if isinstance(dependency, list):
                    out.setdefault("dependentRequired", {})[name] = dependency
                else:
                    converted = self._convert(dependency, (*here, name), walk, inplace=False)
                    out.setdefault("dependentSchemas", {})[name] = converted
            if "dependentRequired" in out:
                self._store(out, "dependentRequired", out.pop("dependentRequired"), here)
        elif key in ("$defs", "definitions"):
            return  # references are resolved through the document, not through these
        elif key == "example":
            out.setdefault("examples", [value])
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            if value:
                self._store(out, key, node.get(bound), (*at, bound))
        elif key in ("minimum", "maximum") and node.get(f"exclusive{key.title()}") is True:
            return  # written as the exclusive bound above
        elif key == "type" and value == "file":
            out["type"] = "string"
            out.setdefault("format", "binary")
        elif key == "pattern":
            if self._pattern_ok(value, here):
                self._store(out, key, value, here)
        else:
            self._store(out, key, value, here)

    def _store(self, out: dict[str, Any], key: str, value: Any, at: Parts) -> None:
        checked = check_keyword(key, value)
        if isinstance(checked, Invalid):
            self._invalid(at, key, checked.reason)
        else:
            out[key] = checked

    def _invalid(self, at: Parts, key: str, reason: str) -> None:
        self._ctx.warn(at, f"'{key}' is not valid JSON Schema here ({reason}); it is left out")

    def _convert_ref(self, node: dict[str, Any], at: Parts, walk: _Walk, *, inplace: bool) -> Any:
        target = self._ctx.ref_target(node["$ref"], at)
        name = None
        if target is not None:
            name = self._register(target, walk.direction)
            walk.refs.add(target)
            if inplace:
                walk.inplace_refs.add(target)
        if self._ctx.version == "3.1":
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            rest = self._convert(siblings, at, walk, inplace=inplace) if siblings else {}
            rest = rest if isinstance(rest, dict) else {}
            return self._ref(rest, name, target, walk.direction)
        # OpenAPI 3.0 and Swagger 2.0 ignore siblings of $ref; a description is harmless and
        # nullable is what authors mean so often that ignoring it would reject real responses.
        extra = (
            {"description": node["description"]} if isinstance(node.get("description"), str) else {}
        )
        ref = self._ref(extra, name, target, walk.direction) if name is not None else {}
        if node.get("nullable") is True or node.get("x-nullable") is True:
            return {"anyOf": [ref, {"type": "null"}]}
        return ref

    def _ref(
        self, rest: dict[str, Any], name: str | None, target: Parts | None, direction: Direction
    ) -> dict[str, Any]:
        if name is None or target is None:
            return rest
        out = {**rest, "$ref": REF_PREFIX + name}
        self._refs.append((out, target, direction))
        return out

    def _register(self, target: Parts, direction: Direction) -> str:
        name = self._names.get(target)
        if name is None:
            name = self._unique_name(target)
            self._names[target] = name
        key = (target, direction)
        if key not in self._defs:
            self._defs[key] = {}  # placeholder: a recursive reference finds it registered
            self._pending.append(key)
        return name

    def _unique_name(self, target: Parts) -> str:
        if len(target) == 3 and target[:2] == ("components", "schemas"):
            base = str(target[2])
        elif _in_reusable_component(target):
            # components/responses/SeatMap/content/<media>/schema -> responses.SeatMap
            section = 1 if target[0] == "components" else 0
            base = f"{target[section]}.{target[section + 1]}"
        elif len(target) == 2 and target[0] == "definitions":
            base = str(target[1])
        else:
            base = "_".join(str(part) for part in target if part not in ("components", "schemas"))
        return self._unique(base, target)

    def _unique(self, wanted: str, target: Parts) -> str:
        base = _SAFE_NAME.sub("_", wanted).strip("_.-") or "schema"
        name, counter = base, 2
        while name in self._targets:
            name, counter = f"{base}_{counter}", counter + 1
        self._targets[name] = target
        return name

    def _pattern_ok(self, pattern: Any, at: Parts) -> bool:
        if not isinstance(pattern, str):
            return True  # left to the JSON Schema check
        try:
            with warnings.catch_warnings():
                # "Possible nested set" and the like: the document's business, not the user's.
                warnings.simplefilter("ignore")
                re.compile(pattern)
        except (re.error, RecursionError, OverflowError):
            self._ctx.warn(
                at,
                f"pattern {pattern[:60]!r} is not a regular expression Python can use (it may "
                "use ECMAScript-only syntax); it is not checked",
            )
            return False
        return True

    # --- closures and cycles ---------------------------------------------------------------

    def _check_cycles(self, start: DefKey) -> None:
        # Depth-first over references that sit where the value itself is validated (the root,
        # allOf/anyOf/oneOf, not, if/then/else): a cycle there has no end.
        if start in self._checked:
            return
        direction = start[1]

        def children(parts: Parts) -> Iterator[Parts]:
            return iter(sorted(self._inplace.get((parts, direction), frozenset()), key=to_pointer))

        path = [start[0]]
        stack = [children(start[0])]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                self._checked.add((path.pop(), direction))
                continue
            if child in path:
                cycle = [*path[path.index(child) :], child]
                chain = " -> ".join(to_pointer(part) for part in cycle)
                self._ctx.fail(
                    child,
                    f"circular $ref with nothing in between: {chain}; a value would have to "
                    "contain itself",
                )
            elif (child, direction) not in self._checked:
                path.append(child)
                stack.append(children(child))


def _in_reusable_component(at: Parts) -> bool:
    """True when *at* is a body schema inside a reusable response, request body or parameter."""
    if len(at) >= 3 and at[0] == "components" and at[1] in ("responses", "requestBodies"):
        return True
    # Swagger 2.0: the top-level responses and parameters sections.
    return len(at) >= 3 and at[0] in ("responses", "parameters") and at[-1] == "schema"


def _as_object(schema: dict[str, Any] | bool) -> dict[str, Any]:
    if isinstance(schema, bool):
        return {} if schema else {"not": {}}
    return schema


def _drop_read_only(out: dict[str, Any]) -> None:
    properties = out.get("properties")
    if not isinstance(properties, dict):
        return
    hidden = {
        name
        for name, child in properties.items()
        if isinstance(child, dict) and child.get("readOnly") is True
    }
    if not hidden:
        return
    out["properties"] = {name: child for name, child in properties.items() if name not in hidden}
    if isinstance(out.get("required"), list):
        out["required"] = [name for name in out["required"] if name not in hidden]


def _relax_write_only(out: dict[str, Any]) -> None:
    properties = out.get("properties")
    required = out.get("required")
    if not isinstance(properties, dict) or not isinstance(required, list):
        return
    hidden = {
        name
        for name, child in properties.items()
        if isinstance(child, dict) and child.get("writeOnly") is True
    }
    if hidden:
        out["required"] = [name for name in required if name not in hidden]


def _nullable(out: dict[str, Any]) -> dict[str, Any]:
    kind = out.get("type")
    if not out:
        return out  # already any value, null included
    if any(key in out for key in _COMPOSITION) or kind is None:
        return {"anyOf": [out, {"type": "null"}]}
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        out["type"] = [*kind, "null"]
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out
