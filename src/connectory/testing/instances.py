"""Private PostgreSQL and Redis instances for tests that kill or restart them.

Failure tests must never stop the machine's shared services, so each starts its own instance
in a temporary folder on a free loopback port::

    with PrivatePostgres.started() as postgres:
        url = postgres.url()           # postgresql://postgres@127.0.0.1:PORT/postgres
        postgres.restart()             # stop (fast) and start again, same data and port

The binaries are found on ``PATH`` or under ``/usr/lib/postgresql/*/bin``; ``find_*`` return
None when they are missing, so a test can skip (or fail under CI) with the reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_postgres_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``, newest version first, or None."""
    initdb = shutil.which("initdb")
    if initdb is not None and shutil.which("pg_ctl") is not None:
        return Path(initdb).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def _as_root() -> str | None:
    """The unprivileged user to run PostgreSQL as when this process is root, else None."""
    return "postgres" if os.geteuid() == 0 else None


def _user_prefix() -> list[str]:
    user = _as_root()
    return ["runuser", "-u", user, "--"] if user is not None else []


def _wait_for_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{what} did not accept connections on port {port} within {timeout} s")


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of its own (trust auth, user ``postgres``), stopped on exit."""

    bin_dir: Path
    data_dir: Path
    port: int

    @classmethod
    @contextmanager
    def started(cls, bin_dir: Path | None = None) -> Iterator[PrivatePostgres]:
        """Create a cluster in a fresh temporary folder, start it, stop and remove it after.

        Raises:
            FileNotFoundError: no PostgreSQL binaries on this machine.
        """
        found = bin_dir or find_postgres_bin()
        if found is None:
            raise FileNotFoundError("initdb/pg_ctl not found (install PostgreSQL)")
        # PostgreSQL refuses to run as root: then the cluster belongs to the "postgres" user,
        # in a folder of its own (pytest's temporary folders are root-only).
        home = Path(tempfile.mkdtemp(prefix="connectory-pg-"))
        user = _as_root()
        if user is not None:
            shutil.chown(home, user=user)
        instance = cls(found, home / "pgdata", free_port())
        subprocess.run(
            [
                *_user_prefix(),
                str(found / "initdb"),
                "-D",
                str(instance.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        instance.start()
        try:
            yield instance
        finally:
            instance.stop(mode="immediate")
            shutil.rmtree(home, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A plain ``postgresql://`` URL of *database*."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            [
                *_user_prefix(),
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                options,
                "-l",
                str(self.data_dir.parent / "postgres.log"),
                "-w",
                "-t",
                "30",
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, 30, "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast`` ends sessions; ``immediate`` is a crash)."""
        subprocess.run(
            [
                *_user_prefix(),
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-m",
                mode,
                "-w",
                "stop",
            ],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def restart(self) -> None:
        """Stop (fast: every session is cut) and start again on the same port and data."""
        self.stop()
        self.start()


@dataclass
class PrivateRedis:
    """A redis-server of its own, without persistence, stopped on exit."""

    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    @contextmanager
    def started(cls, workdir: Path) -> Iterator[PrivateRedis]:
        """Start redis-server on a free port under *workdir*.

        Raises:
            FileNotFoundError: no redis-server on PATH.
        """
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server not found (install Redis)")
        port = free_port()
        process = cls._spawn(binary, port, workdir)
        instance = cls(process, port)
        try:
            yield instance
        finally:
            instance.kill()

    @staticmethod
    def _spawn(binary: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(port, 10, "redis-server")
        return process

    def url(self) -> str:
        """The ``redis://`` URL of this instance."""
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        """Kill the server (SIGKILL) and reap it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def restart(self, workdir: Path) -> None:
        """Kill and start again on the same port (data is lost: no persistence)."""
        self.kill()
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = self._spawn(binary, self.port, workdir)
