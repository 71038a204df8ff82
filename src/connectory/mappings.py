"""Mappings: templates that build JSON values, not text (collections' inputs and outputs).

A mapping is a JSON value whose strings may be templates, in the connector's one template
language (:mod:`connectory.templating`)::

    {"email": "{{ fields.email }}", "tags": "{{ fields.tags | map(attribute='name') }}",
     "label": "{{ fields.first }} {{ fields.last }}", "kind": "contact"}

* a string that is exactly one ``{{ expr }}`` yields the expression's value itself: a number,
  boolean, null, object or list, never its text;
* any other string with template syntax renders to text (a null renders as nothing);
* objects and lists are mapped item by item; everything else is a constant.

Mappings read API data, where a key is often absent: a missing key is null, not an error
(``{{ item.owner.email }}`` is null when ``owner`` is missing). Which variables a mapping may
read is checked when the connector loads, like every other template.

The common mappings (``{{ item.id }}``, ``{{ fields }}``, constants) are evaluated with plain
look-ups: Jinja2 is not involved, so mapping a record costs about a dictionary access.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from connectory.templating import find_references, has_template_syntax

__all__ = ["CompiledMapping", "compile_mapping", "mapping_references"]

Evaluate = Callable[[Mapping[str, Any]], Any]

_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
_DOTTED = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*$")
#: Names Jinja2 resolves to methods of a dict (``x.items``), left to Jinja2 so both agree.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class CompiledMapping:
    """A mapping compiled once; :meth:`evaluate` builds its value from the variables."""

    __slots__ = ("_evaluate", "source")

    def __init__(self, source: Any) -> None:
        self.source = source
        self._evaluate = _compile(source)

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """Return the mapped value.

        Raises:
            TemplateError: an expression fails (a type error, a value over the size limits).
        """
        return self._evaluate(variables)

    def __repr__(self) -> str:
        return f"CompiledMapping({self.source!r})"


def compile_mapping(source: Any) -> CompiledMapping:
    """Compile *source* (a JSON value whose strings may be templates).

    Raises:
        TemplateError: a template is not valid.
    """
    return CompiledMapping(source)


def mapping_references(source: Any) -> list[tuple[str, str]]:
    """Return ``(template, root.key)`` for every variable the strings of *source* read.

    Raises:
        TemplateError: a template is not valid.
    """
    found: list[tuple[str, str]] = []
    for text in _strings(source):
        found += [(text, str(reference)) for reference in sorted(find_references(text), key=str)]
    return found


def _strings(source: Any) -> list[str]:
    if isinstance(source, str):
        return [source] if has_template_syntax(source) else []
    if isinstance(source, Mapping):
        return [text for value in source.values() for text in _strings(value)]
    if isinstance(source, list):
        return [text for value in source for text in _strings(value)]
    return []


def _compile(source: Any) -> Evaluate:
    if isinstance(source, str):
        return _compile_string(source)
    if isinstance(source, Mapping):
        parts = [(str(key), _compile(value)) for key, value in source.items()]
        return lambda variables: {key: part(variables) for key, part in parts}
    if isinstance(source, list):
        items = [_compile(value) for value in source]
        return lambda variables: [item(variables) for item in items]
    return lambda _variables: source


def _compile_string(source: str) -> Evaluate:
    if not has_template_syntax(source):
        return lambda _variables: source
    single = _SINGLE.match(source)
    if single is not None and "{%" not in source and "{#" not in source:
        expression = single.group("expr")
        dotted = _DOTTED.match(expression)
        if dotted is not None:
            steps = dotted.group(1).split(".")
            if not any(step in _DICT_ATTRIBUTES for step in steps[1:]):
                return _look_up(steps)
        from connectory.template_engine import compile_native

        return compile_native(expression, source)
    from connectory.template_engine import compile_lenient, render_compiled

    compiled = compile_lenient(source)
    return lambda variables: render_compiled(compiled, source, variables)


def _look_up(steps: list[str]) -> Evaluate:
    root, rest = steps[0], tuple(steps[1:])
    if not rest:
        return lambda variables: variables.get(root)
    if len(rest) == 1:
        key = rest[0]

        def one(variables: Mapping[str, Any]) -> Any:
            value = variables.get(root)
            return value.get(key) if isinstance(value, dict) else None

        return one

    def walk(variables: Mapping[str, Any]) -> Any:
        value = variables.get(root)
        for step in rest:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        return value

    return walk
