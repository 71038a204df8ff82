"""A redactor shared by threads: the event loop adds secrets while the call log's writer redacts.

The first two tests hold a reader at the one point where the old code went wrong (between
working out a cached answer and storing it) while another thread registers a secret or a name;
the answer worked out before the change must not be kept for the reads after it. The last one
runs readers against a writer with a short switch interval.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import orjson
import pytest

from connectory.http import redaction
from connectory.http.redaction import REDACTED, Redactor

_WAIT = 10.0  # seconds a thread waits for the other at most (a hang fails, never a timing)


def _in_thread(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(target()), daemon=True)
    thread.start()
    return thread, results


def test_a_verdict_worked_out_before_a_name_is_registered_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redactor = Redactor()
    working = threading.Event()
    registered = threading.Event()
    plain = redaction.is_sensitive_name

    def held(name: str) -> bool:
        verdict = plain(name)
        working.set()  # the verdict is worked out, not yet stored
        assert registered.wait(_WAIT)
        return verdict

    monkeypatch.setattr(redaction, "is_sensitive_name", held)
    reader, results = _in_thread(lambda: redactor.is_sensitive("X-Tenant-Pin"))
    assert working.wait(_WAIT)
    redactor.add_sensitive_name("X-Tenant-Pin")
    registered.set()
    reader.join(_WAIT)
    assert results == [False]  # it was asked before the name was registered
    assert redactor.is_sensitive("X-Tenant-Pin")
    assert redactor.redact_headers({"X-Tenant-Pin": "1234"}) == {"X-Tenant-Pin": REDACTED}


class _HeldRedactor(Redactor):
    """Holds the first build of the pre-check's needles until told to go on."""

    def __init__(self) -> None:
        self.building = threading.Event()
        self.go_on = threading.Event()
        super().__init__()

    def _build_needles(self) -> tuple[bytes, ...]:
        needles = super()._build_needles()
        if not self.go_on.is_set():
            self.building.set()
            assert self.go_on.wait(_WAIT)
        return needles


def test_needles_built_before_a_secret_is_added_are_not_kept() -> None:
    redactor = _HeldRedactor()
    body = orjson.dumps({"token": "tok-fetched-at-run-time"})
    writer, results = _in_thread(lambda: redactor.excerpt(body, "application/json", 200))
    assert redactor.building.wait(_WAIT)
    redactor.add("tok-fetched-at-run-time")  # the event loop fetched a token meanwhile
    redactor.go_on.set()
    writer.join(_WAIT)
    assert results == [body.decode()]  # written before the token was known
    assert "tok-fetched-at-run-time" not in redactor.excerpt(body, "application/json", 200)
    assert redactor.needs_redaction(body)


@pytest.fixture
def short_switch_interval() -> Iterator[None]:
    """Threads switched every 10 microseconds: interleavings that are rare otherwise happen."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@pytest.mark.usefixtures("short_switch_interval")
def test_readers_and_a_writer_at_once() -> None:
    redactor = Redactor(["first-secret"])
    secrets = [f"secret-number-{n:04d}" for n in range(60)]
    names = [f"X-Pin-{n}" for n in range(60)]
    stop = threading.Event()
    failures: list[BaseException] = []

    def read() -> None:
        body = orjson.dumps({"a": secrets[:3], "X-Pin-1": "1"})
        headers = {"X-Pin-2": "2", "Accept": "application/json"}
        try:
            while not stop.is_set():
                redactor.excerpt(body, "application/json", 100)
                redactor.redact_request_headers(headers)
                redactor.header_lines((*headers.items(), ("X-Echo", "secret-number-0059")))
                redactor.is_sensitive("X-Pin-3")
                redactor.redact_body(body, "application/json", 100)
                redactor.redact("text with secret-number-0001 in it")
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    readers = [threading.Thread(target=read, daemon=True) for _ in range(3)]
    for reader in readers:
        reader.start()
    for secret, name in zip(secrets, names, strict=True):
        redactor.add(secret)
        redactor.add_sensitive_name(name)
    stop.set()
    for reader in readers:
        reader.join(_WAIT)
    assert failures == []
    # Whatever the readers cached while the writer worked, every secret and name is known now.
    for secret in secrets:
        body = orjson.dumps({"value": secret})
        assert secret not in redactor.excerpt(body, "application/json", 200)
        assert redactor.redact(f"x {secret} y") == f"x {REDACTED} y"
    assert all(redactor.is_sensitive(name) for name in names)
    assert redactor.redact_request_headers({"X-Pin-2": "2"}) == {"X-Pin-2": REDACTED}
    assert (
        redactor.header_lines(
            (("X-Pin-2", "2"), ("Accept", "application/json"), ("X-Echo", "secret-number-0059"))
        )
        == f"\nX-Pin-2: {REDACTED}\nAccept: application/json\nX-Echo: {REDACTED}"
    )
