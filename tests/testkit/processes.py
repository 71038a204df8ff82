"""Stopping a child process a test started (a server, a peer)."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Ask *process* to end (SIGTERM); killed if it has not within *timeout* seconds.

    Never leaves it running: a peer that ignores SIGTERM must not outlive the test session.
    """
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
