"""Real authorization servers and a protected API for the OAuth2 tests, all on 127.0.0.1.

* ``oidc``: oidc-provider (tests/peers/oidc/server.mjs), strict and OpenID Certified; clients
  and lifetimes are described in that file. ``oidc_api``: a ResourceServer (protected_api.py) that
  validates tokens with oidc-provider's introspection endpoint.
* ``mock_oauth``: oauth2-mock-server (tests/peers/oidc/mock-server.mjs) issuing RS256 JWTs that
  live MOCK_TTL seconds. ``mock_api``: a ResourceServer that verifies them against the
  server's JWKS.

Each server runs once per session on a free port and is stopped by its PID; the resource
servers' counters are reset for every test. Without node or the peers the tests skip with the
reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oauth_support import (
    MOCK_TTL,
    SHORT_TTL,
    IntrospectionValidator,
    JwksValidator,
    OidcProvider,
    ResourceServer,
    WireLog,
)

from connectory.testing import serve
from connectory.testing.instances import free_port
from testkit.processes import stop_process
from testkit.skips import missing

PEERS = Path(__file__).resolve().parents[2] / "peers"


def _start_node_peer(script: str, package: str, args: list[str], workdir: Path) -> Iterator[str]:
    """Run ``node tests/peers/oidc/SCRIPT PORT ARGS`` until the session ends; yield its URL."""
    node = shutil.which("node")
    if node is None:
        missing(f"node is not on PATH (install Node 20 or later), so {package} cannot run")
    if not (PEERS / "node_modules" / package / "package.json").is_file():
        missing(f"tests/peers/node_modules/{package} is missing; run `make peers`")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(node), str(PEERS / "oidc" / script), str(port), *args],
            cwd=PEERS,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                output = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"{package} exited with {process.returncode} while starting:\n{output}")
            try:
                discovery = httpx.get(f"{base_url}/.well-known/openid-configuration", timeout=1)
                if discovery.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{package} did not answer on {base_url} within 20 s")
            time.sleep(0.05)
        yield base_url
    finally:
        stop_process(process)


# --- oidc-provider ---------------------------------------------------------------------------


@pytest.fixture(scope="session", name="oidc")
def _oidc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    """oidc-provider 9 on a free port; access tokens of short-* clients live SHORT_TTL s."""
    for issuer in _start_node_peer(
        "server.mjs", "oidc-provider", [str(SHORT_TTL)], tmp_path_factory.mktemp("oidc")
    ):
        yield OidcProvider(issuer)


@pytest.fixture(scope="session", name="oidc_api_session")
def _oidc_api_session(oidc: OidcProvider) -> Iterator[tuple[ResourceServer, str]]:
    validator = IntrospectionValidator(
        f"{oidc.issuer}/token/introspection", "resource-server", "rs-secret"
    )
    api = ResourceServer(validator)
    try:
        with serve(api.app) as base_url:
            yield api, base_url
    finally:
        validator.close()


@pytest.fixture(name="oidc_api")
def _oidc_api(oidc_api_session: tuple[ResourceServer, str]) -> tuple[ResourceServer, str]:
    """The resource server that trusts oidc-provider (counters zeroed), and its base URL."""
    api, base_url = oidc_api_session
    api.reset()
    return api, base_url


# --- oauth2-mock-server ----------------------------------------------------------------------


@pytest.fixture(scope="session", name="mock_oauth")
def _mock_oauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """oauth2-mock-server 8 on a free port (its issuer URL), tokens living MOCK_TTL s."""
    yield from _start_node_peer(
        "mock-server.mjs", "oauth2-mock-server", [str(MOCK_TTL)], tmp_path_factory.mktemp("mock")
    )


@pytest.fixture(scope="session", name="mock_api_session")
def _mock_api_session(mock_oauth: str) -> Iterator[tuple[ResourceServer, str]]:
    api = ResourceServer(JwksValidator(mock_oauth, f"{mock_oauth}/jwks"))
    with serve(api.app) as base_url:
        yield api, base_url


@pytest.fixture(name="mock_api")
def _mock_api(mock_api_session: tuple[ResourceServer, str]) -> tuple[ResourceServer, str]:
    """The resource server that trusts oauth2-mock-server's JWKS (counters zeroed), and its URL."""
    api, base_url = mock_api_session
    api.reset()
    return api, base_url


# --- observing the runtime's requests --------------------------------------------------------


@pytest.fixture(name="wire")
def _wire() -> WireLog:
    """A transport for ConnectorClient(transport=...) that records what the runtime sends."""
    return WireLog()
