"""Suite-wide set-up: no DNS look-up or connection leaves this machine (see tests/netguard)."""

from __future__ import annotations

import os
from importlib import util
from pathlib import Path

_GUARD = Path(__file__).resolve().parent / "netguard"

# Python subprocesses (the CLI, servers, schemathesis) import the guard as sitecustomize.
os.environ["CONNECTORY_TEST_NETGUARD"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(_GUARD), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)

_spec = util.spec_from_file_location("connectory_test_netguard", _GUARD / "sitecustomize.py")
assert _spec is not None and _spec.loader is not None
_netguard = util.module_from_spec(_spec)
_spec.loader.exec_module(_netguard)
_netguard.install()
