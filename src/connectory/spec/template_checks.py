"""Checking the templates of a connector: syntax, and that every variable they read exists.

A template that reads ``credentials.api_key`` when the credential schema has no ``api_key`` field
would fail on every request; here it fails once, at load time, with the fix spelled out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel

from connectory.errors import TemplateError
from connectory.spec.auth import AuthSpec
from connectory.spec.findings import Finding
from connectory.spec.operations import OperationSpec
from connectory.spec.source import FieldPath, format_path
from connectory.spec.suggest import did_you_mean, format_choices
from connectory.templating import TEMPLATE_ROOTS, find_references, is_template_global

# Where each root's keys are declared, for messages.
_DECLARED_IN = {
    "credentials": "auth.credential_schema",
    "connector_parameters": "the connector's parameters",
    "parameters": "the operation's parameters",
}


@dataclass(frozen=True)
class TemplateScope:
    """The keys each template root has; None where they are unknown (nothing is checked then)."""

    credentials: set[str] | None = None
    connector_parameters: set[str] | None = None
    parameters: set[str] | None = None

    def keys(self, root: str) -> set[str] | None:
        """Return the declared keys of *root*, or None when they are not checked."""
        value: set[str] | None = getattr(self, root, None)
        return value


def check_connector_templates(
    *,
    base_url: str | None,
    headers: Mapping[str, str] | None,
    auth: AuthSpec | None,
    operations: list[tuple[int, OperationSpec]],
    scope: TemplateScope,
) -> list[Finding]:
    """Return the findings of every template of a connector (connector, auth and operations)."""
    findings: list[Finding] = []
    if base_url is not None:
        findings += check_template(("base_url",), base_url, scope)
    for name, value in (headers or {}).items():
        findings += check_template(("headers", name), value, scope)
    if auth is not None:
        for path, value in _strings(auth, ("auth",), skip=("auth_type", "credential_schema")):
            field_name = str(path[1])
            if field_name in auth.model_fields_set:
                findings += check_template(path, value, scope)
            else:
                # A default template: the author did not write it, so explain where it comes from
                # and point at the credential schema, where the fix usually goes.
                origin = f"{format_path(path)} (by default '{value}')"
                findings += check_template(
                    path, value, scope, anchor=("auth", "credential_schema"), origin=origin
                )
    for index, operation in operations:
        operation_scope = replace(scope, parameters={p.name for p in operation.parameters})
        at: FieldPath = ("operations", index)
        findings += check_template((*at, "path"), operation.path, operation_scope)
        for name, value in operation.headers.items():
            findings += check_template((*at, "headers", name), value, operation_scope)
    return findings


def check_written_operation_templates(
    index: int, operation: Mapping[str, Any], parameters: set[str], scope: TemplateScope
) -> list[Finding]:
    """The template findings of an operation that is invalid as a whole, as written.

    Its path and headers are still checked, so one broken field does not hide the rest.
    """
    at: FieldPath = ("operations", index)
    operation_scope = replace(scope, parameters=parameters)
    findings: list[Finding] = []
    path = operation.get("path")
    if isinstance(path, str):
        findings += check_template((*at, "path"), path, operation_scope)
    headers = operation.get("headers")
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if isinstance(value, str):
                findings += check_template((*at, "headers", str(name)), value, operation_scope)
    return findings


def check_template(
    path: FieldPath,
    source: str,
    scope: TemplateScope,
    *,
    anchor: FieldPath | None = None,
    origin: str | None = None,
) -> list[Finding]:
    """Return what is wrong with the template *source* found at *path*.

    Args:
        path: Where the template is.
        source: The template text.
        scope: The keys each root may be read with.
        anchor: Where to point instead of *path* (for a default the author did not write).
        origin: How to name the template in messages; defaults to its field path.
    """
    subject = origin or format_path(path)
    try:
        references = find_references(source)
    except TemplateError as exc:
        # The error text quotes the whole template, which may hold a literal secret.
        detail = str(exc).split(" is not valid: ", 1)[-1]
        # A syntax error needs the hint; other refusals say what to write themselves.
        advice = "" if "; " in detail else "; check the {{ }} and {% %} pairs"
        message = f"{subject} is not a valid template: {detail}{advice}"
        return [Finding(path, message, anchor=anchor)]
    findings: list[Finding] = []
    for reference in sorted(references, key=str):
        root, key = reference.root, reference.key
        if root not in TEMPLATE_ROOTS:
            if is_template_global(root):
                continue
            roots = list(TEMPLATE_ROOTS)
            findings.append(
                Finding(
                    path,
                    f"{subject} reads '{root}', which templates do not have; use "
                    f"{format_choices(roots)}{did_you_mean(root, roots)}",
                    anchor=anchor,
                )
            )
            continue
        declared = scope.keys(root)
        if key is None or declared is None or key in declared:
            continue
        where = _DECLARED_IN[root]
        known = format_choices(sorted(declared)) if declared else "none"
        findings.append(
            Finding(
                path,
                f"{subject} reads {root}.{key}, but '{key}' is not declared in {where}; add it "
                f"there or change the template (declared: {known}){did_you_mean(key, declared)}",
                anchor=anchor,
            )
        )
    return findings


def _strings(
    value: Any, path: FieldPath, skip: tuple[str, ...] = ()
) -> Iterator[tuple[FieldPath, str]]:
    """Yield every string leaf of a model, dict or list with its path (keys as written)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            if name not in skip:
                yield from _strings(getattr(value, name), (*path, info.alias or name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
