"""The schemas section ($ref) and the collections section: each rule, at its file and line."""

from __future__ import annotations

from typing import Any

import pytest

from connectory.spec import load_connector_data
from connectory.spec.schema_export import connector_json_schema
from connectory.spec.shared_schemas import bundle_schema, resolve_shared

CONTACT = """
schemas:
  Contact:
    type: object
    required: [email]
    properties:
      id: {type: string, readOnly: true}
      email: {type: string}
      address: {$ref: "#/schemas/Address"}
  Address:
    type: object
    properties:
      city: {type: string}
operations:
  - operation: list_contacts
    path: /contacts
    parameters: [{name: status}]
    response_schema: {type: array, items: {$ref: "#/schemas/Contact"}}
  - operation: get_contact
    path: /contacts/{id}
    parameters: [{name: id, location: path, required: true}]
"""


def collection(body: str) -> str:
    return (
        CONTACT
        + "collections:\n  - key: contacts\n"
        + "".join(f"    {line}\n" for line in body.splitlines())
    )


class TestSchemaReferences:
    def test_a_valid_section_loads(self, check_yaml: Any) -> None:
        report = check_yaml(CONTACT)
        assert report.ok, report.problems
        assert report.spec is not None and set(report.spec.schemas) == {"Contact", "Address"}

    def test_unknown_reference_is_an_error_at_its_line(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            CONTACT.replace(
                'items: {$ref: "#/schemas/Contact"}', 'items: {$ref: "#/schemas/Contacts"}'
            )
        )
        problem = problem_at(report, "operations[0].response_schema.items.$ref")
        assert (problem.file, problem.line) == ("connector.yaml", 20)
        assert "refers to schema 'Contacts', which the schemas section does not define" in (
            problem.message
        )
        assert "did you mean 'Contact'" in problem.message

    def test_alias_cycles_are_errors(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            'schemas:\n  A: {$ref: "#/schemas/B"}\n  B: {$ref: "#/schemas/C"}\n'
            '  C: {$ref: "#/schemas/A"}\n  D: {$ref: "#/schemas/D"}\n'
        )
        assert not report.ok
        messages = [p.message for p in report.errors]
        assert any("A -> B -> C -> A" in m for m in messages), messages
        assert any("D -> D" in m for m in messages), messages
        assert problem_at(report, "schemas.A.$ref").line == 4

    def test_recursion_through_structure_is_allowed(self, check_yaml: Any) -> None:
        report = check_yaml(
            "schemas:\n  Node:\n    type: object\n    properties:\n"
            '      children: {type: array, items: {$ref: "#/schemas/Node"}}\n'
        )
        assert report.ok, report.problems

    def test_references_outside_the_connector_are_refused(
        self, check_yaml: Any, problem_at: Any
    ) -> None:
        report = check_yaml(
            "operations:\n  - operation: op\n    path: /x\n"
            "    response_schema: {$ref: 'https://attacker.example/schema.json'}\n"
        )
        problem = problem_at(report, "operations[0].response_schema.$ref")
        assert "outside the connector" in problem.message

    def test_body_and_items_references_are_checked(self, check_yaml: Any) -> None:
        report = check_yaml(
            "operations:\n  - operation: op\n    method: POST\n    path: /x\n"
            '    request_body: {schema: {$ref: "#/schemas/Nope"}}\n'
            '    parameters: [{name: tags, type: array, items: {$ref: "#/schemas/Nope2"}}]\n'
        )
        paths = {p.path for p in report.errors}
        assert {
            "operations[0].request_body.schema.$ref",
            "operations[0].parameters[0].items.$ref",
        } <= paths

    def test_export_lists_the_new_sections(self) -> None:
        schema = connector_json_schema()
        assert {"schemas", "collections"} <= set(schema["properties"])
        assert "CollectionSpec" in schema["$defs"]

    def test_bundle_and_resolve(self) -> None:
        spec = load_connector_data({"name": "x", "base_url": "https://x.example", **_yaml(CONTACT)})
        bundled = bundle_schema({"$ref": "#/schemas/Contact"}, spec.schemas)
        assert bundled["$ref"] == "#/$defs/Contact"
        assert set(bundled["$defs"]) == {"Contact", "Address"}
        assert bundled["$defs"]["Contact"]["properties"]["address"]["$ref"] == "#/$defs/Address"
        assert resolve_shared({"$ref": "#/schemas/Contact/properties/email"}, spec.schemas) == {
            "type": "string"
        }


def _yaml(text: str) -> dict[str, Any]:
    import yaml

    data: dict[str, Any] = yaml.safe_load(text)
    return data


class TestCollections:
    def test_a_valid_collection(self, check_yaml: Any) -> None:
        report = check_yaml(
            collection(
                'fields_schema: {$ref: "#/schemas/Contact"}\nmethods:\n'
                "  list: {operation: list_contacts, filters: [email, updated_since]}\n"
                "  find_by_id: {operation: get_contact}\n"
                "  create: {request: {method: POST, path: /contacts, body: '{{ fields }}'}}\n"
            )
        )
        assert report.ok, report.problems
        assert report.spec is not None
        contacts = report.spec.collection("contacts")
        assert contacts is not None and contacts.methods.defined().keys() == {
            "list",
            "find_by_id",
            "create",
        }

    def test_a_method_whose_operation_is_missing(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(collection("methods:\n  list: {operation: list_contact}\n"))
        problem = problem_at(report, "collections[0].methods.list.operation")
        assert problem.line == 27
        assert "which this connector does not have (did you mean 'list_contacts'?)" in (
            problem.message
        )

    def test_exactly_one_implementation_kind(self, check_yaml: Any) -> None:
        both = check_yaml(
            collection("methods:\n  list: {operation: list_contacts, request: {path: /c}}\n")
        )
        none = check_yaml(collection("methods:\n  list: {filters: [email]}\n"))
        for report in (both, none):
            assert any("exactly one implementation" in p.message for p in report.errors)

    def test_filters_must_be_fields(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(
            collection(
                'fields_schema: {$ref: "#/schemas/Contact"}\n'
                "methods:\n  list: {operation: list_contacts, filters: [emial]}\n"
            )
        )
        problem = problem_at(report, "collections[0].methods.list.filters[0]")
        assert "did you mean 'email'" in problem.message

    @pytest.mark.parametrize(
        ("body", "path", "message"),
        [
            (
                "methods:\n  list: {operation: list_contacts, input: {status: '{{ fields.x }}'}}",
                "collections[0].methods.list.input.status",
                "reads 'fields', which this mapping does not have",
            ),
            (
                "methods:\n  find_by_id: {request: {path: '/c/{{ id'}}",
                "collections[0].methods.find_by_id.request.path",
                "is not a valid template",
            ),
            (
                "methods:\n  list: {operation: list_contacts, output: '{{ response.data }}'}",
                "collections[0].methods.list.output",
                "list takes its records from the operation's record_selector",
            ),
            (
                "methods:\n  match: {operation: list_contacts}",
                "collections[0].methods.match.match_fields",
                "match needs match_fields",
            ),
            (
                "record: {id: '{{ response.id }}'}",
                "collections[0].record.id",
                "reads 'response'",
            ),
            (
                "key: Contacts!",
                "collections[0].key",
                "is not valid",
            ),
        ],
    )
    def test_mistakes(
        self, check_yaml: Any, problem_at: Any, body: str, path: str, message: str
    ) -> None:
        text = (
            collection(body)
            if not body.startswith("key:")
            else collection("").replace("key: contacts", body)
        )
        report = check_yaml(text)
        assert message in problem_at(report, path).message

    def test_list_may_check_each_page_for_an_error_object(self, check_yaml: Any) -> None:
        report = check_yaml(
            collection(
                "methods:\n  list: {operation: list_contacts, "
                "error: '{{ response.error if response.ok == false }}'}\n"
            )
        )
        assert report.ok, report.problems

    def test_duplicate_keys(self, check_yaml: Any, problem_at: Any) -> None:
        report = check_yaml(CONTACT + "collections:\n  - key: a\n  - key: a\n")
        assert "already used by collections[0]" in problem_at(report, "collections[1].key").message
