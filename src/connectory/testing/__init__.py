"""Test support that users can reuse: the project's test API and a loopback server runner.

Example::

    from connectory.testing import create_test_api, serve

    with serve(create_test_api(records=250)) as base_url:
        ...  # point a ConnectorClient at base_url

``python -m connectory.testing --port 8765`` runs the same API from the command line, for
``examples/testapi/connector.yaml``.
"""

from connectory.testing.api import create_test_api
from connectory.testing.api_data import RECORD_SCHEMA, make_record, make_records
from connectory.testing.api_paging import FOREIGN_BASE, decode_cursor, encode_cursor
from connectory.testing.api_state import ApiStats, TestApiCredentials, TestApiState
from connectory.testing.server import serve

__all__ = [
    "FOREIGN_BASE",
    "RECORD_SCHEMA",
    "ApiStats",
    "TestApiCredentials",
    "TestApiState",
    "create_test_api",
    "decode_cursor",
    "encode_cursor",
    "make_record",
    "make_records",
    "serve",
]
