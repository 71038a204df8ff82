"""Semantic versions of connectors, and what changed between two versions (pure functions).

A connector's first publish is ``1.0.0``; every later one bumps the latest published version by
the part the publisher chooses. :func:`suggest_bump` proposes that part from the change:

* **major**: callers or connections break: an operation was removed, an existing operation
  gained a required parameter (or one became required), a required credential field or
  connector parameter without a default was added, or the auth type changed;
  a collection, one of its methods or a filter or match field of one was removed, or a
  collection method's operation was removed;
* **minor**: an operation or a collection (or a method of one) was added;
* **patch**: anything else (descriptions, paths, defaults, resilience, hooks...).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from connectory.spec import ConnectorSpec, InputFieldSpec
from connectory.spec.operations import OperationSpec, ParameterSpec

Bump = Literal["major", "minor", "patch"]
BUMPS: tuple[Bump, ...] = ("major", "minor", "patch")
FIRST_VERSION = "1.0.0"

_SEMVER = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
#: The top-level ``version`` field is rewritten by every publish; it is not a change by itself.
_IGNORED = frozenset({"version"})
_MAX_UNIFIED_LINES = 4000


def parse_version(text: str) -> tuple[int, int, int]:
    """Return ``(major, minor, patch)`` of ``"1.2.3"``.

    Raises:
        ValueError: *text* is not ``MAJOR.MINOR.PATCH`` with plain numbers.
    """
    match = _SEMVER.fullmatch(text)
    if match is None:
        raise ValueError(f"'{text[:40]}' is not a version; write MAJOR.MINOR.PATCH, e.g. 1.2.0")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def is_version(text: str) -> bool:
    """True when *text* is ``MAJOR.MINOR.PATCH``."""
    return _SEMVER.fullmatch(text) is not None


def next_version(latest: str | None, bump: Bump) -> str:
    """Return the version a publish assigns: ``1.0.0`` first, then *latest* bumped by *bump*."""
    if latest is None:
        return FIRST_VERSION
    major, minor, patch = parse_version(latest)
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


@dataclass(frozen=True)
class BumpSuggestion:
    """The bump a change calls for, and why."""

    bump: Bump
    reasons: list[str]


def suggest_bump(old: ConnectorSpec, new: ConnectorSpec) -> BumpSuggestion:
    """Suggest the version bump for going from *old* to *new* (see the module docstring)."""
    major = list(_breaking_changes(old, new))
    if major:
        return BumpSuggestion("major", major)
    added = [
        f"operation '{name}' was added"
        for name in new.operation_names
        if old.operation(name) is None
    ]
    added += list(_added_collections(old, new))
    if added:
        return BumpSuggestion("minor", added)
    return BumpSuggestion("patch", ["no operation was added or removed, nothing became required"])


def _breaking_changes(old: ConnectorSpec, new: ConnectorSpec) -> Iterator[str]:
    for name in old.operation_names:
        if new.operation(name) is None:
            yield f"operation '{name}' was removed"
    for operation in new.operations:
        before = old.operation(operation.name)
        if before is not None:
            yield from _newly_required_parameters(before, operation)
    if old.auth.auth_type != new.auth.auth_type:
        yield f"auth_type changed from {old.auth.auth_type} to {new.auth.auth_type}"
    yield from _newly_required_fields(
        old.auth.credential_schema, new.auth.credential_schema, "credential field"
    )
    yield from _newly_required_fields(old.parameters, new.parameters, "connector parameter")
    yield from _collection_breaks(old, new)


def _collection_breaks(old: ConnectorSpec, new: ConnectorSpec) -> Iterator[str]:
    for before in old.collections:
        after = new.collection(before.key)
        if after is None:
            yield f"collection '{before.key}' was removed"
            continue
        for name, method in before.methods.defined().items():
            now = after.method(name)
            if now is None:
                yield f"method '{name}' of collection '{before.key}' was removed"
                continue
            for key in ("filters", "match_fields"):
                for value in getattr(method, key):
                    if value not in getattr(now, key):
                        what = "filter" if key == "filters" else "match field"
                        yield f"{what} '{value}' of {before.key}.{name} was removed"
    # A method whose operation is gone no longer works (the new version does not even load
    # without fixing it, but the diff of stored documents says so too).
    for collection in new.collections:
        for name, method in collection.methods.defined().items():
            if method.operation is not None and new.operation(method.operation) is None:
                yield (
                    f"{collection.key}.{name} uses operation '{method.operation}', which "
                    "this version does not have"
                )


def _added_collections(old: ConnectorSpec, new: ConnectorSpec) -> Iterator[str]:
    for collection in new.collections:
        before = old.collection(collection.key)
        if before is None:
            yield f"collection '{collection.key}' was added"
            continue
        for name in collection.methods.defined():
            if before.method(name) is None:
                yield f"method '{name}' of collection '{collection.key}' was added"


def _newly_required_parameters(old: OperationSpec, new: OperationSpec) -> Iterator[str]:
    for parameter in new.parameters:
        required = (
            parameter.required or parameter.location == "path"
        ) and parameter.default is None
        if not required:
            continue
        before = old.parameter(parameter.name)
        if before is None:
            yield f"operation '{new.name}' has a new required parameter '{parameter.name}'"
        elif not (before.required or before.location == "path") or before.default is not None:
            yield f"parameter '{parameter.name}' of operation '{new.name}' became required"


def _required(parameter: ParameterSpec) -> bool:
    # Path parameters are required whatever they say; a default fills an omitted value.
    return (parameter.required or parameter.location == "path") and parameter.default is None


def _newly_required_fields(
    old: Mapping[str, InputFieldSpec], new: Mapping[str, InputFieldSpec], kind: str
) -> Iterator[str]:
    for name, spec in new.items():
        # A default fills the value for existing connections, so nothing breaks.
        if not spec.required or spec.default is not None:
            continue
        before = old.get(name)
        if before is None:
            yield f"new required {kind} '{name}'"
        elif not before.required or before.default is not None:
            yield f"{kind} '{name}' became required"


@dataclass(frozen=True)
class Change:
    """One difference between two documents.

    Attributes:
        path: Where, e.g. ``operations[get_weather].parameters[units].default``; items of lists
            of named objects are addressed by name, so inserting one does not shift the rest.
        kind: ``added``, ``removed`` or ``changed``.
        old: The value before (None when added).
        new: The value after (None when removed).
    """

    path: str
    kind: Literal["added", "removed", "changed"]
    old: Any = None
    new: Any = None


@dataclass
class NamedChanges:
    """Names of items (operations, files) added, removed and changed."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


@dataclass
class VersionDiff:
    """What changed between two versions of a connector."""

    changes: list[Change]
    operations: NamedChanges
    files: NamedChanges
    unified: str

    @property
    def changed(self) -> bool:
        """True when the documents or files differ at all."""
        return bool(self.changes or self.files.added or self.files.removed or self.files.changed)


def diff_versions(
    old_document: Mapping[str, Any],
    new_document: Mapping[str, Any],
    old_files: Mapping[str, str] | None = None,
    new_files: Mapping[str, str] | None = None,
    *,
    labels: tuple[str, str] = ("old", "new"),
) -> VersionDiff:
    """Compare two connector documents (and their files)."""
    # Publishing writes the version number into the document; it is not a change of content
    # (the two version numbers are known to the caller anyway).
    old_document = _without_ignored(old_document)
    new_document = _without_ignored(new_document)
    changes: list[Change] = []
    _diff_values(old_document, new_document, "", changes)
    old_files = old_files or {}
    new_files = new_files or {}
    files = NamedChanges(
        added=sorted(set(new_files) - set(old_files)),
        removed=sorted(set(old_files) - set(new_files)),
        changed=sorted(p for p in set(old_files) & set(new_files) if old_files[p] != new_files[p]),
    )
    return VersionDiff(
        changes=changes,
        operations=_operation_changes(old_document, new_document),
        files=files,
        unified=_unified(old_document, new_document, old_files, new_files, labels),
    )


def has_changes(
    old_document: Mapping[str, Any],
    new_document: Mapping[str, Any],
    old_files: Mapping[str, str],
    new_files: Mapping[str, str],
) -> bool:
    """True when anything but the ``version`` field differs."""
    return _without_ignored(old_document) != _without_ignored(new_document) or dict(
        old_files
    ) != dict(new_files)


def _without_ignored(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in _IGNORED}


def _operation_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> NamedChanges:
    before = _by_name(old.get("operations"))
    after = _by_name(new.get("operations"))
    return NamedChanges(
        added=[name for name in after if name not in before],
        removed=[name for name in before if name not in after],
        changed=[name for name in after if name in before and before[name] != after[name]],
    )


#: The keys that name an item of a list of objects: operations by name, collections by key.
_NAME_KEYS = ("name", "key")


def _item_name(item: Any) -> Any:
    if not isinstance(item, dict):
        return None
    return next((item[key] for key in _NAME_KEYS if isinstance(item.get(key), str)), None)


def _by_name(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {name: item for item in items if (name := _item_name(item)) is not None}


def _keyed(items: list[Any]) -> bool:
    names = [_item_name(item) for item in items]
    return all(isinstance(name, str) for name in names) and len(set(names)) == len(names)


def _diff_values(old: Any, new: Any, path: str, out: list[Change]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in [*old, *(k for k in new if k not in old)]:
            where = _join(path, key)
            if key not in new:
                out.append(Change(where, "removed", old=old[key]))
            elif key not in old:
                out.append(Change(where, "added", new=new[key]))
            else:
                _diff_values(old[key], new[key], where, out)
        return
    if isinstance(old, list) and isinstance(new, list) and _keyed(old) and _keyed(new):
        before, after = _by_name(old), _by_name(new)
        for name in [*before, *(n for n in after if n not in before)]:
            where = f"{path}[{name}]"
            if name not in after:
                out.append(Change(where, "removed", old=before[name]))
            elif name not in before:
                out.append(Change(where, "added", new=after[name]))
            else:
                _diff_values(before[name], after[name], where, out)
        return
    if old != new or type(old) is not type(new):
        out.append(Change(path or "$", "changed", old=old, new=new))


def _join(path: str, key: str) -> str:
    part = key if _IDENTIFIER.fullmatch(key) else f'["{key}"]'
    if not path:
        return part
    return f"{path}{part}" if part.startswith("[") else f"{path}.{part}"


def _unified(
    old_document: Mapping[str, Any],
    new_document: Mapping[str, Any],
    old_files: Mapping[str, str],
    new_files: Mapping[str, str],
    labels: tuple[str, str],
) -> str:
    """A unified diff of the documents (as YAML, keys sorted) and of every file."""
    old_label, new_label = labels
    lines = list(
        difflib.unified_diff(
            _as_yaml(old_document).splitlines(keepends=True),
            _as_yaml(new_document).splitlines(keepends=True),
            f"{old_label}/connector.yaml",
            f"{new_label}/connector.yaml",
        )
    )
    for path in sorted(set(old_files) | set(new_files)):
        lines += difflib.unified_diff(
            old_files.get(path, "").splitlines(keepends=True),
            new_files.get(path, "").splitlines(keepends=True),
            f"{old_label}/{path}" if path in old_files else "/dev/null",
            f"{new_label}/{path}" if path in new_files else "/dev/null",
        )
    if len(lines) > _MAX_UNIFIED_LINES:
        cut = len(lines) - _MAX_UNIFIED_LINES
        lines = [*lines[:_MAX_UNIFIED_LINES], f"... {cut} more line(s) not shown\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _as_yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=True, allow_unicode=True, width=100)
