"""Sandboxed templates for values in a connector (``"Bearer {{ credentials.token }}"``).

Connector authors can be tenants, so templates are deliberately small: expressions, filters
from a short list, and ``{% if %}``; no loops, no assignments, no macros, no function or
method calls. On top of that they run in Jinja2's sandbox with ``StrictUndefined``. So a
template can read the variables it is given and nothing else, cannot reach Python internals,
and its rendering time and output are bounded by its own size: string repetition and every
filter's output are capped, and so is the rendered result.

Templates are compiled once (when the connector is loaded) and rendered per request. Most
templates are plain substitutions (``Token {{ credentials.api_key }}``): those are split into
text and look-ups once and rendered without Jinja2, which is then never even imported (see
:mod:`connectory.template_engine` for the rest). A string without template syntax is a
constant and costs nothing at request time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectory.errors import TemplateError
from connectory.templating_limits import MAX_OUTPUT_LENGTH, MAX_VALUE_LENGTH

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "MAX_OUTPUT_LENGTH",
    "MAX_VALUE_LENGTH",
    "TEMPLATE_ROOTS",
    "Reference",
    "Template",
    "compile_template",
    "find_references",
    "has_template_syntax",
    "is_template_global",
]

#: The variables a connector template may reference, and what each holds.
TEMPLATE_ROOTS: dict[str, str] = {
    "credentials": "the connection's credentials (fields of credential_schema)",
    "parameters": "the operation's parameters, after defaults are applied",
    "connector_parameters": "the connector's parameters (fields of the connector's parameters)",
    "config": "the connection's non-secret configuration",
}

_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_LOOKUP = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)"
    r"(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*(?:'([^'\\]*)'|\"([^\"\\]*)\")\s*\])?\s*"
)
#: Jinja2 resolves ``x.items`` to the dict method, not the key: leave such names to Jinja2 so
#: both paths always agree.
_DICT_ATTRIBUTES = frozenset(dir(dict))

#: A plain template: literal text and (root, key) look-ups, in order.
_Parts = tuple[str | tuple[str, str | None], ...]


def has_template_syntax(source: str) -> bool:
    """Return True when *source* contains Jinja2 expression or statement markers."""
    return "{{" in source or "{%" in source or "{#" in source


def _plain_parts(source: str) -> _Parts | None:
    """Split a substitution-only template into text and look-ups; None if it is more."""
    if "{%" in source or "{#" in source:
        return None
    parts: list[str | tuple[str, str | None]] = []
    position = 0
    for match in _EXPRESSION.finditer(source):
        text = source[position : match.start()]
        lookup = _LOOKUP.fullmatch(match.group(1))
        if lookup is None or "}}" in text:
            return None
        root, attribute, single, double = lookup.groups()
        if attribute is not None and (attribute in _DICT_ATTRIBUTES or attribute.startswith("_")):
            return None  # Jinja2 decides (and refuses ``._name``), so both paths agree
        key = attribute if attribute is not None else single if single is not None else double
        if key is not None and key.startswith("__"):
            return None
        if text:
            parts.append(text)
        parts.append((root, key))
        position = match.end()
    rest = source[position:]
    if "{{" in rest or "}}" in rest:
        return None
    if rest:
        parts.append(rest)
    return tuple(parts)


@dataclass(frozen=True)
class Reference:
    """A variable a template reads, e.g. ``credentials.api_key``.

    ``key`` is None when the template uses the root as a whole (``{{ parameters }}``) or with a
    computed key.
    """

    root: str
    key: str | None

    def __str__(self) -> str:
        return self.root if self.key is None else f"{self.root}.{self.key}"


class Template:
    """A compiled template. Render it with :meth:`render` against a variables mapping.

    A source without template syntax is kept as a constant; a plain substitution is rendered
    by look-ups; anything else is compiled by Jinja2's sandbox.
    """

    __slots__ = ("_compiled", "_parts", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._parts: _Parts | None = None
        self._compiled: jinja2.Template | None = None
        if not has_template_syntax(source):
            return
        self._parts = _plain_parts(source)
        if self._parts is None:
            from connectory.template_engine import compile_source

            self._compiled = compile_source(source)

    @property
    def is_constant(self) -> bool:
        """True when the source has no template syntax."""
        return self._compiled is None and self._parts is None

    def render(self, variables: Mapping[str, Any]) -> str:
        """Render the template.

        Raises:
            TemplateError: a referenced variable is missing or the template fails; the message
                names the template source and the missing variable, never a variable's value.
        """
        if self._parts is not None:
            rendered = "".join(
                part if isinstance(part, str) else self._look_up(part, variables)
                for part in self._parts
            )
        elif self._compiled is not None:
            from connectory.template_engine import render_compiled

            rendered = render_compiled(self._compiled, self.source, variables)
        else:
            return self.source
        if len(rendered) > MAX_OUTPUT_LENGTH:
            raise TemplateError(
                f"template {self.source!r} rendered more than {MAX_OUTPUT_LENGTH:,} characters"
            )
        return rendered

    def _look_up(self, lookup: tuple[str, str | None], variables: Mapping[str, Any]) -> str:
        # The same outcomes, and messages, as Jinja2 with StrictUndefined.
        root, key = lookup
        if root not in variables:
            raise TemplateError(
                f"template {self.source!r} could not be rendered: '{root}' is undefined"
            )
        value = variables[root]
        if key is not None:
            if not isinstance(value, Mapping) or key not in value:
                kind = "dict" if isinstance(value, Mapping) else type(value).__name__
                raise TemplateError(
                    f"template {self.source!r} could not be rendered: '{kind} object' has no "
                    f"attribute '{key}'"
                )
            value = value[key]
        text = str(value)
        if len(text) > MAX_VALUE_LENGTH:
            raise TemplateError(
                f"a template value is longer than {MAX_VALUE_LENGTH:,} characters; "
                "templates are for short values"
            )
        return text

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def compile_template(source: str) -> Template:
    """Compile *source* once; raises :class:`TemplateError` on a syntax error."""
    return Template(source)


def find_references(source: str) -> set[Reference]:
    """Return every variable *source* reads, as root plus first-level key.

    Raises:
        TemplateError: the source is not a valid template.
    """
    if not has_template_syntax(source):
        return set()
    parts = _plain_parts(source)
    if parts is not None:
        return {Reference(part[0], part[1]) for part in parts if not isinstance(part, str)}
    from connectory.template_engine import references_of

    return {Reference(root, key) for root, key in references_of(source)}


def is_template_global(name: str) -> bool:
    """Return True when *name* is a built-in of the template language (there are none)."""
    return False
