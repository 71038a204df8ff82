"""Real API descriptions from the npm registry (tests/peers), imported once per session."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from openapi_support import GITHUB, peer_file

from connectory.openapi import ImportResult, import_openapi


@dataclass
class GitHubImport:
    """GitHub's description, imported once: the result, the document and the time it took."""

    result: ImportResult
    document: dict[str, Any]
    seconds: float


@pytest.fixture(scope="session")
def github_import() -> GitHubImport:
    """GitHub's REST description (13 MB, 1,223 operations), imported once for the session."""
    raw = peer_file(GITHUB).read_bytes()
    started = time.perf_counter()
    result = import_openapi(raw, source_name=GITHUB.name)
    seconds = time.perf_counter() - started
    return GitHubImport(result, json.loads(raw), seconds)
