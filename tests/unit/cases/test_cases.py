"""Case files, the scrubber, expectations and replay matching (no network)."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from connectory.cases import (
    CaseSpec,
    Cassette,
    Interaction,
    ReplayTransport,
    Scrubber,
    cases_path_for,
    check_expectations,
    load_cases,
    parse_cases,
)
from connectory.cases.run import matches
from connectory.errors import InputError, RecordingMismatch


def test_a_case_has_exactly_one_kind_and_names_are_unique() -> None:
    assert (
        parse_cases({"cases": [{"name": "a", "operation": "x"}]}, "f").cases[0].kind == "operation"
    )
    with pytest.raises(InputError, match=r"cases\[0\].*exactly one of operation"):
        parse_cases({"cases": [{"name": "a", "operation": "x", "collection": "c"}]}, "f")
    with pytest.raises(InputError, match="method"):
        parse_cases({"cases": [{"name": "a", "collection": "c"}]}, "f")
    with pytest.raises(InputError, match="unique"):
        parse_cases(
            {"cases": [{"name": "A b", "operation": "x"}, {"name": "a-b", "operation": "y"}]}, "f"
        )
    with pytest.raises(InputError, match=r"cases\[0\]\.expect\.stauts"):
        parse_cases({"cases": [{"name": "a", "operation": "x", "expect": {"stauts": 200}}]}, "f")


def test_cases_files_are_found_and_bad_ones_explained(tmp_path: Path) -> None:
    assert cases_path_for(tmp_path) == tmp_path / "tests" / "cases.yaml"
    assert cases_path_for(tmp_path / "crm.yaml") == tmp_path / "crm.tests" / "cases.yaml"
    with pytest.raises(InputError, match="no test cases"):
        load_cases(tmp_path / "missing.yaml")
    broken = tmp_path / "cases.yaml"
    broken.write_text("cases: [\n", encoding="utf-8")
    with pytest.raises(InputError, match="not valid YAML"):
        load_cases(broken)


def test_the_scrubber_replaces_every_form_of_a_secret() -> None:
    scrubber = Scrubber({"s3cr3t/+value": "<credentials.key>"})
    assert scrubber.text("key=s3cr3t/+value&x=1") == "key=<credentials.key>&x=1"
    assert "s3cr3t" not in scrubber.text("key=s3cr3t%2F%2Bvalue")
    encoded = base64.b64encode(b"s3cr3t/+value").decode()
    assert encoded not in scrubber.text(f"Basic {encoded}")
    scrubber.learn_tokens({"data": {"access_token": "tok-123456", "expires_in": 3600}})
    assert scrubber.data({"h": "Bearer tok-123456"}) == {"h": "Bearer <token.access_token>"}
    headers = scrubber.headers([("Authorization", "Basic xyz"), ("X-Trace", "tok-123456")])
    assert headers == {"authorization": "<redacted>", "x-trace": "<token.access_token>"}
    short = Scrubber({"ab": "<p>"})
    assert short.text("cab") == "cab" and short.text("ab") == "<p>"


def test_expectations_report_what_does_not_hold() -> None:
    case = CaseSpec.model_validate(
        {"name": "x", "operation": "op",
         "expect": {"status": 200, "body": {"id": 7}, "count": 2, "schema": True}}
    )  # fmt: skip
    ok = {"status": 200, "body": {"id": 7, "x": 1}, "records": [1, 2], "schema_mismatches": []}
    assert check_expectations(case, ok) == []
    bad = {"status": 500, "body": {"id": 8}, "records": [1], "schema_mismatches": ["$.a: wrong"]}
    assert len(check_expectations(case, bad)) == 4
    assert matches({"a": [{"b": 1}]}, {"a": [{"b": 1, "c": 2}], "d": 3})
    assert not matches([1], [1, 2])


def _interaction(path: str, query: list[tuple[str, str]], **headers: str) -> Interaction:
    return Interaction("GET", path, query, dict(headers), None, 200, {}, '{"ok": true}')


async def test_replay_matches_method_path_query_and_headers_not_ignored() -> None:
    recorded = [
        _interaction("/a", [("x", "1"), ("y", "2")], **{"x-tenant": "acme", "user-agent": "u"}),
        _interaction("/a", [("x", "1"), ("y", "2")], **{"x-tenant": "acme"}),
    ]
    replay = ReplayTransport(recorded)
    async with httpx.AsyncClient(transport=replay, base_url="http://h") as http:
        first = await http.get("/a?y=2&x=1", headers={"X-Tenant": "acme", "User-Agent": "other"})
        assert first.json() == {"ok": True}
        with pytest.raises(RecordingMismatch, match="x-tenant"):
            await http.get("/a?x=1&y=2", headers={"X-Tenant": "globex"})
        await http.get("/a?x=1&y=2", headers={"X-Tenant": "acme"})
        with pytest.raises(RecordingMismatch, match="GET /a"):
            await http.get("/a?x=1&y=2", headers={"X-Tenant": "acme"})  # each used once
    tolerant = ReplayTransport(
        [_interaction("/b", [], **{"x-tenant": "acme"})], frozenset({"X-Tenant"})
    )
    async with httpx.AsyncClient(transport=tolerant, base_url="http://h") as http:
        assert (await http.get("/b", headers={"X-Tenant": "other"})).status_code == 200


def test_recordings_round_trip_and_refuse_other_files() -> None:
    cassette = Cassette("c", "2024-05-01T00:00:00Z", interactions=[_interaction("/a", [])])
    again = Cassette.from_bytes(cassette.to_bytes(), "r.json")
    assert again.interactions[0].path == "/a" and again.recorded_at == cassette.recorded_at
    for bad in (b"[]", b"{}", b"not json", b'{"format": 99}'):
        with pytest.raises(InputError, match="record the case again"):
            Cassette.from_bytes(bad, "r.json")
