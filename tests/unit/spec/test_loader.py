"""Loading connectors from files, folders, text and data; pydantic errors as actionable problems.

Test connectors start with a two-line head (name, base_url), so the body's line N is line N + 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectory.errors import SpecError
from connectory.spec import (
    ConnectorSpec,
    check_connector,
    check_connector_data,
    load_connector,
    load_connector_data,
    load_connector_text,
)
from connectory.spec.loader import read_connector_data

HEAD = "name: Demo\nbase_url: https://api.example.com\n"


def where(problem: Any) -> tuple[Any, ...]:
    return (problem.file, problem.line, problem.column, problem.path)


class TestPydanticErrorsBecomeSentences:
    def test_unknown_field_suggests_the_closest_name(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            """\
            auth:
              auth_type: api_key
              heder_name: X-Key
              credential_schema: {api_key: {type: password}}
            """
        )
        problem = problem_at(report, "auth.heder_name")
        assert where(problem) == ("connector.yaml", 5, 3, "auth.heder_name")
        assert problem.message == "unknown field 'heder_name'; did you mean 'header_name'?"

    def test_unknown_field_without_a_close_match_lists_the_fields(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        problem = problem_at(check_yaml("resilience:\n  zzz: 1\n"), "resilience.zzz")
        assert problem.message.startswith("unknown field 'zzz'; allowed fields: timeout, ")

    def test_synonym_suggestion(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            """\
            operations:
              - operation: a
                path: /a
                parameters:
                  - {name: q, in: query}
            """
        )
        problem = problem_at(report, "operations[0].parameters[0].in")
        assert problem.message == "unknown field 'in'; did you mean 'location'?"

    def test_literal_suggests_the_closest_value(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            """\
            operations:
              - operation: a
                path: /a
              - operation: b
                path: /b
              - operation: c
                path: /c
                parameters:
                  - name: q
                    location: qurey
            """
        )
        problem = problem_at(report, "operations[2].parameters[0].location")
        assert where(problem) == ("connector.yaml", 12, 19, "operations[2].parameters[0].location")
        assert problem.message == (
            "'qurey' is not a valid location; use one of query, path, header, body "
            "(did you mean 'query'?)"
        )

    def test_connector_type_is_matched_ignoring_case(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        problem = problem_at(check_yaml("type: crm\n"), "type")
        assert "(did you mean 'CRM'?)" in problem.message

    def test_wrong_type(self, check_yaml: Any, problem_at: Any) -> None:
        problem = problem_at(
            check_yaml("resilience:\n  max_retries: abc\n"), "resilience.max_retries"
        )
        assert where(problem) == ("connector.yaml", 4, 16, "resilience.max_retries")
        assert problem.message == "expected an integer, got 'abc'"

    def test_bounds(self, check_yaml: Any, problem_at: Any) -> None:
        problem = problem_at(check_yaml("resilience:\n  timeout: -1\n"), "resilience.timeout")
        assert problem.message == "timeout must be greater than 0, got -1"

    @pytest.mark.parametrize("field", ["timeout", "retry_delay", "max_retry_delay"])
    def test_durations_are_finite(self, check_yaml: Any, problem_at: Any, field: str) -> None:
        # "inf" is greater than 0, and would overflow the wire's millisecond timeouts.
        problem = problem_at(check_yaml(f"resilience:\n  {field}: inf\n"), f"resilience.{field}")
        assert problem.message == "expected a finite number, got 'inf'"

    def test_missing_field_points_at_the_parent_mapping(self, check_yaml: Any) -> None:
        report = check_yaml("description: no name, no base_url\n", head=False)
        assert [(p.path, p.line, p.column) for p in report.problems] == [
            ("name", 1, 1),
            ("base_url", 1, 1),
        ]
        assert report.problems[0].message.startswith("'name' is required")

    def test_missing_operation_name(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml("operations:\n  - method: GET\n    path: /a\n")
        problem = problem_at(report, "operations[0].name")
        assert (problem.line, problem.column) == (4, 5)
        assert "add 'operation: <name>'" in problem.message

    def test_missing_path(self, check_yaml: Any, problem_at: Any) -> None:
        problem = problem_at(check_yaml("operations:\n  - operation: a\n"), "operations[0].path")
        assert problem.message.startswith("'path' is required")

    def test_both_operation_and_name(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml("operations:\n  - {operation: a, name: b, path: /a}\n")
        problem = problem_at(report, "operations[0].operation")
        assert "two names for the same field; keep one" in problem.message

    def test_unknown_auth_type(self, check_yaml: Any, problem_at: Any) -> None:
        problem = problem_at(check_yaml("auth:\n  auth_type: oauth\n"), "auth.auth_type")
        assert where(problem) == ("connector.yaml", 4, 14, "auth.auth_type")
        assert problem.message == (
            "unknown auth_type 'oauth'; use one of none, api_key, basic, bearer, oauth2, custom, "
            "combined "
            "(did you mean 'oauth2'?)"
        )

    def test_missing_auth_type(self, check_yaml: Any, problem_at: Any) -> None:
        problem = problem_at(check_yaml("auth:\n  header_name: X\n"), "auth")
        assert problem.message.startswith("'auth_type' is required in auth; use one of none, ")

    def test_unknown_pagination_type(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            "operations:\n  - operation: a\n    path: /a\n    pagination: {type: curser}\n"
        )
        problem = problem_at(report, "operations[0].pagination.type")
        assert problem.line == 6
        assert "unknown type 'curser'" in problem.message
        assert "(did you mean 'cursor'?)" in problem.message

    def test_discriminator_tag_is_not_in_the_path(self, check_yaml: Any) -> None:
        report = check_yaml("auth:\n  auth_type: bearer\n  token: 5\n")
        assert [p.path for p in report.problems] == ["auth.token"]

    def test_union_errors_collapse_into_one(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml("auth:\n  auth_type: oauth2\n  scopes: {read: true}\n")
        problem = problem_at(report, "auth.scopes")
        assert problem.message == "expected text or a list, got a mapping"

    def test_union_member_that_matches_reports_its_own_errors(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml("auth:\n  auth_type: oauth2\n  scopes: [read, 5]\n")
        assert problem_at(report, "auth.scopes[1]").message == "expected text, got 5"

    @pytest.mark.parametrize(
        ("key", "value", "section"),
        [
            ("auth_type", "api_key", "the auth: section"),
            ("credential_schema", "{}", "the auth: section"),
            ("header_name", "X-API-Key", "the auth: section"),
            ("key_prefix", '""', "the auth: section"),
            ("grant_type", "client_credentials", "the auth: section"),
            ("scopes", "read", "the auth: section"),
            ("max_retries", "3", "the resilience: section"),
            ("operation", "get_x", "an operation"),
            ("method", "GET", "an operation"),
        ],
    )
    def test_top_level_keys_that_belong_in_a_section(
        self, check_yaml: Any, problem_at: Any, key: str, value: str, section: str
    ) -> None:
        problem = problem_at(check_yaml(f"{key}: {value}\n"), key)
        assert where(problem) == ("connector.yaml", 3, 1, key)
        assert problem.message.startswith(f"'{key}' belongs in {section}")

    def test_pagination_keys_in_the_operation(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml("operations:\n  - {operation: a, path: /a, page_param: p}\n")
        problem = problem_at(report, "operations[0].page_param")
        assert problem.message == "'page_param' belongs in the pagination: block"

    def test_operation_parameters_at_the_top_level(self, check_yaml: Any, problem_at: Any) -> None:
        problem = problem_at(check_yaml("parameters:\n  - name: q\n"), "parameters")
        assert "an operation's parameters go in that operation" in problem.message


class TestSecretsAreNeverEchoed:
    def test_default_of_a_credential_field(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            """\
            auth:
              auth_type: bearer
              credential_schema:
                token: {type: password, default: [sk-live-abcdef]}
            """
        )
        problem = problem_at(report, "auth.credential_schema.token.default")
        assert "sk-live" not in problem.message
        assert "got a list" in problem.message

    def test_secret_looking_auth_value(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml("auth:\n  auth_type: api_key\n  api_key: 123456789\n")
        problem = problem_at(report, "auth.api_key")
        assert "123456789" not in problem.message
        assert problem.message == "expected text, got a number"

    def test_connector_parameter_default(self, check_yaml: Any) -> None:
        report = check_yaml("parameters:\n  region: {type: integer, default: {secret: x}}\n")
        assert all("secret" not in problem.message for problem in report.problems)

    def test_long_values_are_summarised(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(f"type: {'x' * 60}\n")
        assert problem_at(report, "type").message.startswith("text of 60 characters is not")


def test_every_problem_is_reported_at_once(check_yaml: Any) -> None:
    report = check_yaml(
        """\
        slug: Not A Slug
        auth:
          auth_type: api_key
          heder_name: X-Key
          credential_schema: {api_key: {type: password}}
        resilience:
          max_retries: lots
        operations:
          - operation: get_user
            path: /users/{user_id}
          - operation: list
            path: /users
            parameters:
              - {name: q, location: qurey}
        """
    )
    assert [(p.path, p.line) for p in report.problems] == [
        ("slug", 3),
        ("auth.heder_name", 6),
        ("resilience.max_retries", 9),
        ("operations[0].path", 12),
        ("operations[1].parameters[0].location", 16),
    ]
    assert not report.ok
    assert report.spec is None


class TestFolders:
    def write(self, folder: Path, files: dict[str, str]) -> Path:
        for name, text in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return folder

    def test_problems_name_the_file_they_are_in(self, tmp_path: Path) -> None:
        folder = self.write(
            tmp_path,
            {
                "connector.yaml": HEAD + "slug: Bad Slug\n",
                "auth.yaml": (
                    "auth_type: api_key\nheder_name: X\n"
                    "credential_schema: {api_key: {type: password}}\n"
                ),
                "resilience.yaml": "timeout: 0\n",
                "operations/a_first.yaml": "operation: a\npath: /a\n",
                "operations/b_list.yaml": (
                    "- operation: b\n  path: /b\n- operation: c\n  path: /c\n  method: GIT\n"
                ),
                "hooks/pre_request.js": "this is not yaml: [",
                "README.md": "ignored",
            },
        )
        report = check_connector(folder)
        assert [where(p) for p in report.problems] == [
            ("auth.yaml", 2, 1, "auth.heder_name"),
            ("connector.yaml", 3, 7, "slug"),
            ("operations/b_list.yaml", 5, 11, "operations[2].method"),
            ("resilience.yaml", 1, 10, "resilience.timeout"),
        ]

    def test_operations_are_appended_in_file_name_order(self, tmp_path: Path) -> None:
        folder = self.write(
            tmp_path,
            {
                "connector.yaml": HEAD + "operations:\n  - {operation: inline, path: /i}\n",
                "operations/2.yaml": "operation: second\npath: /2\n",
                "operations/1.json": '{"operation": "first", "path": "/1"}',
                "operations/empty.yaml": "",
            },
        )
        report = check_connector(folder)
        assert report.spec is not None
        assert report.spec.operation_names == ["inline", "first", "second"]
        [warning] = report.warnings
        assert (warning.file, warning.message) == (
            "operations/empty.yaml",
            "the file is empty; it adds no operation",
        )

    def test_duplicate_operation_across_files(self, tmp_path: Path) -> None:
        folder = self.write(
            tmp_path,
            {
                "connector.yaml": HEAD,
                "operations/a.yaml": "operation: same\npath: /a\n",
                "operations/b.yaml": "\noperation: same\npath: /b\n",
            },
        )
        [problem] = check_connector(folder).problems
        assert where(problem) == ("operations/b.yaml", 2, 12, "operations[1].operation")
        assert problem.message.endswith("(the other is at operations/a.yaml:1)")

    def test_section_written_twice(self, tmp_path: Path) -> None:
        folder = self.write(
            tmp_path,
            {
                "connector.yaml": HEAD + "auth:\n  auth_type: none\n",
                "auth.yaml": "auth_type: none\n",
            },
        )
        [problem] = check_connector(folder).problems
        assert where(problem) == ("connector.yaml", 3, 1, "auth")
        assert problem.message == "auth is written both here and in auth.yaml; keep one"

    def test_two_main_files(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path, {"connector.yaml": HEAD, "connector.json": "{}"})
        report = check_connector(folder)
        assert "both connector.yaml and connector.json; keep one" in report.problems[0].message

    def test_folder_without_connector_file(self, tmp_path: Path) -> None:
        [problem] = check_connector(tmp_path).problems
        assert "has no connector.yaml" in problem.message

    def test_syntax_error_in_one_file_does_not_hide_the_others(self, tmp_path: Path) -> None:
        folder = self.write(
            tmp_path,
            {
                "connector.yaml": HEAD + "slug: Bad Slug\n",
                "operations/a.yaml": "operation: a\npath: [\n",
            },
        )
        report = check_connector(folder)
        assert [p.file for p in report.problems] == ["connector.yaml", "operations/a.yaml"]

    def test_oversized_operation_file_is_named(self, tmp_path: Path) -> None:
        folder = self.write(tmp_path, {"connector.yaml": HEAD, "operations/big.yaml": ""})
        with (folder / "operations" / "big.yaml").open("wb") as stream:
            stream.truncate(1 << 30)
        [problem] = check_connector(folder).problems
        assert problem.file == "operations/big.yaml"
        assert "limited to 5.0 MiB" in problem.message

    def test_links_outside_the_folder_are_not_followed(self, tmp_path: Path) -> None:
        outside = tmp_path / "secret.yaml"
        outside.write_text("operation: x\npath: /x\n")
        folder = self.write(tmp_path / "c", {"connector.yaml": HEAD})
        (folder / "operations").mkdir()
        (folder / "operations" / "link.yaml").symlink_to(outside)
        [problem] = check_connector(folder).problems
        assert problem.message == "the file links outside the connector folder; it is not read"

    def test_read_connector_data_assembles_the_folder(self, tmp_path: Path) -> None:
        folder = self.write(
            tmp_path,
            {"connector.yaml": HEAD, "auth.yaml": "auth_type: none\n", "operations/a.yaml": "[]"},
        )
        assert read_connector_data(folder) == {
            "name": "Demo",
            "base_url": "https://api.example.com",
            "auth": {"auth_type": "none"},
            "operations": [],
        }


class TestEntryPoints:
    def test_load_connector_raises_with_every_problem(self, tmp_path: Path) -> None:
        path = tmp_path / "c.yaml"
        path.write_text("name: x\nslug: A B\n")
        with pytest.raises(SpecError) as caught:
            load_connector(path)
        assert [p.path for p in caught.value.problems] == ["base_url", "slug"]
        assert str(path) in str(caught.value)

    def test_load_connector_text(self) -> None:
        assert isinstance(load_connector_text(HEAD), ConnectorSpec)
        with pytest.raises(SpecError):
            load_connector_text("name: [")

    def test_json_text(self) -> None:
        spec = load_connector_text(
            json.dumps({"name": "J", "base_url": "https://j.example"}), filename="c.json"
        )
        assert spec.slug == "j"

    def test_load_connector_data_has_paths_but_no_lines(self) -> None:
        data = {"name": "x", "base_url": "https://x.example", "slug": "Bad Slug"}
        with pytest.raises(SpecError) as caught:
            load_connector_data(data, filename="api")
        [problem] = caught.value.problems
        assert where(problem) == ("api", None, None, "slug")
        assert load_connector_data({"name": "x", "base_url": "https://x.example"}).slug == "x"

    def test_check_connector_data_refuses_deep_data(self) -> None:
        nested: dict[str, Any] = {}
        for _ in range(100):
            nested = {"a": nested}
        report = check_connector_data({"name": "x", "base_url": "https://x", "headers": nested})
        assert not report.ok
        assert "nested more than 64 levels" in report.problems[0].message

    def test_reports_never_raise_for_bad_input(self, tmp_path: Path) -> None:
        (tmp_path / "bin.yaml").write_bytes(b"\x00\x01")
        for path in (tmp_path / "bin.yaml", tmp_path / "missing.yaml"):
            report = check_connector(path)
            assert not report.ok
            assert report.spec is None

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("", "the file is empty; a connector needs at least name: and base_url:"),
            (
                "- a\n- b\n",
                "a connector is a mapping of fields (name:, base_url:, ...), not a list",
            ),
            (
                "just text\n",
                "a connector is a mapping of fields (name:, base_url:, ...), not a single",
            ),
        ],
    )
    def test_document_that_is_not_a_mapping(self, check_yaml: Any, text: str, message: str) -> None:
        [problem] = check_yaml(text, head=False).problems
        assert problem.message.startswith(message)

    def test_warnings_do_not_stop_loading(self, check_yaml: Any) -> None:
        report = check_yaml("parameters:\n  api_token: {type: string}\n")
        assert report.ok
        assert report.spec is not None
        assert [p.severity for p in report.problems] == ["warning"]


def test_header_names_are_http_field_names(check_yaml: Any, problem_at: Any) -> None:
    report = check_yaml(
        """\
        headers: {"X Tenant:": acme, X-Fine: yes}
        operations:
          - name: get_item
            path: /items
            headers: {"Accept Language": en, Accept: application/json}
        """
    )
    assert [p.path for p in report.problems] == ["headers", "operations[0].headers"]
    assert "'X Tenant:' is not a valid HTTP header name" in problem_at(report, "headers").message
    assert "'Accept Language'" in problem_at(report, "operations[0].headers").message
    fine = check_yaml("headers: {X-Tenant: acme, x_custom.1: v}\n")
    assert fine.ok, fine.problems
