"""Connectors with code, and a way to run one function of it on an engine."""

from __future__ import annotations

from typing import Any

from connectory.http.redaction import Redactor
from connectory.js import Bridge, JsEngine, RunOutcome, RunRequest, build_bundle
from connectory.js.invocation import Kind
from connectory.spec import ConnectorSpec
from connectory.spec.code import CodeRefSpec

BASE_URL = "https://api.example.com"


def spec_with(files: dict[str, str], javascript: dict[str, Any] | None = None) -> ConnectorSpec:
    """A connector whose methods are *files* (each referenced by one JS operation)."""
    data: dict[str, Any] = {
        "name": "Example",
        "base_url": BASE_URL,
        "auth": {
            "auth_type": "none",
            "credential_schema": {
                "secret": {"type": "password", "sensitive": True},
                "other": {"type": "password", "sensitive": True},
                "region": {"type": "string"},
            },
        },
        "javascript": javascript or {},
        "operations": [
            {
                "name": f"op{index}",
                "implementation": "javascript",
                "code": {"file": path, "credentials": ["secret", "region"]},
            }
            for index, path in enumerate(files)
        ],
    }
    return ConnectorSpec.model_validate(data).with_code_files(files)


async def run(
    engine: JsEngine,
    spec: ConnectorSpec,
    file: str,
    *,
    kind: Kind = "method",
    ctx: dict[str, Any] | None = None,
    export: str = "default",
    tenant: str = "acme",
    redactor: Redactor | None = None,
    bridge: Bridge | None = None,
    secrets: list[str] | None = None,
) -> RunOutcome:
    """Run *file*'s *export* with *ctx* (credentials {secret: s3cr3t-value} by default)."""
    ref = CodeRefSpec(file=file, export=export, credentials=["secret", "region"])
    fields = {"credentials": {"secret": "s3cr3t-value", "region": "eu"}, **(ctx or {})}
    return await engine.run(
        build_bundle(spec),
        RunRequest(ref, kind, fields, ["s3cr3t-value"] if secrets is None else secrets),
        settings=spec.javascript,
        tenant=tenant,
        redactor=redactor or Redactor(),
        bridge=bridge,
    )
