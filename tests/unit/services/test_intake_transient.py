"""Which database errors the intake answers "retry" (503) and which it treats as a refusal."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connectory.services.events.intake_batch import is_transient


class _DriverError(Exception):
    """A driver error carrying a PostgreSQL SQLSTATE, as asyncpg's reach SQLAlchemy."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__("driver error")
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str, invalidated: bool = False) -> DBAPIError:
    return DBAPIError("INSERT ...", {}, _DriverError(sqlstate), connection_invalidated=invalidated)


def test_unavailability_is_transient() -> None:
    assert is_transient(ConnectionResetError())
    assert is_transient(PoolTimeout("QueuePool limit reached"))
    assert is_transient(OperationalError("INSERT", {}, sqlite3.OperationalError("locked")))
    assert is_transient(_wrapped("53100"))  # disk full
    assert is_transient(_wrapped("57P01"))  # admin shutdown
    assert is_transient(_wrapped("40001"))  # serialization failure
    assert is_transient(_wrapped("08006"))  # connection failure
    assert is_transient(_wrapped("22001", invalidated=True))  # the connection was lost


def test_refused_data_is_not_transient() -> None:
    assert not is_transient(IntegrityError("INSERT", {}, sqlite3.IntegrityError("constraint")))
    assert not is_transient(_wrapped("22001"))  # value too long
    assert not is_transient(_wrapped("P0001"))  # raised by a trigger
    assert not is_transient(DBAPIError("INSERT", {}, Exception("no sqlstate")))
    assert not is_transient(ValueError("a bug"))
