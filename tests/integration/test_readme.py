"""The README's Python snippet runs as written, saved as a .py file."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from connectory.testing import create_test_api, serve

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
