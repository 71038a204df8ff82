"""The YAML examples of the "Creating a Connector" guide (seed 004) load exactly as written.

The blocks below are copied verbatim from the guide; they are embedded rather than read from the
seed so the repository's tests stand on their own.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from connectory.spec import (
    ApiKeyAuthSpec,
    OAuth2AuthSpec,
    check_connector,
    check_connector_text,
    load_connector,
    load_connector_text,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

SEED_API_KEY_AUTH = """\
auth_type: api_key
credential_schema:
  api_key:
    label: "API Key"
    type: password
    required: true
    sensitive: true
    help: "Get your API key from your OpenWeatherMap account settings"
header_name: "X-API-Key"
key_prefix: ""
"""

SEED_OAUTH2_AUTH = """\
auth_type: oauth2
credential_schema:
  client_id:
    label: "Client ID"
    type: string
    required: true
    sensitive: false
  client_secret:
    label: "Client Secret"
    type: password
    required: true
    sensitive: true
  token_url:
    label: "Token URL"
    type: string
    required: true
    sensitive: false
    default: "https://auth.example.com/oauth/token"
grant_type: client_credentials
scopes: "read write"
"""

SEED_OPERATION = """\
operation: get_current_weather
method: GET
path: /data/2.5/weather
parameters:
  - name: q
    location: query
    type: string
    required: true
    description: "City name (e.g., 'London' or 'London,UK')"
  - name: units
    location: query
    type: string
    required: false
    default: "metric"
    description: "Units: standard, metric, or imperial"
"""

SEED_RESPONSE_SCHEMA = """\
{
  "type": "object",
  "properties": {
    "name": { "type": "string", "description": "City name" },
    "main": {
      "type": "object",
      "properties": {
        "temp": { "type": "number", "description": "Temperature" },
        "humidity": { "type": "integer", "description": "Humidity %" }
      }
    }
  }
}
"""

HEAD = "name: OpenWeatherMap\nbase_url: https://api.openweathermap.org\n"


def section(key: str, block: str) -> str:
    return f"{key}:\n" + textwrap.indent(block, "  ")


def list_item(block: str) -> str:
    first, *rest = block.splitlines()
    return f"  - {first}\n" + "".join(f"    {line}\n" for line in rest)


def test_api_key_block_loads_as_the_auth_section() -> None:
    spec = load_connector_text(HEAD + section("auth", SEED_API_KEY_AUTH))
    auth = spec.auth
    assert isinstance(auth, ApiKeyAuthSpec)
    assert auth.header_name == "X-API-Key"
    assert auth.key_prefix == ""
    field = auth.credential_schema["api_key"]
    assert (field.label, field.type, field.required, field.is_sensitive) == (
        "API Key",
        "password",
        True,
        True,
    )
    assert field.help == "Get your API key from your OpenWeatherMap account settings"


def test_oauth2_block_loads_as_the_auth_section() -> None:
    spec = load_connector_text(HEAD + section("auth", SEED_OAUTH2_AUTH))
    auth = spec.auth
    assert isinstance(auth, OAuth2AuthSpec)
    assert auth.grant_type == "client_credentials"
    assert auth.scope_string == "read write"
    assert set(auth.credential_schema) == {"client_id", "client_secret", "token_url"}
    assert auth.credential_schema["token_url"].default == "https://auth.example.com/oauth/token"
    assert auth.credential_schema["client_secret"].is_sensitive
    assert not auth.credential_schema["client_id"].is_sensitive


def test_operation_loads_as_an_item_of_operations() -> None:
    operation_yaml = SEED_OPERATION + section("response_schema", SEED_RESPONSE_SCHEMA)
    report = check_connector_text(HEAD + "operations:\n" + list_item(operation_yaml))
    assert report.ok, report.problems
    assert report.problems == []
    assert report.spec is not None
    [operation] = report.spec.operations
    assert operation.name == "get_current_weather"
    assert (operation.method, operation.path) == ("GET", "/data/2.5/weather")
    query, units = operation.parameters
    assert (query.name, query.location, query.type, query.required) == (
        "q",
        "query",
        "string",
        True,
    )
    assert (units.name, units.required, units.default) == ("units", False, "metric")
    assert operation.response_schema == json.loads(SEED_RESPONSE_SCHEMA)


def test_resilience_defaults_are_the_seed_table() -> None:
    spec = load_connector_text(HEAD)
    resilience = spec.resilience
    assert resilience.timeout == 30
    assert resilience.max_retries == 3
    assert resilience.retry_delay == 1
    assert resilience.retry_backoff == "exponential"
    assert resilience.rate_limit == 60
    assert resilience.circuit_breaker_threshold == 5
    assert resilience.circuit_breaker_recovery == 30


def test_resilience_table_values_as_the_seed_writes_them() -> None:
    spec = load_connector_text(HEAD + "resilience:\n  retry_backoff: Exponential\n")
    assert spec.resilience.retry_backoff == "exponential"


def test_seed_blocks_as_folder_files(tmp_path: Path) -> None:
    (tmp_path / "connector.yaml").write_text(HEAD)
    (tmp_path / "auth.yaml").write_text(SEED_API_KEY_AUTH)
    (tmp_path / "operations").mkdir()
    (tmp_path / "operations" / "get_current_weather.yaml").write_text(SEED_OPERATION)
    spec = load_connector(tmp_path)
    assert isinstance(spec.auth, ApiKeyAuthSpec)
    assert spec.operation_names == ["get_current_weather"]


def test_the_openweathermap_example_folder_validates() -> None:
    report = check_connector(EXAMPLES / "openweathermap")
    assert report.problems == []
    spec = report.spec
    assert spec is not None
    assert (spec.name, spec.slug, spec.type) == ("OpenWeatherMap", "openweathermap", "General")
    assert spec.description == "Weather data for any location worldwide"
    assert spec.base_url == "https://api.openweathermap.org"
    assert spec.documentation_url == "https://openweathermap.org/api"
    assert isinstance(spec.auth, ApiKeyAuthSpec)
    assert spec.operation_names == ["get_current_weather"]
    assert spec.operations[0].response_schema == json.loads(SEED_RESPONSE_SCHEMA)


def test_the_example_files_hold_the_seed_blocks_verbatim() -> None:
    folder = EXAMPLES / "openweathermap"
    assert (folder / "auth.yaml").read_text() == SEED_API_KEY_AUTH
    operation = (folder / "operations" / "get_current_weather.yaml").read_text()
    assert operation.startswith(SEED_OPERATION)
    oauth2 = (EXAMPLES / "openweathermap-oauth2.yaml").read_text()
    assert section("auth", SEED_OAUTH2_AUTH) in oauth2


def test_the_oauth2_example_validates() -> None:
    report = check_connector(EXAMPLES / "openweathermap-oauth2.yaml")
    assert report.problems == []
    assert report.spec is not None
    assert isinstance(report.spec.auth, OAuth2AuthSpec)
