"""Events in the connector format: loading, and mistakes reported at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectory.errors import SpecError
from connectory.spec import load_connector

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "events"


@pytest.mark.parametrize("name", ["testapi-webhooks.yaml", "testapi-global-webhook.yaml"])
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
