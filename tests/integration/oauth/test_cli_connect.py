"""``connectory connect --oauth`` with a loopback redirect, then ``connectory call`` refreshing
the tokens in the credentials file (real processes, oidc-provider, rotation on)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml
from flow_support import CLIENT, SPEC, drive_provider
from oauth_support import OidcProvider, ResourceServer

pytestmark = [pytest.mark.integration, pytest.mark.peers]


def connectory(*args: str) -> list[str]:
    return [sys.executable, "-m", "connectory.cli", *args]


def test_connect_then_call_writes_rotated_tokens_back(
    tmp_path: Path, oidc: OidcProvider, oidc_api: tuple[ResourceServer, str]
) -> None:
    api_server, api_url = oidc_api
    parameters = tmp_path / "parameters.yaml"
    parameters.write_text(
        yaml.safe_dump({"issuer": oidc.issuer, "client_id": CLIENT[0], "client_secret": CLIENT[1]})
    )
    credentials = tmp_path / "credentials.yaml"
    with subprocess.Popen(
        connectory("connect", str(SPEC), "--oauth", "--credentials", str(credentials),
                   "--connector-parameters", str(parameters), "--no-browser", "--timeout", "60"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        assert process.stderr is not None
        url = ""
        deadline = time.monotonic() + 30
        while not url.startswith("http"):
            assert time.monotonic() < deadline, "no authorize URL printed"
            url = process.stderr.readline().strip()
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", redirect)
        with httpx.Client(timeout=30) as browser:
            page = drive_provider(browser, url, redirect)
            assert page.status_code == 200 and "You can close this window" in page.text
        assert process.wait(timeout=60) == 0, process.stderr.read()
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    stored = yaml.safe_load(credentials.read_text())
    assert set(stored) >= {"access_token", "refresh_token", "expires_at", "scope"}
    first_refresh = stored["refresh_token"]

    def call() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            connectory("call", str(SPEC), "whoami", "--credentials", str(credentials),
                       "--connector-parameters", str(parameters), "--base-url", api_url),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip

    done = call()
    assert done.returncode == 0, done.stderr
    assert '"sub": "alice"' in done.stdout
    # The API stops accepting the access token: the call refreshes, the rotated refresh token
    # is written back (atomically, still owner-only), and the old one is gone from the file.
    api_server.reject_token(stored["access_token"])
    done = call()
    assert done.returncode == 0, done.stderr
    rotated = yaml.safe_load(credentials.read_text())
    assert rotated["refresh_token"] != first_refresh
    assert rotated["access_token"] != stored["access_token"]
    assert first_refresh not in credentials.read_text()
    assert stat.S_IMODE(os.stat(credentials).st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    # The next call uses the new grant: no refresh, and the rotated-away token is never sent
    # (the provider would revoke the grant on its reuse).
    done = call()
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(credentials.read_text()) == rotated
    assert oidc.introspect(rotated["access_token"])["active"] is True


def test_connect_refuses_a_connector_without_authorization_code(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[3] / "examples" / "openweathermap-oauth2.yaml"
    done = subprocess.run(
        connectory("connect", str(examples), "--oauth", "--credentials", str(tmp_path / "c.yaml"),
                   "--no-browser"),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "authorization code" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "c.yaml").exists()
