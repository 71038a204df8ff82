"""The README's Python snippet runs as written, saved as a .py file."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from connectory.testing import create_test_api, serve
from connectory.testing.instances import free_port

ROOT = Path(__file__).resolve().parents[2]
#: The port the README's example connector (examples/testapi) points at.
README_PORT = 8765


def _python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [
        re.sub(r"^ {3}", "", block, flags=re.MULTILINE)
        for block in re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    ]


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_python_snippet_runs_as_a_file(tmp_path: Path) -> None:
    [snippet] = [b for b in _python_blocks() if "ConnectorClient" in b]
    if not _port_free(README_PORT):
        pytest.fail(f"port {README_PORT} (the README's test API) is taken by another process")
    script = tmp_path / "snippet.py"
    script.write_text(snippet)
    with serve(create_test_api(records=250), port=README_PORT):
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "'id': 7" in lines[0]
    assert lines[-1] == "250 records"


def _shell_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    after = text.split(f"<!-- {marker}", 1)[1]
    block = after.split("```sh\n", 1)[1].split("```", 1)[0]
    return re.sub(r"^ {3}", "", block, flags=re.MULTILINE)


def test_the_connect_step_runs_as_written(tmp_path: Path) -> None:
    """Tour step 5, against a real `connectory serve` (as `make run` starts it)."""
    if not _port_free(README_PORT):
        pytest.fail(f"port {README_PORT} (the README's test API) is taken by another process")
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "CONNECTORY_DATA_DIR": str(tmp_path / "var"),
        "CONNECTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'connectory.db'}",
        "CONNECTORY_EGRESS_ALLOW": "127.0.0.1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    server = subprocess.Popen(
        [str(bin_dir / "connectory"), "serve", "--port", str(port), "--examples", "examples"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        token = ""
        for line in server.stdout:
            if line.strip().startswith("cty_"):
                token = line.strip()
                break
        assert token, "the server printed no first token"
        _wait_for_health(port)
        script = _shell_block("tour:connect").replace(
            "export CONNECTORY_URL=http://127.0.0.1:8000 CONNECTORY_TOKEN=cty_...",
            f"export CONNECTORY_URL=http://127.0.0.1:{port} CONNECTORY_TOKEN={token}",
        )
        assert f"127.0.0.1:{port}" in script  # the README still starts with that line
        with serve(create_test_api(records=250), port=README_PORT):
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    assert '"id": 7' in result.stdout
    assert '"records"' in result.stdout and "Ada Lovelace" in result.stdout
    assert token not in result.stdout + result.stderr


def _wait_for_health(port: int) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("the server did not answer /health within 60 s")
