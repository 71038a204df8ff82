"""Security schemes -> auth blocks with a matching credential_schema; the choice among them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_docs import document, get, operation, run, swagger, warnings_at

from connectory.openapi import OpenAPIError, import_openapi
from connectory.runtime import ConnectorClient
from connectory.spec import ConnectorSpec

OAUTH_FLOWS = {
    "clientCredentials": {
        "tokenUrl": "https://auth.example.com/token",
        "scopes": {"read": "Read", "write": "Write"},
    },
    "authorizationCode": {
        "authorizationUrl": "/oauth/authorize",
        "tokenUrl": "/oauth/token",
        "scopes": {"read": "Read"},
    },
}


def _with_scheme(scheme: dict[str, Any], scopes: list[str] | None = None) -> dict[str, Any]:
    return document(
        {"/a": {"get": get(security=[{"s": scopes or []}])}},
        components={"securitySchemes": {"s": scheme}},
    )


def _auth(scheme: dict[str, Any], scopes: list[str] | None = None) -> dict[str, Any]:
    auth: dict[str, Any] = run(_with_scheme(scheme, scopes)).connector["auth"]
    ConnectorSpec.model_validate({"name": "x", "base_url": "https://x", "auth": auth})
    return auth


def test_api_key_in_a_header() -> None:
    auth = _auth({"type": "apiKey", "in": "header", "name": "X-Key", "description": "Your key"})
    assert auth == {
        "auth_type": "api_key",
        "credential_schema": {
            "api_key": {
                "label": "API key",
                "type": "password",
                "required": True,
                "sensitive": True,
                "help": "Your key",
            }
        },
        "location": "header",
        "header_name": "X-Key",
    }


def test_api_key_in_the_query_and_in_a_cookie() -> None:
    query = _auth({"type": "apiKey", "in": "query", "name": "key"})
    assert (query["location"], query["query_param"]) == ("query", "key")
    cookie = _auth({"type": "apiKey", "in": "cookie", "name": "sid"})
    assert (cookie["header_name"], cookie["key_prefix"]) == ("Cookie", "sid=")


def test_http_basic_and_bearer() -> None:
    basic = _auth({"type": "http", "scheme": "basic"})
    assert basic["auth_type"] == "basic"
    assert basic["credential_schema"]["username"]["type"] == "string"
    assert basic["credential_schema"]["password"]["type"] == "password"
    bearer = _auth({"type": "http", "scheme": "Bearer", "bearerFormat": "JWT"})
    assert bearer["auth_type"] == "bearer"
    assert bearer["credential_schema"]["token"]["help"] == "A JWT bearer token"


def test_oauth2_client_credentials_with_the_scopes_operations_ask_for() -> None:
    auth = _auth(
        {"type": "oauth2", "flows": {"clientCredentials": OAUTH_FLOWS["clientCredentials"]}},
        ["read"],
    )
    assert auth["grant_type"] == "client_credentials"
    assert auth["token_url"] == "https://auth.example.com/token"
    assert auth["scopes"] == ["read"]
    assert set(auth["credential_schema"]) == {"client_id", "client_secret"}


def test_oauth2_authorization_code_with_urls_resolved_against_the_server() -> None:
    auth = _auth(
        {"type": "oauth2", "flows": {"authorizationCode": OAUTH_FLOWS["authorizationCode"]}}
    )
    assert auth["grant_type"] == "authorization_code"
    assert auth["authorization_url"] == "https://api.example.com/oauth/authorize"
    assert auth["token_url"] == "https://api.example.com/oauth/token"
    # No operation names a scope: none is requested (not every scope the flow declares).
    assert "scopes" not in auth
    assert set(auth["credential_schema"]) == {
        "client_id",
        "client_secret",
        "access_token",
        "refresh_token",
    }
    assert auth["credential_schema"]["access_token"]["required"] is False


def test_client_credentials_is_preferred_when_both_flows_are_offered() -> None:
    assert _auth({"type": "oauth2", "flows": OAUTH_FLOWS})["grant_type"] == "client_credentials"


@pytest.mark.parametrize(
    ("scheme", "says"),
    [
        (
            {"type": "oauth2", "flows": {"implicit": {"authorizationUrl": "/a", "scopes": {}}}},
            "implicit",
        ),
        ({"type": "oauth2", "flows": {"password": {"tokenUrl": "/t", "scopes": {}}}}, "password"),
        ({"type": "openIdConnect", "openIdConnectUrl": "https://x/.well-known"}, "OpenID Connect"),
        ({"type": "http", "scheme": "digest"}, "digest"),
        ({"type": "mutualTLS"}, "mutual TLS"),
        ({"type": "apiKey", "in": "header"}, "no name"),
    ],
)
def test_schemes_without_an_auth_type_are_warned_about(scheme: dict[str, Any], says: str) -> None:
    result = run(_with_scheme(scheme))
    assert result.connector["auth"] == {"auth_type": "none"}
    assert says in warnings_at(result, "/components/securitySchemes/s")[0]
    assert "require s (get_a)" in warnings_at(result, "/paths/~1a/get/security")[0]


def test_swagger_security_definitions() -> None:
    definitions = {
        "key": {"type": "apiKey", "in": "header", "name": "api_key"},
        "basic": {"type": "basic"},
        "app": {
            "type": "oauth2",
            "flow": "application",
            "tokenUrl": "https://x/token",
            "scopes": {"a": ""},
        },
        "code": {
            "type": "oauth2",
            "flow": "accessCode",
            "authorizationUrl": "https://x/auth",
            "tokenUrl": "https://x/token",
            "scopes": {},
        },
        "implicit": {"type": "oauth2", "flow": "implicit", "authorizationUrl": "https://x/auth"},
    }
    paths = {
        f"/{name}": {"get": {"security": [{name: []}], "responses": {}}} for name in definitions
    }
    result = run(swagger(paths, securityDefinitions=definitions))
    kinds = {
        name: auth.get("grant_type", auth["auth_type"])
        for name, auth in result.auth_options.items()
    }
    assert kinds == {
        "key": "api_key",
        "basic": "basic",
        "app": "client_credentials",
        "code": "authorization_code",
    }
    assert warnings_at(result, "/securityDefinitions/implicit")


def test_the_scheme_most_operations_accept_is_used_and_others_warned() -> None:
    schemes = {
        "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "token": {"type": "http", "scheme": "bearer"},
    }
    doc = document(
        {
            "/a": {"get": get(security=[{"token": []}])},
            "/b": {"get": get(security=[{"token": []}, {"key": []}])},
            "/c": {"get": get(security=[{"key": []}])},
            "/d": {"get": get(security=[])},
            "/e": {"get": get()},
        },
        components={"securitySchemes": schemes},
        security=[{"token": []}],
    )
    result = run(doc)
    assert result.auth_scheme == "token"
    assert result.connector["auth"]["auth_type"] == "bearer"
    assert set(result.auth_options) == {"key", "token"}
    unsatisfied = [w.pointer for w in result.warnings if "require" in w.message]
    assert unsatisfied == ["/paths/~1c/get/security"]


def test_a_scheme_can_be_chosen() -> None:
    doc = document(
        {"/a": {"get": get(security=[{"token": []}])}},
        components={
            "securitySchemes": {
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "token": {"type": "http", "scheme": "bearer"},
            }
        },
    )
    assert run(doc, auth_scheme="key").connector["auth"]["auth_type"] == "api_key"
    with pytest.raises(OpenAPIError, match="'nope' is not in the document"):
        import_openapi(doc, auth_scheme="nope")


def test_requirements_that_need_two_schemes_at_once_are_warned_about() -> None:
    doc = document(
        {"/a": {"get": get(security=[{"key": [], "app": []}])}},
        components={
            "securitySchemes": {
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "app": {"type": "apiKey", "in": "header", "name": "X-App"},
            }
        },
    )
    result = run(doc, auth_scheme="key")
    assert "require key and app" in warnings_at(result, "/paths/~1a/get/security")[0]


def test_schemes_required_together_become_one_combined_auth() -> None:
    # The case: an API key AND a token, both in the query, and each operation also
    # declaring both as required parameters.
    query_params = [
        {"name": "key", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "token", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "q", "in": "query", "schema": {"type": "string"}},
    ]
    doc = document(
        {
            "/cards": {"get": get(parameters=query_params)},
            "/boards": {"get": get(parameters=query_params[:2])},
        },
        components={
            "securitySchemes": {
                "APIKey": {"type": "apiKey", "in": "query", "name": "key"},
                "APIToken": {"type": "apiKey", "in": "query", "name": "token"},
            }
        },
        security=[{"APIKey": [], "APIToken": []}],
    )
    result = run(doc)
    auth = result.connector["auth"]
    assert result.auth_scheme == "APIKey+APIToken"
    assert auth["auth_type"] == "combined"
    key, token = auth["schemes"]
    assert (key["query_param"], key["api_key"]) == ("key", "{{ credentials.apikey }}")
    assert (token["query_param"], token["api_key"]) == ("token", "{{ credentials.apitoken }}")
    assert key["credential_schema"]["apikey"]["sensitive"] is True
    assert token["credential_schema"]["apitoken"]["sensitive"] is True
    # The secrets are the auth's business, not parameters callers pass in plain text.
    cards = operation(result, "get_cards")
    assert [p["name"] for p in cards["parameters"]] == ["q"]
    assert "parameters" not in operation(result, "get_boards")
    removed = [w.message for w in result.warnings if "sent by the connector's auth" in w.message]
    assert len(removed) == 2 and "removed from 2 operation(s)" in removed[0]
    assert not [w for w in result.warnings if "require" in w.message]
    assert set(result.auth_options) == {"APIKey", "APIToken", "APIKey+APIToken"}


async def test_a_combined_auth_sends_every_part() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    spec = ConnectorSpec.model_validate(
        {
            "name": "Two keys",
            "base_url": "https://api.example.com",
            "auth": {
                "auth_type": "combined",
                "schemes": [
                    {
                        "auth_type": "api_key",
                        "location": "query",
                        "query_param": "key",
                        "credential_schema": {"api_key": {"label": "Key", "type": "password"}},
                    },
                    {
                        "auth_type": "bearer",
                        "credential_schema": {"token": {"label": "Token", "type": "password"}},
                    },
                ],
            },
            "operations": [{"name": "me", "path": "/me"}],
        }
    )
    assert set(spec.auth.credential_schema) == {"api_key", "token"}  # one connect form
    async with ConnectorClient(
        spec,
        credentials={"api_key": "k-1", "token": "t-2"},
        transport=httpx.MockTransport(handler),
    ) as client:
        await client.call("me")
    assert seen[0].url.params["key"] == "k-1"
    assert seen[0].headers["authorization"] == "Bearer t-2"


def test_a_header_the_scheme_sends_is_removed_from_operations() -> None:
    doc = document(
        {
            "/a": {
                "get": get(
                    parameters=[
                        {"name": "x-api-key", "in": "header", "required": True},
                        {"name": "x-other", "in": "header"},
                    ]
                )
            }
        },
        components={
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}
        },
        security=[{"key": []}],
    )
    result = run(doc)
    assert [p["name"] for p in operation(result, "get_a")["parameters"]] == ["x-other"]


def test_declared_but_never_required_schemes_are_offered_not_used() -> None:
    doc = document(
        {"/a": {"get": get()}},
        components={"securitySchemes": {"key": {"type": "apiKey", "in": "query", "name": "k"}}},
    )
    result = run(doc)
    assert result.connector["auth"] == {"auth_type": "none"}
    assert "no operation requires one" in result.warnings[0].message


def test_no_schemes_at_all_is_said() -> None:
    result = run(document({"/a": {"get": get()}}))
    assert "declares no security scheme" in result.warnings[0].message
