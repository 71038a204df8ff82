"""Re-importing a newer document into an existing connector (a pure merge).

The document owns each operation's method, path, parameters, schemas, descriptions and tags;
the connector keeps what people added: pagination, record selectors, resilience, idempotency and
extra headers of operations that are still there, and every connector-level setting (name,
base URL, auth, resilience, parameters). Operations the document no longer has are removed.
A base URL or auth type that differs from the document's is reported, not changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectory.openapi.results import OpenAPIWarning

#: Operation fields a person may have set that a document does not say.
_KEPT_FIELDS = ("pagination", "record_selector", "resilience", "idempotent")
_PAGINATION_PARAMS = ("offset_param", "limit_param", "page_param", "size_param")


@dataclass
class ReimportPlan:
    """The connector document after a re-import, and what was kept as it was.

    Attributes:
        document: The new connector document.
        notes: Differences between the document and the connector that were not applied.
    """

    document: dict[str, Any]
    notes: list[OpenAPIWarning] = field(default_factory=list)


def plan_reimport(existing: Mapping[str, Any], imported: Mapping[str, Any]) -> ReimportPlan:
    """Return *existing* with its operations replaced by *imported*'s, keeping people's edits."""
    before = {
        _name(operation): operation
        for operation in existing.get("operations") or []
        if isinstance(operation, dict) and _name(operation)
    }
    operations = []
    for operation in imported.get("operations") or []:
        previous = before.get(operation["name"])
        operations.append(operation if previous is None else _merge(previous, operation))
    document = dict(existing)
    document["operations"] = operations
    plan = ReimportPlan(document)
    names = {operation["name"] for operation in operations}
    if document.get("test_operation") and document["test_operation"] not in names:
        plan.notes.append(
            OpenAPIWarning(
                "",
                f"test_operation '{document['test_operation']}' is no longer an operation; "
                "it is unset (the first GET without required parameters is used)",
            )
        )
        del document["test_operation"]
    if imported.get("base_url") != existing.get("base_url"):
        plan.notes.append(
            OpenAPIWarning(
                "/servers",
                f"the document's base URL is {imported.get('base_url')}; the connector keeps "
                f"{existing.get('base_url')}",
            )
        )
    new_auth = (imported.get("auth") or {}).get("auth_type", "none")
    old_auth = (existing.get("auth") or {}).get("auth_type", "none")
    if new_auth != old_auth:
        plan.notes.append(
            OpenAPIWarning(
                "",
                f"the document's auth maps to {new_auth}; the connector keeps its {old_auth} auth",
            )
        )
    return plan


def _name(operation: Mapping[str, Any]) -> str | None:
    name = operation.get("name", operation.get("operation"))
    return name if isinstance(name, str) else None


def _merge(previous: Mapping[str, Any], imported: dict[str, Any]) -> dict[str, Any]:
    merged = dict(imported)
    for key in _KEPT_FIELDS:
        if key in previous:
            merged[key] = previous[key]
    headers = {**(imported.get("headers") or {}), **(previous.get("headers") or {})}
    if headers:
        merged["headers"] = headers
    pagination = previous.get("pagination")
    if isinstance(pagination, dict) and "parameters" in merged:
        # The paginator sets these on every page; an accepted suggestion removed them.
        owned = {pagination.get(key) for key in _PAGINATION_PARAMS} - {None}
        merged["parameters"] = [
            p
            for p in merged["parameters"]
            if not (p.get("location") == "query" and p.get("name") in owned)
        ]
        if not merged["parameters"]:
            del merged["parameters"]
    return merged
