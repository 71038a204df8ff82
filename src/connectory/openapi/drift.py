"""What changed between two versions of an API description (shown on re-import).

The connector diff says what a re-import changes in the connector; this says what changed in
the description itself, which is what a person checks first: operations added or removed,
operations whose definition changed, component schemas added, removed or changed, servers,
security schemes and the API's own version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connectory.openapi.operations import METHODS

#: Entries listed per kind of change; the rest are counted.
MAX_LISTED = 20


def describe_drift(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Return one line per kind of change from the description *old* to *new*."""
    lines: list[str] = []
    old_info, new_info = old.get("info") or {}, new.get("info") or {}
    if (
        isinstance(old_info, dict)
        and isinstance(new_info, dict)
        and old_info.get("version") != new_info.get("version")
    ):
        lines.append(f"info.version: {old_info.get('version')!s} -> {new_info.get('version')!s}")
    lines += _compare("operation", _operations(old), _operations(new))
    lines += _compare("schema", _components(old), _components(new))
    lines += _compare("security scheme", _schemes(old), _schemes(new))
    if _servers(old) != _servers(new):
        lines.append(f"servers: {_servers(old) or '-'} -> {_servers(new) or '-'}")
    return lines


def _compare(kind: str, old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines = []
    for label, names in (
        ("added", [name for name in new if name not in old]),
        ("removed", [name for name in old if name not in new]),
        ("changed", [name for name in new if name in old and new[name] != old[name]]),
    ):
        if names:
            shown = ", ".join(names[:MAX_LISTED])
            more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
            lines.append(f"{kind}s {label} ({len(names)}): {shown}{more}")
    return lines


def _fingerprint(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _operations(document: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return found
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method in METHODS:
                found[f"{method.upper()} {path}"] = _fingerprint(
                    [operation, item.get("parameters")]
                )
    return found


def _components(document: Mapping[str, Any]) -> dict[str, str]:
    components = document.get("components")
    schemas = components.get("schemas") if isinstance(components, dict) else None
    schemas = schemas if isinstance(schemas, dict) else document.get("definitions")
    if not isinstance(schemas, dict):
        return {}
    return {str(name): _fingerprint(schema) for name, schema in schemas.items()}


def _schemes(document: Mapping[str, Any]) -> dict[str, str]:
    components = document.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    schemes = schemes if isinstance(schemes, dict) else document.get("securityDefinitions")
    if not isinstance(schemes, dict):
        return {}
    return {str(name): _fingerprint(scheme) for name, scheme in schemes.items()}


def _servers(document: Mapping[str, Any]) -> str:
    servers = document.get("servers")
    if isinstance(servers, list):
        return ", ".join(str(s.get("url")) for s in servers if isinstance(s, dict))
    host = document.get("host")
    return f"{host}{document.get('basePath', '')}" if isinstance(host, str) else ""
