"""Running a benchmark module the way a user does, for the smoke tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(module: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``python -m <module> <args>`` from the checkout's root (its ``src`` and ``bench`` on the
    path); the finished process, which must have succeeded (else its stderr's end is shown)."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done
