"""The wheel carries the code editor: building it runs the bundler (setup.py), and a server
installed from the wheel alone, in a fresh virtualenv, serves the editor to chromium.

The build is offline: setuptools comes from uv's cache (`make install` put it there) and the
npm packages from ui/node_modules (`make ui`), linked into a copy of the sources whose bundle
was left out, so only the build can have made the one the wheel holds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from .conftest import REPO, _missing

UV = Path(sys.executable).parent / "uv"

# Run by the fresh virtualenv's Python: the app from the installed wheel, on loopback.
SERVER = """
import sys
from pathlib import Path
import connectory
from connectory.api import create_app
from connectory.settings import Settings
from connectory.testing import serve

data = Path(sys.argv[1])
tokens = []
app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{data / 'c.db'}", data_dir=data),
                 on_first_admin_token=tokens.append)
with serve(app) as url:
    print(connectory.__file__, url, tokens[0], sep="\\n", flush=True)
    sys.stdin.read()  # until the test closes stdin
"""


def _run(*args: str | Path, cwd: Path | None = None) -> None:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not UV.exists() or not (REPO / "ui" / "node_modules").is_dir():
        _missing("uv and ui/node_modules are needed: run `make install ui`")
    if shutil.which("npm") is None:
        _missing("npm is needed to build the wheel")
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(REPO / name, source / name)
    skip = shutil.ignore_patterns("dist", "__pycache__", "*.pyc")
    shutil.copytree(REPO / "src", source / "src", ignore=skip)
    shutil.copytree(REPO / "ui", source / "ui", ignore=shutil.ignore_patterns("node_modules"))
    (source / "ui" / "node_modules").symlink_to(REPO / "ui" / "node_modules")
    assert not (source / "src/connectory/web/static/dist").exists()
    env = {**os.environ, "UV_PYTHON": sys.executable}
    done = subprocess.run(
        [str(UV), "build", "--wheel", "--offline", "-o", str(root / "out"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [built] = (root / "out").glob("connectory-*.whl")
    return built


def test_the_wheel_holds_the_bundle_built_with_it(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        bundle = archive.read("connectory/web/static/dist/editor.js").decode()
        names = archive.namelist()
    assert "createEditor" in bundle
    assert "connectory/web/static/code-editor.js" in names
    assert not any(name.startswith("ui/") or "node_modules" in name for name in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server from a fresh virtualenv holding the wheel (the other packages lent by this one)."""
    root = tmp_path_factory.mktemp("venv")
    venv = root / "venv"
    _run(UV, "venv", "--offline", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    _run(UV, "pip", "install", "--offline", "--no-deps", "--python", python, wheel)
    # This environment's packages, without its .pth files: connectory itself (installed
    # editable here through a .pth) can only come from the fresh virtualenv's wheel.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    server = subprocess.Popen(
        [str(python), "-c", SERVER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        location, url, token = (server.stdout.readline().strip() for _ in range(3))
        assert location.startswith(str(venv)), location
        yield url, token
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


def test_a_server_installed_from_the_wheel_serves_the_editor(
    installed: tuple[str, str], browser: Any
) -> None:
    url, token = installed
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{url}/ui/#/signin")
        page.get_by_label("API token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Connectors").wait_for()
        page.get_by_role("button", name="Create connector").click()
        page.get_by_role("tab", name="YAML").click()
        expect(page.locator("#yaml-text .cm-editor")).to_be_visible()
        expect(page.locator("#yaml-text .cm-content")).to_contain_text("base_url")
    finally:
        context.close()
