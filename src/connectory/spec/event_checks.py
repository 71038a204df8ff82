"""Rules on a connector's events that their models cannot check alone."""

from __future__ import annotations

from collections.abc import Iterator

from connectory.spec.events import EventSpec
from connectory.spec.findings import Finding
from connectory.spec.suggest import did_you_mean


def check_events(events: list[tuple[int, EventSpec]], operations: list[str]) -> Iterator[Finding]:
    """Event keys are unique and every operation an event calls exists."""
    seen: dict[str, int] = {}
    for index, event in events:
        if event.key in seen:
            yield Finding(
                ("events", index, "key"),
                f"event key {event.key!r} is used twice; keys must be unique",
                related=("events", seen[event.key], "key"),
            )
        seen.setdefault(event.key, index)
        for field_name, operation in event.operations_used():
            if operation not in operations:
                path: tuple[str | int, ...] = ("events", index, *field_name.split("."))
                yield Finding(
                    path,
                    f"operation {operation!r} does not exist{did_you_mean(operation, operations)}",
                )
