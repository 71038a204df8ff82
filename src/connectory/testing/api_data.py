"""The test API's dataset: N deterministic records, the same on every run and every machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_CITIES = ("Amsterdam", "Berlin", "Lisbon", "Oslo", "Tallinn", "Zürich")
_STATUSES = ("active", "paused", "archived")


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_record(record_id: int) -> dict[str, Any]:
    """Return record number *record_id* (1-based) of the dataset.

    Every record has the same shape: scalar fields, ISO 8601 timestamps, a nested object and an
    array, so record selectors, field mappings and schemas have something realistic to work on.

    Args:
        record_id: The record's id, from 1.

    Returns:
        The record as a JSON-serialisable dict.

    """
    created = _EPOCH + timedelta(hours=record_id)
    return {
        "id": record_id,
        "name": f"Item {record_id:04d}",
        "email": f"user{record_id}@example.test",
        "status": _STATUSES[record_id % len(_STATUSES)],
        "score": round(record_id * 1.5, 1),
        "created_at": _iso(created),
        "updated_at": _iso(created + timedelta(minutes=record_id)),
        "address": {
            "street": f"{record_id} Main Street",
            "city": _CITIES[record_id % len(_CITIES)],
            "geo": {"lat": round(50 + record_id / 1000, 4), "lon": round(4 + record_id / 1000, 4)},
        },
        "tags": ["even" if record_id % 2 == 0 else "odd", f"group-{record_id % 7}"],
    }


def make_records(count: int) -> list[dict[str, Any]]:
    """Return the first *count* records of the dataset, ids 1 to *count*."""
    return [make_record(record_id) for record_id in range(1, count + 1)]


#: JSON Schema of one record; connectors for the test API use it as their response schema.
RECORD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "email", "created_at", "updated_at", "address", "tags"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "email": {"type": "string"},
        "status": {"type": "string", "enum": list(_STATUSES)},
        "score": {"type": "number"},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "address": {
            "type": "object",
            "required": ["street", "city"],
            "properties": {
                "street": {"type": "string"},
                "city": {"type": "string"},
                "geo": {
                    "type": "object",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                },
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
