"""Reading YAML/JSON into data plus positions, and refusing hostile input in bounded time."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from connectory.errors import SpecError
from connectory.spec.source import (
    decode_text,
    format_path,
    load_source,
    measure_data,
    parse_text,
    read_text,
)


def parse(text: str, **kwargs: object) -> object:
    return parse_text(textwrap.dedent(text), file="c.yaml", **kwargs)  # type: ignore[arg-type]


def fatal(text: str, **kwargs: object) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_text(text, file="c.yaml", **kwargs)  # type: ignore[arg-type]
    assert len(caught.value.problems) == 1
    return caught.value


class TestPositions:
    def test_every_key_and_value_has_a_one_based_position(self) -> None:
        document = parse_text(
            "name: Demo\noperations:\n  - operation: a\n    parameters: [{name: q}]\n",
            file="c.yaml",
        )
        assert document.data == {
            "name": "Demo",
            "operations": [{"operation": "a", "parameters": [{"name": "q"}]}],
        }
        assert document.keys[("name",)] == (1, 1)
        assert document.values[("name",)] == (1, 7)
        assert document.values[("operations", 0)] == (3, 5)
        assert document.keys[("operations", 0, "operation")] == (3, 5)
        assert document.values[("operations", 0, "operation")] == (3, 16)
        assert document.values[("operations", 0, "parameters", 0, "name")] == (4, 25)

    def test_position_falls_back_to_the_nearest_ancestor(self) -> None:
        document = parse_text("auth:\n  auth_type: api_key\n", file="c.yaml")
        assert document.position(("auth", "header_name")) == (2, 3)
        assert document.position(("auth", "auth_type"), key=True) == (2, 3)
        assert document.position(("auth", "auth_type")) == (2, 14)

    def test_json_gets_lines_and_columns_too(self) -> None:
        text = '{\n\t"name": "J",\n\t"operations": [{"operation": "a"}]\n}\n'
        document = parse_text(text, file="c.json", json_syntax=True)
        assert document.data == {"name": "J", "operations": [{"operation": "a"}]}
        assert document.values[("name",)] == (2, 10)
        assert document.values[("operations", 0, "operation")] == (3, 31)

    def test_format_path(self) -> None:
        assert format_path(("operations", 2, "parameters", 0, "location")) == (
            "operations[2].parameters[0].location"
        )
        assert format_path(("headers", "X-API-Key")) == "headers.X-API-Key"
        assert format_path(("headers", "Accept Language")) == 'headers["Accept Language"]'
        assert format_path(()) == ""


class TestScalars:
    def test_yaml_1_2_core_schema(self) -> None:
        document = parse(
            """\
            yes: yes
            on: on
            no: NO
            t: true
            f: False
            octal_looking: 012
            octal: 0o12
            hex: 0x1F
            float: 1e3
            dot: 2.5
            null1: ~
            null2:
            date: 2024-01-01
            inf: .inf
            quoted: '5'
            explicit: !!str 5
            explicit_int: !!int "7"
            underscore: 1_000
            """
        )
        assert document.data == {  # type: ignore[attr-defined]
            "yes": "yes",
            "on": "on",
            "no": "NO",
            "t": True,
            "f": False,
            "octal_looking": 12,
            "octal": 10,
            "hex": 31,
            "float": 1000.0,
            "dot": 2.5,
            "null1": None,
            "null2": None,
            "date": "2024-01-01",
            "inf": ".inf",
            "quoted": "5",
            "explicit": "5",
            "explicit_int": 7,
            "underscore": "1_000",
        }

    def test_keys_are_text_as_written(self) -> None:
        assert parse("200: ok\ntrue: x\n").data == {"200": "ok", "true": "x"}  # type: ignore[attr-defined]

    def test_merge_keys(self) -> None:
        document = parse(
            """\
            defaults: &defaults {location: query, type: string}
            param:
              <<: *defaults
              type: integer
              name: q
            """
        )
        assert document.data["param"] == {  # type: ignore[attr-defined]
            "location": "query",
            "type": "integer",
            "name": "q",
        }

    def test_unsupported_tag_is_a_problem_not_a_crash(self) -> None:
        document = parse_text("a: !!binary aGk=\nb: !!python/object x\n", file="c.yaml")
        assert [(p.path, p.line, p.column) for p in document.problems] == [("a", 1, 4), ("b", 2, 4)]
        assert "!!binary is not supported here; remove it" in document.problems[0].message


class TestDocumentProblems:
    def test_duplicate_key_reports_both_lines(self) -> None:
        document = parse_text("name: a\nslug: s\nname: b\n", file="c.yaml")
        [problem] = document.problems
        assert (problem.file, problem.line, problem.column, problem.path) == (
            "c.yaml",
            3,
            1,
            "name",
        )
        assert "duplicate key 'name' (first written at line 1)" in problem.message

    def test_syntax_error_has_line_column_and_hint(self) -> None:
        error = fatal("name: a\nbase_url: b: c\n")
        [problem] = error.problems
        assert (problem.file, problem.line, problem.column) == ("c.yaml", 2, 12)
        assert "mapping values are not allowed" in problem.message
        assert "quote a value that contains ': '" in problem.message

    def test_tab_indentation_is_named(self) -> None:
        [problem] = fatal("auth:\n\tauth_type: none\n").problems
        assert (problem.line, problem.column) == (2, 1)
        assert "tab" in problem.message
        assert "indent with spaces" in problem.message

    def test_unclosed_flow_sequence(self) -> None:
        [problem] = fatal("a: [1, 2\n").problems
        assert problem.line == 2
        assert problem.message.startswith("invalid YAML:")

    def test_more_than_one_document(self) -> None:
        [problem] = fatal("a: 1\n---\nb: 2\n").problems
        assert problem.line == 2
        assert "more than one YAML document" in problem.message

    def test_control_character(self) -> None:
        [problem] = fatal("a: b\nc: \x07\n").problems
        assert (problem.line, problem.column) == (2, 4)
        assert "U+0007" in problem.message

    def test_invalid_json_is_reported_with_position(self) -> None:
        [problem] = fatal('{\n  "a": 1,\n}\n', json_syntax=True).problems
        assert (problem.line, problem.column) == (3, 1)
        assert problem.message.startswith("invalid JSON:")

    def test_json_rejects_nan(self) -> None:
        [problem] = fatal('{"a": NaN}', json_syntax=True).problems
        assert "NaN is not a JSON number" in problem.message

    def test_empty_document_is_none(self) -> None:
        assert parse_text("# nothing here\n").data is None


class TestHostileInput:
    def test_billion_laughs_stops_at_the_node_budget(self) -> None:
        lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for index in range(1, 10):
            previous, name = chr(96 + index), chr(97 + index)
            lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
        [problem] = fatal("\n".join(lines) + "\n").problems
        assert "more than 200000 values" in problem.message
        assert "alias bomb" in problem.message
        assert problem.line is not None

    def test_recursive_alias(self) -> None:
        [problem] = fatal("a: &a [*a]\n").problems
        assert "refers to itself" in problem.message

    def test_alias_before_anchor(self) -> None:
        [problem] = fatal("a: *x\nb: &x 1\n").problems
        assert "before its anchor" in problem.message

    @pytest.mark.parametrize(
        "text",
        [
            "[" * 10_000 + "]" * 10_000,
            "{a: " * 10_000 + "1" + "}" * 10_000,
            "".join(f"{'  ' * level}k:\n" for level in range(1_000)),
            # Deeper than libyaml's composer survives: this would crash the process with compose.
            "[" * 1_000_000,
        ],
        ids=["flow-sequences", "flow-mappings", "block-mappings", "a-million-brackets"],
    )
    def test_deep_nesting_is_refused_at_the_limit(self, text: str) -> None:
        [problem] = fatal(text).problems
        assert "nested more than 64 levels deep" in problem.message
        assert problem.line is not None

    def test_long_text_is_refused_before_parsing(self) -> None:
        [problem] = fatal("a: b\n" * 20, max_chars=50).problems
        assert "limited to 50" in problem.message

    def test_nesting_limit_is_a_parameter(self) -> None:
        parse_text("[[[1]]]", max_depth=3)
        with pytest.raises(SpecError):
            parse_text("[[[[1]]]]", max_depth=3)

    def test_json_deep_nesting(self) -> None:
        [problem] = fatal("[" * 100_000 + "]" * 100_000, json_syntax=True).problems
        assert "nested more than 64 levels deep" in problem.message

    def test_a_parser_that_fails_first_still_gives_our_limit(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A newer parser with a nesting limit of its own must not change what users see."""
        import yaml

        from connectory.spec import source

        def failing_parser(text: str) -> object:
            mark = yaml.Mark("c.yaml", 0, 0, 1200, None, None)
            raise yaml.scanner.ScannerError("while scanning", mark, "the parser gave up here", mark)

        monkeypatch.setattr(source, "_parse_events", failing_parser)
        [problem] = fatal("x: " + "[" * 2000 + "]" * 2000).problems
        assert "nested more than 64 levels deep" in problem.message
        assert (problem.line, problem.column) == (1, 4 + 64)

    def test_a_parser_depth_error_is_translated(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import yaml

        from connectory.spec import source

        def deep_parser(text: str) -> object:
            raise yaml.YAMLError("exceeded maximum nesting depth")

        monkeypatch.setattr(source, "_parse_events", deep_parser)
        [problem] = fatal("a:\n  b: 1\n").problems
        assert "nested more than 64 levels deep" in problem.message

    def test_other_parser_errors_stay_syntax_errors(self) -> None:
        [problem] = fatal("a: [1, 2\nb: 3\n").problems
        assert "nested" not in problem.message
        assert problem.message.startswith("invalid YAML")

    def test_measure_data_applies_the_same_limits(self) -> None:
        nested: list[object] = []
        for _ in range(100):
            nested = [nested]
        with pytest.raises(SpecError, match="nested more than 64"):
            measure_data(nested)
        with pytest.raises(SpecError, match="more than 10 values"):
            measure_data(list(range(20)), max_nodes=10)
        measure_data({"name": "x", "operations": [{"path": "/"}]})


class TestReadingFiles:
    def test_a_1_gib_file_is_refused_without_reading_it(self, tmp_path: Path) -> None:
        huge = tmp_path / "huge.yaml"
        with huge.open("wb") as stream:
            stream.truncate(1 << 30)  # sparse: no disk used, and reading it would take seconds
        with pytest.raises(SpecError) as caught:
            load_source(huge)
        [problem] = caught.value.problems
        assert problem.file == "huge.yaml"
        assert problem.message == "the file is 1.0 GiB; connector files are limited to 5.0 MiB"

    def test_the_size_limit_is_a_parameter(self, tmp_path: Path) -> None:
        path = tmp_path / "c.yaml"
        path.write_text("name: " + "x" * 100)
        with pytest.raises(SpecError, match="limited to 50 bytes"):
            read_text(path, max_bytes=50)

    def test_binary_file_names_the_nul_byte_offset(self, tmp_path: Path) -> None:
        path = tmp_path / "logo.yaml"
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
        with pytest.raises(SpecError) as caught:
            load_source(path)
        [problem] = caught.value.problems
        assert "not text" in problem.message
        assert "NUL byte at byte offset 8" in problem.message

    def test_random_junk_is_refused(self) -> None:
        junk = bytes(range(128, 256)) * 4
        with pytest.raises(SpecError, match="not UTF-8 text: invalid byte 0x80 at byte offset 0"):
            decode_text(junk)

    def test_utf16_is_refused_as_binary(self) -> None:
        with pytest.raises(SpecError, match="UTF-16"):
            decode_text("name: x".encode("utf-16"))

    def test_bom_is_dropped(self) -> None:
        assert decode_text("\ufeffname: x".encode()) == "name: x"

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(SpecError, match="file not found"):
            load_source(tmp_path / "nope.yaml")

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
    def test_a_fifo_is_refused_without_blocking(self, tmp_path: Path) -> None:
        fifo = tmp_path / "pipe.yaml"
        os.mkfifo(fifo)
        with pytest.raises(SpecError, match="not a regular file"):
            load_source(fifo)

    def test_json_by_suffix(self, tmp_path: Path) -> None:
        path = tmp_path / "c.json"
        path.write_text('{"name": "x", "name": "y"}')
        document = load_source(path)
        assert document.data == {"name": "y"}
        assert "duplicate key 'name'" in document.problems[0].message
