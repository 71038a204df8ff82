"""Checking operation parameters, credentials and connector parameters (runtime/inputs.py)."""

from __future__ import annotations

from typing import Any

import pytest

from connectory.errors import CredentialsError, InputError
from connectory.runtime.inputs import coerce_parameter, resolve_fields, resolve_parameters
from connectory.spec import InputFieldSpec, OperationSpec, ParameterSpec


def _operation(*parameters: dict[str, Any]) -> OperationSpec:
    return OperationSpec.model_validate(
        {"name": "search", "path": "/search", "parameters": list(parameters)}
    )


def _parameter(**fields: Any) -> ParameterSpec:
    return ParameterSpec.model_validate({"name": "p", **fields})


class TestResolveParameters:
    def test_defaults_are_applied_and_given_values_kept(self) -> None:
        operation = _operation(
            {"name": "q", "required": True},
            {"name": "limit", "type": "integer", "default": 10},
            {"name": "sort", "enum": ["asc", "desc"], "default": "asc"},
        )
        assert resolve_parameters(operation, {"q": "x"}) == {"q": "x", "limit": 10, "sort": "asc"}

    def test_optional_parameter_without_default_is_left_out(self) -> None:
        operation = _operation({"name": "q"})
        assert resolve_parameters(operation, {}) == {}

    def test_missing_required_parameter_is_named(self) -> None:
        operation = _operation(
            {"name": "q", "required": True, "description": "City name"}, {"name": "other"}
        )
        with pytest.raises(InputError) as caught:
            resolve_parameters(operation, {"other": "1"})
        assert caught.value.parameter == "q"
        message = str(caught.value)
        assert "'q'" in message
        assert "required" in message
        assert "search" in message
        assert "City name" in message

    def test_path_parameter_is_required_even_when_not_marked(self) -> None:
        operation = _operation({"name": "id", "location": "path"})
        with pytest.raises(InputError) as caught:
            resolve_parameters(operation, {})
        assert caught.value.parameter == "id"

    def test_none_counts_as_missing(self) -> None:
        operation = _operation({"name": "q", "required": True})
        with pytest.raises(InputError):
            resolve_parameters(operation, {"q": None})

    def test_unknown_parameter_suggests_the_closest_and_lists_all(self) -> None:
        operation = _operation({"name": "query"}, {"name": "limit"})
        with pytest.raises(InputError) as caught:
            resolve_parameters(operation, {"qeury": "x"})
        assert caught.value.parameter == "qeury"
        message = str(caught.value)
        assert "did you mean 'query'" in message
        assert "query, limit" in message

    def test_unknown_parameter_of_operation_without_parameters(self) -> None:
        with pytest.raises(InputError, match="takes no parameters"):
            resolve_parameters(_operation(), {"x": 1})

    def test_values_are_coerced_to_their_declared_type(self) -> None:
        operation = _operation(
            {"name": "n", "type": "integer"},
            {"name": "f", "type": "number"},
            {"name": "b", "type": "boolean"},
            {"name": "a", "type": "array"},
        )
        resolved = resolve_parameters(operation, {"n": "42", "f": "2.5", "b": "yes", "a": "x,y"})
        assert resolved == {"n": 42, "f": 2.5, "b": True, "a": ["x", "y"]}

    def test_zero_and_false_are_values_not_missing(self) -> None:
        operation = _operation(
            {"name": "n", "type": "integer", "required": True},
            {"name": "b", "type": "boolean", "required": True},
        )
        assert resolve_parameters(operation, {"n": 0, "b": False}) == {"n": 0, "b": False}


class TestCoerceParameter:
    @pytest.mark.parametrize(
        ("kind", "given", "expected"),
        [
            ("string", "text", "text"),
            ("string", 12, "12"),
            ("string", True, "true"),
            ("integer", 7, 7),
            ("integer", " 7 ", 7),
            ("integer", 7.0, 7),
            ("number", "3", 3),
            ("number", "3.25", 3.25),
            ("number", 1.5, 1.5),
            ("boolean", True, True),
            ("boolean", "TRUE", True),
            ("boolean", "off", False),
            ("boolean", "0", False),
            ("array", ["a", 1], ["a", 1]),
            ("array", ("a",), ["a"]),
            ("array", '["a", 2]', ["a", 2]),
            ("array", "a, b ,c", ["a", "b", "c"]),
            ("array", "", []),
            ("object", {"k": 1}, {"k": 1}),
            ("object", '{"k": 1}', {"k": 1}),
        ],
    )
    def test_accepted_values(self, kind: str, given: Any, expected: Any) -> None:
        result = coerce_parameter(_parameter(type=kind), given)
        assert result == expected
        assert type(result) is type(expected)

    @pytest.mark.parametrize(
        ("kind", "given", "expected_words"),
        [
            ("integer", "1.5", "an integer"),
            ("integer", "abc", "an integer"),
            ("integer", True, "an integer"),
            ("integer", 1.5, "an integer"),
            ("number", "many", "a number"),
            ("number", False, "a number"),
            ("boolean", "maybe", "true or false"),
            ("boolean", 1, "true or false"),
            ("string", {"a": 1}, "text"),
            ("array", 5, "an array"),
            ("array", '["a"] x', "an array"),
            ("array", "[1,", "an array"),
            ("object", "[1]", "an object"),
            ("object", "nope", "an object"),
        ],
    )
    def test_rejected_values_name_parameter_and_expected_type(
        self, kind: str, given: Any, expected_words: str
    ) -> None:
        with pytest.raises(InputError) as caught:
            coerce_parameter(_parameter(name="limit", type=kind), given)
        assert caught.value.parameter == "limit"
        assert "parameter 'limit' must be" in str(caught.value)
        assert expected_words in str(caught.value)

    def test_enum_is_checked_after_coercion(self) -> None:
        parameter = _parameter(name="level", type="integer", enum=[1, 2, 3])
        assert coerce_parameter(parameter, "2") == 2
        with pytest.raises(InputError) as caught:
            coerce_parameter(parameter, "5")
        assert "must be one of 1, 2, 3" in str(caught.value)
        assert caught.value.parameter == "level"

    def test_long_values_are_shortened_in_messages(self) -> None:
        with pytest.raises(InputError) as caught:
            coerce_parameter(_parameter(type="integer"), "x" * 500)
        assert len(str(caught.value)) < 120
        assert "..." in str(caught.value)


class TestResolveFields:
    SCHEMA = {
        "api_key": InputFieldSpec(type="password", required=True, label="API Key", help="See x"),
        "region": InputFieldSpec(default="eu", enum=["eu", "us"]),
        "retries": InputFieldSpec(type="integer"),
        "ratio": InputFieldSpec(type="number"),
        "debug": InputFieldSpec(type="boolean"),
    }

    def test_defaults_and_coercion(self) -> None:
        resolved = resolve_fields(
            self.SCHEMA,
            {"api_key": "k-123456", "retries": "3", "ratio": "0.5", "debug": "yes"},
            "credential",
        )
        assert resolved == {
            "api_key": "k-123456",
            "region": "eu",
            "retries": 3,
            "ratio": 0.5,
            "debug": True,
        }

    def test_empty_string_counts_as_missing(self) -> None:
        with pytest.raises(CredentialsError, match="'api_key' \\(API Key\\) is required"):
            resolve_fields(self.SCHEMA, {"api_key": ""}, "credential")

    def test_every_problem_is_listed_at_once_without_values(self) -> None:
        secret = "sk-live-0123456789"
        given = {
            "api_kye": secret,
            "retries": "three-" + secret,
            "debug": "maybe-" + secret,
            "region": "mars-" + secret,
        }
        with pytest.raises(CredentialsError) as caught:
            resolve_fields(self.SCHEMA, given, "credential")
        message = str(caught.value)
        assert "unknown credential 'api_kye'; did you mean 'api_key'?" in message
        assert "credential 'api_key' (API Key) is required (See x)" in message
        assert "credential 'retries' must be an integer" in message
        assert "credential 'debug' must be true or false" in message
        assert "credential 'region' must be one of eu, us" in message
        assert secret not in message
        assert "three" not in message
        assert "mars" not in message

    def test_unknown_field_without_close_match_has_no_hint(self) -> None:
        with pytest.raises(CredentialsError) as caught:
            resolve_fields(self.SCHEMA, {"api_key": "k-1234", "zzz": "1"}, "credential")
        assert "unknown credential 'zzz'" in str(caught.value)
        assert "did you mean" not in str(caught.value)

    def test_the_kind_of_value_is_named(self) -> None:
        with pytest.raises(CredentialsError, match="connector parameter 'api_key'"):
            resolve_fields(self.SCHEMA, {}, "connector parameter")

    def test_number_coercion_error_hides_the_value(self) -> None:
        with pytest.raises(CredentialsError) as caught:
            resolve_fields(self.SCHEMA, {"api_key": "k-1234", "ratio": "secret-ish"}, "x")
        assert "must be a number" in str(caught.value)
        assert "secret-ish" not in str(caught.value)


class TestTextThatIsNotUnicode:
    """A lone surrogate (JSON's "\\ud800" read by the json module, or argv bytes that are not
    UTF-8) cannot go into a URL, header or body: refused by name, never a UnicodeEncodeError."""

    @pytest.mark.parametrize(
        ("kind", "value"),
        [("string", "\ud800"), ("string", "ok\udcff"), ("object", {"a": ["\udc00"]})],
    )
    def test_operation_parameters(self, kind: str, value: Any) -> None:
        with pytest.raises(InputError, match="parameter 'p' is not valid Unicode text"):
            coerce_parameter(_parameter(type=kind), value)

    def test_credentials(self) -> None:
        schema = {"api_key": InputFieldSpec(type="password"), "ok": InputFieldSpec()}
        with pytest.raises(CredentialsError, match="credential 'api_key' is not valid Unicode"):
            resolve_fields(schema, {"api_key": "\ud800", "ok": "fine"}, "credential")
