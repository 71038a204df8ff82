"""What the runtime hands back (runtime/results.py)."""

from __future__ import annotations

import json

import pytest

from connectory.runtime import OperationResult, SentRequest


@pytest.mark.parametrize(
    ("status", "ok"), [(199, False), (200, True), (299, True), (301, False), (404, False)]
)
def test_ok(status: int, ok: bool) -> None:
    assert OperationResult("op", status, {}, None, 0.0).ok is ok


def test_to_dict_is_json_serialisable() -> None:
    result = OperationResult(
        operation="op",
        status_code=200,
        headers={"content-type": "application/json"},
        body={"a": [1]},
        elapsed=0.123456789,
        schema_mismatches=[("$.a[0]", "1 is not of type 'string'")],
        request=SentRequest("GET", "https://a/x", {"Accept": "application/json"}),
    )
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == {
        "operation": "op",
        "status_code": 200,
        "headers": {"content-type": "application/json"},
        "body": {"a": [1]},
        "elapsed": 0.123457,
        "schema_mismatches": [{"path": "$.a[0]", "message": "1 is not of type 'string'"}],
        "request": {
            "method": "GET",
            "url": "https://a/x",
            "headers": {"Accept": "application/json"},
            "body": None,
        },
    }


def test_to_dict_without_request() -> None:
    assert OperationResult("op", 204, {}, None, 0.0).to_dict()["request"] is None
