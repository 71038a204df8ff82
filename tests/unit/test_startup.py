"""connectory.startup: the garbage collector (imports, servers) and the deferred httpx CLI."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from connectory.startup import (
    defer_httpx_cli,
    freeze_loaded_objects,
    gc_paused,
    settle_heap_for_serving,
)


@pytest.fixture
def collector_restored() -> Iterator[None]:
    """Whatever a test does to the collector, the next test gets it as it was."""
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
        gc.enable()


def test_the_collector_is_off_inside_the_block_and_back_on_after() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_back_on_after_an_error() -> None:
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("import failed")
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_program_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_nothing_changes_once_httpx_is_imported() -> None:
    # The deferral only applies before httpx is first imported (tests/integration covers that
    # in a fresh process); afterwards httpx._main is whatever httpx loaded.
    before = sys.modules.get("httpx._main")
    defer_httpx_cli()
    assert sys.modules.get("httpx._main") is before
    assert callable(httpx.main)


@pytest.mark.usefixtures("collector_restored")
def test_a_started_server_freezes_the_heap_and_collects_the_young_less_often() -> None:
    gc.unfreeze()
    middle, old = gc.get_threshold()[1:]
    settle_heap_for_serving(5_000)
    assert gc.get_threshold() == (5_000, middle, old)
    assert gc.get_freeze_count() > 0
    assert all(count == 0 for count in gc.get_count()[1:])  # collected before freezing


@pytest.mark.usefixtures("collector_restored")
def test_a_threshold_of_zero_leaves_the_collector_alone() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    settle_heap_for_serving(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("collector_restored")
def test_a_collector_turned_off_stays_off_and_untuned() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    gc.disable()
    settle_heap_for_serving(5_000)
    assert not gc.isenabled()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_nothing_is_frozen_outside_a_one_shot_process() -> None:
    # Tests run commands in-process and programs use the Python API: their objects must stay
    # collectable, so only a process the command line marked freezes anything.
    frozen = gc.get_freeze_count()
    assert freeze_loaded_objects() is False
    assert gc.get_freeze_count() == frozen


def test_a_one_shot_process_freezes_what_is_loaded_and_still_collects_new_cycles() -> None:
    script = (
        "import gc, weakref\n"
        "from connectory.startup import freeze_loaded_objects, mark_one_shot\n"
        "class Node:\n    pass\n"
        "mark_one_shot()\n"
        "assert freeze_loaded_objects() is True\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "node = Node(); node.me = node; alive = weakref.ref(node); del node\n"
        "gc.collect()\n"
        "assert alive() is None, 'a cycle made after the freeze was not collected'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
