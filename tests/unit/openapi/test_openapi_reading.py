"""Reading documents: versions, JSON and YAML, and hostile input refused quickly and clearly."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from openapi_docs import document, returning, run, swagger

from connectory.errors import SpecError
from connectory.openapi import MAX_DOCUMENT_BYTES, OpenAPIError, import_openapi
from connectory.services.openapi_import import read_document_file


def _error(source: bytes | str | dict[str, object]) -> OpenAPIError:
    with pytest.raises(OpenAPIError) as caught:
        import_openapi(source)
    return caught.value


def _messages(error: OpenAPIError) -> list[str]:
    return [problem.message for problem in error.problems]


@pytest.mark.parametrize(
    ("declared", "version"),
    [("3.0.3", "3.0"), ("3.0.0", "3.0"), ("3.1.0", "3.1"), ("3.1.1", "3.1"), ("3.2.0", "3.1")],
)
def test_the_version_is_read_from_openapi(declared: str, version: str) -> None:
    assert run(document(version=declared)).version == version


def test_swagger_2_is_read() -> None:
    assert run(swagger()).version == "2.0"


def test_json_yaml_and_data_give_the_same_connector() -> None:
    doc = document({"/pets": {"get": returning({"type": "array", "items": {"type": "string"}})}})
    as_json = import_openapi(json.dumps(doc).encode())
    as_yaml = import_openapi(
        "openapi: 3.0.3\ninfo: {title: Test API, version: '1.0'}\n"
        "servers: [{url: 'https://api.example.com/v1'}]\n"
        "paths:\n  /pets:\n    get:\n      responses:\n        '200':\n"
        "          description: ok\n          content:\n            application/json:\n"
        "              schema: {type: array, items: {type: string}}\n"
    )
    as_data = import_openapi(doc)
    assert as_json.connector == as_yaml.connector == as_data.connector


def test_yaml_keeps_on_and_no_as_text() -> None:
    # YAML 1.1 would turn the enum into booleans; the core schema keeps them as written.
    text = (
        "openapi: 3.0.3\ninfo: {title: T, version: '1'}\nservers: [{url: 'https://x.example'}]\n"
        "paths:\n  /a:\n    get:\n      parameters:\n        - {name: country, in: query, "
        "schema: {type: string, enum: [NO, on, yes]}}\n"
        "      responses: {'200': {description: ok}}\n"
    )
    result = import_openapi(text)
    assert result.connector["operations"][0]["parameters"][0]["enum"] == ["NO", "on", "yes"]


def test_a_byte_order_mark_is_fine() -> None:
    doc = json.dumps(document()).encode()
    assert import_openapi(b"\xef\xbb\xbf" + doc).version == "3.0"


def test_not_an_openapi_document() -> None:
    assert "neither an 'openapi' field" in _messages(_error({"hello": "world"}))[0]
    assert "not an OpenAPI object" in _messages(_error(b"[1, 2]"))[0]
    assert "empty" in _messages(_error(b"# nothing\n"))[0]


def test_swagger_1_and_unknown_openapi_versions_are_refused() -> None:
    assert "Swagger 2.0 and OpenAPI 3.x are" in _messages(_error({"swagger": "1.2"}))[0]
    error = _error({"openapi": "4.0.0"})
    assert error.problems[0].path == "/openapi"


def test_invalid_json_and_yaml_say_where() -> None:
    assert "invalid JSON" in _messages(_error(b'{"openapi": "3.0.0",'))[0]
    assert "(line 3, column 1)" in _messages(_error(b"openapi: 3.0.0\npaths: [\n"))[0]


def test_non_utf8_is_refused_with_the_byte_offset() -> None:
    message = _messages(_error(b"openapi: 3.0.0\ninfo: {title: caf\xe9}\n"))[0]
    assert "not UTF-8" in message
    assert "offset 32" in message


def test_utf16_and_binary_are_refused() -> None:
    assert "UTF-16" in _messages(_error("openapi: 3.0.0".encode("utf-16")))[0]
    assert "NUL byte" in _messages(_error(b"openapi: 3.0.0\x00\x01\x02"))[0]


def test_a_yaml_alias_bomb_is_refused_in_bounded_time_and_memory() -> None:
    lines = ["openapi: 3.0.0", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 12):
        items = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{items}]")
    tracemalloc.start()
    try:
        error = _error("\n".join(lines) + "\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "alias bomb" in _messages(error)[0]
    assert peak < 50 * 1024 * 1024


@pytest.mark.parametrize("syntax", ["json", "yaml"])
def test_deep_nesting_is_refused(syntax: str) -> None:
    depth = 100_000
    if syntax == "json":
        source = b'{"openapi": "3.0.0", "x": ' + b"[" * depth + b"]" * depth + b"}"
    else:
        source = b"openapi: 3.0.0\nx: " + b"[" * depth + b"]" * depth + b"\n"
    assert "nested more than" in _messages(_error(source))[0]


def test_nesting_through_aliases_is_measured_too() -> None:
    # Each anchor is shallow, but the tree they make when expanded is deep.
    lines = ["openapi: 3.0.0", "a0: &a0 [[[[[[[[[[x]]]]]]]]]]"]
    lines += [f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]" for i in range(1, 20)]
    assert "nested more than" in _messages(_error("\n".join(lines) + "\n"))[0]


def test_too_large_bytes_are_refused_before_parsing() -> None:
    error = _error(b" " * (MAX_DOCUMENT_BYTES + 1))
    assert "limited to 50 MiB" in _messages(error)[0]


def test_a_100_mb_file_is_refused_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as stream:  # sparse: 100 MB on paper, nothing on disk
        stream.seek(100 * 1024 * 1024 - 1)
        stream.write(b"}")
    tracemalloc.start()
    try:
        with pytest.raises(SpecError) as caught:
            read_document_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "100.0 MiB" in str(caught.value)
    assert peak < 1024 * 1024  # refused from its size, never read


def test_missing_and_special_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        read_document_file(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="not a regular file"):
        read_document_file(tmp_path)


def test_an_unresolvable_ref_is_an_error_with_its_pointer() -> None:
    doc = document({"/a": {"get": returning({"$ref": "#/components/schemas/Missing"})}})
    error = _error(doc)
    assert error.problems[0].path == (
        "/paths/~1a/get/responses/200/content/application~1json/schema/$ref"
    )
    assert "points to nothing" in error.problems[0].message


def test_every_unresolvable_ref_is_listed_at_once() -> None:
    doc = document(
        {
            "/a": {"get": returning({"$ref": "#/components/schemas/One"})},
            "/b": {"get": returning({"$ref": "#/components/schemas/Two"})},
            "/c": {"get": {"parameters": [{"$ref": "#/components/parameters/P"}], "responses": {}}},
        }
    )
    assert len(_error(doc).problems) == 3


def test_external_refs_are_not_followed() -> None:
    doc = document({"/a": {"get": returning({"$ref": "schemas.yaml#/Pet"})}})
    assert "bundle the document" in _messages(_error(doc))[0]


def test_a_ref_cycle_with_nothing_in_between_is_an_error() -> None:
    doc = document(
        {"/a": {"get": returning({"$ref": "#/components/schemas/A"})}},
        schemas={
            "A": {"$ref": "#/components/schemas/B"},
            "B": {"allOf": [{"$ref": "#/components/schemas/A"}, {"type": "object"}]},
        },
    )
    message = _messages(_error(doc))[0]
    assert "circular $ref" in message
    assert "/components/schemas/A -> /components/schemas/B -> /components/schemas/A" in message


def test_a_self_referencing_alternative_is_an_error() -> None:
    doc = document(
        {"/a": {"get": returning({"$ref": "#/components/schemas/A"})}},
        schemas={"A": {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "string"}]}},
    )
    assert "circular $ref" in _messages(_error(doc))[0]


def test_a_ref_cycle_between_parameters_is_an_error() -> None:
    doc = document(
        {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/P"}], "responses": {}}}},
        components={
            "parameters": {
                "P": {"$ref": "#/components/parameters/Q"},
                "Q": {"$ref": "#/components/parameters/P"},
            }
        },
    )
    assert "never reaches an object" in _messages(_error(doc))[0]


def test_a_long_ref_chain_stops() -> None:
    parameters = {f"P{i}": {"$ref": f"#/components/parameters/P{i + 1}"} for i in range(100)}
    doc = document(
        {"/a": {"get": {"parameters": [{"$ref": "#/components/parameters/P0"}], "responses": {}}}},
        components={"parameters": parameters},
    )
    assert "circular $ref" in _messages(_error(doc))[0]


def test_a_recursive_schema_stays_finite() -> None:
    node = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        },
    }
    doc = document(
        {"/tree": {"get": returning({"$ref": "#/components/schemas/Node"})}},
        schemas={"Node": node},
    )
    schema = run(doc).connector["operations"][0]["response_schema"]
    assert schema["$ref"] == "#/$defs/Node"
    children = schema["$defs"]["Node"]["properties"]["children"]
    assert children["items"] == {"$ref": "#/$defs/Node"}
    assert len(json.dumps(schema)) < 500


def test_the_error_reads_well() -> None:
    error = _error({"openapi": "3.0.0", "paths": {"/a": {"get": returning({"$ref": "#/x"})}}})
    assert str(error).startswith("the document cannot be imported (1 problem(s))")
    assert "/paths/~1a/get" in str(error)


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ('"info": {"title": "T\\ud800", "version": "1"}', "/info/title"),
        ('"info": {"title": "T", "version": "1", "x-\\udc00": 1}', "/info"),
    ],
)
def test_a_lone_surrogate_escape_is_refused_with_its_pointer(text: str, pointer: str) -> None:
    source = ('{"openapi": "3.0.0", ' + text + ', "paths": {}}').encode()
    problems = _error(source).problems
    assert [(problem.path, problem.message[:40]) for problem in problems] == [
        (pointer, "the text holds a \\u escape that is not a")
    ]
