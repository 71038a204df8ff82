"""Message ids as the intake stores them: unchanged when they fit, shortened stably when not."""

from __future__ import annotations

from connectory.services.events.intake import storable_message_id
from connectory.store.event_models import MESSAGE_ID_LENGTH, IntakeRequest


def test_an_id_that_fits_is_stored_as_it_is() -> None:
    for message_id in ("msg_1", "x" * MESSAGE_ID_LENGTH):
        assert storable_message_id(message_id) == message_id


def test_a_longer_id_is_shortened_to_the_column_stably_and_distinctly() -> None:
    long_id = "msg_" + "a" * 500
    stored = storable_message_id(long_id)
    assert len(stored) <= MESSAGE_ID_LENGTH
    assert stored.startswith(long_id[:128] + "#")  # readable in the store
    assert storable_message_id(long_id) == stored  # a repeat is recognised
    # Ids that differ only past the kept prefix (or by one character) stay distinct.
    assert storable_message_id(long_id + "b") != stored
    assert storable_message_id(long_id[:-1] + "b") != stored
    assert storable_message_id("x" * (MESSAGE_ID_LENGTH + 1)) != "x" * MESSAGE_ID_LENGTH


def test_the_column_is_as_long_as_the_limit() -> None:
    assert IntakeRequest.__table__.c.message_id.type.length == MESSAGE_ID_LENGTH
