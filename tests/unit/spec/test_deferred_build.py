"""The spec models build their validators on first use, and validate exactly as before then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_CONNECTOR = Path(__file__).resolve().parents[3] / "bench" / "connector.yaml"

# Run in a fresh process: in this one, other tests have already built every model.
_FRESH = """
from pydantic import ValidationError
import connectory.spec as spec
from connectory.spec.events import EventSpec
assert not spec.ConnectorSpec.__pydantic_complete__, "built at import"
assert not spec.OperationSpec.__pydantic_complete__, "built at import"
loaded = spec.load_connector(CONNECTOR_PATH)
assert loaded.operation("get_item") is not None
assert spec.ConnectorSpec.__pydantic_complete__, "not built by the first load"
# The document's validator covers every section: no section model is built on its own.
assert not EventSpec.__pydantic_complete__, "a section model was built separately"
# A section model validated on its own builds its own validator, with the same rules.
try:
    spec.OperationSpec.model_validate({"name": "x", "path": "/x", "bogus": 1})
except ValidationError as error:
    assert [(e["loc"], e["type"]) for e in error.errors()] == [(("bogus",), "extra_forbidden")]
else:
    raise AssertionError("an unknown field was accepted")
assert spec.OperationSpec.__pydantic_complete__
print("ok")
"""


def test_importing_the_spec_builds_no_validator_and_loading_builds_one() -> None:
    script = _FRESH.replace("CONNECTOR_PATH", repr(str(BENCH_CONNECTOR)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
