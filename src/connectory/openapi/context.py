"""State of one import: the document, the warnings and errors found, and ``$ref`` lookups."""

from __future__ import annotations

from typing import Any

from connectory.errors import Problem
from connectory.openapi.errors import OpenAPIError, import_problem
from connectory.openapi.pointers import MISSING, Parts, lookup, parse_pointer, to_pointer
from connectory.openapi.reading import OpenAPIDocument
from connectory.openapi.results import OpenAPIWarning

#: Longest chain of references followed for one object (a -> b -> c ...).
MAX_REF_CHAIN = 32


class ImportContext:
    """One import's document, warnings and errors; passed to every mapping step.

    Args:
        document: The parsed document.
    """

    def __init__(self, document: OpenAPIDocument) -> None:
        self.document = document
        self.data = document.data
        self.version = document.version
        self.warnings: list[OpenAPIWarning] = []
        self.errors: list[Problem] = []
        self._warned: set[tuple[str, str]] = set()
        # Warnings that would repeat for many operations: one per group, naming them.
        self._groups: dict[str, tuple[str, str, list[str]]] = {}
        #: The connector's base URL, once worked out (operations' own servers compare to it).
        self.base_url: str | None = None

    @property
    def is_swagger(self) -> bool:
        """True for Swagger 2.0."""
        return self.version == "2.0"

    def warn(self, parts: Parts | str, message: str) -> None:
        """Record a warning at *parts* (or a pointer), once per place and message."""
        pointer = parts if isinstance(parts, str) else to_pointer(parts)
        if (pointer, message) not in self._warned:
            self._warned.add((pointer, message))
            self.warnings.append(OpenAPIWarning(pointer, message))

    def warn_many(self, group: str, parts: Parts | str, item: str, message: str) -> None:
        """Record one case of a warning that is given once for all its cases.

        Args:
            group: What the cases share (the same message for each).
            parts: Where this case is; the warning points at the first case.
            item: How the case is named in the warning (an operation, a parameter).
            message: The warning, with ``{count}`` and ``{items}`` (the first few cases).
        """
        pointer = parts if isinstance(parts, str) else to_pointer(parts)
        entry = self._groups.setdefault(group, (pointer, message, []))
        if item not in entry[2]:
            entry[2].append(item)

    def flush_groups(self) -> None:
        """Turn the grouped cases into warnings (call once, at the end of the import)."""
        for pointer, message, items in self._groups.values():
            shown = ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
            # Not str.format: messages quote the document, whose braces are not fields.
            text = message.replace("{count}", str(len(items))).replace("{items}", shown)
            self.warn(pointer, text)
        self._groups.clear()

    def fail(self, parts: Parts | str, message: str) -> None:
        """Record an error at *parts*; the import raises them all together at the end."""
        pointer = parts if isinstance(parts, str) else to_pointer(parts)
        problem = import_problem(message, pointer, self.document.name)
        if problem not in self.errors:
            self.errors.append(problem)

    def raise_errors(self) -> None:
        """Raise every error recorded so far, if any.

        Raises:
            OpenAPIError: at least one error was recorded.
        """
        if self.errors:
            raise OpenAPIError(list(self.errors))

    def ref_target(self, ref: Any, at: Parts) -> Parts | None:
        """Return where an internal ``$ref`` points; record an error when it cannot be followed."""
        if not isinstance(ref, str):
            self.fail((*at, "$ref"), "$ref must be text, e.g. '#/components/schemas/Pet'")
            return None
        if not ref.startswith("#"):
            self.fail(
                (*at, "$ref"),
                f"$ref '{ref[:120]}' points outside this document; external references are "
                "not followed: bundle the document into one file first (e.g. redocly bundle)",
            )
            return None
        parts = parse_pointer(ref[1:])
        if parts is None or lookup(self.data, parts) is MISSING:
            self.fail((*at, "$ref"), f"$ref '{ref[:120]}' points to nothing in this document")
            return None
        return parts

    def resolve(self, node: Any, at: Parts) -> tuple[Any, Parts]:
        """Follow ``$ref`` from *node* (at *at*) to the object it names.

        Returns:
            The object and where it is; ``(None, at)`` when the reference is broken or circular
            (an error is recorded).
        """
        seen: list[Parts] = []
        while isinstance(node, dict) and "$ref" in node:
            if at in seen or len(seen) >= MAX_REF_CHAIN:
                chain = " -> ".join(to_pointer(part) or "/" for part in [*seen, at])
                self.fail(seen[0], f"circular $ref: {chain} never reaches an object")
                return None, at
            seen.append(at)
            target = self.ref_target(node["$ref"], at)
            if target is None:
                return None, at
            node, at = lookup(self.data, target), target
        return node, at

    def at(self, parts: Parts) -> Any:
        """Return the value at *parts*, or None."""
        value = lookup(self.data, parts)
        return None if value is MISSING else value
