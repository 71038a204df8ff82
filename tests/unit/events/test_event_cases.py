"""Event test cases: handle on a sample request, expectations on events and cursors."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectory.cases import CaseRunner, check_expectations, parse_cases
from connectory.cases.model import CaseSpec
from connectory.errors import EventError, InputError
from connectory.events.testing import handle_event_case, needs_client
from connectory.spec import load_connector

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "events"
WEBHOOKS = load_connector(EXAMPLES / "testapi-webhooks.yaml")
GLOBAL = load_connector(EXAMPLES / "testapi-global-webhook.yaml")


def test_handle_yields_the_events_of_a_sample_request() -> None:
    payload = {"events": [{"id": "e1", "type": "item.updated", "item": {"id": 3}}]}
    result = handle_event_case(WEBHOOKS, "item_updated", payload, {"Webhook-Id": "m1"})
    assert result == {
        "events": [{"type": "item.updated", "id": "e1", "occurred_at": None, "payload": {"id": 3}}]
    }
    # Without an id in the item, the message id (the verification's id header) keys it.
    unnamed = handle_event_case(
        WEBHOOKS, "item_updated", {"events": [{"item": {"id": 4}}]}, {"webhook-id": "m2"}
    )
    assert unnamed["events"][0]["id"] == "m2:0"
    assert unnamed["events"][0]["type"] == "item_updated"  # no type: the event's key


def test_a_global_webhook_case_shows_each_event_s_selector() -> None:
    payload = {
        "events": [
            {"id": "e1", "type": "item.updated", "account": "acct-1", "item": {"id": 1}},
            {"id": "e2", "type": "item.updated", "account": "acct-2", "item": {"id": 2}},
        ]
    }
    result = handle_event_case(GLOBAL, "account_item_updated", payload)
    assert [(e["id"], e["selector"]) for e in result["events"]] == [
        ("e1", "acct-1"),
        ("e2", "acct-2"),
    ]


def test_wrong_requests_and_wrong_events_are_explained() -> None:
    with pytest.raises(EventError, match="not JSON"):
        handle_event_case(WEBHOOKS, "item_updated", "<xml/>")
    with pytest.raises(InputError, match="no event 'nope'; its events: item_updated"):
        handle_event_case(WEBHOOKS, "nope", {})
    with pytest.raises(InputError, match="poll event: its case needs no payload"):
        handle_event_case(WEBHOOKS, "item_changed_polled", {})
    assert needs_client(WEBHOOKS, "item_changed_polled")
    assert not needs_client(WEBHOOKS, "item_updated")


def test_event_expectations_report_what_does_not_hold() -> None:
    case = CaseSpec.model_validate(
        {
            "name": "pull",
            "event": "item_changed_polled",
            "expect": {"count": 1, "events": [{"id": "7@x"}], "cursor": "2026-01-01T00:00:00Z"},
        }
    )
    data = {
        "events": [{"type": "item.updated", "id": "8@x"}, {"type": "item.updated", "id": "9@x"}],
        "cursor": "2026-02-01T00:00:00Z",
    }
    problems = check_expectations(case, data)
    assert problems[0] == "expected 1 event(s), got 2"
    assert problems[1].startswith("the events do not match [{'id': '7@x'}]; got [{")
    assert problems[2] == "expected cursor 2026-01-01T00:00:00Z, got 2026-02-01T00:00:00Z"
    assert check_expectations(case, {"events": [{"id": "7@x"}], "cursor": case.expect.cursor}) == []


async def test_handle_cases_run_offline_without_a_recording(tmp_path: Path) -> None:
    cases = parse_cases(
        {
            "cases": [
                {
                    "name": "good",
                    "event": "item_updated",
                    "payload": {"events": [{"id": "e1", "item": {"id": 1}}]},
                    "expect": {"events": [{"id": "e1", "payload": {"id": 1}}]},
                },
                {
                    "name": "expects another id",
                    "event": "item_updated",
                    "payload": {"events": [{"id": "e1", "item": {"id": 1}}]},
                    "expect": {"events": [{"id": "e2"}]},
                },
                {
                    "name": "refused",
                    "event": "item_updated",
                    "payload": "x",
                    "expect": {"error": "EventError"},
                },
                {"name": "unknown", "event": "nope", "payload": {}},
            ]
        },
        "cases.yaml",
    )
    runner = CaseRunner(WEBHOOKS, cases, tmp_path / "recordings")
    results = await runner.run()
    assert [r.outcome for r in results] == ["passed", "failed", "passed", "failed"]
    assert "the events do not match" in results[1].problems[0]
    assert "no event 'nope'" in results[3].problems[0]
    assert all(r.requests == 0 for r in results)
    assert not (tmp_path / "recordings").exists()  # nothing to record for handle
    # Recording mode runs them the same way: nothing is sent, nothing written.
    recorded = await CaseRunner(WEBHOOKS, cases, tmp_path / "recordings", record=True).run()
    assert [r.outcome for r in recorded] == ["passed", "failed", "passed", "failed"]
    assert not (tmp_path / "recordings").exists()
