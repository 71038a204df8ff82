"""connectory.startup: the garbage-collector pause and the deferred httpx command line."""

from __future__ import annotations

import gc
import sys

import httpx
import pytest

from connectory.startup import defer_httpx_cli, gc_paused


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
