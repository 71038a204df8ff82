"""Pipeline sources refuse bad configuration, catalogs and states with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectory.errors import InputError
from connectory.pipelines import discover_streams, load_source_config
from connectory.pipelines.airbyte import configured_streams, spec_message, stream_states
from connectory.pipelines.singer import bookmarks_of, catalog, selected_streams
from connectory.spec import load_connector

ROOT = Path(__file__).resolve().parents[3]
SPEC = load_connector(ROOT / "examples" / "testapi" / "connector.yaml")


def test_streams_are_collections_and_list_operations() -> None:
    streams = {stream.name: stream for stream in discover_streams(SPEC)}
    assert streams["contacts"].incremental and streams["contacts"].key_properties == ["id"]
    assert not streams["list_cursor_items"].incremental
    assert streams["list_cursor_items"].schema["properties"]["id"]["type"] == "integer"
    assert "get_item" not in streams  # a required path parameter, no list
    assert "create_contact" not in streams


def test_config_mistakes_name_the_key_not_the_value() -> None:
    with pytest.raises(InputError, match="unknown key 'api_key'"):
        load_source_config({"api_key": "SECRET-VALUE"})
    with pytest.raises(InputError, match="'credentials' must be an object"):
        load_source_config({"credentials": "SECRET-VALUE"})
    with pytest.raises(InputError, match="start_date"):
        load_source_config({"start_date": "yesterday"})
    assert load_source_config({"start_date": "2024-05-01"}).start_date == "2024-05-01T00:00:00Z"


def test_catalogs_and_states_are_checked() -> None:
    streams = discover_streams(SPEC)
    discovered = catalog(streams)
    everything = selected_streams(discovered, streams)
    assert len(everything) == len(streams)
    discovered["streams"][0]["metadata"][0]["metadata"]["selected"] = False
    assert len(selected_streams(discovered, streams)) == len(streams) - 1
    with pytest.raises(InputError, match="does not have"):
        selected_streams({"streams": [{"tap_stream_id": "deals"}]}, streams)
    with pytest.raises(InputError, match="streams"):
        selected_streams([], streams)
    assert bookmarks_of({"bookmarks": {"contacts": {"updated_at": "x"}}}) == {
        "contacts": {"updated_at": "x"}
    }
    with pytest.raises(InputError):
        bookmarks_of({"bookmarks": {"contacts": 3}})
    with pytest.raises(InputError, match="full_refresh only"):
        configured_streams(
            {"streams": [{"stream": {"name": "list_cursor_items"}, "sync_mode": "incremental"}]},
            streams,
        )
    with pytest.raises(InputError, match="stream_descriptor"):
        stream_states([{"type": "STREAM", "stream": {}}])


def test_the_airbyte_spec_marks_secrets() -> None:
    spec = spec_message(SPEC)["spec"]["connectionSpecification"]
    assert spec["properties"]["credentials"]["properties"]["api_key"]["airbyte_secret"] is True
    assert spec["properties"]["credentials"]["required"] == ["api_key"]
