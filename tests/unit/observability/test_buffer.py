"""The bounded buffer: batched writes, drops counted when full or refused, never a wait."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from connectory.observability import (
    BufferedRecorder,
    CallEntry,
    ConnectionCalls,
    MemoryRecorder,
    Telemetry,
)
from connectory.observability.buffer import PREPARE_STEP
from connectory.observability.calls import excerpts_pending


def entry(number: int) -> CallEntry:
    return CallEntry(
        id=f"{number:032x}",
        connection_id="conn",
        kind="operation",
        operation="op",
        status="ok",
        started_at=datetime(2026, 12, 5, tzinfo=UTC),
        duration=0.001,
    )


class Store:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.fail = False
        self.arrived = asyncio.Event()

    async def write(self, batch: Sequence[CallEntry]) -> None:
        if self.fail:
            raise OSError("database down")
        self.batches.append([e.id for e in batch])
        self.arrived.set()


async def test_entries_are_written_in_batches_of_at_most_batch_size() -> None:
    store = Store()
    buffer = BufferedRecorder(store.write, batch_size=3, flush_interval=3600)
    for number in range(7):
        buffer.record(entry(number))
    assert store.batches == []  # recording never writes
    await buffer.flush()
    assert [len(batch) for batch in store.batches] == [3, 3, 1]
    assert buffer.stats.written == 7 and buffer.pending == 0


async def test_a_full_buffer_drops_and_counts_without_waiting() -> None:
    store, dropped = Store(), []
    buffer = BufferedRecorder(store.write, max_entries=2, on_drop=dropped.append)
    for number in range(5):
        buffer.record(entry(number))
    assert buffer.pending == 2
    assert buffer.stats.dropped == 3 and dropped == [1, 1, 1]
    await buffer.flush()
    assert store.batches == [[f"{0:032x}", f"{1:032x}"]]


async def test_a_refused_batch_is_dropped_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = Store()
    store.fail = True
    buffer = BufferedRecorder(store.write, batch_size=2)
    for number in range(3):
        buffer.record(entry(number))
    await buffer.flush()  # never raises
    assert buffer.stats.dropped == 2 and buffer.stats.failed_batches == 1
    assert "could not store 2 entries (OSError)" in caplog.text
    store.fail = False
    await buffer.flush()
    assert store.batches == [[f"{2:032x}"]]


async def test_the_writer_task_wakes_when_a_batch_is_full_and_writes_the_rest_at_close() -> None:
    store = Store()
    buffer = BufferedRecorder(store.write, batch_size=2, flush_interval=3600)
    buffer.start()
    buffer.record(entry(1))
    buffer.record(entry(2))  # a full batch wakes the writer, long before the interval
    await asyncio.wait_for(store.arrived.wait(), 30)
    buffer.record(entry(3))
    await buffer.aclose()
    assert store.batches == [[f"{1:032x}", f"{2:032x}"], [f"{3:032x}"]]


async def test_entries_recorded_during_a_write_wait_for_the_next_one() -> None:
    # Under a steady stream of calls, draining until empty wrote the handful of entries each
    # write let gather at once, again and again: a transaction per few entries, not per batch.
    store = Store()
    buffer = BufferedRecorder(store.write, batch_size=100, flush_interval=3600)
    arriving = [[10, 11, 12], [13, 14, 15], [16]]

    async def write_while_calls_arrive(batch: Sequence[CallEntry]) -> None:
        for number in arriving.pop(0) if arriving else []:
            buffer.record(entry(number))
        await store.write(batch)

    buffer._writer = write_while_calls_arrive
    for number in range(5):
        buffer.record(entry(number))
    await buffer.flush()
    assert [len(batch) for batch in store.batches] == [5]
    assert buffer.pending == 3  # for the next write (the interval, or a full batch)
    await buffer.flush()
    assert [len(batch) for batch in store.batches] == [5, 3]
    # Closing writes everything, what arrives meanwhile included.
    await buffer.aclose()
    assert [len(batch) for batch in store.batches] == [5, 3, 3, 1]
    assert buffer.pending == 0 and buffer.stats.written == buffer.stats.recorded == 12


async def test_a_batch_s_worth_gathered_during_writes_wakes_the_writer() -> None:
    """A write takes what was buffered when it began; entries recorded meanwhile can pass
    the batch size without ever equalling it on an append: the writer is woken all the same
    (it slept through the interval, with a full batch waiting, when only equality woke it)."""
    written: list[int] = []
    arriving = iter(range(100, 200))

    async def write(batch: Sequence[CallEntry]) -> None:
        buffer.record(entry(next(arriving)))  # a call finishes while each batch is written
        await asyncio.sleep(0)
        written.append(len(batch))

    buffer = BufferedRecorder(write, batch_size=2, flush_interval=3600)
    buffer.start()
    for number in range(5):
        buffer.record(entry(number))
    for _ in range(50):
        await asyncio.sleep(0)
    waiting = buffer.pending
    await buffer.aclose()
    assert waiting < 2, (written, waiting)


def deferred_entry(calls: ConnectionCalls, number: int) -> CallEntry:
    """An entry whose excerpts are made later (a request and a reply noted, small bodies)."""
    with calls.track("operation", f"op-{number}") as call:
        call.note_request("GET", f"https://api.example/items/{number}", {"X-Key": "k"}, None)
        call.note_reply(200, {"content-type": "application/json"}, b'{"id": 1}', 1)
    return calls.telemetry.recorder.entries[-1]  # type: ignore[union-attr]


async def test_excerpts_are_made_a_few_at_a_time_when_the_loop_gets_to_them() -> None:
    store = Store()
    buffer = BufferedRecorder(store.write, flush_interval=3600)
    buffer.start()
    try:
        calls = ConnectionCalls(Telemetry(recorder=MemoryRecorder()), "conn")
        entries = [deferred_entry(calls, number) for number in range(PREPARE_STEP + 3)]
        assert all(excerpts_pending(made) for made in entries)
        for made in entries:
            buffer.record(made)
        assert all(excerpts_pending(made) for made in entries)  # not while recording
        await asyncio.sleep(0)  # one step of the loop: one step's worth made
        assert [excerpts_pending(made) for made in entries] == [False] * PREPARE_STEP + [True] * 3
        await asyncio.sleep(0)
        assert not any(excerpts_pending(made) for made in entries)
        assert entries[-1].request_excerpt == (
            f"GET https://api.example/items/{PREPARE_STEP + 2}\nX-Key: [REDACTED]"
        )
        assert store.batches == []  # made without a write
    finally:
        await buffer.aclose()
    assert len(store.batches) == 1 and buffer.stats.written == PREPARE_STEP + 3


async def test_entries_recorded_in_a_thread_have_their_excerpts_made_by_the_writer() -> None:
    store = Store()
    buffer = BufferedRecorder(store.write, flush_interval=3600)
    buffer.start()
    try:
        calls = ConnectionCalls(Telemetry(recorder=MemoryRecorder()), "conn")
        made = deferred_entry(calls, 1)
        await asyncio.to_thread(buffer.record, made)
        await asyncio.sleep(0)
        assert excerpts_pending(made)  # no step of the loop was asked for from the thread
        await buffer.flush()
    finally:
        await buffer.aclose()
    assert store.batches == [[made.id]]
    assert made.request_excerpt == "GET https://api.example/items/1\nX-Key: [REDACTED]"


async def test_an_entry_recorded_in_a_thread_during_a_step_is_not_left_queued() -> None:
    """A thread's entry while the loop's steps are under way goes to the writer, not into
    the queue of those steps (it could be left there with no step to come)."""
    store = Store()
    buffer = BufferedRecorder(store.write, flush_interval=3600)
    buffer.start()
    try:
        calls = ConnectionCalls(Telemetry(recorder=MemoryRecorder()), "conn")
        on_loop, from_thread = deferred_entry(calls, 1), deferred_entry(calls, 2)
        buffer.record(on_loop)  # a step is asked for
        await asyncio.to_thread(buffer.record, from_thread)
        await asyncio.sleep(0)
        assert not excerpts_pending(on_loop) and excerpts_pending(from_thread)
        assert len(buffer._unprepared) == 0
        await buffer.flush()
    finally:
        await buffer.aclose()
    assert from_thread.request_excerpt == "GET https://api.example/items/2\nX-Key: [REDACTED]"
