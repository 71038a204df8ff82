"""Keys fitted to their columns: unchanged when they fit, distinct and stable when not."""

from __future__ import annotations

from connectory.events.handling import DEDUP_KEY_LENGTH, events_from_method
from connectory.events.stored_keys import fitted_key
from connectory.services.events.intake import storable_message_id
from connectory.store import event_models


def test_a_key_that_fits_is_kept_as_it_is() -> None:
    assert fitted_key("evt_1", 300) == "evt_1"
    assert fitted_key("x" * 300, 300) == "x" * 300


def test_long_keys_fit_and_differ_when_they_differ_past_the_column() -> None:
    first, second = "k" * 400 + "a", "k" * 400 + "b"  # equal in their first 400 characters
    assert len(fitted_key(first, 300)) <= 300
    assert fitted_key(first, 300) != fitted_key(second, 300)
    assert fitted_key(first, 300) == fitted_key(first, 300)  # a repeat is recognised
    assert fitted_key(first, 300).startswith("k" * 200)  # still readable in a row


def test_the_dedup_length_is_the_columns_and_message_ids_keep_their_rule() -> None:
    assert DEDUP_KEY_LENGTH == event_models.DEDUP_KEY_LENGTH
    long_id = "m" * 250
    stored = storable_message_id(long_id)
    assert len(stored) <= event_models.MESSAGE_ID_LENGTH
    assert stored.startswith("m" * 128 + "#")


def test_events_with_long_ids_differing_at_the_end_are_not_duplicates() -> None:
    ids = ["i" * 350 + "1", "i" * 350 + "2"]
    events = events_from_method([{"type": "thing.changed", "id": key} for key in ids], "handle")
    keys = {event.dedup_key for event in events}
    assert len(keys) == 2 and all(len(key) <= DEDUP_KEY_LENGTH for key in keys)
