"""The committed lock (uv.lock) agrees with pyproject's ranges, checked offline.

Set-up installs from uv.lock only (`uv sync --frozen`), so a range changed in pyproject without
`make lock` would silently not take effect; these tests fail first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def _normalised(requirement: str) -> tuple[str, str, str]:
    parsed = Requirement(requirement)
    extras = ",".join(sorted(parsed.extras))
    return parsed.name.lower().replace("_", "-"), extras, str(parsed.specifier)


def _lock() -> dict[str, object]:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def _project_entry(lock: dict[str, object]) -> dict[str, object]:
    packages = lock["package"]
    assert isinstance(packages, list)
    [entry] = [p for p in packages if p["name"] == "connectory"]
    return entry


def test_the_lock_records_exactly_pyprojects_requirements() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_normalised(r) for r in project["dependencies"]}
    wanted |= {_normalised(r) for r in project["optional-dependencies"]["dev"]}

    recorded = _project_entry(_lock())["metadata"]["requires-dist"]  # type: ignore[index]
    locked = set()
    for item in recorded:
        name = item["name"].lower().replace("_", "-")
        extras = ",".join(sorted(item.get("extras", [])))
        locked.add((name, extras, str(Requirement(f"x{item.get('specifier', '')}").specifier)))

    assert wanted - locked == set(), "pyproject asks for these; run `make lock`"
    assert locked - wanted == set(), "uv.lock records these, pyproject no longer; run `make lock`"


def test_every_locked_distribution_has_a_hash() -> None:
    for package in _lock()["package"]:  # type: ignore[union-attr]
        source = package.get("source", {})
        if "editable" in source or "virtual" in source:
            continue
        files = list(package.get("wheels", []))
        if "sdist" in package:
            files.append(package["sdist"])
        assert files, f"{package['name']} has no distribution in the lock"
        assert all(str(f.get("hash", "")).startswith("sha256:") for f in files), package["name"]


def test_uv_agrees_offline() -> None:
    """uv's own check, with the network off: no registry access from the test suite."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("uv is not installed (make install-dev installs it); CI requires it")
        pytest.skip("uv is not installed; `make install-dev` installs it from requirements/uv.txt")
    result = subprocess.run(
        [uv, "lock", "--check", "--offline"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "UV_PYTHON": sys.executable},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
