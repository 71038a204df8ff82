"""Build hook: a wheel carries the builder's code editor, bundled from ui/ (npm and esbuild).

Everything else about the package is declared in pyproject.toml. Editable installs (`make
install`) skip the hook: there `make ui` writes the bundle into the source tree the install
points at. A build without ui/ (from an sdist) takes the bundle the sdist carries, if any.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

UI = Path(__file__).resolve().parent / "ui"


def bundle_editor() -> None:
    """Run `npm ci` (when ui/node_modules is missing) and the esbuild bundle of ui/."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "building the wheel bundles the code editor from ui/ with npm: install Node.js "
            "and npm, then build again"
        )
    if not (UI / "node_modules").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=UI, check=True
        )
    subprocess.run([npm, "run", "--silent", "build"], cwd=UI, check=True)


class BuildPyWithEditor(build_py):
    """`build_py` that bundles the code editor first (not for editable installs)."""

    def run(self) -> None:
        """Bundle the editor into the source tree, then copy the package as usual."""
        if not getattr(self, "editable_mode", False) and (UI / "package.json").is_file():
            bundle_editor()
        super().run()


setup(cmdclass={"build_py": BuildPyWithEditor})
