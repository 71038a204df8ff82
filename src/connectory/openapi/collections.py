"""Collections an imported API suggests: CRUD-shaped resources, applied only when accepted.

A resource is CRUD-shaped when the document has a collection path and an item path under it::

    GET  /contacts          -> list          POST   /contacts        -> create
    GET  /contacts/{id}     -> find_by_id    PATCH  /contacts/{id}   -> update (PUT if no PATCH)
                                             DELETE /contacts/{id}   -> delete

``list`` and ``find_by_id`` are required; the rest are added when present. The suggestion is
worked out from the imported connector (operations already named and mapped), so it uses the
same names the connector has. Like pagination suggestions, nothing changes until the user
accepts it (``accept_collections``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectory.spec.connector import slugify

_ITEM = re.compile(r"^(?P<base>.+)/\{(?P<param>[^{}/]+)\}$")


@dataclass(frozen=True)
class CollectionSuggestion:
    """A collection the document suggests; applied only when accepted.

    Attributes:
        key: The collection's key.
        collection: The ``collections`` item (connector format).
        reason: The paths that make the resource CRUD-shaped.
    """

    key: str
    collection: dict[str, Any]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form."""
        return {"key": self.key, "collection": self.collection, "reason": self.reason}


def suggest_collections(connector: Mapping[str, Any]) -> list[CollectionSuggestion]:
    """Return a suggestion per CRUD-shaped resource among the connector's operations."""
    by_path: dict[str, dict[str, dict[str, Any]]] = {}
    for operation in connector.get("operations", []):
        if isinstance(operation, dict) and isinstance(operation.get("path"), str):
            methods = by_path.setdefault(operation["path"].rstrip("/") or "/", {})
            methods.setdefault(str(operation.get("method", "GET")).upper(), operation)
    suggestions: list[CollectionSuggestion] = []
    taken: set[str] = set()
    for path, item_methods in by_path.items():
        match = _ITEM.match(path)
        if match is None:
            continue
        base = match.group("base")
        list_methods = by_path.get(base, {})
        if "GET" not in list_methods or "GET" not in item_methods:
            continue
        key = _key(base, taken)
        if key is None:
            continue
        taken.add(key)
        suggestions.append(
            _suggest(key, base, path, match.group("param"), list_methods, item_methods)
        )
    return suggestions


def _key(base: str, taken: set[str]) -> str | None:
    literal = [part for part in base.split("/") if part and not part.startswith("{")]
    if not literal:
        return None
    key = slugify(literal[-1]).replace("-", "_")
    if not key or not key[0].isalpha():
        return None
    candidate, number = key, 2
    while candidate in taken:
        candidate, number = f"{key}_{number}", number + 1
    return candidate


def _suggest(
    key: str,
    base: str,
    item_path: str,
    id_param: str,
    list_methods: Mapping[str, dict[str, Any]],
    item_methods: Mapping[str, dict[str, Any]],
) -> CollectionSuggestion:
    find = item_methods["GET"]
    methods: dict[str, Any] = {
        "list": {"operation": list_methods["GET"]["name"]},
        "find_by_id": {"operation": find["name"]},
    }
    if "POST" in list_methods:
        methods["create"] = {"operation": list_methods["POST"]["name"]}
    update = item_methods.get("PATCH") or item_methods.get("PUT")
    if update is not None:
        methods["update"] = {"operation": update["name"]}
    if "DELETE" in item_methods:
        methods["delete"] = {"operation": item_methods["DELETE"]["name"]}
    collection: dict[str, Any] = {"key": key, "name": key.replace("_", " ").capitalize()}
    schema = find.get("response_schema")
    if isinstance(schema, dict) and schema:
        collection["fields_schema"] = copy.deepcopy(schema)
    properties = _properties(schema)
    id_field = "id" if "id" in properties else id_param if id_param in properties else "id"
    record: dict[str, Any] = {"id": f"{{{{ item.{id_field} }}}}"}
    for name in ("name", "title", "full_name", "display_name"):
        if name in properties:
            record["name"] = f"{{{{ item.{name} }}}}"
            break
    for target, names in (
        ("created_at", ("created_at", "createdAt", "created")),
        ("updated_at", ("updated_at", "updatedAt", "updated", "modified_at")),
    ):
        found = next((n for n in names if n in properties), None)
        if found is not None:
            record[target] = f"{{{{ item.{found} }}}}"
    collection["record"] = record
    collection["methods"] = methods
    verbs = ", ".join(sorted(methods))
    return CollectionSuggestion(
        key, collection, f"{base} and {item_path} are a CRUD-shaped resource ({verbs})"
    )


def _properties(schema: Any) -> Mapping[str, Any]:
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        properties: Mapping[str, Any] = schema["properties"]
        return properties
    return {}


def accept_collections(
    connector: dict[str, Any],
    suggestions: Iterable[CollectionSuggestion],
    keys: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Return a copy of *connector* with the suggested collections added (only *keys*, if given)."""
    wanted = set(keys) if keys is not None else None
    chosen = [s for s in suggestions if wanted is None or s.key in wanted]
    if not chosen:
        return connector
    result = dict(connector)
    existing = {c.get("key") for c in connector.get("collections", []) if isinstance(c, dict)}
    result["collections"] = [
        *connector.get("collections", []),
        *(copy.deepcopy(s.collection) for s in chosen if s.key not in existing),
    ]
    return result
