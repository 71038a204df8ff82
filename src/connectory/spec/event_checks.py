"""Rules on a connector's events that their models cannot check alone."""

from __future__ import annotations

from collections.abc import Iterator

from connectory.spec.events import EventSpec
from connectory.spec.findings import Finding
from connectory.spec.suggest import did_you_mean


def check_events(
    events: list[tuple[int, EventSpec]],
    operations: list[str],
    collections: list[str] | None = None,
) -> Iterator[Finding]:
    """Event keys are unique; the operations and collections events use exist."""
    seen: dict[str, int] = {}
    for index, event in events:
        if event.key in seen:
            yield Finding(
                ("events", index, "key"),
                f"event key {event.key!r} is used twice; keys must be unique",
                related=("events", seen[event.key], "key"),
            )
        seen.setdefault(event.key, index)
        block = event.collection
        if block is not None and collections is not None and block.collection not in collections:
            yield Finding(
                ("events", index, "collection", "collection"),
                f"collection {block.collection!r} does not exist"
                f"{did_you_mean(block.collection, collections)}",
            )
        for field_name, operation in event.operations_used():
            if operation not in operations:
                path: tuple[str | int, ...] = ("events", index, *field_name.split("."))
                yield Finding(
                    path,
                    f"operation {operation!r} does not exist{did_you_mean(operation, operations)}",
                )
