"""``connectory export`` and ``connectory import`` against the server on a loopback port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from connectory.api import create_app
from connectory.cli.app import app as cli
from connectory.settings import Settings
from connectory.testing import serve

from .connector_support import weather


@dataclass
class Running:
    """The server's URL, the first admin's token, and an HTTP client with that token."""

    url: str
    token: str
    http: httpx.Client

    def run(self, *args: str, token: str | None = None) -> Result:
        env = {"CONNECTORY_URL": self.url, "CONNECTORY_TOKEN": token or self.token}
        return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture
def running(settings: Settings) -> Iterator[Running]:
    tokens: list[str] = []
    application = create_app(settings, on_first_admin_token=tokens.append)
    with serve(application, lifespan="on") as url:
        headers = {"Authorization": f"Bearer {tokens[0]}"}
        with httpx.Client(base_url=url, headers=headers) as http:
            yield Running(url, tokens[0], http)


def _published(running: Running) -> str:
    created = running.http.post("/connectors", json=weather())
    assert created.status_code == 201, created.text
    connector_id = str(created.json()["id"])
    published = running.http.post(f"/connectors/{connector_id}/publish", json={})
    assert published.status_code == 200
    return connector_id


def _content(raw: bytes | str) -> dict[str, object]:
    data: dict[str, object] = json.loads(raw)
    data.pop("exported_at")
    return data


def test_export_by_slug_or_id(running: Running, tmp_path: Path) -> None:
    connector_id = _published(running)
    target = tmp_path / "weather.json"
    by_slug = running.run("export", "weather", "-o", str(target))
    assert by_slug.exit_code == 0, by_slug.output
    assert "wrote" in by_slug.stderr
    from_api = running.http.get(f"/connectors/{connector_id}/export").content
    assert _content(target.read_bytes()) == _content(from_api)
    by_id = running.run("export", connector_id, "--version", "1.0.0")
    assert by_id.exit_code == 0
    assert _content(by_id.stdout) == _content(from_api)
    missing = running.run("export", "no-such-connector")
    assert missing.exit_code == 1
    assert "no connector" in missing.stderr
    no_version = running.run("export", "weather", "--version", "9.9.9")
    assert no_version.exit_code == 1
    assert "9.9.9" in no_version.stderr


def test_import_dry_run_clash_and_new_version(running: Running, tmp_path: Path) -> None:
    _published(running)
    target = tmp_path / "weather.json"
    assert running.run("export", "weather", "-o", str(target)).exit_code == 0
    before = running.http.get("/connectors").json()

    dry = running.run("import", str(target), "--dry-run", "--as-new-version")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["dry_run"] is True
    assert "nothing was changed" in dry.stderr
    assert running.http.get("/connectors").json() == before

    clash = running.run("import", str(target))
    assert clash.exit_code == 1
    assert "as_new_version" in clash.stderr

    accepted = running.run("import", str(target), "--as-new-version")
    assert accepted.exit_code == 0, accepted.output
    result = json.loads(accepted.stdout)
    assert result["action"] == "new_draft"
    assert result["draft"]["is_draft"] is True
    assert "publish the draft" in accepted.stderr


def test_import_reports_every_problem_of_an_invalid_file(running: Running, tmp_path: Path) -> None:
    _published(running)
    target = tmp_path / "weather.json"
    assert running.run("export", "weather", "-o", str(target)).exit_code == 0
    data = json.loads(target.read_text())
    data["document"]["slug"] = "other"
    data["document"]["base_url"] = "nope"
    data["document"]["bogus"] = True
    target.write_text(json.dumps(data))
    result = running.run("import", str(target))
    assert result.exit_code == 1
    assert "base_url" in result.stderr
    assert "bogus" in result.stderr
    not_json = tmp_path / "not.json"
    not_json.write_text("{oops")
    assert running.run("import", str(not_json)).exit_code == 1
    assert running.run("import", str(tmp_path / "missing.json")).exit_code == 1


def test_the_token_is_checked_and_never_echoed(running: Running) -> None:
    secret = "cty_" + "s3cr3t" * 6
    refused = running.run("export", "weather", token=secret)
    assert refused.exit_code == 1
    assert "refused the token" in refused.stderr
    assert secret not in refused.output
    assert secret not in refused.stderr


def test_an_unreachable_server_exits_4(tmp_path: Path) -> None:
    env = {"CONNECTORY_URL": "http://127.0.0.1:9", "CONNECTORY_TOKEN": "cty_x"}
    result = CliRunner().invoke(cli, ["export", "weather"], env=env)
    assert result.exit_code == 4
    assert "cannot reach the server" in result.stderr
    no_token = CliRunner().invoke(
        cli,
        ["export", "weather"],
        env={"CONNECTORY_URL": "http://127.0.0.1:9", "CONNECTORY_TOKEN": ""},
    )
    assert no_token.exit_code == 1
    assert "CONNECTORY_TOKEN" in no_token.stderr


def test_export_and_import_with_history(running: Running, tmp_path: Path) -> None:
    connector_id = _published(running)
    changed = running.http.put(
        f"/connectors/{connector_id}/draft", json=weather(description="second")
    )
    assert changed.status_code == 200, changed.text
    published = running.http.post(f"/connectors/{connector_id}/publish", json={"bump": "minor"})
    assert published.status_code == 200, published.text
    target = tmp_path / "weather.json"
    exported = running.run("export", "weather", "--history", "-o", str(target))
    assert exported.exit_code == 0, exported.output
    data = json.loads(target.read_bytes())
    assert [entry["version"] for entry in data["history"]] == ["1.0.0", "1.1.0"]
    # As another connector (a new slug in every version), so that the import creates it.
    data["document"]["slug"] = "weather-copy"
    for entry in data["history"]:
        entry["document"]["slug"] = "weather-copy"
    target.write_text(json.dumps(data))

    dry = running.run("import", str(target), "--history", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would publish 1.0.0, 1.1.0" in dry.stderr
    done = running.run("import", str(target), "--history")
    assert done.exit_code == 0, done.output
    assert "imported: published 1.0.0, 1.1.0" in done.stderr
    copy_id = json.loads(done.stdout)["connector_id"]
    versions = running.http.get(f"/connectors/{copy_id}/versions").json()["items"]
    assert [v["version"] for v in versions] == ["1.1.0", "1.0.0"]
    again = running.run("import", str(target), "--history")
    assert again.exit_code == 1
    assert "nothing to import" in again.stderr
