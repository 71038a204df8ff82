"""Helpers shared by the identity use cases: pages of rows, id screening, text search."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")

# Every id is a uuid4 in hex (store.models.new_id); anything else names nothing and is answered
# "not found" without a query, so odd bytes (NUL, which PostgreSQL refuses) never reach it.
_PLAUSIBLE_ID = re.compile(r"[0-9a-f]{32}")


def is_plausible_id(value: str) -> bool:
    """Whether *value* could be an object id (if not, it names nothing)."""
    return _PLAUSIBLE_ID.fullmatch(value) is not None


async def fetch_page(
    session: AsyncSession, statement: Select[T], limit: int, offset: int
) -> tuple[list[T], int]:
    """Run *statement* for one page and count every row it would return.

    The statement must already carry its filters and a stable order (ties broken by id), so
    consecutive pages neither repeat nor skip rows.
    """
    total = await session.scalar(
        select(func.count()).select_from(statement.order_by(None).subquery())
    )
    rows: Sequence[T] = (
        (await session.scalars(statement.limit(limit).offset(offset))).unique().all()
    )
    return list(rows), int(total or 0)


def contains_text(column: InstrumentedAttribute[Any], text: str) -> ColumnElement[bool]:
    """SQL condition: *column* contains *text*, ignoring case; ``%`` and ``_`` match literally."""
    return func.lower(column).contains(text.lower(), autoescape=True)
