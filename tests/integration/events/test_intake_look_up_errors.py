"""A failing intake route look-up: a 503 ("send it again") only when a retry can succeed.

The failures are real PostgreSQL errors: a schema out of step with the code (a renamed column,
SQLSTATE 42703, which every retry would meet again) and a serialization failure (40001, which a
retry gets past). The first is our bug: a 500 whose message quotes the error id its cause is
logged under, and neither the answer nor the log holds the statement or the URL's token.
"""

from __future__ import annotations

import logging

import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectory.api.problems import connectory_error_response
from connectory.errors import InternalError, NotFound, StorageUnavailable
from connectory.services.events.intake import accept_webhook
from testkit.events_context import events_context

_TOKEN = "secret-token-" + "t" * 30
_POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def _execute(sessions: async_sessionmaker[AsyncSession], statement: str) -> None:
    async with sessions() as session:
        await session.execute(text(statement))
        await session.commit()


async def test_a_look_up_failing_on_our_side_is_a_500_with_a_logged_error_id(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    await _execute(sessions, "ALTER TABLE event_subscriptions RENAME COLUMN intake_token TO x")
    async with events_context(sessions) as context:
        with (
            caplog.at_level(logging.INFO, logger="connectory.events.intake"),
            pytest.raises(InternalError) as raised,
        ):
            await accept_webhook(context, _TOKEN, "POST", {}, {}, b"{}")
        cached = len(context.intake_routes)
    error = raised.value
    assert len(error.error_id) == 16
    assert error.error_id in str(error)
    for leaked in (_TOKEN, "SELECT", "intake_token", "does not exist"):
        assert leaked not in str(error)
    logged = [r for r in caplog.records if error.error_id in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelno == logging.ERROR
    message = logged[0].getMessage()
    # What an operator needs to find the cause (SQLite says "no such column" as it says
    # "database is locked": an OperationalError; its result code tells them apart).
    postgresql = sessions.kw["bind"].dialect.name == "postgresql"
    assert ("SQLSTATE 42703" if postgresql else "SQLITE_ERROR") in message
    assert "_find_route" in message  # where it failed (the frames, not their values)
    assert _TOKEN not in caplog.text and "[parameters:" not in caplog.text
    assert cached == 0  # the failure is not cached

    response = connectory_error_response(error)
    assert response.status_code == 500
    body = orjson.loads(bytes(response.body))
    assert body["code"] == "internal_error"
    assert error.error_id in body["detail"]
    assert "Retry-After" not in response.headers


@_POSTGRES_ONLY
async def test_a_look_up_failing_transiently_is_still_a_503(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # A serialization failure, raised by the database while the look-up reads the table.
    await _execute(
        sessions,
        "CREATE FUNCTION conflict() RETURNS text AS $$ BEGIN RAISE EXCEPTION 'conflict' "
        "USING ERRCODE = 'serialization_failure'; END $$ LANGUAGE plpgsql",
    )
    await _execute(sessions, "ALTER TABLE event_subscriptions RENAME TO event_subscriptions_")
    await _execute(
        sessions,
        "CREATE VIEW event_subscriptions AS SELECT s.* FROM event_subscriptions_ s "
        "WHERE (SELECT conflict()) IS NOT NULL",
    )
    async with events_context(sessions) as context:
        with pytest.raises(StorageUnavailable) as raised:
            await accept_webhook(context, _TOKEN, "POST", {}, {}, b"{}")
        cached = len(context.intake_routes)
    response = connectory_error_response(raised.value)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert cached == 0


async def test_a_token_of_another_shape_is_not_found_without_asking_the_database(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    # Anyone can send these: a NUL byte made PostgreSQL refuse the query's parameter (a 500
    # and an error logged with frames, per request).
    shapes = ["a" * 20 + "\x00" + "a" * 22, "a" * 19, "é" * 30, "a" * 40 + "/" + "a" * 2]
    async with events_context(sessions) as context:
        for token in shapes:
            with (
                caplog.at_level(logging.INFO, logger="connectory.events.intake"),
                pytest.raises(NotFound),
            ):
                await accept_webhook(context, token, "POST", {}, {}, b"{}")
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
