"""Sandboxed templates (templating.py)."""

from __future__ import annotations

import pytest

from connectory.errors import TemplateError
from connectory.templating import (
    TEMPLATE_ROOTS,
    Reference,
    Template,
    compile_template,
    find_references,
    has_template_syntax,
    is_template_global,
)

VARIABLES = {
    "credentials": {"api_key": "k-1", "user": "ann"},
    "parameters": {"limit": 3, "tags": ["a", "b"]},
    "connector_parameters": {"tenant": "acme"},
    "config": {"region": "eu"},
}


class TestConstants:
    @pytest.mark.parametrize("source", ["", "plain", "Bearer ", "{ not a template }", "50% off"])
    def test_text_without_syntax_is_a_constant(self, source: str) -> None:
        template = compile_template(source)
        assert template.is_constant
        assert template.render({}) == source

    def test_constants_render_without_jinja(self) -> None:
        template = Template("plain")
        assert template._compiled is None
        # No variables needed, whatever is passed.
        assert template.render({"anything": object()}) == "plain"

    @pytest.mark.parametrize("source", ["{{ x }}", "{% if x %}y{% endif %}", "{# note #}"])
    def test_syntax_markers(self, source: str) -> None:
        assert has_template_syntax(source)
        assert not compile_template(source).is_constant


class TestRendering:
    def test_renders_each_root(self) -> None:
        template = compile_template(
            "{{ credentials.api_key }}|{{ parameters.limit * 2 }}|"
            "{{ connector_parameters['tenant'] }}|{{ config.region | upper }}|"
            "{{ parameters.tags | join(',') }}"
        )
        assert template.render(VARIABLES) == "k-1|6|acme|EU|a,b"

    def test_no_html_escaping_and_trailing_newline_kept(self) -> None:
        assert compile_template("{{ v }}\n").render({"v": "<a&b>"}) == "<a&b>\n"

    def test_missing_variable_is_an_error_naming_it(self) -> None:
        with pytest.raises(TemplateError) as caught:
            compile_template("Bearer {{ credentials.token }}").render(VARIABLES)
        message = str(caught.value)
        assert "'token'" in message
        assert "Bearer {{ credentials.token }}" in message
        # Values of the variables are never shown.
        assert "k-1" not in message

    def test_missing_root_is_an_error(self) -> None:
        with pytest.raises(TemplateError, match="'secrets' is undefined"):
            compile_template("{{ secrets.x }}").render(VARIABLES)

    def test_undefined_cannot_be_used_silently(self) -> None:
        with pytest.raises(TemplateError):
            compile_template("{% if config.missing %}x{% endif %}").render(VARIABLES)
        with pytest.raises(TemplateError):
            compile_template("{{ config.missing ~ 'x' }}").render(VARIABLES)

    def test_syntax_error_is_reported_at_compile_time(self) -> None:
        with pytest.raises(TemplateError, match=r"is not valid: .*\(line 1\)"):
            compile_template("{{ credentials.api_key ")

    def test_type_errors_while_rendering_are_template_errors(self) -> None:
        with pytest.raises(TemplateError, match="TypeError"):
            compile_template("{{ parameters.tags + 1 }}").render(VARIABLES)
        with pytest.raises(TemplateError, match="ZeroDivisionError"):
            compile_template("{{ 1 // 0 }}").render({})

    def test_repr(self) -> None:
        assert repr(compile_template("{{ x }}")) == "Template('{{ x }}')"


class TestSandbox:
    @pytest.mark.parametrize(
        "source",
        [
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ config.__class__.__init__.__globals__ }}",
            "{{ credentials.__class__ }}",
            "{{ (lambda: 1) }}",
            "{{ cycler.__init__.__globals__.os }}",
            "{{ ''.format.__self__ }}",
        ],
    )
    def test_python_internals_are_out_of_reach(self, source: str) -> None:
        try:
            template = compile_template(source)
        except TemplateError:
            return
        with pytest.raises(TemplateError):
            template.render(VARIABLES)

    @pytest.mark.parametrize(
        "source",
        ["{{ ''.__class__ }}", "{{ credentials._x }}", "{{ credentials['__dict__'] }}"],
    )
    def test_underscore_names_are_refused_when_compiling(self, source: str) -> None:
        # Not only when rendering: the same rule holds at validation and at run time.
        with pytest.raises(TemplateError, match="start with an underscore"):
            compile_template(source)

    def test_unsafe_str_format_is_blocked(self) -> None:
        with pytest.raises(TemplateError):
            compile_template("{{ '{0.__class__}'.format(config) }}").render(VARIABLES)

    @pytest.mark.parametrize(
        "source",
        [
            "{{ 'x' * 1000000 }}",
            "{{ 1000000 * 'x' }}",
            "{{ [1, 2] * 1000000 }}",
            "{{ ('ab', 'cd') * 60000 }}",
        ],
    )
    def test_repetition_is_capped(self, source: str) -> None:
        with pytest.raises(TemplateError, match="too large"):
            compile_template(source).render({})

    def test_small_repetition_is_fine(self) -> None:
        assert compile_template("{{ '-' * 5 }}").render({}) == "-----"

    @pytest.mark.parametrize(
        ("source", "what"),
        [
            ("{{ 9 ** 999999 }}", "the \\*\\* operator"),
            (
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                "loop",
            ),
            ("{% set x = 'a' %}{{ x }}", "set"),
            ("{{ 'x'.center(1000000) }}", "call"),
            ("{{ '{:>1000000}'.format(1) }}", "call"),
            ("{% macro m() %}x{% endmacro %}{{ m() }}", "macro"),
        ],
    )
    def test_statements_calls_and_powers_are_refused_when_compiling(
        self, source: str, what: str
    ) -> None:
        with pytest.raises(TemplateError, match=what):
            compile_template(source)

    def test_unknown_filters_are_refused_when_compiling(self) -> None:
        with pytest.raises(TemplateError, match="allowed filters"):
            compile_template("{{ 'x' | center(1000000) }}")

    def test_filter_output_is_capped(self) -> None:
        source = "{{ ('a' * 90000) | replace('a', 'aa') }}"
        with pytest.raises(TemplateError, match="longer than"):
            compile_template(source).render({})

    def test_allowed_filters_and_if_work(self) -> None:
        source = (
            "{% if credentials.user %}{{ credentials.user | b64encode }}{% endif %}:"
            "{{ config.region | default('eu') | upper }}:{{ parameters.q | urlquote }}"
        )
        rendered = compile_template(source).render(
            {"credentials": {"user": "me"}, "config": {}, "parameters": {"q": "a/b c"}}
        )
        assert rendered == "bWU=:EU:a%2Fb%20c"


class TestFindReferences:
    def test_constant_has_none(self) -> None:
        assert find_references("no templates here") == set()

    def test_attribute_and_item_access(self) -> None:
        source = (
            "{{ credentials.api_key }} {{ config['region'] }} {{ parameters[name] }} "
            "{{ connector_parameters }}"
        )
        assert find_references(source) == {
            Reference("credentials", "api_key"),
            Reference("config", "region"),
            Reference("parameters", None),
            Reference("name", None),
            Reference("connector_parameters", None),
        }

    def test_nested_access_reports_the_first_level_key(self) -> None:
        assert find_references("{{ config.db.host }}") == {Reference("config", "db")}

    def test_loops_are_refused(self) -> None:
        with pytest.raises(TemplateError, match="loop"):
            find_references("{% for tag in parameters.tags %}{{ tag.name }}{% endfor %}")

    def test_filters_and_tests_are_not_references(self) -> None:
        assert find_references("{{ config.a | default('x') | upper }}") == {
            Reference("config", "a")
        }

    def test_invalid_source_is_a_template_error(self) -> None:
        with pytest.raises(TemplateError, match="is not valid"):
            find_references("{{ config. }}")

    def test_reference_str(self) -> None:
        assert str(Reference("credentials", "api_key")) == "credentials.api_key"
        assert str(Reference("config", None)) == "config"


def test_roots_and_globals() -> None:
    assert set(TEMPLATE_ROOTS) == {"credentials", "parameters", "connector_parameters", "config"}
    assert not is_template_global("range")
    assert not is_template_global("credentials")
