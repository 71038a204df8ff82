"""Peers for the OpenAPI import tests: the npm documents, Prism, and a fast connector check."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectory.spec import check_connector_data
from connectory.testing.instances import free_port
from testkit.skips import missing

ROOT = Path(__file__).resolve().parents[3]
MODULES = ROOT / "tests" / "peers" / "node_modules"
OAS_EXAMPLES = MODULES / "@readme" / "oas-examples"
GITHUB = MODULES / "@octokit" / "openapi" / "generated" / "api.github.com.json"
PRISM = MODULES / "@stoplight" / "prism-cli" / "dist" / "index.js"
PETSTORES = {
    "2.0": OAS_EXAMPLES / "2.0" / "json" / "petstore.json",
    "3.0": OAS_EXAMPLES / "3.0" / "json" / "petstore.json",
    "3.1": OAS_EXAMPLES / "3.1" / "json" / "petstore.json",
}


def peer_file(path: Path) -> Path:
    """Return *path*, or skip (fail under CI) when the npm peers are not installed."""
    if not path.is_file():
        missing(f"{path.relative_to(ROOT)} is missing; run `make peers`")
    return path


@contextmanager
def prism(document: Path, workdir: Path, *, timeout: float = 60) -> Iterator[str]:
    """Run ``prism mock`` on *document* (responses generated from the schemas, seeded)."""
    node = shutil.which("node")
    if node is None:
        missing("node is not on PATH, so Prism cannot run")
    peer_file(PRISM)
    port = free_port()
    log_path = workdir / f"prism-{port}.log"
    argv = [str(node), str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "-v", "warn"]
    argv += ["--dynamic", "--seed", "connectory", str(document)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_listening(base_url, process, log_path, timeout)
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_listening(
    base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"prism exited with {process.returncode} while starting:\n{log}")
        try:
            httpx.get(f"{base_url}/__connectory_ready", timeout=1)
            return  # any answer (a 404) means it is serving
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"prism did not listen on {base_url} within {timeout:.0f} s")


def check_connector_quickly(connector: dict[str, Any]) -> list[str]:
    """Every error :func:`check_connector_data` finds in *connector*.

    The name is older than the shared schemas: operations used to carry copies of their
    definitions, checked once each here; now the connector holds each once, so the platform's
    own check is as quick.
    """
    return [str(problem) for problem in check_connector_data(connector).errors]
