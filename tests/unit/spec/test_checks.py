"""One bad-input test (or more) per semantic rule: file, line, column, field path and the fix.

Test connectors start with a two-line head (name, base_url), so the body's line N is line N + 2.
"""

from __future__ import annotations

from typing import Any

import pytest

from connectory.spec import ConnectorSpec
from connectory.spec.checks import check_connector_spec


def where(problem: Any) -> tuple[Any, ...]:
    return (problem.file, problem.line, problem.column, problem.path)


def operation(body: str) -> str:
    """A connector with one operation ``op`` whose fields are *body* (4-space indented)."""
    return "operations:\n  - operation: op\n" + "".join(
        f"    {line}\n" for line in body.splitlines()
    )


class TestOperationNames:
    def test_duplicate_names_give_both_positions(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            "operations:\n  - {operation: get, path: /a}\n  - {name: get, path: /b}\n"
        )
        problem = problem_at(report, "operations[1].name")
        assert where(problem) == ("connector.yaml", 5, 12, "operations[1].name")
        assert problem.message == (
            "operation name 'get' is already used by operations[0]; operation names must be "
            "unique: rename one (the other is at line 4)"
        )


class TestPathParameters:
    def test_placeholder_without_parameter(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(operation("path: /users/{user_id}"))
        problem = problem_at(report, "operations[0].path")
        assert where(problem) == ("connector.yaml", 5, 11, "operations[0].path")
        assert problem.message == (
            "the path has a placeholder {user_id} but no path parameter 'user_id'; add it to "
            "parameters: {name: user_id, location: path, required: true}, or remove the placeholder"
        )

    def test_placeholder_matching_a_query_parameter(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(operation("path: /users/{id}\nparameters:\n  - {name: id}"))
        problem = problem_at(report, "operations[0].path")
        assert problem.message.endswith("parameter 'id' has location: query; set location: path")

    def test_path_parameter_not_in_path(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            operation(
                "path: /users\nparameters:\n  - name: id\n    location: path\n    required: true"
            )
        )
        problem = problem_at(report, "operations[0].parameters[0].location")
        assert where(problem)[1:3] == (8, 19)
        assert problem.message == (
            "parameter 'id' has location: path, but the path has no {id}; add {id} to the path "
            "or change location"
        )

    def test_optional_path_parameter_is_a_warning(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(operation("path: /u/{id}\nparameters:\n  - {name: id, location: path}"))
        problem = problem_at(report, "operations[0].parameters[0].required")
        assert problem.severity == "warning"
        assert report.ok

    def test_templated_path_places_the_parameter(self, check_yaml: Any) -> None:
        report = check_yaml(
            operation(
                'path: "/u/{{ parameters.id }}"\n'
                "parameters:\n  - {name: id, location: path, required: true}"
            )
        )
        assert report.problems == []

    def test_matching_placeholders_are_fine(self, check_yaml: Any) -> None:
        report = check_yaml(
            operation("path: /u/{id}\nparameters:\n  - {name: id, location: path, required: true}")
        )
        assert report.problems == []

    def test_placeholders_of_an_otherwise_invalid_operation_are_checked(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        # examples/broken.yaml: a bad location made the whole operation invalid, and the
        # unfilled placeholder went unreported.
        report = check_yaml(
            operation("path: /things/{thing_id}\nparameters:\n  - {name: id, location: pth}")
        )
        problem = problem_at(report, "operations[0].path")
        assert where(problem) == ("connector.yaml", 5, 11, "operations[0].path")
        assert problem.message.startswith(
            "the path has a placeholder {thing_id} but no path parameter 'thing_id'; add it"
        )
        assert problem_at(report, "operations[0].parameters[0].location")

    def test_written_location_of_an_invalid_operation_is_named(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            operation("path: /u/{id}\nmethod: FETCH\nparameters:\n  - {name: id, location: query}")
        )
        problem = problem_at(report, "operations[0].path")
        assert problem.message.endswith("parameter 'id' has location: query; set location: path")

    def test_the_broken_example_reports_its_placeholder(self) -> None:
        from pathlib import Path

        from connectory.spec import check_connector

        example = Path(__file__).resolve().parents[3] / "examples" / "broken.yaml"
        messages = [p.message for p in check_connector(example).problems]
        assert any("placeholder {thing_id}" in message for message in messages), messages


class TestOverview:
    def test_slug_that_is_not_url_safe(self, check_yaml: Any, problem_at: Any) -> None:
        problem = problem_at(check_yaml("slug: Open Weather_Map\n"), "slug")
        assert where(problem) == ("connector.yaml", 3, 7, "slug")
        assert problem.message == (
            "slug 'Open Weather_Map' is not URL-safe; use lowercase letters, digits and single "
            "hyphens, e.g. slug: open-weather-map"
        )

    def test_slug_from_a_name_without_ascii(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml("name: 天気\nbase_url: https://x.example\n", head=False)
        problem = problem_at(report, "slug")
        assert (problem.line, problem.column) == (1, 7)
        assert problem.message.startswith("the slug made from the name is empty;")

    @pytest.mark.parametrize(
        ("url", "advice"),
        [
            ("api.example.com", "add the scheme: https://api.example.com"),
            ("ftp://api.example.com", "use http:// or https://, not ftp://"),
            ("/v1", "write the full URL, e.g. https://api.example.com"),
            ("https://api.example .com", "remove the spaces"),
            ("ftp://{{ config.host }}", "use http:// or https://, not ftp://"),
            ("https://user:secret@api.example.com:bad", "check the host name and port"),
        ],
    )
    def test_base_url_not_absolute_http(
        self, check_yaml: Any, problem_at: Any, url: str, advice: str
    ) -> None:
        report = check_yaml(f"name: Demo\nbase_url: '{url}'\n", head=False)
        problem = problem_at(report, "base_url")
        assert where(problem) == ("connector.yaml", 2, 11, "base_url")
        assert "is not an absolute http(s) URL" in problem.message
        assert problem.message.endswith(advice)
        assert "secret" not in problem.message

    @pytest.mark.parametrize(
        "url",
        [
            "https://{{ config.subdomain }}.example.com",
            "{{ config.base_url }}",
            "http://localhost:8080/api",
        ],
    )
    def test_valid_base_urls(self, check_yaml: Any, url: str) -> None:
        assert check_yaml(f"name: Demo\nbase_url: '{url}'\n", head=False).problems == []

    @pytest.mark.parametrize(
        "host", ["0177.0.0.1", "127.000.000.001", "0x7f.1", "2130706433", "127.1"]
    )
    @pytest.mark.parametrize("suffix", ["", ":8080/v1", "/v1/{{ config.tenant }}"])
    def test_base_url_with_a_non_canonical_ipv4_host(
        self, check_yaml: Any, problem_at: Any, host: str, suffix: str
    ) -> None:
        report = check_yaml(f"name: Demo\nbase_url: 'http://{host}{suffix}'\n", head=False)
        problem = problem_at(report, "base_url")
        assert where(problem) == ("connector.yaml", 2, 11, "base_url")
        assert problem.message == (
            f"the host '{host}' is the IPv4 address 127.0.0.1 written in a non-canonical form "
            "(octal, hexadecimal, leading zeros or fewer than four parts), which HTTP clients "
            "read differently; write it as 127.0.0.1"
        )

    @pytest.mark.parametrize(
        "url", ["http://127.0.0.{{ config.last }}", "https://{{ config.host }}:8443"]
    )
    def test_a_host_completed_by_a_template_is_checked_at_run_time(
        self, check_yaml: Any, url: str
    ) -> None:
        assert check_yaml(f"name: Demo\nbase_url: '{url}'\n", head=False).problems == []


class TestParameterValues:
    def test_required_parameter_with_default(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            operation(
                "path: /a\nparameters:\n  - name: units\n    required: true\n    default: metric"
            )
        )
        problem = problem_at(report, "operations[0].parameters[0].default")
        assert where(problem)[1:3] == (9, 18)
        assert "is required but has a default" in problem.message
        assert problem.message.endswith("remove required: true or remove the default")

    def test_duplicate_parameter_in_the_same_location(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            operation(
                "path: /a\nparameters:\n"
                "  - {name: q}\n  - {name: q, location: header}\n  - {name: q}"
            )
        )
        problem = problem_at(report, "operations[0].parameters[2].name")
        assert problem.line == 9
        assert problem.message == (
            "parameter 'q' is declared twice in query (also parameters[0]); remove or rename one "
            "(the other is at line 7)"
        )

    def test_enum_value_of_the_wrong_type(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            operation("path: /a\nparameters:\n  - {name: n, type: integer, enum: [1, two]}")
        )
        problem = problem_at(report, "operations[0].parameters[0].enum[1]")
        assert where(problem)[1:3] == (7, 44)
        assert problem.message == (
            "enum value 'two' is not an integer, but parameter 'n' has type: integer; change the "
            "value or the type"
        )

    def test_string_enum_with_a_number_says_quote_it(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(operation("path: /a\nparameters:\n  - {name: v, enum: [1, '2']}"))
        assert problem_at(report, "operations[0].parameters[0].enum[0]").message.endswith(
            "; quote it"
        )

    def test_default_of_the_wrong_type(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            operation("path: /a\nparameters:\n  - {name: n, type: boolean, default: 'yes'}")
        )
        problem = problem_at(report, "operations[0].parameters[0].default")
        assert problem.message.startswith("default 'yes' is not true or false")

    def test_default_not_in_enum(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            operation(
                "path: /a\nparameters:\n  - {name: u, enum: [metric, imperial], default: kelvin}"
            )
        )
        problem = problem_at(report, "operations[0].parameters[0].default")
        assert problem.message == (
            "default 'kelvin' of parameter 'u' is not one of its enum values ('metric', "
            "'imperial'); use one of them"
        )


class TestJsonSchemas:
    def test_invalid_response_schema_points_inside_the_schema(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            operation(
                "path: /a\nresponse_schema:\n  type: object\n  properties:\n    name: {type: strin}"
            )
        )
        problem = problem_at(report, "operations[0].response_schema.properties.name.type")
        assert where(problem)[1:3] == (9, 22)
        assert problem.message == (
            "response_schema is not a valid JSON Schema at properties.name.type: 'strin' is not "
            "a JSON Schema type; use one of array, boolean, integer, null, number, object, string "
            "(did you mean 'string'?)"
        )

    def test_invalid_request_body_schema(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            operation("path: /a\nmethod: POST\nrequest_body:\n  schema: {required: name}")
        )
        problem = problem_at(report, "operations[0].request_body.schema.required")
        assert problem.message == (
            "request_body.schema is not a valid JSON Schema at required: 'name' is not of type "
            "'array'"
        )

    def test_invalid_items_schema(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            operation("path: /a\nparameters:\n  - {name: ids, type: array, items: {type: 5}}")
        )
        problem_at(report, "operations[0].parameters[0].items.type")

    def test_unknown_schema_dialect_is_a_warning(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            operation("path: /a\nresponse_schema: {$schema: 'https://example.com/s', type: object}")
        )
        problem = problem_at(report, "operations[0].response_schema.$schema")
        assert problem.severity == "warning"


class TestTemplates:
    def test_default_template_reads_an_undeclared_credential(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            """\
            auth:
              auth_type: api_key
              credential_schema:
                key: {type: password}
            """
        )
        problem = problem_at(report, "auth.api_key")
        # Points at credential_schema, where the field is missing: auth.api_key is not written.
        assert where(problem) == ("connector.yaml", 6, 5, "auth.api_key")
        assert problem.message == (
            "auth.api_key (by default '{{ credentials.api_key }}') reads credentials.api_key, "
            "but 'api_key' is not declared in auth.credential_schema; add it there or change the "
            "template (declared: key) (did you mean 'key'?)"
        )

    def test_explicit_template_reads_an_undeclared_credential(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            """\
            auth:
              auth_type: bearer
              token: "{{ credentials.tokn }}"
              credential_schema:
                token: {type: password}
            """
        )
        problem = problem_at(report, "auth.token")
        assert where(problem) == ("connector.yaml", 5, 10, "auth.token")
        assert "reads credentials.tokn" in problem.message
        assert "(did you mean 'token'?)" in problem.message

    def test_operation_header_reads_an_undeclared_credential(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(operation("path: /a\nheaders:\n  X-Key: '{{ credentials.key }}'"))
        problem = problem_at(report, "operations[0].headers.X-Key")
        assert "'key' is not declared in auth.credential_schema" in problem.message
        assert "(declared: none)" in problem.message

    def test_unknown_root(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml("headers:\n  X-Key: '{{ credential.key }}'\n")
        problem = problem_at(report, "headers.X-Key")
        assert where(problem)[1:3] == (4, 10)
        assert problem.message == (
            "headers.X-Key reads 'credential', which templates do not have; use credentials, "
            "parameters, connector_parameters, config (did you mean 'credentials'?)"
        )

    @pytest.mark.parametrize(
        ("template", "name"),
        [
            ("{{ ''.__class__ }}", "__class__"),
            ("{{ credentials.__class__ }}", "__class__"),
            ("{{ credentials._token | upper }}", "_token"),
            ("x {{ credentials._token }}", "_token"),
            ("{{ config['__init__'] }}", "__init__"),
            ("{{ (config.a or '').__len__ }}", "__len__"),
        ],
    )
    def test_underscore_names_are_refused_at_validation(
        self, check_yaml: Any, problem_at: Any, template: str, name: str
    ) -> None:
        report = check_yaml(f'headers:\n  X-A: "{template}"\n')
        problem = problem_at(report, "headers.X-A")
        assert problem.message.startswith(
            f"headers.X-A is not a valid template: it reads '{name}', but names that start "
            "with an underscore are Python internals; "
        )
        assert not report.ok

    def test_underscore_names_in_an_operation_path_are_refused(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(operation("path: \"/a/{{ ''.__class__ }}\""))
        assert "Python internals" in problem_at(report, "operations[0].path").message

    def test_a_key_with_one_leading_underscore_is_read_with_brackets(self, check_yaml: Any) -> None:
        from connectory.templating import compile_template

        report = check_yaml(
            "headers:\n  X-A: \"{{ credentials['_sid'] }}\"\n"
            "auth:\n  auth_type: bearer\n  credential_schema:\n"
            "    token: {type: password}\n    _sid: {}\n"
        )
        assert report.problems == []
        template = compile_template("{{ credentials['_sid'] }}")
        assert template.render({"credentials": {"_sid": "s-1"}}) == "s-1"
        assert (
            compile_template("{{ credentials['_sid'] | upper }}").render(
                {"credentials": {"_sid": "s-1"}}
            )
            == "S-1"
        )

    def test_syntax_error_does_not_echo_the_template(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml("headers:\n  Authorization: 'Bearer sk-live-123 {{ config.x '\n")
        problem = problem_at(report, "headers.Authorization")
        assert problem.message.startswith("headers.Authorization is not a valid template:")
        assert "sk-live" not in problem.message

    def test_unknown_connector_parameter(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            "name: Demo\nparameters:\n  region: {type: string}\n"
            "base_url: 'https://{{ connector_parameters.regon }}.x.io'\n",
            head=False,
        )
        problem = problem_at(report, "base_url")
        assert "'regon' is not declared in the connector's parameters" in problem.message
        assert "(did you mean 'region'?)" in problem.message

    def test_operation_template_reads_an_unknown_parameter(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            operation(
                "path: /a\nheaders:\n  X-Page: '{{ parameters.pag }}'\n"
                "parameters:\n  - {name: page}"
            )
        )
        problem = problem_at(report, "operations[0].headers.X-Page")
        assert "'pag' is not declared in the operation's parameters" in problem.message

    def test_login_request_templates_are_checked(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            """\
            auth:
              auth_type: custom
              credential_schema:
                username: {}
                password: {type: password}
              login:
                url: /login
                json: {user: "{{ credentials.usr }}", pass: "{{ credentials.password }}"}
            """
        )
        problem = problem_at(report, "auth.login.json.user")
        assert (problem.line, problem.column) == (10, 18)
        assert "(did you mean 'username'?)" in problem.message

    def test_extra_token_params_are_checked(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            """\
            auth:
              auth_type: oauth2
              token_url: https://p.example/token
              client_id: "{{ config.id }}"
              client_secret: "{{ config.secret }}"
              extra_token_params: {resource: "{{ connector_parameters.resource }}"}
            """
        )
        problem = problem_at(report, "auth.extra_token_params.resource")
        assert "(declared: none)" in problem.message

    def test_config_is_allowed_and_loops_are_not(self, check_yaml: Any) -> None:
        report = check_yaml(
            "headers:\n"
            "  X-A: '{% for i in range(2) %}{{ i }}{% endfor %}'\n"
            "  X-B: '{{ config.anything }}'\n"
        )
        assert [p.path for p in report.problems] == ["headers.X-A"]
        assert "loop" in report.problems[0].message


class TestPaginationAndSelectors:
    def test_pagination_parameter_collides_with_a_parameter(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            operation("path: /a\nparameters:\n  - {name: page}\npagination: {type: page_number}")
        )
        problem = problem_at(report, "operations[0].parameters[0].name")
        assert problem.severity == "warning"
        assert problem.message.startswith("parameter 'page' is also pagination.page_param")
        assert report.ok

    @pytest.mark.parametrize(
        ("block", "path"),
        [
            ("record_selector: data..items", "operations[0].record_selector"),
            (
                "pagination: {type: cursor, cursor_path: 'meta.[next]'}",
                "operations[0].pagination.cursor_path",
            ),
            (
                "pagination: {type: next_url, next_url_path: 'links.*'}",
                "operations[0].pagination.next_url_path",
            ),
            (
                "pagination: {type: offset, total_path: 'a b'}",
                "operations[0].pagination.total_path",
            ),
        ],
    )
    def test_invalid_selectors(
        self, check_yaml: Any, problem_at: Any, block: str, path: str
    ) -> None:
        report = check_yaml(operation(f"path: /a\n{block}"))
        problem = problem_at(report, path)
        assert problem.line == 6
        assert problem.message.startswith("invalid selector: ")

    def test_custom_auth_token_path(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            "auth:\n  auth_type: custom\n  login: {url: /login}\n  token_path: 'data..token'\n"
        )
        assert problem_at(report, "auth.token_path").message.startswith("invalid selector:")


class TestAuthUrls:
    @pytest.mark.parametrize(
        ("auth", "path", "line"),
        [
            (
                "  auth_type: oauth2\n  token_url: http://0x7f.1/token\n",
                "auth.token_url",
                5,
            ),
            (
                "  auth_type: oauth2\n  grant_type: authorization_code\n"
                "  token_url: https://id.example.com/token\n"
                "  authorization_url: http://2130706433/authorize\n",
                "auth.authorization_url",
                7,
            ),
            (
                "  auth_type: custom\n  login:\n    url: http://0177.0.0.1/login\n",
                "auth.login.url",
                6,
            ),
        ],
    )
    def test_auth_urls_with_a_non_canonical_ipv4_host(
        self, check_yaml: Any, problem_at: Any, auth: str, path: str, line: int
    ) -> None:
        report = check_yaml("auth:\n" + auth)
        problem = problem_at(report, path)
        assert (problem.file, problem.line) == ("connector.yaml", line)
        assert "written in a non-canonical form" in problem.message
        assert problem.message.endswith("write it as 127.0.0.1")


class TestAuthRules:
    def test_authorization_code_needs_an_authorization_url(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            """\
            auth:
              auth_type: oauth2
              grant_type: authorization_code
              token_url: https://provider.example.com/token
              client_id: "{{ config.client_id }}"
              client_secret: "{{ config.client_secret }}"
            """
        )
        problem = problem_at(report, "auth.grant_type")
        assert where(problem)[1:3] == (5, 15)
        assert problem.message.startswith("grant_type authorization_code needs authorization_url")

    @pytest.mark.parametrize("name", ["client_secret", "api_key", "access-token", "db_password"])
    def test_secret_looking_field_that_is_not_sensitive(
        self, check_yaml: Any, problem_at: Any, name: str
    ) -> None:
        report = check_yaml(
            f"auth:\n  auth_type: none\n  credential_schema:\n    {name}:\n      sensitive: false\n"
        )
        problem = problem_at(report, f"auth.credential_schema.{name}.sensitive")
        assert where(problem)[1:3] == (7, 18)
        assert problem.severity == "warning"
        assert "looks secret but is not sensitive; set sensitive: true" in problem.message

    @pytest.mark.parametrize("name", ["token_url", "client_id", "key_id", "username"])
    def test_fields_that_do_not_look_secret(self, check_yaml: Any, name: str) -> None:
        report = check_yaml(f"auth:\n  auth_type: none\n  credential_schema:\n    {name}: {{}}\n")
        assert report.problems == []


def test_checks_run_on_a_validated_model() -> None:
    spec = ConnectorSpec.model_validate(
        {"name": "x", "base_url": "https://x", "operations": [{"name": "a", "path": "/{id}"}]}
    )
    [finding] = check_connector_spec(spec)
    assert finding.path == ("operations", 0, "path")


def test_unknown_fields_do_not_hide_the_other_checks(check_yaml: Any) -> None:
    report = check_yaml(
        """\
        auth:
          auth_type: api_key
          heder_name: X
        operations:
          - operation: a
            path: /a/{id}
            colour: blue
        """
    )
    assert [p.path for p in report.problems] == [
        "auth.api_key",
        "auth.heder_name",
        "operations[0].path",
        "operations[0].colour",
    ]
