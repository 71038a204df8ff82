"""Events in the connector format: loading, and mistakes reported at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectory.errors import SpecError
from connectory.spec import load_connector

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "events"


@pytest.mark.parametrize(
    "name", ["testapi-webhooks.yaml", "testapi-global-webhook.yaml", "testapi-javascript-events"]
)
def test_examples_load(name: str) -> None:
    spec = load_connector(EXAMPLES / name)
    assert spec.events


def _write(tmp_path: Path, events: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: C\nbase_url: https://api.example.com\noperations:\n"
        "  - {name: make_hook, method: POST, path: /hooks}\n" + events
    )
    return path


def test_unknown_operation_and_missing_block_and_bad_template(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """events:
  - key: a
    type: webhook
    webhook:
      subscribe: {operation: make_hok}
  - key: b
    type: poll
  - key: c
    type: webhook
    webhook:
      handle: {type: "{{ item.kind "}
""",
    )
    with pytest.raises(SpecError) as raised:
        load_connector(path)
    text = str(raised.value) + " ".join(str(p) for p in raised.value.problems)
    assert "make_hok" in text and "did you mean 'make_hook'" in text
    assert "needs a poll block" in text
    lines = {p.line for p in raised.value.problems}
    assert len(lines) == 3


def test_global_webhook_needs_a_handle_selector(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """events:
  - key: g
    type: global_webhook
    global_webhook:
      subscription_selector: "{{ config.account }}"
      handle: {items: events}
""",
    )
    with pytest.raises(SpecError, match="selector"):
        load_connector(path)


def test_javascript_handle_and_pull_are_checked(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """events:
  - key: both
    type: webhook
    webhook:
      handle: {method: "methods/events.js#handle", type: "{{ item.kind }}"}
  - key: routed
    type: global_webhook
    global_webhook:
      subscription_selector: "{{ config.account }}"
      handle: {method: "methods/events.js#handle"}
  - key: neither
    type: poll
    poll: {interval_seconds: 5}
  - key: mixed
    type: poll
    poll: {method: "methods/events.js#pull", input: {a: b}}
""",
    )
    with pytest.raises(SpecError) as raised:
        load_connector(path)
    text = " ".join(str(p) for p in raised.value.problems)
    assert "a handle with method: is the method alone; drop type" in text
    assert "global webhook's handle cannot be a JavaScript method" in text
    assert "give either operation" in text
    assert "input and since_parameter are for operation" in text


def test_event_methods_are_code_references(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    (folder / "methods").mkdir(parents=True)
    (folder / "methods" / "events.js").write_text(
        "export function handle(ctx) { return []; }\n"
        "export async function pull(ctx) { return { events: [], state: {} }; }\n"
    )
    (folder / "connector.yaml").write_text(
        """name: C
base_url: https://api.example.com
events:
  - key: pushed
    type: webhook
    webhook: {handle: {method: "methods/events.js#handle"}}
  - key: pulled
    type: poll
    poll: {method: "methods/events.js#pull"}
  - key: missing
    type: poll
    poll: {method: "methods/gone.js#pull"}
"""
    )
    with pytest.raises(SpecError) as raised:
        load_connector(folder)
    text = " ".join(str(p) for p in raised.value.problems)
    assert "the file methods/gone.js does not exist" in text  # checked like an operation's
    (folder / "connector.yaml").write_text(
        (folder / "connector.yaml").read_text().replace("gone.js#pull", "events.js#nothere")
    )
    spec = load_connector(folder)
    assert [path for path, _ in spec.code_refs()] == [
        ("events", 0, "webhook", "handle", "method"),
        ("events", 1, "poll", "method"),
        ("events", 2, "poll", "method"),
    ]
    assert spec.has_code
    from connectory.js import check_code

    problems = [str(problem) for problem in check_code(spec)]
    assert any("nothere" in problem for problem in problems), problems
    assert not any("#handle" in problem or "#pull" in problem for problem in problems), problems
