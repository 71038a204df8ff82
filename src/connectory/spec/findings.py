"""A problem found at a field path, before the loader gives it a file, line and column."""

from __future__ import annotations

from dataclasses import dataclass

from connectory.spec.source import FieldPath


@dataclass(frozen=True)
class Finding:
    """A problem found at a field path of the assembled connector.

    The checks and the pydantic error translation produce findings; the loader, which knows which
    file each part came from, turns them into :class:`~connectory.errors.Problem` objects.

    Attributes:
        path: The field the finding is about, in the assembled connector.
        message: What is wrong and what to write instead.
        severity: ``error`` or ``warning``.
        at_key: Point at the mapping key rather than at the value.
        anchor: Where to point instead of *path* (e.g. for a field that is not written).
        related: Another place involved, e.g. the first of two duplicates.
    """

    path: FieldPath
    message: str
    severity: str = "error"
    at_key: bool = False
    anchor: FieldPath | None = None
    related: FieldPath | None = None
