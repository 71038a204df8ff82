"""The Jinja2 side of connector templates: the capped sandbox, allowed syntax, references.

Imported only when a template needs more than plain ``{{ root.key }}`` substitution, so most
connectors (and the CLI's start-up) never load Jinja2 at all. See :mod:`connectory.templating`.
"""

from __future__ import annotations

import base64
import operator
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from connectory.errors import TemplateError
from connectory.templating_limits import MAX_VALUE_LENGTH

_ALLOWED_FILTERS = (
    "abs", "capitalize", "default", "d", "first", "float", "int", "join", "last", "length",
    "count", "lower", "replace", "round", "string", "title", "tojson", "trim", "truncate",
    "upper", "urlencode",
    # For mappings over lists and objects (collections): each is bounded by its input, which
    # is itself capped, and applies only the allowed filters and tests by name.
    "map", "select", "reject", "selectattr", "rejectattr", "list", "unique", "sort", "sum",
    "min", "max", "items", "reverse", "batch",
)  # fmt: skip
_ALLOWED_TESTS = (
    "defined", "undefined", "none", "true", "false", "number", "string", "mapping",
    "sequence", "eq", "ne", "in",
)  # fmt: skip
_ALLOWED_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test, nodes.If, nodes.CondExpr,
    nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos,
    nodes.Concat, nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod,
    nodes.List, nodes.Tuple, nodes.Dict, nodes.Pair, nodes.Keyword,
)  # fmt: skip


def _capped(result: Any) -> Any:
    if isinstance(result, str | list | tuple | dict) and len(result) > MAX_VALUE_LENGTH:
        raise TemplateError(
            f"a template value is longer than {MAX_VALUE_LENGTH:,} characters; "
            "templates are for short values"
        )
    return result


def _cap_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    def capped(*args: Any, **kwargs: Any) -> Any:
        return _capped(function(*args, **kwargs))

    # Jinja inspects these markers to pass the environment or context first.
    for marker in ("jinja_pass_arg",):
        if hasattr(function, marker):
            setattr(capped, marker, getattr(function, marker))
    return capped


def _b64encode(value: Any) -> str:
    return base64.b64encode(str(value).encode()).decode()


def _urlquote(value: Any) -> str:
    return quote(str(value), safe="")


class _CappedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox whose string and list repetition cannot exhaust memory."""

    intercepted_binops = frozenset({"*"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * max(times, 0) > MAX_VALUE_LENGTH
                ):
                    raise TemplateError("template output is too large (repetition capped)")
            return operator.mul(left, right)
        return super().call_binop(context, operator_, left, right)  # pragma: no cover


def _finalize_null(value: Any) -> Any:
    # In mappings a missing value is null; as text it is empty, not the word "None".
    return "" if value is None else value


def _create_environment(*, lenient: bool = False) -> SandboxedEnvironment:
    environment = _CappedSandbox(
        undefined=jinja2.ChainableUndefined if lenient else jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_finalize_null if lenient else None,
    )
    filters = {name: environment.filters[name] for name in _ALLOWED_FILTERS}
    filters.update(b64encode=_b64encode, urlquote=_urlquote)
    environment.filters = {name: _cap_filter(f) for name, f in filters.items()}
    environment.tests = {name: environment.tests[name] for name in _ALLOWED_TESTS}
    environment.globals.clear()
    return environment


_ENVIRONMENT = _create_environment()
#: Mappings (collections) read API data, where a missing key is null rather than an error.
_LENIENT_ENVIRONMENT = _create_environment(lenient=True)


def _check_allowed(source: str, tree: nodes.Template) -> None:
    """Refuse statements, calls and Python internals: templates are expressions over variables.

    The sandbox would stop ``''.__class__`` when rendering; refusing it here means a connector
    that tries fails validation, not its first request.
    """
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise TemplateError(
                f"template {source!r} uses {_describe_node(node)}, which connector templates do "
                "not allow; use expressions, filters and {% if %} only"
            )
        private = private_name(node)
        if private is not None:
            raise TemplateError(
                f"template {source!r} is not valid: {private_name_message(private)}"
            )


def private_name(node: nodes.Node) -> str | None:
    """The name a node reads if templates may not read it: ``x._y``, ``x['__y']``.

    A key that starts with one underscore can still be read with brackets (``x['_y']``),
    which only ever looks the key up; ``x._y`` and dunder names reach Python attributes.
    """
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
        and node.arg.value.startswith("__")
    ):
        return node.arg.value
    return None


def private_name_message(name: str) -> str:
    """Why *name* cannot be read, and what to write instead."""
    if name.startswith("__"):
        advice = "templates read credentials, parameters, connector_parameters and config only"
    else:
        advice = f"to read a key called '{name}', write ['{name}']"
    return (
        f"it reads '{name}', but names that start with an underscore are Python internals; {advice}"
    )


def _describe_node(node: nodes.Node) -> str:
    names = {
        "For": "a {% for %} loop",
        "Assign": "{% set %}",
        "AssignBlock": "{% set %}",
        "Macro": "a macro",
        "Call": "a function or method call",
        "Pow": "the ** operator",
        "With": "{% with %}",
        "Include": "{% include %}",
        "Import": "{% import %}",
        "FromImport": "{% import %}",
        "Extends": "{% extends %}",
        "Block": "{% block %}",
    }
    return names.get(type(node).__name__, f"'{type(node).__name__}'")


def _parse(source: str, environment: SandboxedEnvironment = _ENVIRONMENT) -> nodes.Template:
    try:
        tree = environment.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"template {source!r} is not valid: {exc.message} (line {exc.lineno})"
        ) from None
    _check_allowed(source, tree)
    return tree


def compile_source(source: str) -> jinja2.Template:
    """Parse, check and compile *source*.

    Raises:
        TemplateError: invalid syntax, a construct templates may not use, an unknown filter.
    """
    tree = _parse(source)
    try:
        return _ENVIRONMENT.from_string(tree)
    except jinja2.TemplateError as exc:
        # e.g. "No filter named 'center'": unknown filters fail when compiling.
        raise TemplateError(
            f"template {source!r} is not valid: {exc.message}; allowed filters: "
            f"{', '.join(sorted(_ENVIRONMENT.filters))}"
        ) from None


def render_compiled(compiled: jinja2.Template, source: str, variables: Mapping[str, Any]) -> str:
    """Render a compiled template, translating every failure into a TemplateError."""
    try:
        return compiled.render(variables)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {source!r} could not be rendered: {exc.message}") from None
    except TemplateError:
        raise
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template {source!r} could not be rendered: {exc.message}") from None
    except (TypeError, ValueError, ArithmeticError, OverflowError, MemoryError) as exc:
        raise TemplateError(
            f"template {source!r} could not be rendered: {type(exc).__name__}"
        ) from None


def references_of(source: str) -> set[tuple[str, str | None]]:
    """Return ``(root, key)`` for every variable *source* reads (key None: the whole root)."""
    tree = _parse(source)
    references: set[tuple[str, str | None]] = set()
    keyed_names: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        inner = node.node
        if isinstance(inner, nodes.Name):
            keyed_names.add(id(inner))
            if isinstance(node, nodes.Getattr):
                references.add((inner.name, node.attr))
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                references.add((inner.name, node.arg.value))
            else:
                references.add((inner.name, None))
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and id(name) not in keyed_names:
            references.add((name.name, None))
    return references


def compile_lenient(source: str) -> jinja2.Template:
    """Compile *source* for a mapping: a missing key is null (empty as text), not an error.

    Raises:
        TemplateError: invalid syntax, a construct templates may not use, an unknown filter.
    """
    tree = _parse(source, _LENIENT_ENVIRONMENT)
    try:
        return _LENIENT_ENVIRONMENT.from_string(tree)
    except jinja2.TemplateError as exc:
        raise TemplateError(
            f"template {source!r} is not valid: {exc.message}; allowed filters: "
            f"{', '.join(sorted(_LENIENT_ENVIRONMENT.filters))}"
        ) from None


def compile_native(expression: str, source: str) -> Callable[[Mapping[str, Any]], Any]:
    """Compile the expression of a one-expression mapping (``{{ expr }}``) to a function.

    The function returns the expression's value itself (a number, list, object...), with
    generators (``map``, ``select``...) turned into lists; a missing key gives None.

    Raises:
        TemplateError: as :func:`compile_lenient`.
    """
    _parse(source, _LENIENT_ENVIRONMENT)  # the same allowed syntax as every template
    try:
        evaluate = _LENIENT_ENVIRONMENT.compile_expression(expression, undefined_to_none=True)
    except jinja2.TemplateError as exc:
        raise TemplateError(
            f"template {source!r} is not valid: {exc.message}; allowed filters: "
            f"{', '.join(sorted(_LENIENT_ENVIRONMENT.filters))}"
        ) from None

    def run(variables: Mapping[str, Any]) -> Any:
        try:
            return _native(evaluate(**variables))
        except TemplateError:
            raise
        except jinja2.TemplateError as exc:
            raise TemplateError(
                f"template {source!r} could not be evaluated: {exc.message}"
            ) from None
        except (TypeError, ValueError, ArithmeticError, OverflowError, MemoryError) as exc:
            raise TemplateError(
                f"template {source!r} could not be evaluated: {type(exc).__name__}"
            ) from None

    return run


def _native(value: Any) -> Any:
    """Return *value* as plain JSON-like data: generators listed, Undefined as None."""
    if isinstance(value, jinja2.Undefined):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): _native(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_native(item) for item in value]
    if hasattr(value, "__next__"):  # map/select/... return generators
        items = []
        for item in value:
            items.append(_native(item))
            if len(items) > MAX_VALUE_LENGTH:
                raise TemplateError(
                    f"a template value is longer than {MAX_VALUE_LENGTH:,} items; "
                    "templates are for short values"
                )
        return items
    return value
