"""The code editor bundle: the format schema it completes from; a log line when it is missing."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from connectory.api import create_app  # noqa: F401 (the API package first: it imports the UI's)
from connectory.spec import connector_json_schema
from connectory.web import routes


def _app(monkeypatch: pytest.MonkeyPatch, bundle: Path) -> FastAPI:
    monkeypatch.setattr(routes, "EDITOR_BUNDLE", bundle)
    app = FastAPI()
    routes.install_ui(app)
    return app


async def test_the_schema_route_serves_the_exported_format_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "editor.js"
    bundle.write_text("export {};\n")
    app = _app(monkeypatch, bundle)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        response = await client.get("/ui/connector.schema.json")
    assert response.status_code == 200
    assert response.json() == connector_json_schema()
    assert "operations" in response.json()["properties"]


def test_a_missing_bundle_is_logged_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="connectory.web.routes"):
        _app(monkeypatch, tmp_path / "missing.js")
    [record] = [r for r in caplog.records if r.name == "connectory.web.routes"]
    assert "missing.js is missing" in record.getMessage()
    assert "plain text boxes" in record.getMessage() and "make ui" in record.getMessage()


def test_a_built_bundle_logs_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = tmp_path / "editor.js"
    bundle.write_text("export {};\n")
    with caplog.at_level(logging.WARNING, logger="connectory.web.routes"):
        _app(monkeypatch, bundle)
    assert not [r for r in caplog.records if r.name == "connectory.web.routes"]
